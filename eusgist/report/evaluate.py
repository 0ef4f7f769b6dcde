"""Evaluating scores: paper statistics of several models on the same cases
(:func:`evaluate_scores`), the same within subgroups (:func:`evaluate_subgroups`), and the
one call from a scores table to a report folder (:func:`report_from_table`,
:func:`write_report`)."""

from __future__ import annotations

import itertools
import logging
import math
import os
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from eusgist import stats
from eusgist.csvsafe import write_csv
from eusgist.errors import EvaluationError
from eusgist.report.inputs import prepare_scores
from eusgist.report.results import (
    Evaluation,
    EvaluationOptions,
    ModelEvaluation,
    ScoreTable,
    ScoringRecord,
    SubgroupResult,
    SubgroupSpec,
    Threshold,
    stats_errors,
)
from eusgist.report.tables import (
    calibration_table,
    dca_table,
    delong_table,
    excluded_table,
    performance_table,
    report_dict,
    subgroup_table,
    subgroups_dict,
)
from eusgist.report.text import ci_range, threshold_text
from eusgist.report.writer import atomic_dir, write_json

log = logging.getLogger(__name__)


def _threshold_for(rule: Threshold | Mapping[str, float], name: str, y: NDArray[np.int8],
                   s: NDArray[np.float64]) -> float:
    if isinstance(rule, Mapping):
        if name not in rule:
            raise EvaluationError(f"no threshold given for model {name!r}")
        return float(rule[name])
    if rule == "youden":
        return stats.youden_threshold(y, s)
    if rule == "bundle":
        raise EvaluationError("the bundles' own thresholds: pass them as a mapping of model "
                              "name to threshold")
    return float(rule)


def _is_probability(s: NDArray[np.float64]) -> bool:
    return bool(s.min() >= 0.0 and s.max() <= 1.0)


def evaluate_scores(
    y_true: ArrayLike,
    scores: Mapping[str, ArrayLike],
    *,
    threshold: Threshold | Mapping[str, float] = "youden",
    ci: str = "wilson",
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    calibration_bins: int = 10,
    probabilities: Collection[str] | None = None,
) -> Evaluation:
    """Paper statistics of each model and DeLong tests between every pair.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    scores : mapping of str to array-like of shape (n,)
        Each model's scores for the same cases (e.g. predicted probabilities).
    threshold : "youden", float or mapping of model name to float
        Operating point: ``score >= threshold`` is positive. ``"youden"`` picks each
        model's Youden-optimal threshold on these same cases (optimistic).
    ci : {"wald", "wilson", "clopper-pearson"}
        Interval for sensitivity, specificity, PPV, NPV and accuracy.
    level : float
        Confidence level of every interval.
    n_bootstrap : int
        Stratified bootstrap replicates for the ROC band and a bootstrap AUC interval;
        0 skips both.
    seed : int
        Bootstrap seed.
    calibration_bins : int
        Quantile bins of the reliability curve.
    probabilities : collection of str, optional
        Models whose scores are probabilities; default: those with all scores in [0, 1].

    Returns
    -------
    Evaluation
        Calibration, Brier score and decision curves only for models whose scores are
        probabilities in [0, 1]; for the others a note says so.

    Raises
    ------
    EvaluationError
        Labels or scores the statistics cannot use (e.g. one class only), with
        :mod:`eusgist.stats`'s message.
    """
    if not scores:
        raise EvaluationError("no models to evaluate")
    if ci not in stats.CI_METHODS:
        raise EvaluationError(f"unknown CI method {ci!r}; choose one of "
                              f"{', '.join(stats.CI_METHODS)}")
    with stats_errors():
        y = stats.to_binary(y_true)
    models: dict[str, ModelEvaluation] = {}
    notes: list[str] = []
    arrays = {}
    ranked: dict[str, stats.RankedScores] = {}  # one sort per model, shared by CI and tests
    for name, raw in scores.items():
        try:
            s = arrays[name] = np.asarray(raw, dtype=np.float64)
            ranked[name] = stats.rank_scores(y, s)  # checks the scores first
            is_prob = _is_probability(s) if probabilities is None else name in probabilities
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                models[name] = _evaluate_model(
                    y, s, ranked[name], threshold=threshold, name=name, ci=ci, level=level,
                    n_bootstrap=n_bootstrap, seed=seed, calibration_bins=calibration_bins,
                    is_probability=is_prob)
        except (TypeError, ValueError) as exc:
            raise EvaluationError(f"model {name!r}: {exc}") from None
        notes.extend(f"{name}: {w.message}" for w in caught)
        if not is_prob:
            notes.append(f"{name}: scores are not probabilities in [0, 1]; no calibration, "
                         "Brier score or decision curve")
    probs = {name: arrays[name] for name, m in models.items() if m.is_probability}
    with stats_errors():
        delong = [(a, b, stats.delong_test_from_ranks(ranked[a], ranked[b], level=level))
                  for a, b in itertools.combinations(arrays, 2)]
        dca = stats.decision_curve(y, probs)
    rule = "youden" if threshold == "youden" else (
        "per model" if isinstance(threshold, Mapping) else f"fixed {float(threshold):g}")
    for note in notes:
        log.warning(note)
    if threshold == "youden":
        notes.append("thresholds chosen on these same cases (Youden's J), which flatters "
                     "sensitivity and specificity (optimistic); for external validation use "
                     "each bundle's own threshold or a fixed one")
    return Evaluation(
        n=int(y.size), n_positive=int(np.sum(y)), models=models, delong=delong,
        dca=dca, ci=ci, level=level, threshold_rule=rule,
        n_bootstrap=n_bootstrap, notes=notes,
    )


