"""``route``: one bundle name for a model per ROI kind (outline → one bundle, box → another)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

NAME = "route"
HELP = ("Write a router bundle: predictions with an outline go to one bundle, with a box to "
        "another (both folders beside --out).")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Output folder and the two routed bundles."""
    parser.add_argument("--out", required=True, type=Path, help="router bundle folder, e.g. "
                        "weights/busi-by-roi")
    parser.add_argument("--outline", required=True,
                        help="bundle (folder name beside --out) for expert or drawn outlines")
    parser.add_argument("--box", required=True,
                        help="bundle (folder name beside --out) for boxes")
    parser.add_argument("--box-segmenter", default=None, metavar="NAME",
                        help="segmenter (folder name in segmenters/ beside --out) that outlines "
                        "a box before the --box bundle scores it")
    parser.add_argument("--name", default=None, help="model name (default: the folder's)")


def run(args: argparse.Namespace) -> int:
    """Write and check the router's card."""
    from eusgist.bundles.router import save_router
    from eusgist.inference import load_model

    path = save_router(args.out, outline=args.outline, box=args.box, name=args.name,
                       box_segmenter=args.box_segmenter)
    load_model(args.out)  # the routed bundles load and agree
    log.info("router written to %s (validate it per ROI kind with validate-roi --write)", path)
    return 0
