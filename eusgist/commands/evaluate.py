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
                      "(default from the data: GIST, malignant, positive or 1, whichever is "
                      "present, else the models' positive class)")
    cols.add_argument("--lesion-col", metavar="COL", help="lesion id column: image scores are "
                      "combined per lesion before any statistic")
    cols.add_argument("--aggregate", choices=("mean", "max"), default="mean",
                      help="how image scores become a lesion score (default: mean)")
    cols.add_argument("--subgroup", action="append", default=[], metavar="COL[:CUTS]",
                      help="also report per subgroup: a categorical column, or a numeric one "
                      "cut at CUTS, e.g. size_mm:20 (< 20 vs >= 20 mm); repeatable")
    st = parser.add_argument_group("statistics")
    st.add_argument("--threshold", metavar="bundle|youden|FLOAT",
                    help="operating point, score >= threshold is positive: bundle = each "
                    "model's own threshold from its model card, what external validation "
                    "needs (the default with --manifest); youden = chosen on these same cases, "
                    "optimistic (the default with --csv); or a number")
    st.add_argument("--ci", choices=CI_METHODS, default="wilson",
                    help="interval for sensitivity, specificity, PPV, NPV, accuracy "
                    "(default: wilson; guo2024 used clipped wald)")
    st.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    st.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                    help="stratified bootstrap replicates for the ROC bands and a bootstrap "
                    "AUC interval; 0 = none (default 1000)")
    st.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    add_outside_root_option(parser)


def _threshold(text: str | None, scored: bool) -> report.Threshold:
    """``--threshold``: bundle, youden or a number; its default depends on the source."""
    if text is None:
        return "bundle" if scored else "youden"
    word = text.strip().lower()
    if word in ("youden", "bundle"):
        if word == "bundle" and not scored:
            raise EusgistError("--threshold bundle goes with --manifest and --model (each "
                               "bundle's own threshold); with --csv choose youden or a number")
        return word  # type: ignore[return-value]
    try:
        value = float(text)
    except ValueError:
        raise EusgistError(f"--threshold must be 'bundle', 'youden' or a number, "
                           f"got {text!r}") from None
    if not math.isfinite(value):
        raise EusgistError(f"--threshold must be finite, got {text!r}")
    return value


@dataclass(frozen=True)
class _Scored:
    """The manifest scored by the models: the table, its score columns (model names), the
    positive label, each model's own threshold, and what was left out."""

    frame: pd.DataFrame
    names: list[str]
    positive: str
    thresholds: dict[str, float]
    record: report.ScoringRecord


def _score_manifest(args: argparse.Namespace) -> _Scored:
    """Score the manifest's images with each bundle that fits the data.

    The table is the manifest (labels, lesion ids, metadata) with one probability column per
    model. Every bundle kind scores the images as the app does
    (:func:`eusgist.inference.labelled.score_labelled`: a bundle scoring another class is
    skipped, a row it cannot score is left out, both with a note); with ``--features``,
    tabular bundles read a feature table instead.
    """
    if not args.model:
        raise EusgistError("--manifest needs at least one --model weights/NAME")
    if args.features is not None:
        return _score_feature_table(args)
    from eusgist.inference.catalog import load_model
    from eusgist.inference.labelled import read_labelled, score_labelled

    models = [load_model(path) for path in args.model]
    manifest = read_labelled(args.manifest, [m.classes[1] for m in models], args.manifest.parent,
                             positive_label=args.positive_label,
                             allow_outside_root=args.allow_outside_root)
    scored = score_labelled(manifest, [str(path) for path in args.model])
    names = _column_names([scored.names[k] for k in scored.models],
                          [Path(k) for k in scored.models], manifest.table.columns)
    rename = dict(zip(scored.models, names, strict=True))
    record = scored.record
    record = replace(record, per_model={rename[k]: v for k, v in record.per_model.items()},
                     not_probabilities=tuple(rename[k] for k in record.not_probabilities))
    return _Scored(scored.table.rename(columns=rename), names, manifest.positive_label,
                   {rename[k]: t for k, t in scored.thresholds.items()}, record)


def _column_names(models: list[str], paths: list[Path], taken: pd.Index) -> list[str]:
    """One score column per model: its name, or ``name (path)`` when two share it."""
    names: list[str] = []
    for model, path in zip(models, paths, strict=True):
        name = model if model not in names else f"{model} ({path})"
        if name in taken:
            raise EusgistError(f"model name {name!r} clashes with a manifest column")
        names.append(name)
    return names


