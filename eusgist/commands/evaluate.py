"""``evaluate``: the paper statistics of one or more models' scores, as a report folder."""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from eusgist import report
from eusgist.commands._options import add_outside_root_option
from eusgist.errors import EusgistError
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
                        help="dataset manifest whose images --model scores first (lesions "
                        "from its lesion_id column, subgroups from its metadata columns)")
    parser.add_argument("--model", type=Path, action="append", default=[], metavar="weights/NAME",
                        help="model bundle scoring the --manifest images; repeat to compare")
    parser.add_argument("--features", type=Path, metavar="FEATURES.parquet",
                        help="the manifest's features from `eusgist extract`, for tabular "
                        "bundles to score instead of the images (default: every bundle scores "
                        "the images, as the app does)")
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
    add_outside_root_option(parser)


def _threshold(text: str) -> report.Threshold:
    if text.strip().lower() == "youden":
        return "youden"
    try:
        value = float(text)
    except ValueError:
        raise EusgistError(f"--threshold must be 'youden' or a number, got {text!r}") from None
    if not math.isfinite(value):
        raise EusgistError(f"--threshold must be finite, got {text!r}")
    return value


def _score_manifest(args: argparse.Namespace) -> tuple[pd.DataFrame, list[str], str]:
    """Score the manifest's images with each bundle: (table, score columns, positive label).

    The table is the manifest (labels, lesion ids, metadata) with one probability column per
    model. Every bundle kind scores the images as the app does
    (:func:`eusgist.inference.batch.score_manifest`); with ``--features``, tabular bundles
    read a feature table instead.
    """
    from eusgist.data import read_manifest

    if not args.model:
        raise EusgistError("--manifest needs at least one --model weights/NAME")
    if args.features is not None:
        return _score_feature_table(args)
    from eusgist.inference.batch import OUT_OF_DOMAIN, score_manifest
    from eusgist.inference.catalog import load_model

    models = [load_model(path) for path in args.model]
    positive = _one_positive([m.classes[1] for m in models])
    manifest = read_manifest(args.manifest, positive_label=positive,
                             allow_outside_root=args.allow_outside_root)
    keys = [str(path) for path in args.model]
    table = score_manifest(manifest, list(dict.fromkeys(keys)))
    names = _column_names([m.name for m in models], args.model, manifest.table.columns)
    rows = table.drop(columns=list(dict.fromkeys(keys)))
    for key, name in zip(keys, names, strict=True):
        rows[name] = table[key]
    flagged = table.attrs.get(OUT_OF_DOMAIN, {})  # keyed like the score columns
    rows.attrs[OUT_OF_DOMAIN] = {name: flagged[key] for key, name in zip(keys, names, strict=True)
                                 if key in flagged}
    return rows, names, positive


def _one_positive(positives: list[str]) -> str:
    if len(set(positives)) > 1:
        raise EusgistError(f"the models score different positive classes: {sorted(set(positives))}")
    return positives[0]


def _column_names(models: list[str], paths: list[Path], taken: pd.Index) -> list[str]:
    """One score column per model: its name, or ``name (path)`` when two share it."""
    names: list[str] = []
    for model, path in zip(models, paths, strict=True):
        name = model if model not in names else f"{model} ({path})"
        if name in taken:
            raise EusgistError(f"model name {name!r} clashes with a manifest column")
        names.append(name)
    return names


def _score_feature_table(args: argparse.Namespace) -> tuple[pd.DataFrame, list[str], str]:
    """Tabular bundles scoring the rows of a ``--features`` table (images without features
    are left out)."""
    from eusgist.bundles.card import CARD, ModelCard, read_json_object
    from eusgist.bundles.tabular import load_bundle
    from eusgist.data import read_manifest
    from eusgist.features.table import read_feature_table

    for path in args.model:
        card = Path(path) / CARD
        if card.is_file() and ModelCard.from_dict(read_json_object(card)).kind != "tabular":
            raise EusgistError(f"--features goes with tabular bundles; {path} is a CNN, which "
                               "scores the images: leave --features out")
    bundles = [load_bundle(path) for path in args.model]
    positive = _one_positive([b.classes[1] for b in bundles])
    manifest = read_manifest(args.manifest, positive_label=positive,
                             allow_outside_root=args.allow_outside_root)
    if not args.features.is_file():
        raise EusgistError(f"feature table not found: {args.features}")
    features = read_feature_table(args.features)[0]
    if "image" not in features.columns:
        raise EusgistError("the feature table has no 'image' column")
    feature_cols = [c for c in features.columns if c not in manifest.table.columns]
    rows = manifest.table.merge(features[["image", *feature_cols]], on="image", how="inner",
                                validate="one_to_one")
    if len(rows) < len(manifest.table):
        log.warning("%d of %d image(s) have no features and are left out",
                    len(manifest.table) - len(rows), len(manifest.table))
    names = _column_names([b.name for b in bundles], args.model, rows.columns)
    for path, bundle, name in zip(args.model, bundles, names, strict=True):
        missing = [f for f in bundle.required_features if f not in rows.columns]
        if missing:
            raise EusgistError(f"model {bundle.name!r} ({path}) needs {len(missing)} feature(s) "
                               f"the table lacks, e.g. {missing[0]!r}; extract them as its model "
                               "card says ('expects')")
        rows[name] = bundle.predict_proba(rows)
    return rows.drop(columns=feature_cols), names, positive


@dataclass(frozen=True)
class _Scores:
    frame: pd.DataFrame
    score_cols: list[str]
    label_col: str
    positive: str | None
    lesion_col: str | None
    source: str


def _load_scores(args: argparse.Namespace) -> _Scores:
    """The table to evaluate: the --csv as given, or the --manifest scored by --model."""
    if args.manifest is not None:
        if args.score_cols:
            raise EusgistError("--score-cols goes with --csv; with --manifest the models score")
        frame, cols, positive = _score_manifest(args)
        return _Scores(frame, cols, "label", positive, args.lesion_col or "lesion_id",
                       f"{args.manifest} scored by {', '.join(map(str, args.model))}")
    if args.model or args.features:
        raise EusgistError("--model and --features go with --manifest, not with --csv")
    if not args.score_cols:
        raise EusgistError("--score-cols is required with --csv (e.g. --score-cols deep,combined)")
    cols = [c.strip() for c in args.score_cols.split(",") if c.strip()]
    log.info("reading %s", args.csv)
    return _Scores(report.read_scores_csv(args.csv), cols, args.label_col, args.positive_label,
                   args.lesion_col, str(args.csv))


def run(args: argparse.Namespace) -> int:
    """Check the options, load or compute the scores, evaluate, write the report."""
    options = report.EvaluationOptions(
        threshold=_threshold(args.threshold), subgroups=tuple(args.subgroup), ci=args.ci,
        aggregate=args.aggregate, level=args.level, n_bootstrap=args.bootstrap, seed=args.seed,
    )
    src = _load_scores(args)
    options = replace(options, label_col=src.label_col, positive_label=src.positive,
                      lesion_col=src.lesion_col)
    out = report.report_from_table(src.frame, src.score_cols, args.out, options,
                                   source=src.source, overwrite=args.overwrite)[1]
    log.info("report: %s", out / "report.html")
    return 0
