"""``calibrate``: a 2D CNN bundle's probability calibrated on its validation lesions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

NAME = "calibrate"
HELP = ("Fit a 2D CNN bundle's probability map (Platt scaling of its logit) on its own "
        "validation lesions in the manifest it was trained on, and record it in the card "
        "(the threshold follows, so decisions stay the same).")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Bundle and manifest."""
    parser.add_argument("--model", required=True,
                        help="CNN bundle folder, or a bundle name in $EUSGIST_WEIGHTS_DIR")
    parser.add_argument("--manifest", required=True, type=Path,
                        help="the manifest the bundle was trained on (its validation split)")


def run(args: argparse.Namespace) -> int:
    """Calibrate and print the recorded map."""
    from eusgist.inference.calibration import calibrate_cnn

    json.dump(calibrate_cnn(args.model, args.manifest), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
