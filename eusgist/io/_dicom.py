"""DICOM Part 10 files through pydicom: one frame, any common photometric interpretation.

A data set written without the 128-byte preamble and ``DICM`` marker (older ACR-NEMA style
files, e.g. pydicom's ``OT-PAL-8-face.dcm``) is read too, but only when its content really
parses as DICOM (:func:`parse_headerless`): it must start with a group 0002 or 0008 tag and
hold only known attributes, so random bytes are still refused as unknown data.

Which compressed transfer syntaxes decode depends on the installed plugins (pydicom's own
RLE, Pillow, pylibjpeg-libjpeg/-openjpeg); one without a decoder is reported by name.
Encapsulated video (MPEG-2/-4, HEVC) has none. A deflated dataset is inflated whole by
pydicom, so it may inflate to at most 8 bytes per allowed pixel (a deflate bomb is refused).
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import Dataset
from pydicom.filereader import _read_file_meta_info  # public twin takes only a path
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder
from pydicom.pixels.decoders.base import Decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from eusgist.io._common import (
    MAX_PIXELS_ENV,
    Decoded,
    ImageReadError,
    Request,
    check_geometry,
    choose_frame,
    decoding,
    inflated_length,
)

_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_CENTIMETRES = 3  # Physical Units X/Y Direction code
_SPATIAL_2D = 1  # Region Spatial Format code of a 2D tissue or flow region
#: Bytes a deflated dataset may inflate to per allowed pixel (16-bit RGB, with headroom).
_INFLATED_BYTES_PER_PIXEL = 8
#: Groups a data set without a preamble starts with: file meta (0002), else identification.
_HEADERLESS_FIRST_GROUPS = (0x0002, 0x0008)
#: Fewest attributes a data set without a preamble must parse into to count as DICOM.
_HEADERLESS_MIN_ELEMENTS = 4
_MAGIC = b"DICM"
_META_KEYWORDS = {
    "modality": "Modality",
    "manufacturer": "Manufacturer",
    "model": "ManufacturerModelName",
}


def read_dicom(req: Request, fmt: str) -> Decoded:
    """Decode frame ``req.frame`` (default 0) of a DICOM file to gray, RGB or RGBA."""
    with decoding(req, "DICOM"):
        _check_deflated_size(req)
        ds = parse_dicom(req.data)
        if not any(tag in ds for tag in _PIXEL_TAGS):
            raise ImageReadError(f"{req.name}: DICOM has no pixel data ({_sop_name(ds)})")
        decoder, syntax = _decoder(req, ds)
        n_frames = int(ds.get("NumberOfFrames") or 1)
        if n_frames < 1:
            raise ImageReadError(f"{req.name}: invalid DICOM Number of Frames ({n_frames})")
        index = choose_frame(req, n_frames)
        check_geometry(req, int(ds.get("Columns") or 0), int(ds.get("Rows") or 0))
        pixels, info = decoder.as_array(ds, index=index)
        array = _channels(req, ds, pixels, str(info["photometric_interpretation"]))
        spacing, spacing_source = _spacing(ds)
        meta = _meta(ds, syntax, n_frames, index)
    meta["dtype"] = str(pixels.dtype)
    if spacing_source:
        meta["spacing_source"] = spacing_source
    return Decoded(array, spacing, meta)


def _check_deflated_size(req: Request) -> None:
    """pydicom inflates a deflated dataset whole; refuse a deflate bomb before it does."""
    stream = io.BytesIO(req.data)
    stream.seek(_meta_offset(req.data))  # after the preamble and "DICM"
    if _read_file_meta_info(stream).get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return
    limit = req.max_pixels * _INFLATED_BYTES_PER_PIXEL
    if inflated_length(req.data[stream.tell() :], wbits=-15, limit=limit + 1) > limit:
        raise ImageReadError(
            f"{req.name}: deflated DICOM inflates to over {limit:,} bytes, too much for the "
            f"pixel limit of {req.max_pixels:,} (set {MAX_PIXELS_ENV} to raise it)"
        )


def has_preamble(data: bytes) -> bool:
    """Whether ``data`` has the DICOM Part 10 preamble and ``DICM`` marker."""
    return data[128:132] == _MAGIC


def _meta_offset(data: bytes) -> int:
    """Where the data set starts: after the preamble and marker, after a bare marker, or 0."""
    return 132 if has_preamble(data) else len(_MAGIC) if data.startswith(_MAGIC) else 0


def parse_headerless(data: bytes) -> Dataset | None:
    """Parse a DICOM data set written without the preamble, or None when ``data`` is not one.

    After an optional ``DICM`` marker, the first tag must be of group 0002 or 0008 (little
    endian), and the whole content must parse into at least four attributes, each a group
    length, a private attribute or one in the DICOM dictionary. The file meta gets the
    transfer syntax the parser found, so the pixel data can be decoded.
    """
    if has_preamble(data):
        return None
    body = data[_meta_offset(data):]
    if len(body) < 8 or struct.unpack_from("<H", body)[0] not in _HEADERLESS_FIRST_GROUPS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(body), force=True)
            tags = [elem.tag for elem in ds]
    except Exception:  # noqa: BLE001 - a probe of arbitrary bytes: any failure means "not DICOM"
        return None
    if len(tags) < _HEADERLESS_MIN_ELEMENTS or not all(
        tag.element == 0 or tag.is_private or dictionary_has_tag(tag) for tag in tags
    ):
        return None
    if "TransferSyntaxUID" not in ds.file_meta:
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit
            else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return ds


def is_headerless_dicom(data: bytes) -> bool:
    """Whether ``data`` is a DICOM data set without the preamble (see :func:`parse_headerless`)."""
    return parse_headerless(data) is not None


def parse_dicom(data: bytes) -> Dataset:
    """Parse a DICOM file, with the preamble or without one (:func:`parse_headerless`).

    Raises
    ------
    pydicom.errors.InvalidDicomError
        When ``data`` is neither.
    """
    headerless = parse_headerless(data)
    return headerless if headerless is not None else pydicom.dcmread(io.BytesIO(data))


def _meta(ds: Dataset, syntax: UID, n_frames: int, index: int) -> dict[str, object]:
    meta: dict[str, object] = {
        "photometric": str(ds.get("PhotometricInterpretation", "")),
        "n_frames": n_frames,
        "frame": index,
        "transfer_syntax": syntax.name,
        "sop_class": _sop_name(ds),
    }
    meta |= {key: str(ds.get(word)) for key, word in _META_KEYWORDS.items() if ds.get(word)}
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        meta["rescale"] = (float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0)))
    return meta


def _decoder(req: Request, ds: Dataset) -> tuple[Decoder, UID]:
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise ImageReadError(f"{req.name}: unsupported DICOM: no transfer syntax in the file meta")
    syntax = UID(syntax)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        label = syntax if syntax.name == syntax else f"{syntax.name} ({syntax})"
        label = label if label.isprintable() and label.isascii() else ascii(str(syntax))
        raise ImageReadError(
            f"{req.name}: unsupported DICOM transfer syntax {label}: no decoder available"
        )
    return decoder, syntax


def _channels(req: Request, ds: Dataset, pixels: np.ndarray, photometric: str) -> np.ndarray:
    """Gray (modality LUT applied, MONOCHROME1 inverted) or RGB with a channel axis.

    YBR photometrics arrive already converted to RGB by pydicom's decoders.
    """
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        if photometric == "MONOCHROME1":
            pixels = _invert(pixels, ds)
        return np.asarray(apply_modality_lut(pixels, ds))[..., None]
    if photometric == "PALETTE COLOR":
        return apply_color_lut(pixels, ds)
    if photometric == "RGB":
        return pixels
    raise ImageReadError(f"{req.name}: unsupported DICOM photometric interpretation {photometric}")


def _invert(pixels: np.ndarray, ds: Dataset) -> np.ndarray:
    """Mirror stored values within their range so that brighter means more signal."""
    bits = int(ds.BitsStored)
    if ds.get("PixelRepresentation") == 1:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        low, high = 0, (1 << bits) - 1
    return (low + high) - pixels


def _spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None]:
    """(row, column) spacing in mm and the attribute it came from.

    Pixel Spacing first; else the ultrasound region calibrated in centimetres, preferring a
    2D region, then the largest one.
    """
    pixel_spacing = ds.get("PixelSpacing")
    if pixel_spacing is not None and len(pixel_spacing) == 2:
        row, col = (float(v) for v in pixel_spacing)
        if _positive(row) and _positive(col):
            return (row, col), "PixelSpacing"
    regions = [
        region
        for region in ds.get("SequenceOfUltrasoundRegions", [])
        if region.get("PhysicalUnitsXDirection") == _CENTIMETRES
        and region.get("PhysicalUnitsYDirection") == _CENTIMETRES
        and _positive(abs(float(region.get("PhysicalDeltaX") or 0)))
        and _positive(abs(float(region.get("PhysicalDeltaY") or 0)))
    ]
    if not regions:
        return None, None
    best = max(
        regions,
        key=lambda region: (region.get("RegionSpatialFormat") == _SPATIAL_2D, _area(region)),
    )
    delta_y, delta_x = abs(float(best.PhysicalDeltaY)), abs(float(best.PhysicalDeltaX))
    return (10.0 * delta_y, 10.0 * delta_x), "SequenceOfUltrasoundRegions"


def _positive(value: float) -> bool:
    """A usable spacing: finite and above zero (NaN and inf are not)."""
    return bool(np.isfinite(value)) and value > 0


def _area(region: Dataset) -> int:
    width = int(region.get("RegionLocationMaxX1", 0)) - int(region.get("RegionLocationMinX0", 0))
    height = int(region.get("RegionLocationMaxY1", 0)) - int(region.get("RegionLocationMinY0", 0))
    return width * height


def _sop_name(ds: Dataset) -> str:
    sop_class = ds.get("SOPClassUID")
    return UID(sop_class).name if sop_class else "no SOP class"
