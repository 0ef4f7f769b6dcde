"""``evaluate``: the paper statistics of one or more models' scores, as a report folder."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import NoReturn

import pandas as pd

from eusgist import __version__, report
from eusgist.stats import CI_METHODS

NAME = "evaluate"
HELP = ("ROC/DeLong, threshold metrics, calibration and decision curves of model scores: "
        "writes report.json, CSV tables, PNG figures and report.html into --out.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Scores CSV (or manifest + model), columns, statistics options, output folder."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, metavar="SCORES.csv",
                        help="table with a label column and one score column per model")
    source.add_argument("--manifest", type=Path, metavar="M",
                        help="dataset manifest to score with --model first")
    parser.add_argument("--model", type=Path, metavar="weights/NAME",
                        help="model bundle that scores the --manifest images")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="report folder to create (written all at once, or not at all)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    cols = parser.add_argument_group("columns")
    cols.add_argument("--label-col", default="label", metavar="COL",
                      help="class label column (default: label)")
    cols.add_argument("--score-cols", metavar="A,B", help="comma-separated score columns, "
                      "one per model; higher = more likely positive")
    cols.add_argument("--positive-label", metavar="LABEL",
                      help="label of the positive class when labels are not 0/1 "
                      "(default: GIST, malignant, positive or 1, whichever is present)")
    cols.add_argument("--lesion-col", metavar="COL", help="lesion id column: image scores are "
                      "combined per lesion before any statistic")
    cols.add_argument("--aggregate", choices=("mean", "max"), default="mean",
                      help="how image scores become a lesion score (default: mean)")
    cols.add_argument("--subgroup", action="append", default=[], metavar="COL[:CUTS]",
                      help="also report per subgroup: a categorical column, or a numeric one "
                      "cut at CUTS, e.g. size_mm:20 (< 20 vs >= 20 mm); repeatable")
    st = parser.add_argument_group("statistics")
    st.add_argument("--threshold", default="youden", metavar="youden|FLOAT",
                    help="operating point, score >= threshold is positive (default: youden, "
                    "chosen on these same cases)")
    st.add_argument("--ci", choices=CI_METHODS, default="wilson",
                    help="interval for sensitivity, specificity, PPV, NPV, accuracy "
                    "(default: wilson; guo2024 used clipped wald)")
    st.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    st.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                    help="stratified bootstrap replicates for the ROC bands and a bootstrap "
                    "AUC interval; 0 = none (default 1000)")
    st.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def _threshold(text: str) -> report.Threshold:
    if text.strip().lower() == "youden":
        return "youden"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--threshold must be 'youden' or a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"--threshold must be finite, got {text!r}")
    return value


def _score_manifest(manifest: Path, model: Path | None) -> NoReturn:
    """Scoring images with a model bundle: the hook for ``--manifest/--model``."""
    raise ValueError(
        "--manifest/--model is not available yet: this version cannot load model bundles; "
        "score the images yourself and pass --csv SCORES.csv --score-cols ..."
    )


def run(args: argparse.Namespace) -> int:
    """Read, check, evaluate, write; every bad input is a one-line ValueError."""
    if args.manifest is not None:
        _score_manifest(args.manifest, args.model)
    if args.model is not None:
        raise ValueError("--model goes with --manifest, not with --csv")
    if not args.score_cols:
        raise ValueError("--score-cols is required with --csv (e.g. --score-cols deep,combined)")
    score_cols = [c.strip() for c in args.score_cols.split(",") if c.strip()]
    threshold = _threshold(args.threshold)
    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    specs = [report.SubgroupSpec.parse(s) for s in args.subgroup]

    log.info("reading %s", args.csv)
    frame = pd.read_csv(args.csv)
    table = report.prepare_scores(
        frame, label_col=args.label_col, score_cols=score_cols,
        positive_label=args.positive_label, lesion_col=args.lesion_col,
        aggregate=args.aggregate, keep_cols=[s.column for s in specs],
    )
    unit = (f"{table.y_true.size} lesions ({args.aggregate} of {table.n_images} image scores)"
            if table.unit == "lesion" else f"{table.y_true.size} images (no lesion column)")
    log.info("evaluating %d model(s) on %s", len(score_cols), unit)
    ev = report.evaluate_scores(table.y_true, table.scores, threshold=threshold, ci=args.ci,
                                level=args.level, n_bootstrap=args.bootstrap, seed=args.seed)
    subgroups = report.evaluate_subgroups(table, specs, ev)
    context = {
        "Scores": str(args.csv),
        "Cases": unit,
        "Label": f"{args.label_col} (positive: {table.positive_label})",
        "Threshold": str(args.threshold),
        "Intervals": f"{100 * args.level:g}%, proportions: {args.ci}, AUC: DeLong"
                     + (f", bootstrap {args.bootstrap} (seed {args.seed})" if args.bootstrap
                        else ""),
        "eusgist": __version__,
    }
    out = report.write_report(args.out, ev, subgroups=subgroups, context=context,
                              overwrite=args.overwrite)
    for name, m in ev.models.items():
        log.info("%s: AUC %.3f (%.3f-%.3f)", name, m.auc.auc, m.auc.lo, m.auc.hi)
    log.info("report: %s", out / "report.html")
    return 0