def _evaluate_model(
    y: NDArray[np.int8], s: NDArray[np.float64], ranked: stats.RankedScores, *, threshold: Threshold | Mapping[str, float],
    name: str, ci: str, level: float, n_bootstrap: int, seed: int, calibration_bins: int,
    is_probability: bool,
) -> ModelEvaluation:
    auc = stats.auc_ci_from_ranks(ranked, level=level)
    cut = _threshold_for(threshold, name, y, s)
    boot = band = None
    if n_bootstrap > 0:
        boot = stats.bootstrap_auc_ci(y, s, n_boot=n_bootstrap, level=level, seed=seed)
        band = stats.roc_ci_band(y, s, n_boot=n_bootstrap, level=level, seed=seed)
    brier, fit, reliability = math.nan, None, None
    if is_probability:
        brier = stats.brier_score(y, s)
        fit = stats.calibration_intercept_slope(y, s)
        reliability = stats.calibration_curve(y, s, n_bins=calibration_bins, strategy="quantile")
    return ModelEvaluation(
        auc=auc, auc_bootstrap=boot, threshold=cut,
        at_threshold=stats.threshold_metrics(y, s, threshold=cut, ci=ci, level=level),
        roc=stats.roc_curve(y, s), band=band, brier=brier, calibration_fit=fit,
        reliability=reliability,
    )


