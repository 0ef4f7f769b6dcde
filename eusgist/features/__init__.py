"""Feature extraction: radiomics (pyradiomics) and deep embeddings (timm), and the tables.

Submodules are imported on first use so that ``import eusgist.features`` stays light:
:mod:`~eusgist.features.radiomics`, :mod:`~eusgist.features.deep`,
:mod:`~eusgist.features.table` and :mod:`~eusgist.features.pipeline`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RadiomicsExtractor": "eusgist.features.radiomics",
    "DeepFeatureExtractor": "eusgist.features.deep",
    "read_feature_table": "eusgist.features.table",
    "write_feature_table": "eusgist.features.table",
    "extract_features": "eusgist.features.pipeline",
    "ExtractionSettings": "eusgist.features.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
