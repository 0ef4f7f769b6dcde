"""Moved to :mod:`eusgist.inference.batch`; this module re-exports it so existing imports
keep working."""

from eusgist.inference.batch import (  # noqa: F401
    MANIFEST_NAME,
    model_inputs,
    score_dataset,
    score_images,
    score_manifest,
    unpack_dataset_zip,
)
