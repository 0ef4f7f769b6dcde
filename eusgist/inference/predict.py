"""Predict one EUS image (or volume) with a model bundle: probabilities, decision,
explanation, and the model card's context.

Every :class:`Prediction` carries the model card's intended use, training data and test
metrics, so nobody sees a probability without knowing where it came from, and the verdict
of the bundle's out-of-domain gate (:mod:`.domain`): an image unlike the training images is
still scored, but flagged. The work is the model's
:class:`~eusgist.inference.predictor.Predictor`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from eusgist.inference.catalog import (
    Kind,
    LoadedModel,
    intended_use,
    load_model,
    metrics_statement,
    roi_metrics,
    training_statement,
)
from eusgist.inference.domain import DomainResult
from eusgist.inference.inputs import Box, MaskInput, VolumeInput, load_input_image
from eusgist.inference.outcomes import observed_outcome
from eusgist.inference.predictor import Contribution, Timer
from eusgist.roi_kinds import RoiKind

__all__ = ["Contribution", "Prediction", "predict"]


@dataclass(frozen=True)
class Prediction:
    """One image's prediction with its explanation and the model card's context."""

    model: str
    kind: Kind
    classes: tuple[str, str]
    probabilities: dict[str, float]
    threshold: float
    decision: str
    contributions: list[Contribution]
    gradcam: np.ndarray | None
    intended_use: str
    training_data: str
    test_metrics: str
    synthetic: bool
    timings_ms: dict[str, float]
    device: str
    notes: list[str] = field(default_factory=list)
    roi_kind: RoiKind | None = None
    #: The mask the model scored when it differs from the one given (a box outlined by a
    #: router's segmenter); None otherwise.
    roi: np.ndarray | None = None
    #: What this probability meant on held-out test lesions of the same ROI kind
    #: (:func:`eusgist.inference.outcomes.observed_outcome`); None when not recorded.
    observed: dict[str, Any] | None = None
    #: The out-of-domain gate's verdict; None when the bundle has no gate (or for volumes).
    domain: DomainResult | None = None
    #: The contributions' scale: ``"probability"`` or ``"log-odds"`` (None without any).
    shap_space: str | None = None

    @property
    def out_of_domain(self) -> bool | None:
        """Whether the gate flagged the image (None when unchecked)."""
        return None if self.domain is None else self.domain.out_of_domain

    @property
    def positive_probability(self) -> float:
        """Probability of ``classes[1]``."""
        return self.probabilities[self.classes[1]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the Grad-CAM overlay as its shape only)."""
        return {
            "model": self.model, "kind": self.kind, "classes": list(self.classes),
            "probabilities": self.probabilities, "threshold": self.threshold,
            "decision": self.decision,
            "contributions": [{"feature": c.feature, "value": c.value, "shap": c.shap}
                              for c in self.contributions],
            "shap_space": self.shap_space,
            "gradcam_shape": None if self.gradcam is None else list(self.gradcam.shape),
            "intended_use": self.intended_use, "training_data": self.training_data,
            "test_metrics": self.test_metrics, "synthetic": self.synthetic,
            "timings_ms": self.timings_ms, "device": self.device, "notes": self.notes,
            "roi_kind": self.roi_kind, "out_of_domain": self.out_of_domain,
            "domain_check": None if self.domain is None else self.domain.to_dict(),
            "observed_outcome": self.observed,
        }



