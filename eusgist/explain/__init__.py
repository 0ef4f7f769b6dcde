"""Explanations: SHAP for the tabular models (:mod:`.shap`), Grad-CAM for CNNs (:mod:`.gradcam`),
feature names for clinicians (:mod:`.names`).

Re-exports the tabular names; :mod:`eusgist.explain.gradcam` needs torch and is imported
only by those who ask for it.
"""

from __future__ import annotations

from eusgist.explain.names import display_name
from eusgist.explain.shap import (
    METHODS,
    Explanation,
    background_sample,
    explain,
    readable_name,
    shap_summary,
)
from eusgist.models.classifiers.shapley import (
    EXACT_MAX_FEATURES,
    N_PERMUTATIONS,
    Game,
    masked_game,
)

__all__ = [
    "EXACT_MAX_FEATURES",
    "METHODS",
    "N_PERMUTATIONS",
    "Explanation",
    "Game",
    "background_sample",
    "display_name",
    "explain",
    "masked_game",
    "readable_name",
    "shap_summary",
]
