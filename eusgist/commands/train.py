"""``train``: tabular models (radiomics / deep / combined × SVM / XGBoost / RF) into a bundle.

Splits the feature table 8:2 by lesion, tunes and fits every requested modality ×
classifier on the training split (grouped CV), evaluates each on the test lesions, and
writes the chosen model's bundle to ``--out`` with ``comparison.csv``/``comparison.json``
(all models, DeLong tests against the chosen one) and the chosen model's SHAP summary.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eusgist.commands._options import add_outside_root_option
from eusgist.errors import EusgistError

NAME = "train"
HELP = "Train tabular models on radiomics/deep/combined features and write a model bundle."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Input table (or manifest), output bundle, model grid and split options."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", type=Path, help="feature table (parquet) from `extract`")
    source.add_argument("--manifest", type=Path,
                        help="dataset manifest CSV: extract default features first (cached)")
    parser.add_argument("--out", required=True, type=Path, help="bundle folder, e.g. weights/NAME")
    parser.add_argument("--modalities", default="radiomics,deep,combined",
                        help="comma-separated: radiomics, deep, combined (default: all)")
    parser.add_argument("--classifiers", default="svm,xgboost,rf",
                        help="comma-separated: svm, xgboost, rf (default: all)")
    parser.add_argument("--select", default="best", metavar="BEST|MODALITY-CLASSIFIER",
                        help="model to bundle: 'best' (highest training-CV AUC; the test split "
                        "is never used to choose) or a name such as combined-svm")
    parser.add_argument("--seed", type=int, default=0, help="split, CV and model seed")
    parser.add_argument("--test-size", type=float, default=0.2, help="test share of lesions")
    parser.add_argument("--cv-folds", type=int, default=5, help="grouped CV folds for tuning")
    parser.add_argument("--positive-label", default=None, help="positive class (default: GIST)")
    parser.add_argument("--radiomics-params", type=Path, default=None,
                        help="pyradiomics YAML to ship (default: the table's provenance)")
    parser.add_argument("--backbone-weights", type=Path, default=None,
                        help="fine-tuned backbone .safetensors to ship with the bundle")
    parser.add_argument("--source", default=None, help="training data description for the card")
    parser.add_argument("--shap-rows", type=int, default=100,
                        help="test images explained in the SHAP summary (default 100)")
    add_outside_root_option(parser)


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise EusgistError(
            f"--{what}: unknown {unknown or 'empty list'}; choose from {list(allowed)}"
        )
    return list(dict.fromkeys(names))


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """The feature table, its provenance and where it came from (path, sha256)."""
    from eusgist.bundle import file_sha256

    if args.features is not None:
        if not args.features.is_file():
            raise EusgistError(f"feature table not found: {args.features}")
        from eusgist.features.table import read_feature_table

        try:
            frame, provenance = read_feature_table(args.features)
        except (OSError, ValueError) as exc:
            raise EusgistError(f"{args.features}: not a readable feature table ({exc})") from exc
        return frame, provenance, {"feature_table": args.features.name,
                                   "feature_table_sha256": file_sha256(args.features)}
    from eusgist.data import read_manifest

    manifest = read_manifest(args.manifest, positive_label=args.positive_label,
                             allow_outside_root=args.allow_outside_root)
    log.info("extracting default features of %s (cached)", args.manifest)
    try:
        from eusgist.features import extract_features

        result = extract_features(manifest, progress=True)
    except ImportError as exc:
        raise EusgistError(f"--manifest needs feature extraction, which cannot be imported ({exc}); "
                         "run `extract` elsewhere and pass --features") from exc
    return result.table, result.provenance, {"manifest": args.manifest.name,
                                             "manifest_sha256": file_sha256(args.manifest)}


def _expects(modality: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """What a user of the model must supply, from the feature table's provenance."""
    uses_rad, uses_deep = modality in ("radiomics", "combined"), modality in ("deep", "combined")
    radiomics = provenance.get("radiomics") or {}
    deep = provenance.get("deep") or {}
    supervision = provenance.get("supervision")
    return {
        "input": "one EUS image per row; features extracted as in the training table",
        "feature_kinds": [k for k, used in (("radiomics", uses_rad), ("deep", uses_deep)) if used],
        "mask_required": bool(uses_rad or (uses_deep and supervision != "weak")),
        "supervision": supervision,
        "crop_margin": provenance.get("crop_margin") if uses_deep else None,
        "backbones": [
            {k: p.get(k) for k in ("backbone", "weights", "pretrained", "input_size", "mean", "std",
                                   "checkpoint_sha256")}
            for p in deep.values()
        ] if uses_deep else [],
        "radiomics_params": {
            "name": radiomics.get("radiomics_params_name"),
            "settings_hash": radiomics.get("radiomics_settings_hash"),
        } if uses_rad else None,
    }


