"""Tabular models: the features the classifier reads, extracted as for training; SHAP.

Only the features the classifier reads are extracted: the radiomics extraction is reduced
to them and a backbone runs only when deep features are required, on the crop
:func:`~eusgist.preprocess.model_crop` makes (the training crop rule) and, for a model
trained with frame context, on the whole frame; ``seg_*`` features come from the bundle's
box segmenter prompted with the ROI's bounding box (:mod:`eusgist.segment.shape`).
"""

from __future__ import annotations

import json
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np

from eusgist.errors import EusgistError
from eusgist.inference.cache import FEATURE_CACHE, digest
from eusgist.inference.inputs import Box, ImageInput, MaskInput, VolumeInput, resolve_roi
from eusgist.inference.predictor import (
    Contribution,
    Scored,
    Timer,
    Worker,
    decode_image,
    one_image,
)
from eusgist.io import LoadedImage
from eusgist.models.classifiers import get_classifier
from eusgist.preprocess import model_crop, whole_image

if TYPE_CHECKING:
    from eusgist.bundles.tabular import Bundle
    from eusgist.features.deep import DeepFeatureExtractor
    from eusgist.features.radiomics import RadiomicsExtractor
    from eusgist.inference.catalog import LoadedModel
    from eusgist.segment.bundle import Segmenter

#: Signed SHAP contributions shown per prediction.
TOP_CONTRIBUTIONS = 10
#: One prepared batch item: its radiomics (and segmenter) features and its deep-feature
#: crop, or ``(crop, frame)`` for a model with frame context, or None.
Prepared = tuple[dict[str, float], Any]


def _bundle(loaded: LoadedModel) -> Bundle:
    from eusgist.bundles.tabular import Bundle

    assert isinstance(loaded.bundle, Bundle)  # noqa: S101 - narrowing for the type checker
    return loaded.bundle


def tabular_features(
    loaded: LoadedModel,
    image: LoadedImage,
    roi: np.ndarray | None,
    spacing_mm: float | None = None,
    timer: Timer | None = None,
) -> dict[str, float]:
    """The features `loaded`'s classifier reads, extracted as for training."""
    timer = timer or Timer()
    expects = loaded.expects
    features: dict[str, float] = {}
    if loaded.deep:
        with timer("preprocess"):
            views = {"deep": model_crop(image.array, roi, supervision=expects.get("supervision"),
                                        margin=expects.get("crop_margin"))}
            if expects.get("context"):
                views["deep-frame"] = whole_image(image.array)
            ids = {view: digest(picture) for view, picture in views.items()}
        with timer("deep_features"):
            for extractor in loaded.deep:
                features.update(_embeddings(extractor, views, ids))
    if loaded.shape_segmenter is not None:
        features.update(_segmenter_features(loaded, image, roi, timer))
    if loaded.radiomics is not None:
        if roi is None:
            raise EusgistError(f"model {loaded.name} needs a lesion ROI for its radiomics features")
        spacing = image.spacing or (None if spacing_mm is None else (spacing_mm, spacing_mm))
        with timer("radiomics"):
            key = ("radiomics", digest(image.array), digest(roi),
                   None if spacing is None else tuple(map(float, spacing)),
                   loaded.radiomics.settings_hash)
            cached = FEATURE_CACHE.get(key)
            missing = [f for f in loaded.rad_features if f not in cached]
            if missing:
                new = loaded.radiomics.extract(image.array, roi, spacing, only=missing)
                FEATURE_CACHE.add(key, new)
                cached.update(new)
            features.update({f: cached[f] for f in loaded.rad_features})
    return {name: features[name] for name in _bundle(loaded).required_features}


def _embeddings(extractor: DeepFeatureExtractor, views: dict[str, np.ndarray],
                ids: dict[str, str]) -> dict[str, float]:
    """``extractor``'s features of each view (the ROI crop; the whole frame), cached; the
    views not in the cache embedded in one batch."""
    names = {"deep": extractor.feature_names, "deep-frame": extractor.frame_feature_names}
    ident = (extractor.backbone, str(extractor.checkpoint), extractor.pretrained,
             tuple(extractor.data_config["input_size"]))
    out: dict[str, float] = {}
    todo = []
    for view in views:
        cached = FEATURE_CACHE.get((view, ids[view], *ident))
        if cached:
            out.update(cached)
        else:
            todo.append(view)
    if todo:
        for view, vector in zip(todo, extractor.extract([views[v] for v in todo])):
            values = dict(zip(names[view], vector.tolist()))
            FEATURE_CACHE.add((view, ids[view], *ident), values)
            out.update(values)
    return out


def _segmenter_features(loaded: LoadedModel, image: LoadedImage, roi: np.ndarray | None,
                        timer: Timer) -> dict[str, float]:
    """The ``seg_*`` features of the ROI's bounding box (cached per image and box)."""
    from eusgist.roi_kinds import mask_box
    from eusgist.segment.shape import outline_features

    if roi is None:
        raise EusgistError(f"model {loaded.name} needs a lesion ROI (a box or an outline)")
    segmenter = loaded.shape_segmenter
    assert segmenter is not None  # noqa: S101 - narrowing for the type checker
    box = mask_box(roi)
    with timer("segmenter"):
        key = ("segmenter", digest(image.array), box, segmenter.name)
        cached = FEATURE_CACHE.get(key)
        if not cached:
            cached = outline_features(segmenter, image.array, box)
            FEATURE_CACHE.add(key, cached)
    return cached


