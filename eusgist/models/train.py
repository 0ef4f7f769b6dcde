"""Train tabular models, compare them on held-out lesions and bundle the chosen one.

The work of ``python -m eusgist train``: split the feature table 8:2 by lesion, tune and fit
every requested modality × classifier on the training split (grouped CV), evaluate each on
the test lesions, and write the chosen model's bundle with ``comparison.csv``/
``comparison.json`` (all models, DeLong tests against the chosen one) and the chosen
model's SHAP summary.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eusgist.bundles.tabular import CARD, RADIOMICS_YAML, file_sha256, save_bundle
from eusgist.errors import EusgistError
from eusgist.explain import background_sample, explain, shap_summary
from eusgist.models.classifiers import get_classifier
from eusgist.models.evaluation import class_counts, delong_table, evaluate
from eusgist.models.portable import PortableModel
from eusgist.models.tabular import (
    ALL_MODALITIES,
    CLASSIFIERS,
    MODALITIES,
    feature_columns,
    fit_model,
    lesion_split,
)

log = logging.getLogger(__name__)

__all__ = ["TrainOptions", "TrainingTable", "load_training_table", "train_tabular"]


@dataclass(frozen=True)
class TrainOptions:
    """What to train and where to write it (the ``train`` command's options).

    Attributes
    ----------
    out : Path
        Bundle folder, e.g. ``weights/NAME``.
    modalities, classifiers : tuple of str
        Every modality × classifier is trained (default: zhao2026's 3 × 3).
    select : str
        ``"best"`` (highest training-CV AUC) or a model name such as ``"combined-svm"``.
    seed, test_size, cv_folds, positive_label
        Split, CV and model seed; test share of lesions; grouped CV folds; positive class.
    radiomics_params, backbone_weights : Path or None
        Files to ship with the bundle.
    source : str or None
        Training data description for the model card.
    shap_rows : int
        Test images explained in the SHAP summary.
    """

    out: Path
    modalities: tuple[str, ...] = MODALITIES
    classifiers: tuple[str, ...] = CLASSIFIERS
    select: str = "best"
    seed: int = 0
    test_size: float = 0.2
    cv_folds: int = 5
    positive_label: str | None = None
    radiomics_params: Path | None = None
    backbone_weights: Path | None = None
    source: str | None = None
    shap_rows: int = 100

    @property
    def names(self) -> list[str]:
        """``<modality>-<classifier>`` of every model to train, in training order."""
        return [f"{m}-{c}" for m in self.modalities for c in self.classifiers]

    def check(self) -> None:
        """Fail on bad options before any data is read or model trained.

        Raises
        ------
        EusgistError
            Unknown modality or classifier, a ``select`` not among the models, an ``out``
            that is a folder but not a bundle, ``shap_rows`` < 1, a missing file.
        """
        unknown = [m for m in self.modalities if m not in ALL_MODALITIES]
        if unknown or not self.modalities:
            raise EusgistError(f"unknown modalities {unknown}; choose from {list(ALL_MODALITIES)}")
        for classifier in self.classifiers:
            get_classifier(classifier)
        if self.select != "best" and self.select not in self.names:
            raise EusgistError(
                f"--select {self.select!r} is not among the trained models {self.names}"
            )
        out = self.out
        if out.exists() and any(out.iterdir()) and not (out / CARD).is_file():
            raise EusgistError(f"{out} exists and is not a model bundle; choose another --out")
        if self.shap_rows < 1:
            raise EusgistError(f"--shap-rows must be at least 1, not {self.shap_rows}")
        for option, path in (("--radiomics-params", self.radiomics_params),
                             ("--backbone-weights", self.backbone_weights)):
            if path is not None and not path.is_file():
                raise EusgistError(f"{option}: file not found: {path}")


@dataclass(frozen=True)
class TrainingTable:
    """A feature table, its provenance and where it came from (file name and sha256)."""

    frame: pd.DataFrame
    provenance: dict[str, Any]
    origin: dict[str, Any]


def load_training_table(
    *,
    features: Path | None = None,
    manifest: Path | None = None,
    positive_label: str | None = None,
    allow_outside_root: bool = False,
) -> TrainingTable:
    """Read a feature table, or extract the default features of a manifest (cached).

    Raises
    ------
    EusgistError
        Neither or both sources, a missing or unreadable table, a bad manifest, or
        feature extraction that cannot be imported here.
    """
    if features is not None:
        if manifest is not None:
            raise EusgistError("give a feature table or a manifest, not both")
        if not features.is_file():
            raise EusgistError(f"feature table not found: {features}")
        from eusgist.features.table import read_feature_table

        try:
            frame, provenance = read_feature_table(features)
        except (OSError, ValueError) as exc:
            raise EusgistError(f"{features}: not a readable feature table ({exc})") from exc
        return TrainingTable(frame, provenance, {"feature_table": features.name,
                                                 "feature_table_sha256": file_sha256(features)})
    if manifest is None:
        raise EusgistError("give a feature table or a manifest")
    from eusgist.data import read_manifest

    rows = read_manifest(manifest, positive_label=positive_label,
                         allow_outside_root=allow_outside_root)
    log.info("extracting default features of %s (cached)", manifest)
    try:
        from eusgist.features import extract_features

        result = extract_features(rows, progress=True)
    except ImportError as exc:
        raise EusgistError(f"--manifest needs feature extraction, which cannot be imported "
                           f"({exc}); run `extract` elsewhere and pass --features") from exc
    return TrainingTable(result.table, result.provenance,
                         {"manifest": manifest.name, "manifest_sha256": file_sha256(manifest)})


def _expects(modality: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """What a user of the model must supply, from the feature table's provenance."""
    uses_rad = modality in ("radiomics", "combined")
    uses_deep = modality in ("deep", "combined", "deepseg")
    uses_seg = modality == "deepseg"
    radiomics = provenance.get("radiomics") or {}
    deep = provenance.get("deep") or {}
    supervision = provenance.get("supervision")
    kinds = (("radiomics", uses_rad), ("deep", uses_deep), ("segmenter", uses_seg))
    return {
        "input": "one EUS image per row; features extracted as in the training table",
        "feature_kinds": [k for k, used in kinds if used],
        "context": bool(provenance.get("context")) and uses_deep,
        "segmenter": provenance.get("segmenter") if uses_seg else None,
        "mask_required": bool(uses_rad or (uses_deep and supervision != "weak")),
        "supervision": supervision,
        "crop_margin": provenance.get("crop_margin") if uses_deep else None,
        "backbones": [
            {k: p.get(k) for k in ("backbone", "weights", "pretrained", "pretrained_source",
                                   "input_size", "mean", "std", "checkpoint_sha256")}
            for p in deep.values()
        ] if uses_deep else [],
        "radiomics_params": {
            "name": radiomics.get("radiomics_params_name"),
            "settings_hash": radiomics.get("radiomics_settings_hash"),
        } if uses_rad else None,
    }


def train_tabular(table: TrainingTable, options: TrainOptions) -> Path:
    """Train, compare and bundle; return the bundle folder.

    Raises
    ------
    EusgistError
        Bad options (:meth:`TrainOptions.check`), a modality without feature columns, a
        table that cannot be split by lesion, too few lesions for cross-validation.
    """
    options.check()
    frame, provenance = table.frame, table.provenance
    for modality in options.modalities:
        feature_columns(list(frame.columns), modality)  # fail before any training
    train, test, classes = lesion_split(frame, test_size=options.test_size, seed=options.seed,
                                        positive_label=options.positive_label)
    y_train = (train["label"] == classes[1]).to_numpy(dtype=np.int64)
    y_test = (test["label"] == classes[1]).to_numpy(dtype=np.int64)
    log.info("split by lesion: %d train / %d test images", len(train), len(test))

    names = options.names
    evaluations = []
    pairs = [(m, c) for m in options.modalities for c in options.classifiers]
    for i, (modality, classifier) in enumerate(pairs):
        log.info("[%d/%d] %s-%s", i + 1, len(names), modality, classifier)
        model = fit_model(train, y_train, train["lesion_id"], modality=modality,
                          classifier=classifier, seed=options.seed, n_splits=options.cv_folds)
        evaluations.append(evaluate(model, test, y_test))
    best = options.select == "best"
    chosen_name = max(evaluations, key=lambda e: e.model.cv_auc).model.name if best \
        else options.select
    chosen = next(e for e in evaluations if e.model.name == chosen_name)
    model = chosen.model
    log.info("bundling %s (CV AUC %.3f, test AUC %.3f)",
             model.name, model.cv_auc, chosen.summary["auc"])

    portable = PortableModel.from_pipeline(model.pipeline, model.classifier)
    uses_rad = model.modality in ("radiomics", "combined")
    radiomics_yaml = None
    if uses_rad and options.radiomics_params is not None:
        radiomics_yaml = options.radiomics_params.read_text(encoding="utf-8")
    elif uses_rad:
        radiomics_yaml = (provenance.get("radiomics") or {}).get("radiomics_params_yaml")
    needs = _expects(model.modality, provenance)
    if radiomics_yaml is not None:
        needs["radiomics_params"]["file"] = RADIOMICS_YAML
    origin = table.origin
    info = {
        "model": {
            "modality": model.modality,
            "classifier": model.classifier,
            "pipeline": "median imputation > zero-variance filter > |r| >= 0.9 correlation "
                        "filter > standardisation > "
                        + ("L1-logistic selection > " if get_classifier(model.classifier).selects
                           else "") + model.classifier,
            "best_params": model.best_params,
            "cv_auc": model.cv_auc,
            "selected_by": "highest grouped training-CV AUC" if best else "named",
        },
        "expects": needs,
        "backbone": needs["backbones"][0]["backbone"] if needs["backbones"] else None,
        "training_data": {
            "source": options.source
            or f"{origin.get('feature_table') or origin.get('manifest')}",
            **origin,
            "split": {"by": "lesion", "test_size": options.test_size, "seed": options.seed},
            "train": class_counts(train, classes),
            "test": class_counts(test, classes),
        },
        "test_metrics": chosen.summary,
        "threshold_rule": "Youden J on lesion-mean out-of-fold training probabilities",
    }
    background = background_sample(portable, train, seed=options.seed)
    out = save_bundle(
        options.out, portable, name=options.out.name, classes=classes,
        threshold=model.threshold, input_features=model.feature_names, background=background,
        info=info, radiomics_yaml=radiomics_yaml, backbone_weights=options.backbone_weights,
    )

    rows = pd.DataFrame([e.row() for e in evaluations])
    rows.insert(1, "chosen", rows["model"] == model.name)
    rows.to_csv(out / "comparison.csv", index=False, float_format="%.6g")
    report = {"chosen": model.name, "classes": list(classes),
              "models": {e.model.name: e.summary for e in evaluations},
              "delong": delong_table(evaluations, model.name)}
    (out / "comparison.json").write_text(json.dumps(report, indent=1, default=float))
    rng = np.random.default_rng(options.seed)
    rows_shown = rng.choice(len(test), size=min(options.shap_rows, len(test)), replace=False)
    shown = test.iloc[np.sort(rows_shown)]
    shap_summary(explain(portable, shown, background), out,
                 title=f"{model.name}: top features on the test split")
    log.info("wrote %s (bundle, comparison.csv/json, shap_summary.png/csv)", out)
    return out
