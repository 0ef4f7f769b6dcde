"""Types, limits and checks shared by the format readers."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eusgist.config import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, settings  # noqa: F401
from eusgist.errors import EusgistError, ImageReadError

#: Longest decoder message quoted in an error.
_MAX_DETAIL = 200
_INFLATE_CHUNK = 1 << 20


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image in canonical form.

    Attributes
    ----------
    array : numpy.ndarray
        float32 grayscale in the original intensity units; ``(H, W)`` for an image,
        ``(Z, H, W)`` for a volume.
    spacing : tuple of float or None
        Millimetres per pixel along each axis of `array`; None when unknown.
    meta : Mapping
        Where the image came from: ``format``, ``source``, ``sha256``, ``dtype``,
        ``n_frames``, ``frame`` and format-specific keys (``mode``, ``photometric``,
        ``modality``, ``manufacturer``, ``transfer_syntax``, ``spacing_source``, ...).
    """

    array: np.ndarray
    spacing: tuple[float, ...] | None
    meta: Mapping[str, object]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of `array`."""
        return tuple(self.array.shape)

    @property
    def is_volume(self) -> bool:
        """True for a 3D ``(Z, H, W)`` volume."""
        return self.array.ndim == 3


@dataclass(frozen=True)
class Request:
    """One read: the source's bytes and the caller's options."""

    data: bytes
    name: str
    path: Path | None
    frame: int | None
    max_pixels: int
    allow_volume: bool


@dataclass
class Decoded:
    """What a format reader returns: native-dtype pixels with a trailing channel axis.

    Channels are 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA); `array` is
    ``(H, W, C)`` or ``(Z, H, W, C)``.
    """

    array: np.ndarray
    spacing: tuple[float, ...] | None
    meta: dict[str, object] = field(default_factory=dict)


def resolve_max_pixels(max_pixels: int | None) -> int:
    """Return the pixel limit: `max_pixels`, else :data:`MAX_PIXELS_ENV`, else the default.

    Raises
    ------
    EusgistError
        If the limit is not a positive integer.
    """
    if max_pixels is None:
        max_pixels = settings().max_pixels
    if max_pixels < 1:
        raise EusgistError(f"max_pixels must be a positive integer, got {max_pixels}")
    return max_pixels


def format_size(shape: tuple[int, ...]) -> str:
    """Write an array shape ``(..., H, W)`` as ``"W×H"`` (``"W×H×Z"`` for a volume)."""
    return "×".join(str(n) for n in reversed(shape))


def pixel_limit_error(req: Request, pixels: int) -> ImageReadError:
    """The error for an image over the pixel limit."""
    return ImageReadError(
        f"{req.name}: image has {pixels:,} pixels, over the limit of {req.max_pixels:,} "
        f"(set {MAX_PIXELS_ENV} to raise it)"
    )


def check_geometry(req: Request, width: int, height: int, depth: int = 1) -> None:
    """Check a header's size before decoding: at least 2×2, at most the pixel limit.

    `depth` is the number of slices that will be decoded together.
    """
    if width < 2 or height < 2:
        raise ImageReadError(
            f"{req.name}: image is too small ({width}×{height} pixels; at least 2×2 needed)"
        )
    pixels = width * height * depth
    if pixels > req.max_pixels:
        raise pixel_limit_error(req, pixels)


def choose_frame(req: Request, n_frames: int) -> int:
    """Return the frame to decode (``req.frame``, default 0), checked against `n_frames`."""
    index = 0 if req.frame is None else req.frame
    if not 0 <= index < n_frames:
        plural = "" if n_frames == 1 else "s"
        raise ImageReadError(
            f"{req.name}: frame {index} is out of range (the file has {n_frames} frame{plural})"
        )
    return index


@contextmanager
def decoding(req: Request, label: str) -> Iterator[None]:
    """Turn a third-party decoder's failure into ``"<name>: truncated or corrupt <label> file"``.

    Our own :class:`ImageReadError` and :class:`MemoryError` pass through unchanged.
    """
    try:
        yield
    except (ImageReadError, MemoryError):
        raise
    except Exception as exc:  # decoders raise anything from OSError to struct.error
        raise ImageReadError(
            f"{req.name}: truncated or corrupt {label} file{_detail(exc)}"
        ) from exc


def _detail(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if not text:
        return ""
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1] + "…"
    return f" ({text})"


def inflated_length(data: bytes, *, wbits: int, limit: int) -> int:
    """Length `data` inflates to, counted in chunks (never held) and no further than `limit`.

    `wbits` is as for :func:`zlib.decompressobj` (31: gzip, -15: raw deflate).
    """
    stream, pending, total = zlib.decompressobj(wbits=wbits), data, 0
    while total < limit:
        chunk = stream.decompress(pending, _INFLATE_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        pending = stream.unconsumed_tail
    return total
