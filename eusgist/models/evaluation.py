"""Test-split evaluation of fitted tabular models, at the lesion level.

Image probabilities are averaged per lesion; AUC comes with its DeLong interval, and
sensitivity, specificity, PPV, NPV and accuracy (Wilson intervals) are taken at the
threshold chosen on the training split's out-of-fold scores, never on the test split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eusgist.models.tabular import FittedModel
from eusgist.stats import (
    LesionScores,
    aggregate_by_lesion,
    brier_score,
    delong_test,
    roc_auc_ci,
    threshold_metrics,
)

__all__ = ["ModelEvaluation", "class_counts", "delong_table", "evaluate"]


@dataclass(frozen=True)
class ModelEvaluation:
    """One model's test-split result.

    Attributes
    ----------
    model : FittedModel
    lesions : LesionScores
        Lesion-mean test probabilities.
    summary : dict
        JSON-ready: AUC with CI, Brier score, threshold metrics with CIs, counts.
    """

    model: FittedModel
    lesions: LesionScores
    summary: dict[str, Any]

    def row(self) -> dict[str, Any]:
        """A flat row for ``comparison.csv``."""
        s = self.summary
        out: dict[str, Any] = {
            "model": self.model.name,
            "modality": self.model.modality,
            "classifier": self.model.classifier,
            "n_features": s["n_features_input"],
            "n_selected": s["n_features_selected"],
            "cv_auc": s["cv_auc"],
            "threshold": s["threshold"],
            "test_auc": s["auc"],
            "test_auc_lo": s["auc_ci"][0],
            "test_auc_hi": s["auc_ci"][1],
            "brier": s["brier"],
        }
        for name, (value, lo, hi) in s["metrics"].items():
            out.update({name: value, f"{name}_lo": lo, f"{name}_hi": hi})
        return out


def evaluate(model: FittedModel, test: pd.DataFrame, y: np.ndarray) -> ModelEvaluation:
    """Score ``test`` (image rows, 0/1 labels ``y``) and summarise at the lesion level."""
    lesions = aggregate_by_lesion(test["lesion_id"].to_numpy(), y, model.predict_proba(test))
    auc = roc_auc_ci(lesions.y_true, lesions.y_score)
    at = threshold_metrics(lesions.y_true, lesions.y_score, threshold=model.threshold, ci="wilson")
    summary = {
        "model": model.name,
        "modality": model.modality,
        "classifier": model.classifier,
        "best_params": model.best_params,
        "n_features_input": len(model.feature_names),
        "n_features_selected": len(model.selected_features),
        "cv_auc": model.cv_auc,
        "threshold": model.threshold,
        "level": "lesion (mean of image probabilities)",
        "n_images": int(len(test)),
        "n_lesions": int(lesions.y_true.size),
        "n_positive_lesions": int(lesions.y_true.sum()),
        "auc": auc.auc,
        "auc_ci": [auc.lo, auc.hi],
        "auc_ci_method": "DeLong, 95%",
        "brier": brier_score(lesions.y_true, lesions.y_score),
        "metrics": {k: list(v) for k, v in at.metrics.items()},
        "metrics_ci_method": "Wilson, 95%",
        "confusion": {
            "tp": at.counts.tp, "fp": at.counts.fp, "tn": at.counts.tn, "fn": at.counts.fn
        },
    }
    return ModelEvaluation(model, lesions, summary)


def delong_table(evaluations: Sequence[ModelEvaluation], reference: str) -> list[dict[str, Any]]:
    """Paired DeLong tests of the ``reference`` model against every other (same test lesions)."""
    by_name = {e.model.name: e for e in evaluations}
    ref = by_name[reference]
    rows = []
    for other in evaluations:
        if other.model.name == reference:
            continue
        t = delong_test(ref.lesions.y_true, ref.lesions.y_score, other.lesions.y_score)
        rows.append({"a": reference, "b": other.model.name, "auc_a": t.auc_a, "auc_b": t.auc_b,
                     "z": t.z, "p_value": t.p_value, "lo": t.lo, "hi": t.hi})
    return rows


def class_counts(frame: pd.DataFrame, classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """Images, lesions and patients per class of a feature table."""
    out = {}
    for name in classes:
        part = frame[frame["label"] == name]
        out[name] = {
            "images": int(len(part)),
            "lesions": int(part["lesion_id"].nunique()),
            "patients": int(part["patient_id"].nunique()),
        }
    return out
