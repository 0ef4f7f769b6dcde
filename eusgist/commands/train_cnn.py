"""``train-cnn``: train an end-to-end CNN (any timm backbone) and write a model bundle."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from eusgist.data import read_manifest
from eusgist.models.cnn import CNNConfig, compare_runs, train_cnn

NAME = "train-cnn"
HELP = ("Train a CNN (timm backbone) on a manifest with early stopping on validation AUC; "
        "strong (ROI crop) or weak (whole image) supervision. Multi-GPU: run under torchrun.")

log = logging.getLogger(__name__)
_DEFAULTS = CNNConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Data, model, optimisation and output settings."""
    parser.add_argument("--manifest", required=True, type=Path, help="manifest CSV (a 'split' column is honoured)")
    parser.add_argument("--out", required=True, type=Path, help="bundle folder, e.g. weights/NAME")
    parser.add_argument("--arch", default=_DEFAULTS.arch, help="timm model name (resnet18/34/50, vit_*, swin_*)")
    parser.add_argument("--supervision", choices=("strong", "weak"), default=_DEFAULTS.supervision,
                        help="strong: lesion ROI cropped from the mask; weak: whole image, label only")
    parser.add_argument("--input-size", type=int, default=_DEFAULTS.input_size, help="square input side in pixels")
    parser.add_argument("--margin", type=float, default=_DEFAULTS.margin, help="ROI margin (fraction of lesion size)")
    parser.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                        help="random init (pretrained weights are tried by default; offline falls back to random)")
    parser.add_argument("--epochs", type=int, default=_DEFAULTS.epochs, help="maximum epochs")
    parser.add_argument("--patience", type=int, default=_DEFAULTS.patience,
                        help="stop after this many epochs without a better validation AUC")
    parser.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    parser.add_argument("--lr", type=float, default=_DEFAULTS.lr, help="AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=_DEFAULTS.weight_decay)
    parser.add_argument("--val-size", type=float, default=_DEFAULTS.val_size,
                        help="validation fraction of the training lesions")
    parser.add_argument("--test-size", type=float, default=_DEFAULTS.test_size,
                        help="test fraction of lesions (when the manifest has no 'split' column)")
    parser.add_argument("--balance", choices=("none", "loss", "sampler"), default=_DEFAULTS.balance,
                        help="class balancing: weighted loss, balanced sampling, or none")
    parser.add_argument("--augment", choices=("none", "standard"), default=_DEFAULTS.augment,
                        help="on-the-fly augmentation")
    parser.add_argument("--expand", action="store_true", help="guo2024 offline 5x expansion of the training set")
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--num-workers", type=int, default=_DEFAULTS.num_workers, help="data loader processes")
    parser.add_argument("--device", default=_DEFAULTS.device, help="auto (CUDA when present), cpu, cuda, cuda:1")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--compare-with", type=Path, default=None,
                        help="another bundle tested on the same split: paired DeLong test, written to OUT/comparison.json")


def run(args: argparse.Namespace) -> int:
    """Train, test, write the bundle, optionally compare with another run."""
    manifest = read_manifest(args.manifest)
    config = CNNConfig(
        arch=args.arch, supervision=args.supervision, input_size=args.input_size, margin=args.margin,
        pretrained=args.pretrained, epochs=args.epochs, patience=args.patience, batch_size=args.batch_size,
        lr=args.lr, weight_decay=args.weight_decay, val_size=args.val_size, test_size=args.test_size,
        balance=args.balance, augment=args.augment, expand=args.expand, seed=args.seed,
        num_workers=args.num_workers, device=args.device,
    )
    result = train_cnn(manifest, args.out, config, manifest_path=args.manifest, resume=args.resume)
    if args.compare_with is not None:
        cmp = compare_runs(args.out, args.compare_with)
        (args.out / "comparison.json").write_text(json.dumps(cmp, indent=2) + "\n")
        log.info("DeLong vs %s: AUC %.3f vs %.3f, p = %.3g", args.compare_with, cmp["auc_a"], cmp["auc_b"],
                 cmp["p_value"])
    log.info("best epoch %d of %d; test %s", result.best_epoch, len(result.history),
             json.dumps({k: result.test[k] for k in ("auc", "auc_ci", "threshold") if k in result.test}))
    return 0
