"""Detect a file's format from its content (magic bytes); extensions are never trusted."""

from __future__ import annotations

import codecs
import struct
import zlib

#: Human-readable name of each format :func:`sniff_format` returns.
FORMAT_LABELS: dict[str, str] = {
    "png": "PNG",
    "jpeg": "JPEG",
    "bmp": "BMP",
    "tiff": "TIFF",
    "gif": "GIF",
    "dicom": "DICOM",
    "nifti": "NIfTI",
    "nrrd": "NRRD",
}

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"NRRD000", "nrrd"),
)
#: Sizes of the BMP info headers Pillow knows (BITMAPCOREHEADER ... BITMAPV5HEADER).
_BMP_INFO_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
#: Known non-image (or unsupported image) signatures, for the "not a supported image" message.
_OTHER_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "ZIP archive"),
    (b"%PDF", "PDF document"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000 image"),
    (b"\xffO\xffQ", "JPEG 2000 codestream"),
)
_GZIP_PEEK = 1 << 16  # compressed bytes inspected to find a NIfTI header inside gzip


def sniff_format(data: bytes) -> str | None:
    """Return the image format of `data` from its first bytes, or None if unsupported.

    Parameters
    ----------
    data : bytes
        The whole file or at least its first few kilobytes.

    Returns
    -------
    str or None
        One of ``"png", "jpeg", "bmp", "tiff", "gif", "dicom", "nifti", "nrrd"`` (gzipped
        NIfTI is ``"nifti"``); None for anything else, including DICOM without the
        128-byte preamble and ``DICM`` marker, and two-file NIfTI/Analyze (.hdr/.img).
    """
    head = bytes(data[:600])
    if head[128:132] == b"DICM":  # first: a DICOM preamble may itself be a TIFF header
        return "dicom"
    for prefix, fmt in _PREFIXES:
        if head.startswith(prefix):
            return fmt
    if head[:2] == b"BM" and len(head) >= 18 and _le_uint32(head, 14) in _BMP_INFO_SIZES:
        return "bmp"
    if is_gzip(head):
        head = gunzip_head(data)
    if _is_nifti_header(head):
        return "nifti"
    return None


def is_gzip(data: bytes) -> bool:
    """True if `data` starts with the gzip signature."""
    return data[:2] == b"\x1f\x8b"


def describe_content(data: bytes) -> str:
    """Say what unsupported `data` looks like, e.g. ``"text"`` or ``"ZIP archive"``."""
    for prefix, label in _OTHER_PREFIXES:
        if data.startswith(prefix):
            return label
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP image"
    if data[4:8] == b"ftyp":
        return "HEIF/AVIF/MP4 media"
    if _looks_like_text(data[:4096]):
        return "text"
    return "unknown binary data"


def gunzip_head(data: bytes) -> bytes:
    """The first 600 uncompressed bytes of gzip `data` (fewer if it is short or corrupt)."""
    try:
        return zlib.decompressobj(wbits=31).decompress(bytes(data[:_GZIP_PEEK]), 600)
    except zlib.error:
        return b""


def _is_nifti_header(head: bytes) -> bool:
    """NIfTI-1 single file (``n+1``) or NIfTI-2 single file (``n+2``), either byte order."""
    if len(head) >= 348 and head[344:348] == b"n+1\x00":
        return 348 in struct.unpack("<i", head[:4]) + struct.unpack(">i", head[:4])
    if len(head) >= 540 and head[4:8] == b"n+2\x00":
        return 540 in struct.unpack("<i", head[:4]) + struct.unpack(">i", head[:4])
    return False


def _le_uint32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _looks_like_text(sample: bytes) -> bool:
    try:  # incremental: a multi-byte character cut at the sample's end is still text
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return bool(text) and all(ch.isprintable() or ch in "\t\n\r\f" for ch in text)
