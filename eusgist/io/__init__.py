"""Read images and masks into one canonical form, with clear errors.

:func:`read_image` turns PNG, JPEG, BMP, TIFF, GIF, DICOM or NIfTI/NRRD — from a path,
bytes or a binary file object — into a :class:`LoadedImage`: a float32 grayscale
``(H, W)`` array (``(Z, H, W)`` for an allowed volume) in the original intensity units,
the pixel spacing in mm when the file states it physically, and provenance metadata.
:func:`read_mask` reads a lesion mask the same way as a boolean array. Every bad input
raises :class:`ImageReadError` (a :class:`ValueError`) whose message starts with the
source's name and says what is wrong. Formats are detected from the bytes
(:func:`sniff_format`), never from the file name.

Decisions worth knowing:

- Sizes in messages are written width×height (×slices).
- The pixel limit (``max_pixels=``, else the ``EUSGIST_MAX_PIXELS`` environment variable,
  else 64 MP) applies to what is decoded — one frame of a multi-frame file, the whole
  volume for NIfTI/NRRD — and is checked from the header before decoding. Pillow's own
  decompression-bomb check (about 179 MP) stays on as a hard ceiling for raster formats.
- Spacing comes from DICOM Pixel Spacing or the ultrasound region calibration
  (Physical Delta X/Y in cm), from the NIfTI/NRRD header, or from an ImageJ-calibrated
  TIFF. DPI-style resolution in PNG/JPEG/BMP/TIFF describes a screen or printer, not
  tissue, so it is kept in ``meta["dpi"]`` only.
- Frames: ``frame=`` picks a DICOM/TIFF/GIF frame or a volume slice (default 0).
- DICOM: MONOCHROME1 is inverted so that brighter means more echo; PALETTE COLOR is
  expanded through its LUT, keeping the LUT's units (often 16-bit); DICOM needs the
  Part 10 preamble (``DICM``).
- JPEG EXIF orientation is applied, as browsers do when an image is annotated.
"""

from eusgist.io._common import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    ImageReadError,
    LoadedImage,
)
from eusgist.io._dicom import parse_dicom
from eusgist.io._display import to_uint8
from eusgist.io._read import read_image, read_mask, read_pixels
from eusgist.io.sniff import sniff_format

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "ImageReadError",
    "LoadedImage",
    "parse_dicom",
    "read_image",
    "read_mask",
    "read_pixels",
    "sniff_format",
    "to_uint8",
]
