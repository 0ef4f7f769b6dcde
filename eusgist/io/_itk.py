"""NIfTI (.nii, .nii.gz) and NRRD through SimpleITK.

Spacing is the header's (NIfTI: millimetres; ITK reports 1.0 when a file does not say).
Arrays are in file index order ``(Z, H, W)``; no reorientation is done.
"""

from __future__ import annotations

import re
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from eusgist.io._common import (
    Decoded,
    ImageReadError,
    Request,
    check_geometry,
    choose_frame,
    decoding,
    format_size,
    inflated_length,
)
from eusgist.io.sniff import FORMAT_LABELS, gunzip_head, is_gzip

_IMAGE_IO = {"nifti": "NiftiImageIO", "nrrd": "NrrdImageIO"}
#: File name endings SimpleITK needs to accept a file; the first is used for temporary copies.
_SUFFIXES = {"nifti": (".nii",), "nifti.gz": (".nii.gz",), "nrrd": (".nrrd", ".nhdr")}
_MAX_CHANNELS = 4
#: One SimpleITK read at a time: concurrent reads from threads (the app's workers, joblib's
#: threading backend) were seen to abort the whole process inside ImageFileReader.Execute.
_ITK_LOCK = threading.Lock()
_COMPLEX = frozenset({sitk.sitkComplexFloat32, sitk.sitkComplexFloat64})
_ITK_PREFIX = re.compile(r"^(ITK ERROR: \w+\(0x[0-9a-fA-F]+\): |\[nrrd\] \w+: )")
_NRRD_DATA_FILE = re.compile(r"^data ?file: *(.*)$", re.IGNORECASE)


def read_itk(req: Request, fmt: str) -> Decoded:
    """Read a NIfTI or NRRD image: 2D, one slice of a volume, or (allowed) the whole volume."""
    label = FORMAT_LABELS[fmt]
    if fmt == "nrrd":
        _check_nrrd_data_files(req)
    with (_ITK_LOCK, _itk_path(req, fmt) as path, decoding(req, label),
          _itk_errors(req, label, path)):
        reader = sitk.ImageFileReader()
        reader.SetImageIO(_IMAGE_IO[fmt])
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        size, spacing = _squeeze(reader.GetSize(), reader.GetSpacing())
        if len(size) > 3:
            raise ImageReadError(
                f"{req.name}: {len(size)}D images are not supported ({format_size(size[::-1])})"
            )
        width, height, depth = (*size, 1)[:3]
        index = _slice(req, label, depth)
        check_geometry(req, width, height, depth)
        channels = reader.GetNumberOfComponents()
        if channels > _MAX_CHANNELS or reader.GetPixelID() in _COMPLEX:
            raise ImageReadError(
                f"{req.name}: unsupported {label} pixel type "
                f"({channels} × {sitk.GetPixelIDValueAsString(reader.GetPixelID())})"
            )
        if fmt == "nifti":
            _check_nifti_length(req)
        array = sitk.GetArrayFromImage(reader.Execute()).reshape(depth, height, width, channels)
    meta: dict[str, object] = {"dtype": str(array.dtype), "n_frames": depth, "frame": index}
    spacing_zyx = _spacing(req, spacing)
    if index is not None:
        array, spacing_zyx = array[index], spacing_zyx[-2:]
    return Decoded(array, spacing_zyx, meta | {"spacing_source": "header"})


