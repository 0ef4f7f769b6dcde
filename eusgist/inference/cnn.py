"""CNN models: a 2D CNN on the training crop (Grad-CAM as explanation), and volume CNNs.

A volume CNN (``dims`` ``"3d"`` or ``"2d-slice"``, from ``train-cnn --dims``) takes
NIfTI/NRRD volumes prepared exactly as in training (:mod:`eusgist.models.cnn3d`); a
multi-phase one a mapping phase → volume. Torch is imported only when a CNN runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from eusgist.errors import EusgistError
from eusgist.inference.calibration import calibrated
from eusgist.inference.inputs import (
    Box,
    MaskInput,
    VolumeInput,
    VolumeSpec,
    load_volume_input,
    volume_roi,
)
from eusgist.inference.predictor import Scored, Timer, Worker, decode_image, use_roi
from eusgist.inference.tabular import prepare_image

if TYPE_CHECKING:
    from eusgist.bundles.cnn import CNNBundle
    from eusgist.inference.catalog import LoadedModel


def _cnn_bundle(loaded: LoadedModel) -> CNNBundle:
    from eusgist.bundles.cnn import CNNBundle

    assert isinstance(loaded.bundle, CNNBundle)  # noqa: S101 - narrowing for the type checker
    return loaded.bundle


def _probability(bundle: CNNBundle, x: Any) -> float:
    """The CNN's positive-class probability of one model input."""
    import torch

    with torch.inference_mode():
        logit = bundle.model(x[None].to(bundle.device))[0, 0].float()
    return float(calibrated(bundle.card, np.array([float(logit)]))[0])


def _score_batches(bundle: CNNBundle, items: Sequence[Any], batch_size: int,
                   to_tensor: Callable[[Any], Any]) -> np.ndarray:
    """The CNN's probabilities of ``items``, ``batch_size`` model inputs (``to_tensor``) at
    a time."""
    import torch

    out = [np.zeros(0)]
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            x = torch.stack([to_tensor(c) for c in items[start:start + batch_size]])
            logits = bundle.model(x.to(bundle.device))[:, 0].float()
            out.append(calibrated(bundle.card, logits.cpu().numpy()))
    return np.concatenate(out)


def _predict_array(bundle: CNNBundle, array: np.ndarray, roi: np.ndarray | None, timer: Timer,
                   explain: bool) -> Scored:
    """A 2D CNN's probability of one image (or slice) and its Grad-CAM overlay."""
    with timer("preprocess"):
        x = bundle.preprocess(array, roi)
    with timer("classifier"):
        p = _probability(bundle, x)
    if not explain:
        return Scored(p, [], None)
    with timer("explain"):
        from eusgist.explain.gradcam import grad_cam, overlay

        expects = bundle.card["expects"]
        crop = (x[0] * expects["std"][0] + expects["mean"][0]).clamp(0, 1).numpy()
        cam = overlay(crop, grad_cam(bundle.model, x))
    return Scored(p, [], cam)


class CNNPredictor:
    """A 2D CNN bundle: the training crop → network; Grad-CAM as explanation."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def predict(self, image: VolumeInput, mask: MaskInput, box: Box | None,
                spacing_mm: float | None, timer: Timer, explain: bool,
                notes: list[str]) -> Scored:
        """One image's probability and Grad-CAM overlay."""
        img, roi = decode_image(self.loaded, image, mask, box, timer, notes)
        with self.loaded.lock:
            return _predict_array(_cnn_bundle(self.loaded), img.array, roi, timer, explain)

    def worker(self) -> Worker:
        """The model crop of each image (the training crop rule)."""
        expects = self.loaded.expects
        return partial(prepare_image, self.loaded.name, params_json=None, only=(), crop=True,
                       supervision=expects.get("supervision"),
                       margin=expects.get("crop_margin"))

    def score(self, prepared: list[Any], batch_size: int) -> np.ndarray:
        """The network's probabilities of the crops, ``batch_size`` at a time."""
        from eusgist.preprocess import to_model_input

        bundle = _cnn_bundle(self.loaded)
        scale = bundle.card["expects"]["intensity_scale"]
        return _score_batches(bundle, [crop for _, crop in prepared], batch_size,
                              lambda c: to_model_input(c, bundle.data_config, scale=scale))


class VolumePredictor:
    """A volume CNN (``dims`` ``"3d"`` or ``"2d-slice"``): volumes prepared as in training."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def predict(self, image: VolumeInput, mask: MaskInput, box: Box | None,
                spacing_mm: float | None, timer: Timer, explain: bool,
                notes: list[str]) -> Scored:
        """One volume's probability (and Grad-CAM of a 2d-slice model's slice)."""
        from eusgist.models.cnn3d import slice_index

        loaded = self.loaded
        if box is not None:
            raise EusgistError(f"model {loaded.name} takes volumes: give the lesion ROI as a "
                               "mask volume, not a box")
        with timer("decode"):
            volume = load_volume_input(loaded.volume_spec, image)
            roi = use_roi(loaded, volume_roi(mask, volume.shape[1:]), notes)
        bundle = _cnn_bundle(loaded)
        with loaded.lock:
            if loaded.dims == "2d-slice":
                z = slice_index(volume.shape[1], roi)
                how = "the largest lesion area" if roi is not None else "the middle one"
                notes.append(f"Slice {z + 1} of {volume.shape[1]} was scored ({how}), as in "
                             "training.")
                return _predict_array(bundle, volume[0], roi, timer, explain)
            with timer("preprocess"):
                x = bundle.preprocess(volume, roi)
            with timer("classifier"):
                p = _probability(bundle, x)
        if explain:
            notes.append("Grad-CAM is not available for 3D models: no overlay.")
        return Scored(p, [], None)

    def worker(self) -> Worker:
        """Each volume's model input, as :meth:`CNNBundle.preprocess` makes it."""
        return partial(prepare_volume, self.loaded.volume_spec)

    def score(self, prepared: list[Any], batch_size: int) -> np.ndarray:
        """The network's probabilities of the prepared inputs, ``batch_size`` at a time."""
        import torch

        return _score_batches(_cnn_bundle(self.loaded), prepared, batch_size, torch.from_numpy)


def prepare_volume(spec: VolumeSpec, image: VolumeInput, mask: MaskInput,
                   spacing_mm: float | None = None) -> np.ndarray:
    """Worker: one volume's model input, as :meth:`CNNBundle.preprocess` makes it."""
    import SimpleITK as sitk

    from eusgist.bundles.cnn import preprocess_input

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # workers already fill the cores
    volume = load_volume_input(spec, image)
    roi = volume_roi(mask, volume.shape[1:])
    x = preprocess_input(spec.expects, volume if spec.dims == "3d" else volume[0], roi)
    return x.numpy()
