"""``train-cnn``: train an end-to-end CNN (any timm backbone) and write a model bundle."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import fields
from pathlib import Path

from eusgist.commands._options import add_outside_root_option
from eusgist.data import read_manifest
from eusgist.models.cnn_config import CNNConfig

NAME = "train-cnn"
HELP = ("Train a CNN (timm backbone) on a manifest with early stopping on validation AUC; "
        "strong (ROI crop) or weak (whole image) supervision. Multi-GPU: run under torchrun.")

log = logging.getLogger(__name__)
_DEFAULTS = CNNConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Data, model, optimisation and output settings."""
    add = parser.add_argument
    add("--manifest", required=True, type=Path, help="manifest CSV ('split' column honoured)")
    add("--out", required=True, type=Path, help="bundle folder, e.g. weights/NAME")
    add("--arch", default=_DEFAULTS.arch, help="timm model (resnet18/34/50, vit_*, swin_*)")
    add("--supervision", choices=("strong", "weak"), default=_DEFAULTS.supervision,
        help="strong: lesion ROI cropped from the mask; weak: whole image, label only")
    add("--dims", choices=("2d", "3d", "2d-slice"), default=_DEFAULTS.dims,
        help="2d images (timm); 3d volumes (3D ResNet-18); 2d-slice: one slice per volume")
    add("--volume-size", type=_sizes, default=_DEFAULTS.volume_size,
        help="3d: input D,H,W (default %(default)s)")
    add("--phases", type=_names, default=_DEFAULTS.phases,
        help="3d: comma-separated phases, read from the manifest's image_<phase> columns and "
             "stacked as channels (e.g. arterial,venous); default: the image column")
    add("--input-size", type=int, default=_DEFAULTS.input_size, help="square input side, pixels")
    add("--margin", type=float, default=_DEFAULTS.margin,
        help="ROI margin, fraction of the lesion's size")
    add("--no-pretrained", dest="pretrained", action="store_false",
        help="random init (by default pretrained: tf_efficientnet_lite0/1/2 offline from PyPI, "
             "others from the hub, else random)")
    add("--epochs", type=int, default=_DEFAULTS.epochs, help="maximum epochs")
    add("--patience", type=int, default=_DEFAULTS.patience,
        help="stop after this many epochs without a better validation AUC")
    add("--batch-size", type=int, default=_DEFAULTS.batch_size)
    add("--lr", type=float, default=_DEFAULTS.lr, help="AdamW learning rate")
    add("--weight-decay", type=float, default=_DEFAULTS.weight_decay)
    add("--val-size", type=float, default=_DEFAULTS.val_size,
        help="validation fraction of the training lesions")
    add("--test-size", type=float, default=_DEFAULTS.test_size,
        help="test fraction of the lesions (when the manifest has no 'split' column)")
    add("--balance", choices=("none", "loss", "sampler"), default=_DEFAULTS.balance,
        help="class balancing: weighted loss, balanced sampling, or none")
    add("--augment", choices=("none", "standard"), default=_DEFAULTS.augment,
        help="on-the-fly augmentation")
    add("--expand", action="store_true", help="guo2024 offline 5x expansion of the training set")
    add("--seed", type=int, default=_DEFAULTS.seed)
    add("--num-workers", type=int, default=_DEFAULTS.num_workers, help="data loader processes")
    add("--device", default=_DEFAULTS.device, help="auto (CUDA when present), cpu, cuda, cuda:1")
    add("--resume", action="store_true",
        help="continue from OUT/checkpoint.pt (a smaller --epochs finishes the run now)")
    add("--source", default=None,
        help="one line on the training data for the model card (default: the manifest's folder)")
    add("--compare-with", type=Path, default=None,
        help="bundle tested on the same split: paired DeLong test, to OUT/comparison.json")
    add_outside_root_option(parser)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected D,H,W integers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def run(args: argparse.Namespace) -> int:
    """Train, test, write the bundle, optionally compare with another run."""
    from eusgist.models.cnn import compare_runs, train_cnn  # torch only when training

    manifest = read_manifest(args.manifest, allow_outside_root=args.allow_outside_root)
    config = CNNConfig(**{f.name: getattr(args, f.name) for f in fields(CNNConfig)})
    result = train_cnn(manifest, args.out, config, manifest_path=args.manifest, source=args.source,
                       resume=args.resume)
    if args.compare_with is not None:
        cmp = compare_runs(args.out, args.compare_with)
        (args.out / "comparison.json").write_text(json.dumps(cmp, indent=2) + "\n")
        log.info("DeLong vs %s: AUC %.3f vs %.3f, p = %.3g",
                 args.compare_with, cmp["auc_a"], cmp["auc_b"], cmp["p_value"])
    summary = {k: result.test[k] for k in ("auc", "auc_ci", "threshold") if k in result.test}
    log.info("best epoch %d of %d; test %s", result.best_epoch, len(result.history),
             json.dumps(summary))
    return 0
