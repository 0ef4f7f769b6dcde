"""``validate-roi``: a bundle's test metrics per ROI kind (expert outline, box)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from eusgist.commands._options import add_outside_root_option

NAME = "validate-roi"
HELP = ("Score a manifest's test lesions with a bundle once with the expert outlines and once "
        "with their boxes; print (and with --write record in the card) the metrics per ROI kind.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Bundle, manifest, split settings."""
    parser.add_argument("--model", required=True,
                        help="model bundle folder, or a bundle name in $EUSGIST_WEIGHTS_DIR")
    parser.add_argument("--manifest", required=True, type=Path,
                        help="manifest with masks (its 'split' column, else the split below)")
    parser.add_argument("--test-size", type=float, default=0.2,
                        help="test share of lesions when there is no split column (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="split seed (default 0, as train)")
    parser.add_argument("--write", action="store_true",
                        help="record the metrics in the bundle's model_card.json")
    add_outside_root_option(parser)


def run(args: argparse.Namespace) -> int:
    """Validate per ROI kind; print JSON; optionally write the card."""
    from eusgist.data import read_manifest
    from eusgist.inference import load_model
    from eusgist.inference.roi_validation import record_roi_metrics, validate_roi_kinds

    manifest = read_manifest(args.manifest, allow_outside_root=args.allow_outside_root)
    loaded = load_model(args.model)
    metrics = validate_roi_kinds(loaded, manifest, test_size=args.test_size, seed=args.seed)
    json.dump(metrics, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if args.write:
        log.info("recorded in %s", record_roi_metrics(loaded.path, metrics))
    return 0
