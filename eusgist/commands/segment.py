"""``segment``: suggest lesion outlines from boxes (one image, or every row of a manifest)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from eusgist.commands._options import add_outside_root_option

NAME = "segment"
HELP = ("Suggest a lesion outline inside a box: for one IMAGE with --box, or for every row of "
        "a --manifest (each mask's bounding box is the prompt), writing an outline dataset.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Segmenter, image + box or manifest, output."""
    parser.add_argument("image", nargs="?", type=Path, help="image file (with --box)")
    parser.add_argument("--model", default=None,
                        help="segmenter bundle folder or name under weights/segmenters "
                        "(default: the shipped one)")
    parser.add_argument("--box", default=None, metavar="x0,y0,x1,y1",
                        help="the lesion's box in pixels (end exclusive)")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="manifest whose masks (or boxes) give the prompts")
    parser.add_argument("--out", required=True, type=Path,
                        help="mask PNG (one image) or output folder (--manifest)")
    add_outside_root_option(parser)


def _box(text: str | None) -> tuple[float, float, float, float]:
    from eusgist.errors import EusgistError
    from eusgist.roi_kinds import parse_box

    box = parse_box(text)
    if box is None:
        raise EusgistError("--box x0,y0,x1,y1 is required with an image")
    return box


def run(args: argparse.Namespace) -> int:
    """Segment one image or a manifest."""
    import numpy as np
    from PIL import Image

    from eusgist.errors import EusgistError
    from eusgist.segment import segment, segment_manifest
    from eusgist.segment.bundle import load_segmenter

    if (args.image is None) == (args.manifest is None):
        raise EusgistError("give either an IMAGE with --box or --manifest, not both or neither")
    model = load_segmenter(args.model)
    if args.manifest is not None:
        path = segment_manifest(model, args.manifest, args.out,
                                allow_outside_root=args.allow_outside_root)
        log.info("outline manifest: %s", path)
        return 0
    mask = segment(model, args.image, _box(args.box))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(args.out)
    log.info("outline of %d pixels written to %s", int(mask.sum()), args.out)
    return 0
