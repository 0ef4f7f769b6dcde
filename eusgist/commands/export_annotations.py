"""``export-annotations``: the annotation database as a manifest dataset."""

from __future__ import annotations

import argparse
import logging

from eusgist.commands._options import add_database_option
from eusgist.store import open_store
from eusgist.store.export import DEFAULT_LABELS, export_annotations

NAME = "export-annotations"
HELP = "Write the accepted (else submitted) annotations as a manifest dataset for training."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Output folder, database and which annotations and labels to include."""
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="folder for manifest.csv, images/, masks/"
    )
    add_database_option(parser)
    parser.add_argument(
        "--include-drafts",
        action="store_true",
        help="use an image's latest draft when it has no accepted or submitted annotation",
    )
    parser.add_argument(
        "--include-other", action="store_true", help="also export lesions labelled 'other'"
    )
    parser.add_argument(
        "--confirmed-only", action="store_true", help="only pathology-confirmed labels"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export in DIR")


def run(args: argparse.Namespace) -> int:
    """Export and report the counts."""
    store = open_store(args.database)
    try:
        summary = export_annotations(
            store,
            args.out,
            include_drafts=args.include_drafts,
            labels=DEFAULT_LABELS + (("other",) if args.include_other else ()),
            confirmed_only=args.confirmed_only,
            overwrite=args.overwrite,
        )
    finally:
        store.close()
    log.info(
        "wrote %d images to %s; left out: %s",
        summary.n_images,
        summary.manifest,
        summary.left_out or "none",
    )
    return 0
