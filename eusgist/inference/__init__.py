"""Predict with model bundles of every kind: one image (:func:`predict`) or many
(:func:`score_images`, :func:`score_manifest`).

Submodules: :mod:`.catalog` (find, describe and load bundles), :mod:`.inputs` (images,
volumes, ROIs), :mod:`.predictor` (the :class:`Predictor` protocol, with
:mod:`.tabular` and :mod:`.cnn` implementations), :mod:`.predict` (one prediction),
:mod:`.batch` (many images, labelled data sets) and :mod:`.cache` (the feature cache).
Nothing here imports torch until a model runs.
"""

from eusgist.config import WEIGHTS_DIR_ENV as WEIGHTS_ENV
from eusgist.inference.batch import (
    MANIFEST_NAME,
    model_inputs,
    score_dataset,
    score_images,
    score_manifest,
    unpack_dataset_zip,
)
from eusgist.inference.cache import FEATURE_CACHE, FeatureCache
from eusgist.inference.catalog import (
    NOT_CLINICAL,
    SYNTHETIC_WORDS,
    Kind,
    LoadedModel,
    ModelInfo,
    card_classes,
    card_kind,
    default_weights_dir,
    intended_use,
    is_synthetic,
    list_models,
    load_listed_model,
    load_model,
    metrics_statement,
    resolve_model_path,
    roi_metrics,
    roi_statement,
    training_statement,
)
from eusgist.inference.inputs import (
    Box,
    Dims,
    ImageInput,
    MaskInput,
    VolumeInput,
    VolumeSpec,
    box_mask,
    load_input_image,
    load_volume_input,
    resolve_roi,
    volume_roi,
)
from eusgist.inference.predict import Contribution, Prediction, predict
from eusgist.inference.predictor import Predictor, predictor_for
from eusgist.inference.tabular import TOP_CONTRIBUTIONS, tabular_features

__all__ = [
    "FEATURE_CACHE",
    "MANIFEST_NAME",
    "NOT_CLINICAL",
    "SYNTHETIC_WORDS",
    "TOP_CONTRIBUTIONS",
    "WEIGHTS_ENV",
    "Box",
    "Contribution",
    "Dims",
    "FeatureCache",
    "ImageInput",
    "Kind",
    "LoadedModel",
    "MaskInput",
    "ModelInfo",
    "Prediction",
    "Predictor",
    "VolumeInput",
    "VolumeSpec",
    "box_mask",
    "card_classes",
    "card_kind",
    "default_weights_dir",
    "intended_use",
    "is_synthetic",
    "list_models",
    "load_input_image",
    "load_listed_model",
    "load_model",
    "load_volume_input",
    "metrics_statement",
    "roi_metrics",
    "roi_statement",
    "model_inputs",
    "predict",
    "predictor_for",
    "resolve_model_path",
    "resolve_roi",
    "score_dataset",
    "score_images",
    "score_manifest",
    "tabular_features",
    "training_statement",
    "unpack_dataset_zip",
    "volume_roi",
]
