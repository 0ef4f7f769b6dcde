"""Evaluation reports: paper-style statistics of one or more models' scores.

The work is split in three steps so that any source of scores can use it:

1. :func:`prepare_scores` (:mod:`.inputs`) turns a table (one row per image or lesion) into
   lesion-level 0/1 labels and scores, checking every column and naming what is wrong;
2. :func:`evaluate_scores` (:mod:`.evaluate`) computes everything a paper reports for a
   mapping ``{model name: scores}`` (a model bundle's predicted probabilities can be passed
   straight in), and :func:`evaluate_subgroups` repeats it within subgroups at the same
   thresholds;
3. :func:`write_report` writes ``report.json`` (the contract in docs/design.md), CSV tables
   (:mod:`.tables`), PNG figures (:mod:`.figures`) and one self-contained HTML page
   (:mod:`.html`) into a folder, all or nothing (:mod:`.writer`); a :class:`ScoringRecord`
   adds the rows and models left out while scoring.

Human-facing numbers are written by :mod:`.text` (intervals as "a to b").

:mod:`.results` holds the dataclasses they share, and :mod:`.paper` the zhao2026 paper
report. Importing this package does not import matplotlib (only :mod:`.figures` does) nor
the model fitting code (:mod:`.paper`).
"""

from eusgist.report.evaluate import (
    evaluate_scores,
    evaluate_subgroups,
    report_from_table,
    write_report,
)
from eusgist.report.inputs import (
    MAX_SCORES_BYTES,
    MAX_SCORES_ROWS,
    MAX_SHOWN_CHARS,
    prepare_scores,
    read_scores_csv,
)
from eusgist.report.results import (
    METRICS,
    Evaluation,
    EvaluationOptions,
    Excluded,
    ModelEvaluation,
    ScoreTable,
    ScoringRecord,
    SkippedModel,
    SubgroupResult,
    SubgroupSpec,
    Threshold,
    stats_errors,
)
from eusgist.report.tables import (
    calibration_table,
    dca_table,
    delong_summary_table,
    delong_table,
    excluded_table,
    performance_table,
    report_dict,
    scoring_dict,
    subgroup_table,
    subgroups_dict,
    summary_table,
)
from eusgist.report.text import ci_range, with_ci

__all__ = [
    "MAX_SCORES_BYTES",
    "MAX_SCORES_ROWS",
    "MAX_SHOWN_CHARS",
    "METRICS",
    "Evaluation",
    "EvaluationOptions",
    "Excluded",
    "ModelEvaluation",
    "ScoreTable",
    "ScoringRecord",
    "SkippedModel",
    "SubgroupResult",
    "SubgroupSpec",
    "Threshold",
    "calibration_table",
    "ci_range",
    "dca_table",
    "delong_summary_table",
    "delong_table",
    "evaluate_scores",
    "evaluate_subgroups",
    "excluded_table",
    "performance_table",
    "prepare_scores",
    "read_scores_csv",
    "report_dict",
    "report_from_table",
    "scoring_dict",
    "stats_errors",
    "subgroup_table",
    "subgroups_dict",
    "summary_table",
    "with_ci",
    "write_report",
]
