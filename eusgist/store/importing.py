"""Import images into the store: single files, several files, folders and ZIP archives.

Each file goes through :meth:`AnnotationStore.add_image` (DICOM de-identified, duplicates
found by content hash). A file that fails is reported and the import goes on. Burned-in
text is blanked by default (``redact="auto"``): in DICOM by the de-identification, in PNG,
JPEG, BMP, TIFF and GIF images here, before they are stored (see :mod:`eusgist.store.deid`).
ZIP archives (recognised by content, not extension) are read in memory, never extracted:
entries with absolute or ``..`` paths, symbolic links, encrypted entries and nested archives
are skipped, and the entry count (read from the end record before the directory is parsed),
sizes and compression ratios are bounded (:class:`ImportLimits`) before and while reading.
"""

from __future__ import annotations

import logging
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from eusgist.errors import EusgistError
from eusgist.io.sniff import sniff_format
from eusgist.store.deid import Redaction, import_redaction
from eusgist.store.repository import AnnotationStore, ImageInfo

log = logging.getLogger(__name__)

_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what one import reads."""

    max_file_bytes: int = 256 * 2**20
    max_zip_entries: int = 20_000
    max_zip_total_bytes: int = 4 * 2**30
    #: Uncompressed / compressed size above which an entry (over 1 MiB) is taken for a bomb.
    max_zip_ratio: float = 200.0


@dataclass
class ImportReport:
    """What an import did: new images, duplicates (already stored), failures, skips."""

    added: list[ImageInfo] = field(default_factory=list)
    duplicates: list[ImageInfo] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the command line."""
        return (
            f"{len(self.added)} added, {len(self.duplicates)} already stored, "
            f"{len(self.errors)} failed, {len(self.skipped)} skipped"
        )


def _unsafe_reason(name: str) -> str | None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "path leaves the archive (..)"
    return None


_RATIO_FLOOR_BYTES = 2**20


#: End of central directory record: signature, then entries-total at byte 10 (APPNOTE 4.3.16).
_END_SIGNATURE = b"PK\x05\x06"
_END_MIN_BYTES = 22
_END_SEARCH_BYTES = _END_MIN_BYTES + 0xFFFF  # the record ends with a comment of up to 64 KiB