def evaluate_subgroups(
    table: ScoreTable, specs: Sequence[SubgroupSpec], overall: Evaluation
) -> list[SubgroupResult]:
    """Evaluate every subgroup at the overall thresholds, CI method and level.

    Subgroups with fewer than two cases of a class get a note instead of statistics.
    """
    thresholds = {name: m.threshold for name, m in overall.models.items()}
    probabilities = {name for name, m in overall.models.items() if m.is_probability}
    out = []
    for spec in specs:
        levels = np.array(spec.levels(table.covariates[spec.column]), dtype=object)
        missing = int(sum(v is None for v in levels))
        if missing:
            log.warning("subgroup %s: %d case(s) with no value left out", spec.column, missing)
        present = {v for v in levels if v is not None}
        order = [v for v in spec.level_names() if v in present] if spec.cuts else sorted(present)
        for level in order:
            rows = levels == level
            y = table.y_true[rows]
            n_pos = int(y.sum())
            if min(n_pos, y.size - n_pos) < 2:
                out.append(SubgroupResult(spec.column, level, int(y.size), n_pos, None,
                                          "fewer than 2 cases of a class"))
                continue
            ev = evaluate_scores(y, {k: v[rows] for k, v in table.scores.items()},
                                 threshold=thresholds, ci=overall.ci, level=overall.level,
                                 n_bootstrap=0, probabilities=probabilities)
            out.append(SubgroupResult(spec.column, level, int(y.size), n_pos, ev))
    return out


def threshold_description(options: EvaluationOptions) -> str:
    """The threshold rule in words, for the report's settings."""
    if options.threshold == "bundle":
        cuts = ", ".join(f"{name} {threshold_text(t)}"
                         for name, t in (options.thresholds or {}).items())
        return (f"each model's own threshold, locked in its model card before these data "
                f"({cuts}); what external validation needs")
    if options.threshold == "youden":
        return "Youden: chosen on these same cases (optimistic)"
    return f"fixed {float(options.threshold):g} for every model"


def _probabilities(table: ScoreTable, scoring: ScoringRecord) -> set[str] | None:
    """The models whose scores are probabilities, when ``scoring`` says some are not."""
    if not scoring.not_probabilities:
        return None
    return {name for name, s in table.scores.items()
            if name not in scoring.not_probabilities and _is_probability(s)}


