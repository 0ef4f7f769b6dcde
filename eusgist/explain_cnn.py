"""Deprecated: Grad-CAM moved to :mod:`eusgist.explain.gradcam`; this shim re-exports it."""

from __future__ import annotations

import warnings

from eusgist.explain.gradcam import (
    Explanation,
    default_target_layer,
    explain_image,
    grad_cam,
    overlay,
)

__all__ = ["Explanation", "default_target_layer", "explain_image", "grad_cam", "overlay"]

warnings.warn("eusgist.explain_cnn moved to eusgist.explain.gradcam", DeprecationWarning,
              stacklevel=2)