def _declared_entries(path: Path) -> int:
    """The entry count declared by the archive's end record, read without parsing entries
    (0xFFFF, the ZIP64 marker, counts as that many)."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - _END_SEARCH_BYTES))
        tail = fh.read()
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END_MIN_BYTES:
        raise zipfile.BadZipFile("no end of central directory record")
    return int(struct.unpack_from("<H", tail, at + 10)[0])


def _open_zip(path: Path, limits: ImportLimits) -> zipfile.ZipFile:
    """Open an archive after checking the entry count its end record declares."""
    try:
        count = _declared_entries(path)
        if count > limits.max_zip_entries:
            raise EusgistError(
                f"{path.name}: {count} entries; the limit is {limits.max_zip_entries}"
            )
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, struct.error, NotImplementedError) as exc:
        raise EusgistError(f"{path.name}: not a readable ZIP archive ({exc})") from exc


def _bomb(info: zipfile.ZipInfo, limits: ImportLimits) -> bool:
    """Whether an entry inflates suspiciously (a ZIP bomb)."""
    return (info.file_size > _RATIO_FLOOR_BYTES
            and info.file_size > limits.max_zip_ratio * max(info.compress_size, 1))


def iter_zip(path: Path, limits: ImportLimits, report: ImportReport) -> Iterator[tuple[str, bytes]]:
    """Yield ``(entry name, bytes)`` of the safe regular files of a ZIP archive; unsafe or
    oversized entries are added to ``report.skipped``, unreadable ones to ``report.errors``.

    Raises
    ------
    ValueError
        When the archive is unreadable, has more entries or bytes than ``limits`` allow or
        an entry inflates more than ``limits.max_zip_ratio`` times (a ZIP bomb).
    """
    with _open_zip(path, limits) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise EusgistError(
                f"{path.name}: {len(infos)} entries; the limit is {limits.max_zip_entries}"
            )
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_zip_total_bytes:
            raise EusgistError(
                f"{path.name}: {declared} bytes uncompressed; "
                f"the limit is {limits.max_zip_total_bytes}"
            )
        bombs = [i.filename for i in infos if _bomb(i, limits)]
        if bombs:
            raise EusgistError(f"{path.name}: {bombs[0]!r} inflates more than "
                               f"{limits.max_zip_ratio:g} times (a ZIP bomb?)")
        total = 0
        for info in infos:
            label = f"{path.name}:{info.filename}"
            reason = _unsafe_reason(info.filename)
            if (
                info.is_dir()
                or PurePosixPath(info.filename).name.startswith(".")
                or "__MACOSX/" in info.filename
            ):
                continue
            if reason is None and stat.S_ISLNK(info.external_attr >> 16):
                reason = "symbolic link"
            if reason is None and info.flag_bits & 0x1:
                reason = "encrypted"
            if reason is None and info.file_size > limits.max_file_bytes:
                reason = f"larger than {limits.max_file_bytes} bytes"
            if reason is not None:
                report.skipped.append((label, reason))
                log.warning("%s: skipped (%s)", label, reason)
                continue
            try:
                with archive.open(info) as entry:
                    data = entry.read(limits.max_file_bytes + 1)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError,
                    ValueError) as exc:
                report.errors.append((label, f"corrupt or unsupported archive entry ({exc})"))
                log.warning("%s: cannot be read: %s", label, exc)
                continue
            total += len(data)
            if len(data) > limits.max_file_bytes or total > limits.max_zip_total_bytes:
                raise EusgistError(
                    f"{label}: the archive holds more data than it declares or the limit allows"
                )
            if data.startswith(_ZIP_MAGIC):
                report.skipped.append((label, "nested archive"))
                continue
            yield info.filename, data


def _redacted(data: bytes, redaction: Redaction) -> Redaction | None:
    """The redaction the store applies: DICOM and raster images are searched for text;
    NIfTI/NRRD are not, so only given rectangles or a top band reach the store, which
    refuses them for those formats."""
    if sniff_format(data) in ("nifti", "nrrd"):
        redaction = replace(redaction, text=False)
    return redaction or None


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not name.startswith(".") and not path.is_symlink():
                yield path


def import_paths(
    store: AnnotationStore,
    paths: Iterable[str | os.PathLike[str]],
    *,
    annotator: str | None = None,
    patient: str | None = None,
    lesion: str | None = None,
    redaction: Redaction | None = None,
    redact: str = "auto",
    limits: ImportLimits = ImportLimits(),
) -> ImportReport:
    """Import files, folders (recursively, symlinks not followed) and ZIP archives.

    ``patient``/``lesion`` put every imported image under those codes (e.g. several views
    of one lesion); by default each image gets its own (see ``add_image``).
    ``redaction`` blanks rectangles and a top band of every DICOM and raster image;
    ``redact="auto"`` (the default) also blanks the burned-in text found in each, and
    ``"none"`` does not look for text (:func:`eusgist.store.deid.preview_redaction` shows
    what would be blanked). A raster image with something blanked is stored as PNG.

    Raises
    ------
    FileNotFoundError
        When a given path does not exist (checked before anything is imported).
    EusgistError
        For a ``redact`` other than ``"auto"`` or ``"none"``.
    """
    redaction = import_redaction(redact, redaction)
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    report = ImportReport()

    def add(label: str, name: str, data: bytes, source: str) -> None:
        try:
            redacting = _redacted(data, redaction)
            result = store.add_image(
                data,
                name=name,
                patient=patient,
                lesion=lesion,
                source=source,
                annotator=annotator,
                redaction=redacting,
            )
        except ValueError as exc:
            report.errors.append((label, str(exc)))
            log.warning("%s: not imported: %s", label, exc)
            return
        (report.added if result.created else report.duplicates).append(result.image)

    for top in paths:
        files = _walk(top) if top.is_dir() else [top]
        for path in files:
            try:
                if path.stat().st_size > limits.max_file_bytes:
                    report.skipped.append((str(path), f"larger than {limits.max_file_bytes} bytes"))
                    continue
                with path.open("rb") as handle:
                    is_zip = handle.read(4) == _ZIP_MAGIC
                if is_zip:
                    for name, data in iter_zip(path, limits, report):
                        add(
                            f"{path}:{name}",
                            PurePosixPath(name).name,
                            data,
                            f"zip:{path.name}:{name}",
                        )
                else:
                    add(str(path), path.name, path.read_bytes(), f"file:{path}")
            except (OSError, ValueError) as exc:
                report.errors.append((str(path), str(exc)))
                log.warning("%s: not imported: %s", path, exc)
    log.debug("import: %s", report.summary())
    return report
