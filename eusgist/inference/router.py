"""The router's predictor: each input goes to the bundle of its ROI kind (a box first
through the router's segmenter, when it has one)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eusgist.inference.inputs import Box, MaskInput, VolumeInput
from eusgist.inference.predictor import Scored, Timer, Worker, decode_image
from eusgist.io import read_image, read_mask
from eusgist.roi_kinds import mask_box, roi_kind_of
from eusgist.segment import load_segmenter

if TYPE_CHECKING:
    from eusgist.inference.catalog import LoadedModel


class RouterPredictor:
    """Predicts with the routed bundle of each input's ROI kind (outline or box)."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def predict(self, image: VolumeInput, mask: MaskInput, box: Box | None,
                spacing_mm: float | None, timer: Timer, explain: bool,
                notes: list[str]) -> Scored:
        """Decode once, pick the bundle by the ROI's kind, and let it predict."""
        img, roi = decode_image(self.loaded, image, mask, box, timer, notes)
        kind = "box" if box is not None else roi_kind_of(roi)
        target = self.loaded.routes[kind]
        article = "An" if kind == "outline" else "A"
        notes.append(f"{article} {kind} ROI: scored by {target.path.name}, this bundle's model for "
                     f"{kind} ROIs.")
        segmenter, outlined = self.loaded.segmenter, None
        if kind == "box" and segmenter is not None and roi is not None:
            with timer("segment"):
                roi = outlined = segmenter.segment(img.array, mask_box(roi))
            notes.append(f"The box was outlined by the segmenter {segmenter.name} before scoring "
                         "(the suggested outline is shown; outline the lesion yourself to "
                         "score your own outline).")
        scored = target.predictor.predict(img, roi, None, spacing_mm, timer, explain, notes)
        return scored._replace(roi_kind=kind, roi=outlined)

    def worker(self) -> Worker:
        """Each item's ROI kind and what that kind's bundle prepares from it."""
        workers = {kind: sub.predictor.worker() for kind, sub in self.loaded.routes.items()}
        segmenter = self.loaded.segmenter
        return partial(_prepare_routed, workers, None if segmenter is None else segmenter.path)

    def score(self, prepared: list[Any], batch_size: int) -> np.ndarray:
        """Each kind's items scored together by its bundle, in the input order."""
        out = np.full(len(prepared), np.nan)
        for kind, sub in self.loaded.routes.items():
            rows = [i for i, (k, _) in enumerate(prepared) if k == kind]
            if rows:
                with sub.lock:
                    out[rows] = sub.predictor.score([prepared[i][1] for i in rows], batch_size)
        return out


def _prepare_routed(workers: dict[str, Worker], segmenter: Path | None, image: VolumeInput,
                    mask: MaskInput, spacing_mm: float | None) -> tuple[str, Any]:
    """Each item's ROI kind and its bundle's prepared input; a box is first outlined by the
    segmenter (loaded once per worker process from its folder)."""
    array = mask if isinstance(mask, np.ndarray) else read_mask(mask) if mask is not None \
        else None
    kind = "outline" if array is None else roi_kind_of(array)
    if kind == "box" and segmenter is not None and array is not None:
        pixels = image.array if hasattr(image, "array") else \
            image if isinstance(image, np.ndarray) else read_image(image).array
        array = load_segmenter(segmenter).segment(pixels, mask_box(array))
    return kind, workers[kind](image, array if array is not None else mask, spacing_mm)