def _squeeze(
    size: tuple[int, ...], spacing: tuple[float, ...]
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Drop trailing size-1 axes (a 2D image stored as W×H×1, a volume as W×H×Z×1)."""
    while len(size) > 2 and size[-1] == 1:
        size, spacing = size[:-1], spacing[:-1]
    return size, spacing[: len(size)]


def _spacing(req: Request, spacing: tuple[float, ...]) -> tuple[float, ...]:
    """Header spacing in ``(Z, Y, X)`` order; a negative pixdim (a flipped axis) counts by size."""
    zyx = tuple(abs(float(s)) for s in reversed(spacing))
    if not all(np.isfinite(s) and s > 0 for s in zyx):
        raise ImageReadError(f"{req.name}: invalid pixel spacing in the header {zyx}")
    return zyx


def _check_nrrd_data_files(req: Request) -> None:
    """Refuse a detached NRRD data file outside the header's folder, or with no folder.

    A header may name any file (``data file: /etc/passwd``); only a plain file name beside
    a header read from its own path is followed.
    """
    lines = req.data[:65536].decode("latin-1").splitlines()
    for number, line in enumerate(lines):
        if not line.strip():
            return  # end of the header
        match = _NRRD_DATA_FILE.match(line.strip())
        if not match:
            continue
        value = match[1].split()
        names = lines[number + 1 :] if value[:1] == ["LIST"] else value[:1]
        for name in (n.strip() for n in names if n.strip()):
            if "/" in name or "\\" in name or name in (".", "..") or ":" in name:
                raise ImageReadError(
                    f"{req.name}: NRRD data file {name!r} is outside the header's folder (refused)"
                )
            if req.path is None or not req.path.name.lower().endswith(_SUFFIXES["nrrd"]):
                raise ImageReadError(
                    f"{req.name}: truncated or corrupt NRRD file (its data file {name!r} is "
                    "separate; read the header from its own folder)"
                )
        return


def _slice(req: Request, label: str, depth: int) -> int | None:
    """The slice to return as 2D, or None to return the whole volume."""
    if depth == 1 or req.frame is not None:
        return choose_frame(req, depth)
    if req.allow_volume:
        return None
    raise ImageReadError(
        f"{req.name}: {label} file is a 3D volume with {depth} slices; pass allow_volume=True "
        "to read it whole or frame= to choose one slice"
    )


def _check_nifti_length(req: Request) -> None:
    """ITK pads a short NIfTI with zeros; refuse one whose data ends early instead."""
    header = gunzip_head(req.data) if is_gzip(req.data) else req.data[:540]
    if header[344:348] == b"n+1\x00":
        order = "<" if struct.unpack("<i", header[:4])[0] == 348 else ">"
        dims = struct.unpack(order + "8h", header[40:56])
        (bits,) = struct.unpack(order + "h", header[72:74])
        offset = int(struct.unpack(order + "f", header[108:112])[0])
    else:  # NIfTI-2
        order = "<" if struct.unpack("<i", header[:4])[0] == 540 else ">"
        (bits,) = struct.unpack(order + "h", header[14:16])
        dims = struct.unpack(order + "8q", header[16:80])
        (offset,) = struct.unpack(order + "q", header[168:176])
    needed = offset + int(np.prod(dims[1 : dims[0] + 1], dtype=np.int64)) * bits // 8
    available = (
        inflated_length(req.data, wbits=31, limit=needed) if is_gzip(req.data) else len(req.data)
    )
    if available < needed:
        raise ImageReadError(
            f"{req.name}: truncated or corrupt NIfTI file ({available:,} of {needed:,} bytes)"
        )


@contextmanager
def _itk_path(req: Request, fmt: str) -> Iterator[Path]:
    """A file name SimpleITK accepts: the source itself, or a temporary copy."""
    kind = "nifti.gz" if fmt == "nifti" and is_gzip(req.data) else fmt
    suffixes = _SUFFIXES[kind]
    if req.path is not None and req.path.name.lower().endswith(suffixes):
        yield req.path  # detached NRRD data files are found next to the header
        return
    with tempfile.TemporaryDirectory(prefix="eusgist-io-") as folder:
        path = Path(folder) / f"image{suffixes[0]}"
        path.write_bytes(req.data)
        yield path


@contextmanager
def _itk_errors(req: Request, label: str, path: Path) -> Iterator[None]:
    """Report ITK's exception by its last line, naming the source instead of the file path."""
    try:
        yield
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = _ITK_PREFIX.sub("", lines[-1] if lines else "").replace(str(path), req.name)
        raise ImageReadError(f"{req.name}: truncated or corrupt {label} file ({reason})") from exc
