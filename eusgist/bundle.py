"""Moved to :mod:`eusgist.bundles.tabular` (card schema: :mod:`eusgist.bundles.card`);
this module re-exports it so existing imports keep working."""

from eusgist.bundles.tabular import *  # noqa: F403
from eusgist.bundles.tabular import (  # noqa: F401
    BACKBONE,
    BACKGROUND,
    CARD,
    CLASSIFIER_ARRAYS,
    CLASSIFIER_JSON,
    MAX_JSON_BYTES,
    PICKLE_SUFFIXES,
    RADIOMICS_YAML,
    SAFE_SUFFIXES,
    VERSIONED,
    XGBOOST_MODEL,
    __all__,
)