def _score_feature_table(args: argparse.Namespace) -> _Scored:
    """Tabular bundles scoring the rows of a ``--features`` table (images without features
    are left out, bundles scoring another class skipped, both recorded)."""
    from eusgist.bundles.card import CARD, ModelCard, read_json_object
    from eusgist.bundles.tabular import load_bundle
    from eusgist.features.table import read_feature_table
    from eusgist.inference.labelled import read_labelled

    for path in args.model:
        card = Path(path) / CARD
        if card.is_file() and ModelCard.from_dict(read_json_object(card)).kind != "tabular":
            raise EusgistError(f"--features goes with tabular bundles; {path} is a CNN, which "
                               "scores the images: leave --features out")
    loaded = [load_bundle(path) for path in args.model]
    manifest = read_labelled(args.manifest, [b.classes[1] for b in loaded], args.manifest.parent,
                             positive_label=args.positive_label,
                             allow_outside_root=args.allow_outside_root)
    skipped = []
    bundles, paths = [], []
    for path, bundle in zip(args.model, loaded, strict=True):
        if bundle.classes[1] != manifest.positive_label:
            skipped.append(report.SkippedModel(
                bundle.name, f"scores {bundle.classes[1]!r}, not the data's positive class "
                f"{manifest.positive_label!r} (labels: {', '.join(manifest.classes)})"))
            log.warning("model %s left out: %s", bundle.name, skipped[-1].reason)
        else:
            bundles.append(bundle)
            paths.append(path)
    if not bundles:
        raise EusgistError("no model can be evaluated on these data: "
                           + "; ".join(f"model {s.model!r} {s.reason}" for s in skipped))
    if not args.features.is_file():
        raise EusgistError(f"feature table not found: {args.features}")
    features = read_feature_table(args.features)[0]
    if "image" not in features.columns:
        raise EusgistError("the feature table has no 'image' column")
    feature_cols = [c for c in features.columns if c not in manifest.table.columns]
    rows = manifest.table.merge(features[["image", *feature_cols]], on="image", how="left",
                                validate="one_to_one", indicator=True)
    absent = rows["_merge"] == "left_only"
    excluded = tuple(report.Excluded(str(r.image), f"no features in {args.features.name}",
                                     str(r.mask)) for r in rows[absent].itertuples())
    if excluded:
        log.warning("%d of %d image(s) have no features and are left out (listed in the "
                    "report)", len(excluded), len(rows))
    rows = rows[~absent].drop(columns="_merge").reset_index(drop=True)
    names = _column_names([b.name for b in bundles], paths, rows.columns)
    for path, bundle, name in zip(paths, bundles, names, strict=True):
        missing = [f for f in bundle.required_features if f not in rows.columns]
        if missing:
            raise EusgistError(f"model {bundle.name!r} ({path}) needs {len(missing)} feature(s) "
                               f"the table lacks, e.g. {missing[0]!r}; extract them as its model "
                               "card says ('expects')")
        rows[name] = bundle.predict_proba(rows)
    record = report.ScoringRecord(
        n_rows=len(manifest), excluded=excluded, skipped_models=tuple(skipped),
        per_model={name: {"threshold_source": "model card"} for name in names})
    return _Scored(rows.drop(columns=feature_cols), names, manifest.positive_label,
                   {name: float(b.threshold) for name, b in zip(names, bundles, strict=True)},
                   record)


@dataclass(frozen=True)
class _Scores:
    frame: pd.DataFrame
    score_cols: list[str]
    label_col: str
    positive: str | None
    lesion_col: str | None
    source: str
    thresholds: dict[str, float] | None = None
    record: report.ScoringRecord | None = None


def _load_scores(args: argparse.Namespace) -> _Scores:
    """The table to evaluate: the --csv as given, or the --manifest scored by --model."""
    if args.manifest is not None:
        if args.score_cols:
            raise EusgistError("--score-cols goes with --csv; with --manifest the models score")
        scored = _score_manifest(args)
        return _Scores(scored.frame, scored.names, "label", scored.positive,
                       args.lesion_col or "lesion_id",
                       f"{args.manifest} scored by {', '.join(map(str, args.model))}",
                       scored.thresholds, scored.record)
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
    threshold = _threshold(args.threshold, scored=args.manifest is not None)
    options = report.EvaluationOptions(
        threshold="youden" if threshold == "bundle" else threshold,
        subgroups=tuple(args.subgroup), ci=args.ci, aggregate=args.aggregate, level=args.level,
        n_bootstrap=args.bootstrap, seed=args.seed,
    )  # checks the options before any scoring; the bundles' thresholds come with the scores
    src = _load_scores(args)
    options = replace(options, label_col=src.label_col, positive_label=src.positive,
                      lesion_col=src.lesion_col, threshold=threshold, thresholds=src.thresholds)
    out = report.report_from_table(src.frame, src.score_cols, args.out, options,
                                   source=src.source, overwrite=args.overwrite,
                                   scoring=src.record)[1]
    log.info("report: %s", out / "report.html")
    return 0
