"""Options shared by several commands."""

from __future__ import annotations

import argparse


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """``--database URL``: the annotation database (default: EUSGIST_DATABASE_URL, else SQLite)."""
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="SQLAlchemy URL (default: $EUSGIST_DATABASE_URL, else annotations/eusgist.sqlite)",
    )


def add_outside_root_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-outside-root``: accept manifest paths that leave the manifest's folder."""
    parser.add_argument(
        "--allow-outside-root",
        action="store_true",
        help="accept manifest paths with '..' leaving the manifest's folder (trusted local data)",
    )