def predict(
    model: LoadedModel | str | os.PathLike[str],
    image: VolumeInput,
    mask: MaskInput = None,
    *,
    box: Box | None = None,
    spacing_mm: float | None = None,
    explain: bool = True,
) -> Prediction:
    """Predict one image, or one volume with a volume model (``dims`` ``"3d"``/``"2d-slice"``).

    Parameters
    ----------
    model : LoadedModel, bundle folder or model name
    image : path, bytes, array, LoadedImage, or mapping phase → volume
        A 2D image for a 2D model; a NIfTI/NRRD volume or ``(Z, H, W)`` array for a volume
        model (a ``"2d-slice"`` model scores the slice training would have picked,
        :func:`~eusgist.models.cnn3d.pick_slice`); a mapping phase → volume for a
        multi-phase 3D model (:func:`load_volume_input`).
    mask : bool/0-1/0-255 array, path or bytes, optional
        Lesion mask of the image's (or volume's) size.
    box : (x0, y0, x1, y1), optional
        Rectangular lesion ROI in pixels (end exclusive), instead of a mask; 2D images only.
    spacing_mm : float, optional
        Pixel spacing when the file does not state it (radiomics shape features are in mm).
    explain : bool
        Compute SHAP contributions (tabular) or Grad-CAM (2D CNN; a 3D model says in
        ``notes`` that it has none).

    Raises
    ------
    ValueError
        Not an image; a volume for a 2D model or a 2D image for a volume model; other
        phases than the model's; the model needs a lesion ROI and none was given; an empty
        or wrongly sized mask; a box outside the image; an unusable bundle.
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    timer = Timer()
    notes: list[str] = []
    source = image
    if isinstance(image, str | bytes | os.PathLike) and loaded.dims == "2d":
        with timer("decode"):  # once, for the model and the out-of-domain gate
            image = load_input_image(image)
    scored = loaded.predictor.predict(image, mask, box, spacing_mm, timer, explain, notes)
    p, contributions, gradcam = scored.probability, scored.contributions, scored.gradcam
    roi_kind = cast("RoiKind | None", scored.roi_kind) or (
        "box" if box is not None else "outline" if mask is not None else None)
    notes = _roi_notes(loaded, roi_kind) + notes
    # A router decides with the threshold of the bundle it routed to.
    decider = loaded.routes.get(roi_kind or "", loaded)
    domain = _check_domain(decider, image, source, mask, box, timer)
    neg, pos = loaded.classes
    card = loaded.model_card
    return Prediction(
        model=loaded.name, kind=loaded.kind, classes=(neg, pos),
        probabilities={neg: 1.0 - p, pos: p}, threshold=decider.threshold,
        decision=pos if p >= decider.threshold else neg, contributions=contributions,
        gradcam=gradcam, intended_use=intended_use(card), training_data=training_statement(card),
        test_metrics=metrics_statement(card), synthetic=loaded.synthetic,
        timings_ms={k: round(v, 2) for k, v in timer.ms.items()}, device=loaded.device,
        notes=notes, roi_kind=roi_kind, roi=scored.roi, domain=domain,
        observed=observed_outcome(roi_metrics(card), roi_kind, p), shap_space=scored.space,
    )


def _check_domain(decider: LoadedModel, image: VolumeInput, source: VolumeInput,
                  mask: MaskInput, box: Box | None, timer: Timer) -> DomainResult | None:
    """The deciding bundle's out-of-domain verdict on the image and ROI it scored
    (``source``, what the caller gave, for the colour check)."""
    if decider.domain is None or decider.dims != "2d":
        return None
    from eusgist.inference.domain_fit import colour_pixels
    from eusgist.inference.inputs import resolve_roi
    from eusgist.inference.predictor import one_image

    with timer("domain"):
        img = one_image(decider.name, image)
        roi = resolve_roi(img, mask, box) if decider.needs_mask else None
        return decider.domain.check(img.array, roi, colour_pixels(source, img.meta))


def _roi_notes(loaded: LoadedModel, roi_kind: RoiKind | None) -> list[str]:
    """A caution when the ROI kind used is one the model was not validated on."""
    if roi_kind is None or not loaded.needs_mask:
        return []
    validated = roi_metrics(loaded.model_card)
    if validated and roi_kind not in validated:
        return [f"This model was not validated on {roi_kind} ROIs (only on "
                f"{', '.join(validated)}): treat the probability with extra caution."]
    if not validated and roi_kind == "box":
        return ["This model was validated with expert outlines only: a box can give a quite "
                "different probability. Outline the lesion for the answer it was tested on."]
    return []
