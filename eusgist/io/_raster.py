"""PNG, JPEG, BMP, TIFF and GIF through Pillow.

Resolution tags (PNG pHYs, JPEG/BMP density, TIFF X/YResolution as DPI) describe the
screen or printer, not the tissue: an EUS screen capture at 96 DPI is not 0.26 mm per
pixel. They are kept in ``meta["dpi"]`` but never become ``spacing``. The one exception is
a TIFF calibrated in ImageJ (``ImageJ=`` description with ``unit=`` a length), where a
person set the resolution to pixels per millimetre (or cm, micron) on purpose.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from eusgist.io._common import (
    Decoded,
    ImageReadError,
    Request,
    check_geometry,
    choose_frame,
    decoding,
    pixel_limit_error,
)
from eusgist.io.sniff import FORMAT_LABELS

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "tiff": "TIFF", "gif": "GIF"}
#: Modes converted before the pixels are read: 1-bit and palette expanded, others to RGB(A).
_CONVERT = {
    "1": "L",
    "P": "RGBA",
    "PA": "RGBA",
    "La": "LA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
}
_READABLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
#: Millimetres per ImageJ calibration unit.
_IMAGEJ_UNIT_MM = {"mm": 1.0, "cm": 10.0, "micron": 1e-3, "um": 1e-3, "µm": 1e-3, r"\u00B5m": 1e-3}
_EXIF_ORIENTATION = 0x0112
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def read_raster(req: Request, fmt: str) -> Decoded:
    """Decode one frame of a Pillow-readable image, checking its size before decoding."""
    label = FORMAT_LABELS[fmt]
    with decoding(req, label):
        try:
            image = Image.open(io.BytesIO(req.data), formats=[_PIL_FORMATS[fmt]])
        except Image.DecompressionBombError as exc:
            raise _bomb_error(req, exc) from exc
        except UnidentifiedImageError:
            raise ImageReadError(f"{req.name}: truncated or corrupt {label} file") from None
        with image:
            check_geometry(req, image.width, image.height)  # before GIF frames are composed
            n_frames = getattr(image, "n_frames", 1)
            index = choose_frame(req, n_frames)
            if index:
                image.seek(index)
                check_geometry(req, image.width, image.height)  # TIFF pages differ in size
            meta: dict[str, object] = {"mode": image.mode, "n_frames": n_frames, "frame": index}
            if "dpi" in image.info:
                meta["dpi"] = tuple(float(v) for v in image.info["dpi"])
            spacing = _imagej_spacing(image) if fmt == "tiff" else None
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            if orientation != 1:
                meta["exif_orientation"] = orientation
                if spacing and orientation in _TRANSPOSING_ORIENTATIONS:
                    spacing = spacing[::-1]
            array = _pixels(req, label, ImageOps.exif_transpose(image))
            if fmt == "tiff" and _unsigned_32_bit(image):
                array = array.view(np.uint32)  # Pillow reads these bits as signed int32
    if spacing:
        meta["spacing_source"] = "ImageJ calibration"
    return Decoded(array, spacing, meta)


def _pixels(req: Request, label: str, image: Image.Image) -> np.ndarray:
    if image.mode in _CONVERT:
        image = image.convert(_CONVERT[image.mode])
    if image.mode not in _READABLE_MODES:
        raise ImageReadError(f"{req.name}: unsupported {label} pixel mode {image.mode}")
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def _unsigned_32_bit(image: Image.Image) -> bool:
    """A 32-bit integer TIFF whose SampleFormat is unsigned (the TIFF default)."""
    if image.mode != "I":
        return False
    tags = image.tag_v2  # type: ignore[attr-defined]
    bits, formats = tags.get(258, ()), tags.get(339, (1,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    formats = formats if isinstance(formats, tuple) else (formats,)
    return bits == (32,) and all(f == 1 for f in formats)


def _imagej_spacing(image: Image.Image) -> tuple[float, float] | None:
    """(row, column) spacing in mm from an ImageJ-calibrated TIFF, else None."""
    tags = image.tag_v2  # type: ignore[attr-defined]
    description = tags.get(270)
    if not isinstance(description, str) or not description.startswith("ImageJ="):
        return None
    fields = dict(line.split("=", 1) for line in description.splitlines() if "=" in line)
    unit_mm = _IMAGEJ_UNIT_MM.get(fields.get("unit", "").strip())
    x_res, y_res = float(tags.get(282, 0)), float(tags.get(283, 0))
    if unit_mm is None or x_res <= 0 or y_res <= 0:
        return None
    return (unit_mm / y_res, unit_mm / x_res)


def _bomb_error(req: Request, exc: Image.DecompressionBombError) -> ImageReadError:
    """Pillow refused the size in the header; say so in our terms when the count is known."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    if match and int(match[1]) > req.max_pixels:
        return pixel_limit_error(req, int(match[1]))
    return ImageReadError(f"{req.name}: image is too large to decode safely ({exc})")
