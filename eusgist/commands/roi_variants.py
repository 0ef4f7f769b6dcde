"""``roi-variants``: a dataset of the ROIs users actually give (boxes, rough outlines)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

NAME = "roi-variants"
HELP = ("Write a dataset with each masked row's expert outline, its bounding box, rough "
        "outlines and jittered boxes (seeded): train models on the ROIs users give.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Source manifest, output folder, how many variants of which kinds."""
    parser.add_argument("--manifest", required=True, type=Path, help="manifest with masks")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder (manifest.csv, images/, masks/)")
    parser.add_argument("--outlines", type=int, default=1,
                        help="rough outlines per mask (dilated/eroded, uneven edge; default 1)")
    parser.add_argument("--boxes", type=int, default=1,
                        help="jittered boxes per mask, beside its exact box (default 1)")
    parser.add_argument("--loose", type=int, default=0,
                        help="loose boxes per mask: each edge moved outwards by up to 25%% of "
                             "the box's side, as a quick box is drawn (default 0)")
    parser.add_argument("--kinds", choices=("outline", "box", "both"), default="both",
                        help="keep outline variants, box variants or both (default)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    """Write the variants and their manifest."""
    from eusgist.errors import EusgistError
    from eusgist.roi_kinds import ROI_KINDS, write_roi_variants

    if min(args.outlines, args.boxes, args.loose) < 0:
        raise EusgistError("--outlines, --boxes and --loose must be >= 0")
    kinds = ROI_KINDS if args.kinds == "both" else (args.kinds,)
    path = write_roi_variants(args.manifest, args.out, outlines=args.outlines,
                              boxes=args.boxes, seed=args.seed, kinds=kinds,
                              loose=args.loose)
    log.info("ROI variants written: %s", path)
    return 0
