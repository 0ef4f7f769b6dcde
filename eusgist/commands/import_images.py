"""``import-images``: add image files, folders and ZIP archives to the annotation database."""

from __future__ import annotations

import argparse
import logging

from eusgist.commands._options import add_database_option
from eusgist.store import Redaction, open_store
from eusgist.store.deid import REDACT_MODES, redaction_boxes
from eusgist.store.importing import import_paths

NAME = "import-images"
HELP = "Import images, folders and ZIP archives (DICOM de-identified) into the annotation database."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Paths, who imports, where the images belong and what to redact."""
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="image file, folder or ZIP archive"
    )
    parser.add_argument("--annotator", default=None, help="name recorded as the importer")
    add_database_option(parser)
    parser.add_argument(
        "--patient", default=None, help="study code of the patient all images belong to"
    )
    parser.add_argument("--lesion", default=None, help="code of the lesion all images show")
    parser.add_argument(
        "--redact",
        type=_redact_mode,
        default="auto",
        metavar="auto|none",
        help="auto (default): find burned-in text (names, IDs, dates) in DICOM and PNG/JPEG/"
        "BMP/TIFF/GIF images and blank it; none: do not look for text",
    )
    parser.add_argument(
        "--redact-top",
        type=int,
        default=0,
        metavar="ROWS",
        help="also blank this many pixel rows at the top of every image",
    )
    parser.add_argument(
        "--redact-box",
        action="append",
        default=[],
        metavar="X0,Y0,X1,Y1",
        help="also blank this pixel rectangle of every image (repeatable)",
    )


def _redact_mode(value: str) -> str:
    if value in REDACT_MODES:
        return value
    hint = "; give rectangles with --redact-box X0,Y0,X1,Y1" if "," in value else ""
    raise argparse.ArgumentTypeError(
        f"must be one of {', '.join(REDACT_MODES)}, not {value!r}{hint}"
    )


def run(args: argparse.Namespace) -> int:
    """Import; exit status 1 when some files could not be imported."""
    redaction = Redaction(redaction_boxes(args.redact_box), args.redact_top)
    store = open_store(args.database)
    try:
        report = import_paths(
            store,
            args.paths,
            annotator=args.annotator,
            patient=args.patient,
            lesion=args.lesion,
            redaction=redaction or None,
            redact=args.redact,
        )
    finally:
        store.close()
    for name, problem in report.errors:
        log.error("%s: %s", name, problem)
    log.info("%s into %s", report.summary(), store.url)
    return 1 if report.errors else 0
