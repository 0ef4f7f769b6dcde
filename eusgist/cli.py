"""Command line: ``python -m eusgist <command>``.

Each command lives in its own module under :mod:`eusgist.commands` and exposes
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. A user's error
(:class:`~eusgist.errors.EusgistError`, :class:`OSError`) ends the program with a one-line
message and exit status 2, never a traceback; anything else is a bug, reported as an
internal error with its traceback and exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from eusgist import __version__
from eusgist.errors import is_user_error

COMMAND_MODULES: tuple[str, ...] = (
    "eusgist.commands.phantom",
    "eusgist.commands.split",
    "eusgist.commands.extract",
    "eusgist.commands.train",
    "eusgist.commands.train_cnn",
    "eusgist.commands.evaluate",
    "eusgist.commands.predict",
    "eusgist.commands.report",
    "eusgist.commands.import_images",
    "eusgist.commands.export_annotations",
    "eusgist.commands.serve",
    "eusgist.commands.add_user",
    "eusgist.commands.validate_roi",
    "eusgist.commands.route",
    "eusgist.commands.ensemble",
    "eusgist.commands.roi_variants",
    "eusgist.commands.segment",
    "eusgist.commands.train_segmenter",
    "eusgist.commands.calibrate",
    "eusgist.commands.fit_domain",
)

log = logging.getLogger("eusgist")


def _load_commands() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="eusgist",
        description="GIST vs leiomyoma on endoscopic ultrasound: research tools.",
    )
    parser.add_argument("--version", action="version", version=f"eusgist {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _load_commands():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except Exception as exc:
        if not is_user_error(exc):
            log.exception("%s: internal error (a bug in eusgist; please report it)",
                          args.command)
            return 1
        print(f"eusgist {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eusgist {args.command}: interrupted", file=sys.stderr)
        return 130
