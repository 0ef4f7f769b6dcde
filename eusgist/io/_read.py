"""The public readers: any supported source to a canonical image or a binary mask."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import numpy as np

from eusgist.io._common import (
    Decoded,
    ImageReadError,
    LoadedImage,
    Request,
    format_size,
    resolve_max_pixels,
)
from eusgist.io._dicom import is_headerless_dicom, read_dicom
from eusgist.io._itk import read_itk
from eusgist.io._raster import read_raster
from eusgist.io.sniff import describe_content, sniff_format

log = logging.getLogger(__name__)

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO

_READERS: dict[str, Callable[[Request, str], Decoded]] = {
    "png": read_raster,
    "jpeg": read_raster,
    "bmp": read_raster,
    "tiff": read_raster,
    "gif": read_raster,
    "dicom": read_dicom,
    "nifti": read_itk,
    "nrrd": read_itk,
}
#: ITU-R BT.601 luma weights for R, G, B.
_LUMA = np.array([0.299, 0.587, 0.114])


def read_image(
    source: Source,
    *,
    frame: int | None = None,
    name: str | None = None,
    max_pixels: int | None = None,
    allow_volume: bool = False,
) -> LoadedImage:
    """Read an image into canonical form: float32 grayscale, spacing in mm, provenance.

    The format is detected from the content, never from the file name (DICOM without
    the 128-byte preamble too, when it parses as DICOM to the end). Colour is reduced
    to ITU-R BT.601 luma, alpha is dropped, palettes are expanded, DICOM YBR is converted
    and the DICOM modality LUT (rescale slope/intercept) applied; values stay in the
    original units (0–255 for 8-bit, 0–65535 for 16-bit).

    Parameters
    ----------
    source : path, bytes or binary file object
        The image: PNG, JPEG, BMP, TIFF, GIF, DICOM, NIfTI (.nii, .nii.gz) or NRRD.
    frame : int, optional
        Frame of a multi-frame DICOM/TIFF/GIF, or slice of a NIfTI/NRRD volume, to read
        (default 0; a volume is then returned as that 2D slice).
    name : str, optional
        Name used in messages and ``meta["source"]`` (default: the file name, or
        ``"<bytes>"``/``"<stream>"``).
    max_pixels : int, optional
        Largest number of pixels decoded (default: ``EUSGIST_MAX_PIXELS``, else 64 MP),
        checked against the header before any pixel is decoded.
    allow_volume : bool
        Return a NIfTI/NRRD volume with more than one slice as ``(Z, H, W)`` instead of
        raising (a single-slice file is always 2D).

    Returns
    -------
    LoadedImage

    Raises
    ------
    ImageReadError
        For anything that is not a readable image; the message names the source and the
        problem.
    """
    decoded = _decode(source, frame, name, max_pixels, allow_volume)
    return LoadedImage(_luma(decoded.array), decoded.spacing, MappingProxyType(decoded.meta))


def read_pixels(
    source: Source,
    *,
    frame: int | None = None,
    name: str | None = None,
    max_pixels: int | None = None,
) -> tuple[np.ndarray, Mapping[str, object]]:
    """Read one frame as decoded, channels kept, for code that must write pixels back.

    Read like :func:`read_image` (same format detection, limits and errors), but the array
    is ``(H, W, C)`` in the decoded dtype: gray, gray+alpha, RGB or RGBA (palettes expanded,
    DICOM YBR converted to RGB, the DICOM modality LUT applied), EXIF orientation applied.

    Returns
    -------
    (numpy.ndarray, mapping)
        The pixels and the provenance (``meta`` of :func:`read_image`).
    """
    decoded = _decode(source, frame, name, max_pixels, False)
    return decoded.array, MappingProxyType(decoded.meta)


def read_mask(
    source: Source,
    *,
    like: LoadedImage | tuple[int, ...] | None = None,
    name: str | None = None,
    allow_empty: bool = False,
    frame: int | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Read a lesion mask as a boolean array.

    Read like :func:`read_image`; a pixel is lesion when any colour channel is non-zero
    (so 0/1, 0/255 and coloured masks all work) and, when there is an alpha channel, it
    is not fully transparent.

    Parameters
    ----------
    source : path, bytes or binary file object
        The mask, in any format :func:`read_image` reads.
    like : LoadedImage or tuple of int, optional
        The image (or its array shape ``(H, W)`` / ``(Z, H, W)``) the mask must match; a
        3D `like` lets a volume mask be read.
    name : str, optional
        Name used in messages.
    allow_empty : bool
        Accept a mask with no lesion pixel.
    frame, max_pixels
        As for :func:`read_image`.

    Returns
    -------
    numpy.ndarray
        bool, ``(H, W)`` or ``(Z, H, W)``.

    Raises
    ------
    ImageReadError
        As :func:`read_image`, and when the size differs from `like` or the mask is empty.
    """
    expected = (
        None if like is None else tuple(like.shape if isinstance(like, LoadedImage) else like)
    )
    allow_volume = expected is not None and len(expected) == 3
    decoded = _decode(source, frame, name, max_pixels, allow_volume)
    label = decoded.meta["source"]
    if decoded.meta["format"] == "jpeg":
        log.warning("%s: JPEG is lossy; compression noise in a mask counts as lesion", label)
    mask = _lesion(decoded.array)
    if expected is not None and mask.shape != expected:
        raise ImageReadError(
            f"{label}: mask size {format_size(mask.shape)} does not match "
            f"image size {format_size(expected)}"
        )
    if not allow_empty and not mask.any():
        raise ImageReadError(f"{label}: mask is empty (no non-zero pixels)")
    return mask