def report_from_table(
    frame: pd.DataFrame,
    score_cols: Sequence[str],
    out_dir: str | os.PathLike[str],
    options: EvaluationOptions = EvaluationOptions(),
    *,
    source: str = "scores table",
    overwrite: bool = False,
    scoring: ScoringRecord | None = None,
    out_of_domain: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[Evaluation, Path]:
    """Evaluate a scores table and write its report folder (all or nothing).

    This is what the ``evaluate`` command and the app's Evaluate tab both run: see
    :func:`prepare_scores`, :func:`evaluate_scores`, :func:`evaluate_subgroups` and
    :func:`write_report`. ``options.subgroups`` holds ``"COL"`` or ``"COL:CUTS"`` texts;
    with ``options.threshold == "bundle"``, ``options.thresholds`` holds each score column's
    own threshold. ``scoring`` (rows and models left out while scoring) goes into the report.
    ``out_of_domain`` (default: ``scoring``'s per-model ``out_of_domain`` entries, else the
    table's ``attrs["out_of_domain"]``) holds each model's out-of-domain counts.
    """
    from eusgist import __version__

    scoring = scoring or ScoringRecord()
    specs = options.subgroup_specs
    table = prepare_scores(
        frame, label_col=options.label_col, score_cols=score_cols,
        positive_label=options.positive_label, lesion_col=options.lesion_col,
        aggregate=options.aggregate, keep_cols=[s.column for s in specs],
    )
    unit = (f"{table.y_true.size} lesions ({options.aggregate} of {table.n_images} image scores)"
            if table.unit == "lesion" else f"{table.y_true.size} images (no lesion column)")
    log.info("evaluating %d model(s) on %s", len(table.scores), unit)
    threshold: Threshold | Mapping[str, float] = options.threshold
    if threshold == "bundle":
        missing = [c for c in table.scores if c not in (options.thresholds or {})]
        if missing:
            raise EvaluationError(f"no threshold of its own for {', '.join(missing)}")
        threshold = {c: float(options.thresholds[c]) for c in table.scores}  # type: ignore[index]
    ev = evaluate_scores(table.y_true, table.scores, threshold=threshold, ci=options.ci,
                         level=options.level, n_bootstrap=options.n_bootstrap, seed=options.seed,
                         probabilities=_probabilities(table, scoring))
    if options.threshold == "bundle":
        ev = replace(ev, threshold_rule="each model's own (model card)")
    subgroups = evaluate_subgroups(table, specs, ev)
    context = {
        "Scores": source,
        "Cases": unit,
        "Label": f"{options.label_col} (positive: {table.positive_label})",
        "Threshold": threshold_description(options),
        "Intervals": f"{100 * options.level:g}%, proportions: {options.ci}, AUC: DeLong"
                     + (f", bootstrap {options.n_bootstrap} (seed {options.seed})"
                        if options.n_bootstrap else ""),
        "eusgist": __version__,
    }
    if out_of_domain is None:
        out_of_domain = {k: v["out_of_domain"] for k, v in
                         (scoring.per_model if scoring is not None else {}).items()
                         if "out_of_domain" in v} or frame.attrs.get("out_of_domain") or {}
    out = write_report(out_dir, ev, subgroups=subgroups, context=context, overwrite=overwrite,
                       scoring=scoring,
                       out_of_domain={k: v for k, v in out_of_domain.items() if k in ev.models})
    for name, m in ev.models.items():
        log.info("%s: AUC %.3f (%s) at threshold %s", name, m.auc.auc,
                 ci_range(m.auc.lo, m.auc.hi), threshold_text(m.threshold))
    return ev, out


# --- writing, all or nothing ---------------------------------------------------------------

def write_report(
    out_dir: str | os.PathLike[str],
    ev: Evaluation,
    *,
    subgroups: Sequence[SubgroupResult] = (),
    context: Mapping[str, str] | None = None,
    overwrite: bool = False,
    scoring: ScoringRecord | None = None,
    out_of_domain: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write the report folder: report.json, CSV tables, PNG figures, report.html.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into
    place at the end, so an error leaves nothing behind.

    Parameters
    ----------
    out_dir : path
        The folder to create.
    ev : Evaluation
        The statistics to report.
    subgroups : sequence of SubgroupResult
        Written to ``subgroups.json`` / ``subgroups.csv`` when given.
    context : mapping of str to str, optional
        Lines describing the run (source, options), shown at the top of the HTML page.
    overwrite : bool, default False
        Replace an existing non-empty ``out_dir``; otherwise that is an error.
    scoring : ScoringRecord, optional
        Rows and models left out while scoring, in report.json, the HTML and
        ``excluded.csv`` (written when rows were left out).
    out_of_domain : mapping, optional
        Per model, ``{"flagged": int, "n": int, "images": [{"image", "score", "reason"}]}``
        of its out-of-domain gate: in report.json (``models.<name>.out_of_domain``) and the
        HTML page (the flagged images listed).

    Returns
    -------
    Path
        ``out_dir``.
    """
    from eusgist.report import figures, html  # matplotlib only when writing

    out = Path(out_dir)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        tables = {
            "performance.csv": performance_table(ev),
            "delong.csv": delong_table(ev),
            "calibration.csv": calibration_table(ev),
            "dca.csv": dca_table(ev),
        }
        if scoring is not None and scoring.excluded:
            tables["excluded.csv"] = excluded_table(scoring)
        if subgroups:
            tables["subgroups.csv"] = subgroup_table(subgroups)
            write_json(tmp / "subgroups.json", subgroups_dict(subgroups))
        for name, table in tables.items():
            write_csv(table, tmp / name)
        report = report_dict(ev, scoring)
        for name, counts in (out_of_domain or {}).items():
            report["models"][name]["out_of_domain"] = dict(counts)
        write_json(tmp / "report.json", report)
        pngs = figures.write_figures(ev, tmp)
        html.write_html(tmp / "report.html", ev, figures=pngs, subgroups=subgroups,
                        context=dict(context or {}), scoring=scoring,
                        out_of_domain=out_of_domain)
    log.info("wrote %s", out)
    return out

