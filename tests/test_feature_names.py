"""Feature names for clinicians, and the model cards' intervals written "a to b"."""

from __future__ import annotations

import pytest

from eusgist.explain import display_name
from eusgist.inference.catalog import metrics_statement, roi_statement


@pytest.mark.parametrize(("column", "expected"), [
    ("rad_original_shape2D_Sphericity", "Shape: sphericity"),
    ("original_shape_Sphericity", "Shape: sphericity"),
    ("rad_original_glcm_Idmn", "Texture (GLCM): inverse difference moment normalised"),
    ("rad_original_glrlm_GrayLevelNonUniformityNormalized",
     "Texture (GLRLM): grey-level non-uniformity normalised"),
    ("rad_log-sigma-2-0-mm-3D_firstorder_90Percentile",
     "Intensity: 90th percentile (LoG-filtered, σ 2.0 mm)"),
    ("rad_wavelet-LH_firstorder_10Percentile", "Intensity: 10th percentile (wavelet LH)"),
    ("rad_original_ngtdm_Busyness", "Texture (NGTDM): busyness"),
    ("deep_tf_efficientnet_lite0_0015", "CNN feature 15 (tf_efficientnet_lite0)"),
    ("age", "age"),
])
def test_display_names(column: str, expected: str) -> None:
    assert display_name(column) == expected


CARD = {
    "format": "eusgist-tabular/1", "kind": "tabular", "classes": ["benign", "malignant"],
    "test_metrics": {"auc": 0.9, "auc_ci": [0.81, 0.99], "n_lesions": 40,
                     "metrics": {"sensitivity": [0.8, 0.6, 0.9]}},
    "test_metrics_by_roi": {"box": {"auc": 0.7, "auc_ci": [-0.1, 0.95]}},
}


def test_card_intervals_are_written_a_to_b() -> None:
    text = metrics_statement(CARD)
    assert "95% CI 0.810 to 0.990" in text and "sensitivity 0.80 (0.60 to 0.90)" in text
    assert "box AUC 0.700 (-0.100 to 0.950)" in roi_statement(CARD)
    assert "–" not in text