def _decode(
    source: Source, frame: int | None, name: str | None, max_pixels: int | None, allow_volume: bool
) -> Decoded:
    req = _request(source, frame, name, resolve_max_pixels(max_pixels), allow_volume)
    if not req.data:
        raise ImageReadError(f"{req.name}: file is empty (0 bytes)")
    fmt = sniff_format(req.data)
    if fmt is None and is_headerless_dicom(req.data):
        fmt = "dicom"  # a DICOM data set without the preamble, parsed as one to the end
    if fmt is None:
        raise ImageReadError(
            f"{req.name}: not a supported image (detected: {describe_content(req.data)})"
        )
    decoded = _READERS[fmt](req, fmt)
    if decoded.array.dtype.kind == "f" and not np.isfinite(decoded.array).all():
        raise ImageReadError(f"{req.name}: image contains NaN or infinite values")
    decoded.meta.setdefault("dtype", str(decoded.array.dtype))
    decoded.meta |= {
        "format": fmt,
        "source": req.name,
        "sha256": hashlib.sha256(req.data).hexdigest(),
    }
    log.debug("read %s: %s %s", req.name, fmt, decoded.array.shape)
    return decoded


def _request(
    source: Source, frame: int | None, name: str | None, max_pixels: int, allow_volume: bool
) -> Request:
    path = None
    if isinstance(source, bytes | bytearray | memoryview):
        data, default_name = bytes(source), "<bytes>"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        default_name = path.name or str(path)
        try:
            _check_regular(path, name or default_name)
            data = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ImageReadError(f"{name or default_name}: cannot read file ({reason})") from exc
    elif callable(getattr(source, "read", None)):
        data = source.read()
        if not isinstance(data, bytes):
            raise TypeError("a file object source must be opened in binary mode")
        file_name = getattr(source, "name", None)
        default_name = Path(file_name).name if isinstance(file_name, str) else "<stream>"
    else:
        raise TypeError(
            f"source must be a path, bytes or a binary file object, not {type(source).__name__}"
        )
    return Request(data, name or default_name, path, frame, max_pixels, allow_volume)


def _check_regular(path: Path, name: str) -> None:
    """Refuse a FIFO, socket or device: reading one could block or never end."""
    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a folder fails clearly on reading
        raise ImageReadError(f"{name}: not a regular file (a device, pipe or socket)")


def _luma(channels: np.ndarray) -> np.ndarray:
    """Gray from (..., C): the first channel, or BT.601 luma of RGB (alpha dropped)."""
    if channels.shape[-1] <= 2:
        return channels[..., 0].astype(np.float32)
    return (channels[..., :3] @ _LUMA).astype(np.float32)


def _lesion(channels: np.ndarray) -> np.ndarray:
    """Any non-zero colour channel, where alpha (if any) is not zero."""
    n_colour = 1 if channels.shape[-1] <= 2 else 3
    lesion = (channels[..., :n_colour] != 0).any(axis=-1)
    if channels.shape[-1] in (2, 4):
        lesion &= channels[..., -1] != 0
    return lesion