def run(args: argparse.Namespace) -> int:
    """Train, compare, bundle; return 0."""
    from eusgist.bundle import CARD, RADIOMICS_YAML, save_bundle
    from eusgist.explain import background_sample, explain, shap_summary
    from eusgist.models.evaluation import class_counts, delong_table, evaluate
    from eusgist.models.portable import PortableModel
    from eusgist.models.tabular import (
        CLASSIFIERS,
        MODALITIES,
        feature_columns,
        fit_model,
        lesion_split,
    )

    modalities = _names(args.modalities, MODALITIES, "modalities")
    classifiers = _names(args.classifiers, CLASSIFIERS, "classifiers")
    names = [f"{m}-{c}" for m in modalities for c in classifiers]
    select = "best" if args.select.lower() == "best" else args.select
    if select != "best" and select not in names:
        raise EusgistError(f"--select {args.select!r} is not among the trained models {names}")
    if args.out.exists() and any(args.out.iterdir()) and not (args.out / CARD).is_file():
        raise EusgistError(f"{args.out} exists and is not a model bundle; choose another --out")
    if args.shap_rows < 1:
        raise EusgistError(f"--shap-rows must be at least 1, not {args.shap_rows}")
    for option, path in (("--radiomics-params", args.radiomics_params),
                         ("--backbone-weights", args.backbone_weights)):
        if path is not None and not path.is_file():
            raise EusgistError(f"{option}: file not found: {path}")

    frame, provenance, origin = _load(args)
    for modality in modalities:
        feature_columns(list(frame.columns), modality)  # fail before any training
    train, test, classes = lesion_split(frame, test_size=args.test_size, seed=args.seed,
                                        positive_label=args.positive_label)
    y_train = (train["label"] == classes[1]).to_numpy(dtype=np.int64)
    y_test = (test["label"] == classes[1]).to_numpy(dtype=np.int64)
    log.info("split by lesion: %d train / %d test images", len(train), len(test))

    evaluations = []
    for i, (modality, classifier) in enumerate((m, c) for m in modalities for c in classifiers):
        log.info("[%d/%d] %s-%s", i + 1, len(names), modality, classifier)
        model = fit_model(train, y_train, train["lesion_id"], modality=modality,
                          classifier=classifier, seed=args.seed, n_splits=args.cv_folds)
        evaluations.append(evaluate(model, test, y_test))
    chosen_name = (max(evaluations, key=lambda e: e.model.cv_auc).model.name
                   if select == "best" else select)
    chosen = next(e for e in evaluations if e.model.name == chosen_name)
    model = chosen.model
    log.info("bundling %s (CV AUC %.3f, test AUC %.3f)",
             model.name, model.cv_auc, chosen.summary["auc"])

    portable = PortableModel.from_pipeline(model.pipeline, model.classifier)
    uses_rad = model.modality in ("radiomics", "combined")
    radiomics_yaml = None
    if uses_rad and args.radiomics_params is not None:
        radiomics_yaml = args.radiomics_params.read_text(encoding="utf-8")
    elif uses_rad:
        radiomics_yaml = (provenance.get("radiomics") or {}).get("radiomics_params_yaml")
    expects = _expects(model.modality, provenance)
    if radiomics_yaml is not None:
        expects["radiomics_params"]["file"] = RADIOMICS_YAML
    info = {
        "model": {
            "modality": model.modality,
            "classifier": model.classifier,
            "pipeline": "median imputation > zero-variance filter > |r| >= 0.9 correlation "
                        "filter > standardisation > L1-logistic selection > " + model.classifier,
            "best_params": model.best_params,
            "cv_auc": model.cv_auc,
            "selected_by": "highest grouped training-CV AUC" if select == "best" else "named",
        },
        "expects": expects,
        "backbone": expects["backbones"][0]["backbone"] if expects["backbones"] else None,
        "training_data": {
            "source": args.source or f"{origin.get('feature_table') or origin.get('manifest')}",
            **origin,
            "split": {"by": "lesion", "test_size": args.test_size, "seed": args.seed},
            "train": class_counts(train, classes),
            "test": class_counts(test, classes),
        },
        "test_metrics": chosen.summary,
        "threshold_rule": "Youden J on lesion-mean out-of-fold training probabilities",
    }
    background = background_sample(portable, train, seed=args.seed)
    out = save_bundle(
        args.out, portable, name=args.out.name, classes=classes, threshold=model.threshold,
        input_features=model.feature_names, background=background,
        info=info, radiomics_yaml=radiomics_yaml, backbone_weights=args.backbone_weights,
    )

    rows = pd.DataFrame([e.row() for e in evaluations])
    rows.insert(1, "chosen", rows["model"] == model.name)
    rows.to_csv(out / "comparison.csv", index=False, float_format="%.6g")
    report = {"chosen": model.name, "classes": list(classes),
              "models": {e.model.name: e.summary for e in evaluations},
              "delong": delong_table(evaluations, model.name)}
    (out / "comparison.json").write_text(json.dumps(report, indent=1, default=float))
    rng = np.random.default_rng(args.seed)
    rows_shown = rng.choice(len(test), size=min(args.shap_rows, len(test)), replace=False)
    shown = test.iloc[np.sort(rows_shown)]
    shap_summary(explain(portable, shown, background), out,
                 title=f"{model.name}: top features on the test split")
    log.info("wrote %s (bundle, comparison.csv/json, shap_summary.png/csv)", out)
    return 0

