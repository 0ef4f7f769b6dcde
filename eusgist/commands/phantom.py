"""``phantom``: write a synthetic EUS data set (GIST vs leiomyoma) in the manifest format."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from eusgist.phantom import PhantomConfig, generate_dataset

NAME = "phantom"
HELP = ("Simulate EUS images of GISTs and leiomyomas (guo2024 Table 1 statistics) into a "
        "manifest data set.")

log = logging.getLogger(__name__)


def _pair(text: str) -> tuple[int, int]:
    """``"2-4"`` or ``"3"`` → (low, high)."""
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or LOW-HIGH, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Output folder, size, seed and generator options."""
    parser.add_argument("--out", required=True, type=Path, help="output folder (new or empty)")
    parser.add_argument("--n-patients", required=True, type=int, help="number of patients")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--images-per-lesion", type=_pair, default=(2, 4), metavar="LOW-HIGH",
                        help="frames per lesion, uniform in the range (default 2-4)")
    parser.add_argument("--lesions-per-patient", type=_pair, default=(1, 2), metavar="LOW-HIGH",
                        help="lesions per patient, uniform in the range (default 1-2)")
    parser.add_argument("--gist-fraction", type=float, default=0.5,
                        help="fraction of patients with GISTs (default 0.5)")
    parser.add_argument("--image-size", type=int, default=PhantomConfig.image_size,
                        help=f"square image side in pixels (default {PhantomConfig.image_size})")
    parser.add_argument("--no-overlays", action="store_true",
                        help="no on-screen text or calipers in the images")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier phantom in --out")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes (-1: all cores)")


def run(args: argparse.Namespace) -> int:
    """Generate the data set and print the manifest's path."""
    manifest = generate_dataset(
        args.out,
        args.n_patients,
        args.seed,
        config=PhantomConfig(image_size=args.image_size),
        images_per_lesion=args.images_per_lesion,
        lesions_per_patient=args.lesions_per_patient,
        gist_fraction=args.gist_fraction,
        overlays=not args.no_overlays,
        overwrite=args.overwrite,
        n_jobs=args.jobs,
        progress=True,
    )
    print(manifest)
    return 0
