"""``split``: add a lesion- or patient-grouped train/test split (or folds) to a manifest."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from eusgist.commands._options import add_outside_root_option
from eusgist.data import grouped_kfold, read_manifest, train_test_split, write_manifest
from eusgist.errors import EusgistError

NAME = "split"
HELP = "Write a copy of a manifest with a grouped, stratified 'split' (or 'fold') column."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Manifest in, manifest out, split settings."""
    parser.add_argument("--manifest", required=True, type=Path, help="input manifest CSV")
    parser.add_argument("--out", required=True, type=Path, help="output CSV (same folder keeps paths valid)")
    parser.add_argument("--group", choices=("lesion", "patient"), default="lesion",
                        help="unit kept on one side of the split (default: lesion)")
    parser.add_argument("--test-size", type=float, default=0.2, help="test fraction (default 0.2)")
    parser.add_argument("--folds", type=int, default=0,
                        help="write a 'fold' column with K grouped folds instead of a split")
    parser.add_argument("--positive-label", default=None, help="name of the positive class")
    parser.add_argument("--seed", type=int, default=0)
    add_outside_root_option(parser)


def run(args: argparse.Namespace) -> int:
    """Validate, split, and write the manifest with the new column."""
    manifest = read_manifest(args.manifest, positive_label=args.positive_label,
                             allow_outside_root=args.allow_outside_root)
    if args.out.resolve().parent != manifest.root.resolve():
        raise EusgistError(f"--out must be in the manifest's folder ({manifest.root}) so relative paths stay valid")
    table = manifest.table.copy()
    if args.folds:
        fold = np.empty(len(table), dtype=np.int64)
        for k, (_, test) in enumerate(grouped_kfold(manifest, n_splits=args.folds, group=args.group, seed=args.seed)):
            fold[test] = k
        table["fold"] = fold
    else:
        _, test = train_test_split(manifest, test_size=args.test_size, group=args.group, seed=args.seed)
        table["split"] = "train"
        table.loc[test, "split"] = "test"
        log.info("%d train / %d test images", len(table) - len(test), len(test))
    write_manifest(table, args.out)
    log.info("wrote %s", args.out)
    return 0
