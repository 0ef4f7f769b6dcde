"""``train-segmenter``: fit the box → outline segmenter on manifests with expert masks."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

NAME = "train-segmenter"
HELP = ("Train the box-prompted lesion segmenter (U-Net on ImageNet EfficientNet-Lite) on the "
        "training splits of manifests with expert masks; Dice on each test split goes in the card.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Manifests, output bundle, training settings."""
    from eusgist.segment.config import SegmenterConfig

    d = SegmenterConfig()
    parser.add_argument("--manifest", required=True, type=Path, action="append",
                        help="manifest with masks (repeat to train on several)")
    parser.add_argument("--out", required=True, type=Path,
                        help="bundle folder, e.g. weights/segmenters/busi-boxseg-lite0")
    parser.add_argument("--arch", default=d.arch, help=f"encoder (default {d.arch})")
    parser.add_argument("--input-size", type=int, default=d.input_size,
                        help=f"crop size in pixels, a multiple of 32 (default {d.input_size})")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--patience", type=int, default=d.patience)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr, help="decoder learning rate")
    parser.add_argument("--encoder-lr", type=float, default=d.encoder_lr)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--no-pretrained", action="store_true",
                        help="random encoder instead of ImageNet weights")
    parser.add_argument("--source", default="", help="training-data statement for the card")


def run(args: argparse.Namespace) -> int:
    """Train, save, print the test metrics."""
    from eusgist.errors import EusgistError
    from eusgist.segment.config import SegmenterConfig
    from eusgist.segment.train import train_segmenter

    if args.input_size % 32:
        raise EusgistError(f"--input-size must be a multiple of 32, got {args.input_size}")
    config = SegmenterConfig(arch=args.arch, input_size=args.input_size, epochs=args.epochs,
                             patience=args.patience, batch_size=args.batch_size, lr=args.lr,
                             encoder_lr=args.encoder_lr, seed=args.seed,
                             pretrained=not args.no_pretrained)
    card = train_segmenter(args.manifest, args.out, config, source=args.source)
    json.dump(card["test_metrics"], sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
