"""``predict``: one image through a model bundle — probabilities, decision, top SHAP, card.

A volume model (``train-cnn --dims 3d|2d-slice``) takes a NIfTI/NRRD volume and a mask volume;
a multi-phase 3D model takes one ``--phase NAME=FILE`` per phase instead of IMAGE.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from eusgist.errors import EusgistError
from eusgist.inference.outcomes import outcome_sentence

if TYPE_CHECKING:
    from eusgist.inference.predict import Prediction

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


def _phase(text: str) -> tuple[str, Path]:
    """``"NAME=FILE"`` → ``(name, path)``."""
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected PHASE=FILE, got {text!r}")
    return name.strip(), Path(path.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Model, image (or phase volumes), ROI (mask or box), output form."""
    parser.add_argument("--model", required=True, metavar="weights/NAME",
                        help="model bundle folder, or a bundle name in $EUSGIST_WEIGHTS_DIR")
    parser.add_argument("image", type=Path, nargs="?",
                        help="image file (PNG, JPEG, DICOM, ...); a NIfTI/NRRD volume for a 3D "
                             "or 2d-slice model")
    parser.add_argument("--phase", type=_phase, action="append", default=[],
                        metavar="PHASE=FILE",
                        help="one volume per phase of a multi-phase 3D model, instead of IMAGE "
                             "(repeat for each phase the model card lists)")
    roi = parser.add_mutually_exclusive_group()
    roi.add_argument("--mask", type=Path,
                     help="lesion mask of the image's size (a mask volume for a volume model)")
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
    lines = [*_domain_lines(pred),
        f"Model: {pred.model} ({pred.kind}){tag}",
        f"Image: {image}",
        f"P({pos}) = {pred.probabilities[pos]:.3f}   P({neg}) = {pred.probabilities[neg]:.3f}",
        f"Decision at threshold {pred.threshold:.3f}: {pred.decision}",
    ]
    if pred.observed is not None:
        lines.append("Held out: " + outcome_sentence(pred.observed, pos))
    if pred.contributions:
        lines.append(f"Top SHAP contributions, in {pred.shap_space or 'probability'} "
                     f"(> 0 pushes towards {pos}):")
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


def _domain_lines(pred: Prediction) -> list[str]:
    """The out-of-domain verdict: a warning first when the image was flagged."""
    if pred.domain is None:
        return []
    if pred.domain.out_of_domain:
        return [f"WARNING: OUT OF DOMAIN: {pred.domain.reason}.",
                "This image does not look like the model's training data: the probability "
                "below is not meaningful for it.", ""]
    return [f"Domain check: {pred.domain.reason}."]


def run(args: argparse.Namespace) -> int:
    """Predict, print; return 0."""
    from PIL import Image

    from eusgist.inference.predict import predict

    if (args.image is None) == (not args.phase):
        raise EusgistError("give IMAGE or --phase PHASE=FILE for each phase, not both or neither")
    phases = dict(args.phase)
    if len(phases) != len(args.phase):
        raise EusgistError(f"--phase: a phase is given twice ({[n for n, _ in args.phase]})")
    files = {"image": args.image, "mask": args.mask, **{f"{n} phase": p for n, p in phases.items()}}
    for what, path in files.items():
        if path is not None and not path.is_file():
            raise EusgistError(f"{what} not found: {path}")
    image = args.image if args.image is not None else phases
    pred = predict(args.model, image, args.mask, box=args.box, spacing_mm=args.spacing_mm)
    if args.gradcam is not None:
        if pred.gradcam is None:
            raise EusgistError(f"--gradcam: model {pred.model} is not a CNN (no Grad-CAM)")
        Image.fromarray(pred.gradcam).save(args.gradcam)
    shown = str(args.image) if args.image is not None else ", ".join(
        f"{name}={path}" for name, path in phases.items())
    if args.json:
        print(json.dumps({"image": shown, **pred.to_dict()}, indent=1))
    else:
        print(summary(pred, shown))
    return 0