class TabularPredictor:
    """A tabular bundle: image features → classifier; SHAP contributions as explanation."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def predict(self, image: VolumeInput, mask: MaskInput, box: Box | None,
                spacing_mm: float | None, timer: Timer, explain: bool,
                notes: list[str]) -> Scored:
        """One image's probability and its top :data:`TOP_CONTRIBUTIONS` SHAP contributions."""
        import pandas as pd

        loaded = self.loaded
        img, roi = decode_image(loaded, image, mask, box, timer, notes)
        with loaded.lock:
            if (loaded.radiomics is not None and img.spacing is None and spacing_mm is None
                    and any("_shape2D_" in f for f in loaded.rad_features)):
                notes.append("Pixel spacing unknown (not in the file, none given): 1 mm per "
                             "pixel assumed for shape features.")
            features = tabular_features(loaded, img, roi, spacing_mm, timer)
            # from one float array: a frame of thousands of columns built from a dict of
            # scalars costs ~15 ms
            frame = pd.DataFrame(np.fromiter(features.values(), float, len(features))[None],
                                 columns=list(features))
            with timer("classifier"):
                p = float(_bundle(loaded).predict_proba(frame)[0])
            contributions: list[Contribution] = []
            space = get_classifier(_bundle(loaded).model.classifier).shap_space
            if explain:
                with timer("explain"):
                    top = _bundle(loaded).explain(frame)[:TOP_CONTRIBUTIONS]
                    contributions = [Contribution(f, v, s) for f, v, s in top]
        return Scored(p, contributions, None, space=space if contributions else None)

    def worker(self) -> Worker:
        """Radiomics features and (when deep features are read) the crop, per image."""
        loaded = self.loaded
        params_json = (None if loaded.radiomics is None
                       else json.dumps(loaded.radiomics.settings, sort_keys=True))
        segmenter = loaded.shape_segmenter
        return partial(prepare_image, loaded.name, params_json=params_json,
                       only=loaded.rad_features, crop=bool(loaded.deep),
                       supervision=loaded.expects.get("supervision"),
                       margin=loaded.expects.get("crop_margin"),
                       context=bool(loaded.deep and loaded.expects.get("context")),
                       segmenter=None if segmenter is None else str(segmenter.path))

    def score(self, prepared: list[Prepared], batch_size: int) -> np.ndarray:
        """The classifier's probabilities; deep features batched by their extractors."""
        import pandas as pd

        context = bool(self.loaded.expects.get("context"))
        crops = [views[0] if context else views for _, views in prepared]
        columns: dict[str, np.ndarray] = {}
        for extractor in self.loaded.deep:
            embedding = extractor.extract(crops)
            columns.update(zip(extractor.feature_names, embedding.T))
            if context:
                frames = extractor.extract([views[1] for _, views in prepared])
                columns.update(zip(extractor.frame_feature_names, frames.T))
        bundle = _bundle(self.loaded)
        frame = pd.DataFrame([features for features, _ in prepared])
        required = set(bundle.required_features)
        deep = pd.DataFrame({k: v for k, v in columns.items() if k in required},
                            index=frame.index)
        frame = pd.concat([frame, deep], axis=1)
        return bundle.predict_proba(frame)


@lru_cache(maxsize=4)
def _worker_radiomics(params_json: str) -> RadiomicsExtractor:
    from eusgist.features.radiomics import RadiomicsExtractor

    return RadiomicsExtractor(json.loads(params_json))


@lru_cache(maxsize=2)
def _worker_segmenter(path: str) -> Segmenter:
    import torch

    from eusgist.segment import load_segmenter

    torch.set_num_threads(1)  # workers already fill the cores
    return load_segmenter(path)


def prepare_image(
    model: str, image: ImageInput, mask: MaskInput, spacing_mm: float | None, *,
    params_json: str | None, only: tuple[str, ...], crop: bool,
    supervision: str | None = "strong", margin: float | None = None,
    context: bool = False, segmenter: str | None = None,
) -> tuple[dict[str, float], Any]:
    """Worker: one image's radiomics (and with ``segmenter``, ``seg_*``) features and (with
    ``crop``) its model crop, or ``(crop, whole frame)`` with ``context``."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # workers already fill the cores
    img = one_image(model, image)
    roi = resolve_roi(img, mask, None)
    features: dict[str, float] = {}
    if params_json is not None:
        if roi is None:
            raise EusgistError("radiomics features need a lesion mask")
        spacing = img.spacing or (None if spacing_mm is None else (spacing_mm, spacing_mm))
        features = _worker_radiomics(params_json).extract(img.array, roi, spacing, only=only)
    if segmenter is not None:
        from eusgist.roi_kinds import mask_box
        from eusgist.segment.shape import outline_features

        if roi is None:
            raise EusgistError("segmenter features need a lesion ROI (a box or an outline)")
        features.update(outline_features(_worker_segmenter(segmenter), img.array, mask_box(roi)))
    if not crop:
        return features, None
    view = model_crop(img.array, roi, supervision=supervision, margin=margin)
    return features, (view, whole_image(img.array)) if context else view
