"""``ensemble``: one bundle name for the mean log-odds of several bundles."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

NAME = "ensemble"
HELP = ("Write an ensemble bundle: the mean log-odds of member bundles (folders beside --out), "
        "equal weights, nothing fitted.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Output folder and the member bundles."""
    parser.add_argument("--out", required=True, type=Path, help="ensemble bundle folder, e.g. "
                        "weights/busi-outline-ensemble")
    parser.add_argument("--members", required=True, metavar="A,B",
                        help="comma-separated bundles (folder names beside --out)")
    parser.add_argument("--name", default=None, help="model name (default: the folder's)")


def run(args: argparse.Namespace) -> int:
    """Write and check the ensemble's card."""
    from eusgist.bundles.ensemble import save_ensemble
    from eusgist.inference import load_model

    members = [m.strip() for m in args.members.split(",") if m.strip()]
    path = save_ensemble(args.out, members, name=args.name)
    load_model(args.out)  # the members load and agree
    log.info("ensemble written to %s (validate it with validate-roi --write)", path)
    return 0
