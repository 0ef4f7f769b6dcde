"""``predict``: one image through a model bundle — probabilities, decision, top SHAP, card."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eusgist.inference import Prediction

NAME = "predict"
HELP = ("Predict one EUS image with a model bundle: class probabilities, decision, top SHAP "
        "contributions, and what the model was trained on (research use only).")


def _box(text: str) -> tuple[float, float, float, float]:
    """``"x0,y0,x1,y1"`` → four numbers."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x0,y0,x1,y1 numbers, got {text!r}") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected four numbers x0,y0,x1,y1, got {text!r}")
    return values  # type: ignore[return-value]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Model, image, ROI (mask or box), output form."""
    parser.add_argument("--model", required=True, metavar="weights/NAME",
                        help="model bundle folder, or a bundle name in $EUSGIST_WEIGHTS_DIR")
    parser.add_argument("image", type=Path, help="image file (PNG, JPEG, DICOM, NIfTI, ...)")
    roi = parser.add_mutually_exclusive_group()
    roi.add_argument("--mask", type=Path, help="lesion mask of the image's size")
    roi.add_argument("--box", type=_box, metavar="x0,y0,x1,y1",
                     help="rectangular lesion ROI in pixels (end exclusive)")
    parser.add_argument("--spacing-mm", type=float, default=None,
                        help="pixel spacing when the file does not state it")
    parser.add_argument("--gradcam", type=Path, default=None, metavar="OUT.png",
                        help="save the Grad-CAM overlay (CNN models)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def summary(pred: Prediction, image: str) -> str:
    """The readable report of one prediction."""
    neg, pos = pred.classes
    tag = " — SYNTHETIC demo model" if pred.synthetic else ""
    lines = [
        f"Model: {pred.model} ({pred.kind}){tag}",
        f"Image: {image}",
        f"P({pos}) = {pred.probabilities[pos]:.3f}   P({neg}) = {pred.probabilities[neg]:.3f}",
        f"Decision at threshold {pred.threshold:.3f}: {pred.decision}",
    ]
    if pred.contributions:
        lines.append(f"Top SHAP contributions (> 0 pushes towards {pos}):")
        lines += [f"  {c.shap:+.4f}  {c.feature} = {c.value:.4g}" for c in pred.contributions]
    lines += [f"Note: {n}" for n in pred.notes]
    lines += [
        f"Training data: {pred.training_data}",
        f"Test performance: {pred.test_metrics}",
        f"Intended use: {pred.intended_use}",
        "Timings (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in pred.timings_ms.items())
        + f" on {pred.device}",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Predict, print; return 0."""
    from PIL import Image

    from eusgist.inference import predict

    if not args.image.is_file():
        raise ValueError(f"image not found: {args.image}")
    if args.mask is not None and not args.mask.is_file():
        raise ValueError(f"mask not found: {args.mask}")
    pred = predict(args.model, args.image, args.mask, box=args.box, spacing_mm=args.spacing_mm)
    if args.gradcam is not None:
        if pred.gradcam is None:
            raise ValueError(f"--gradcam: model {pred.model} is not a CNN (no Grad-CAM)")
        Image.fromarray(pred.gradcam).save(args.gradcam)
    if args.json:
        print(json.dumps({"image": str(args.image), **pred.to_dict()}, indent=1))
    else:
        print(summary(pred, str(args.image)))
    return 0
