"""The :class:`Predictor` protocol: how one kind of model prepares, scores and explains.

:func:`predictor_for` is the one place that picks by a model's kind and dims —
:class:`~eusgist.inference.tabular.TabularPredictor` (features → classifier, SHAP),
:class:`~eusgist.inference.cnn.CNNPredictor` (2D CNN, Grad-CAM) or
:class:`~eusgist.inference.cnn.VolumePredictor` (``dims`` ``"3d"``/``"2d-slice"``).
:func:`~eusgist.inference.predict.predict` and
:func:`~eusgist.inference.batch.score_images` only talk to the protocol.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from eusgist.errors import EusgistError
from eusgist.inference.inputs import (
    Box,
    MaskInput,
    VolumeInput,
    dims_error,
    load_input_image,
    resolve_roi,
)
from eusgist.io import LoadedImage

if TYPE_CHECKING:
    from eusgist.inference.catalog import LoadedModel

#: A worker's job: one item's ``(image, mask, spacing_mm)`` → what :meth:`Predictor.score`
#: takes. Runs in joblib processes, so it must pickle (a module-level function or partial).
Worker = Callable[[VolumeInput, MaskInput, "float | None"], Any]


@dataclass(frozen=True)
class Contribution:
    """One feature's signed SHAP contribution (towards the positive class when > 0)."""

    feature: str
    value: float
    shap: float


class Scored(NamedTuple):
    """One input's positive-class probability and explanation (and, when the predictor
    decided them, the ROI kind it was given and the mask it scored: a router's segmenter
    turns a box into an outline)."""

    probability: float
    contributions: list[Contribution]
    gradcam: np.ndarray | None
    roi_kind: str | None = None
    roi: np.ndarray | None = None
    #: The scale of the contributions: ``"probability"`` or ``"log-odds"`` (None: none).
    space: str | None = None


class Timer:
    """Milliseconds spent per stage: ``with timer("decode"): ...``."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + 1000 * (time.perf_counter() - start)


class Predictor(Protocol):
    """How one kind of model turns inputs into positive-class probabilities."""

    def predict(self, image: VolumeInput, mask: MaskInput, box: Box | None,
                spacing_mm: float | None, timer: Timer, explain: bool,
                notes: list[str]) -> Scored:
        """One input's probability and (when ``explain``) explanation; notes for the user."""
        ...

    def worker(self) -> Worker:
        """The picklable job that prepares one batch item in a worker process."""
        ...

    def score(self, prepared: list[Any], batch_size: int) -> np.ndarray:
        """Probabilities of the workers' prepared items, in this process."""
        ...


def predictor_for(loaded: LoadedModel) -> Predictor:
    """The predictor of ``loaded``'s kind and dims."""
    if loaded.kind == "tabular":
        from eusgist.inference.tabular import TabularPredictor

        return TabularPredictor(loaded)
    if loaded.kind == "router":
        from eusgist.inference.router import RouterPredictor

        return RouterPredictor(loaded)
    if loaded.kind == "ensemble":
        from eusgist.inference.ensemble import EnsemblePredictor

        return EnsemblePredictor(loaded)
    from eusgist.inference.cnn import CNNPredictor, VolumePredictor

    return CNNPredictor(loaded) if loaded.dims == "2d" else VolumePredictor(loaded)


#: What a model that ignores the ROI looks at, by its dims.
_WHOLE = {"2d": "whole frame", "2d-slice": "whole middle slice", "3d": "whole volume"}


def use_roi(loaded: LoadedModel, roi: np.ndarray | None, notes: list[str]) -> np.ndarray | None:
    """The ROI the model uses: refused when missing but needed, dropped (with a note) when
    the model ignores it."""
    if roi is None and loaded.needs_mask:
        what = ("a lesion mask or a box around the lesion" if loaded.dims == "2d"
                else "a lesion mask volume of the image's shape")
        raise EusgistError(f"model {loaded.name} was trained on lesion ROIs: give {what}")
    if roi is not None and not loaded.needs_mask:
        notes.append(f"This model looks at the {_WHOLE[loaded.dims]}; the ROI given was not used.")
        return None
    return roi


def one_image(model: str, image: VolumeInput) -> LoadedImage:
    """A 2D model's input image; a mapping of phases or a volume is refused."""
    if isinstance(image, Mapping):
        raise EusgistError(f"model {model} takes one 2D image, not phases {sorted(image)}")
    img = load_input_image(image)
    if img.is_volume:
        raise dims_error(model, "2d", img)
    return img


def decode_image(loaded: LoadedModel, image: VolumeInput, mask: MaskInput, box: Box | None,
                 timer: Timer, notes: list[str]) -> tuple[LoadedImage, np.ndarray | None]:
    """A 2D model's image and the ROI it uses, timed as ``decode``."""
    with timer("decode"):
        img = one_image(loaded.name, image)
        return img, use_roi(loaded, resolve_roi(img, mask, box), notes)


@contextmanager
def torch_on_all_cores() -> Iterator[None]:
    """Torch intra-op threads on every usable core for a batched phase (joblib's workers
    have finished by then), restored afterwards."""
    import torch

    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    before = torch.get_num_threads()
    torch.set_num_threads(max(before, cores))
    try:
        yield
    finally:
        torch.set_num_threads(before)
