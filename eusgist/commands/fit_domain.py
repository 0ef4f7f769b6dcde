"""``fit-domain``: fit a bundle's out-of-domain gate on its training images."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from eusgist.commands._options import add_outside_root_option

NAME = "fit-domain"
HELP = ("Fit a bundle's out-of-domain gate on the training images of the manifest it was "
        "trained on (writes domain.safetensors and the card's 'domain' field; rerun after "
        "retraining). A router's routed bundles are fitted instead.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Bundle and manifest."""
    parser.add_argument("--model", required=True, type=Path, metavar="weights/NAME",
                        help="2D tabular or CNN bundle folder (or a router of them)")
    parser.add_argument("--manifest", required=True, type=Path, metavar="MANIFEST.csv",
                        help="the manifest the bundle was trained on (its split is recomputed "
                             "from the card: only the training rows are fitted)")
    add_outside_root_option(parser)


def run(args: argparse.Namespace) -> int:
    """Fit, write, report the flag rates."""
    from eusgist.inference.domain_fit import fit_bundle

    for name, info in fit_bundle(args.model, args.manifest,
                                 allow_outside_root=args.allow_outside_root).items():
        rate = info["flag_rate"]
        print(f"{name}: threshold {info['threshold']:.2f}; flagged "
              f"{100 * rate['train_out_of_fold']:.1f}% of the training images (out of fold), "
              f"{100 * rate['test']:.1f}% of the {rate['n_test']} test images")
    return 0
