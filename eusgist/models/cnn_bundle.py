"""Moved to :mod:`eusgist.bundles.cnn`; this module re-exports it so existing imports keep
working."""

from eusgist.bundles.cnn import (  # noqa: F401
    BUNDLE_FORMAT,
    CARD_NAME,
    INTENDED_USE,
    VERSIONED,
    WEIGHTS_NAME,
    CNNBundle,
    create_backbone,
    data_config,
    library_versions,
    load_cnn_bundle,
    preprocess_input,
    round_to_fp16,
    save_cnn_bundle,
)
