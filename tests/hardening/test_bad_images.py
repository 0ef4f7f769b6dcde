"""Bad-input corpus for the image entry points: images, masks, DICOM, NIfTI/NRRD, prediction.

Every hostile input is built here in a few bytes (headers that lie, truncations, bombs that
claim a huge size without holding it) and must be refused by :func:`bounds.refused`: a
ValueError/OSError naming the problem, quickly, in bounded memory, writing nothing. Odd but
valid inputs (a PNG named ``.dcm``, CMYK JPEG, EXIF rotation, palette masks) must be read.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from bounds import refused
from image_bytes import encode, png, png_bomb, png_claiming, zeros_deflated
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEGBaseline8Bit,
    RLELossless,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from eusgist.io import ImageReadError, LoadedImage, read_image, read_mask

GRAY = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
LESION = np.zeros((8, 8), np.uint8)
LESION[2:6, 2:6] = 255
NOISE = np.random.default_rng(8).integers(0, 256, 1600, dtype=np.uint8).tobytes()

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --------------------------------------------------------------------------- builders
def tiff(width: int, height: int, data: bytes, *, compression: int = 1, bits: int = 8,
         samples: int = 1, sample_format: int = 1, next_ifd: int | None = 0) -> bytes:
    """A one-strip little-endian TIFF; ``next_ifd=None`` makes the IFD point to itself."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, bits), (259, 3, compression),
            (262, 3, 1), (273, 4, 0), (277, 3, samples), (278, 4, height),
            (279, 4, len(data)), (339, 3, sample_format)]
    data_offset = 8 + 2 + 12 * len(tags) + 4
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(tags)))
    for tag, kind, value in tags:
        value = data_offset if tag == 273 else value
        out += struct.pack("<HHIHH" if kind == 3 else "<HHII", tag, kind, 1, value,
                           *((0,) if kind == 3 else ()))
    out += struct.pack("<I", 8 if next_ifd is None else next_ifd)
    return bytes(out) + data


def gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("P", (4, 4)), "GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("L", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int, bpp: int = 8) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + info + bytes(64)


def dicom(pixels: np.ndarray = GRAY, photometric: str = "MONOCHROME2", *,
          sop_class: str = UltrasoundImageStorage, **attributes: object) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.Modality = "US"
    ds.set_pixel_data(pixels, photometric, pixels.dtype.itemsize * 8)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def dicom_edited(**attributes: object) -> bytes:
    return dicom_bytes(dicom(**attributes))


def dicom_without(*keywords: str) -> bytes:
    ds = dicom()
    for keyword in keywords:
        delattr(ds, keyword)
    return dicom_bytes(ds)


def dicom_pixels(pixel_data: bytes, syntax: str | None = None) -> bytes:
    ds = dicom()
    if syntax:
        ds.file_meta.TransferSyntaxUID = syntax
        pixel_data = encapsulate([pixel_data])
    ds.PixelData = pixel_data
    if syntax:
        ds["PixelData"].VR = "OB"
    return dicom_bytes(ds)


def dicom_syntax(uid: bytes) -> bytes:
    """A DICOM whose transfer syntax UID is rewritten in the bytes (pydicom won't write it)."""
    data = dicom_bytes(dicom())
    return data.replace(b"1.2.840.10008.1.2.1", uid.ljust(19, b"\x00")[:19], 1)


def dicom_with_text(keyword: str, text: bytes, count: int = 1) -> bytes:
    """A DICOM whose decimal-string `keyword` holds `text` (invalid values pydicom won't write)."""
    placeholder = b"1.234567"
    ds = dicom(**{keyword: [placeholder.decode()] * count if count > 1 else placeholder.decode()})
    return dicom_bytes(ds).replace(placeholder, text.ljust(len(placeholder))[:8], 1)


def nifti(dims: tuple[int, ...], data: bytes = b"", *, datatype: int = 2, bitpix: int = 8,
          offset: float = 352.0, pixdim: tuple[float, ...] = (1.0,) * 8) -> bytes:
    """A NIfTI-1 single file with the given header fields (uint8 by default)."""
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, *dims)
    struct.pack_into("<hh", header, 70, datatype, bitpix)
    struct.pack_into("<8f", header, 76, *pixdim)
    struct.pack_into("<f", header, 108, offset)
    header[344:348] = b"n+1\x00"
    return bytes(header) + data


def nrrd(fields: str, data: bytes = bytes(16)) -> bytes:
    return f"NRRD0004\n{fields}\n\n".encode() + data


NRRD_4x4 = "type: uint8\ndimension: 2\nsizes: 4 4\nencoding: raw"


def cut(data: bytes, keep: float) -> bytes:
    return data[: int(len(data) * keep)]


# --------------------------------------------------------------------------- image corpus
#: (id, file name with a possibly lying extension, builder, words the error must contain)
IMAGES: list[tuple[str, str, Callable[[], bytes], tuple[str, ...]]] = [
    ("pdf-named-png", "scan.png", lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF", ("PDF",)),
    ("zip-named-dcm", "scan.dcm", lambda: b"PK\x03\x04" + bytes(60), ("ZIP archive",)),
    ("html-named-jpg", "scan.jpg", lambda: b"<html><body>x</body></html>", ("text",)),
    ("gzip-not-nifti-named-nii-gz", "scan.nii.gz", lambda: zlib.compress(b"x") + b"\x1f\x8b",
     ("not a supported image",)),
    ("webp-named-png", "scan.png", lambda: b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20),
     ("WebP",)),
    ("zero-bytes", "scan.png", lambda: b"", ("empty", "0 bytes")),
    ("random-binary", "scan.png", lambda: bytes(range(256)) * 4, ("unknown binary",)),
    ("truncated-png", "scan.png", lambda: cut(png(GRAY), 0.6), ("truncated or corrupt PNG",)),
    ("truncated-jpeg", "scan.jpg", lambda: cut(encode(Image.fromarray(GRAY), "JPEG"), 0.4),
     ("truncated or corrupt JPEG",)),
    ("truncated-tiff", "scan.tif", lambda: cut(encode(Image.fromarray(GRAY), "TIFF"), 0.5),
     ("truncated or corrupt TIFF",)),
    ("truncated-gif", "scan.gif", lambda: encode(Image.fromarray(GRAY), "GIF")[:20],
     ("truncated or corrupt GIF",)),
    ("truncated-bmp", "scan.bmp", lambda: cut(encode(Image.fromarray(GRAY), "BMP"), 0.5),
     ("truncated or corrupt BMP",)),
    ("png-bad-crc", "scan.png", lambda: png(GRAY)[:29] + b"XXXX" + png(GRAY)[33:],
     ("corrupt PNG",)),
    ("png-bit-depth-3", "scan.png", lambda: png_claiming(4, 4, zeros_deflated(20), depth=3),
     ("corrupt PNG",)),
    ("png-no-idat", "scan.png", lambda: png_claiming(4, 4), ("corrupt PNG",)),
    ("png-1x1", "scan.png", lambda: png(np.zeros((1, 1), np.uint8)), ("too small", "1×1")),
    ("png-0x0", "scan.png", lambda: png_claiming(0, 0), ("corrupt PNG",)),
    ("png-header-30000x30000", "scan.png", lambda: png_claiming(30_000, 30_000),
     ("900,000,000 pixels", "over the limit")),
    ("png-header-2^31", "scan.png", lambda: png_claiming(2**31 - 1, 2), ("over the limit",)),
    ("png-bomb-9000x9000", "bomb.png", lambda: png_bomb(9000),
     ("81,000,000 pixels", "over the limit")),
    ("jpeg-header-30000x30000", "scan.jpg", lambda: jpeg_claiming(30_000, 30_000),
     ("over the limit",)),
    ("jpeg-soi-then-garbage", "scan.jpg", lambda: b"\xff\xd8\xff" + bytes(range(200)),
     ("corrupt JPEG",)),
    ("gif-screen-30000x30000", "scan.gif", lambda: gif_claiming(30_000, 30_000),
     ("over the limit",)),
    ("bmp-30000x30000", "scan.bmp", lambda: bmp_claiming(30_000, 30_000), ("over the limit",)),
    ("bmp-negative-width", "scan.bmp", lambda: bmp_claiming(-4, 4), ("over the limit",)),
    ("bmp-zero-bpp", "scan.bmp", lambda: bmp_claiming(4, 4, bpp=0), ("corrupt BMP",)),
    ("tiff-30000x30000", "scan.tif", lambda: tiff(30_000, 30_000, zeros_deflated(1000),
                                                 compression=8), ("over the limit",)),
    ("tiff-deflate-bomb", "bomb.tif", lambda: tiff(9000, 9000, zeros_deflated(81_000_000),
                                                  compression=8), ("81,000,000 pixels",)),
    ("tiff-strip-past-end", "scan.tif", lambda: tiff(4, 4, bytes(4)), ("truncated",)),
    ("tiff-5-samples", "scan.tif", lambda: tiff(4, 4, bytes(80), samples=5), ("corrupt TIFF",)),
    ("tiff-unknown-compression", "scan.tif", lambda: tiff(4, 4, bytes(16), compression=9999),
     ("corrupt TIFF",)),
    ("tiff-float-nan", "scan.tif",
     lambda: tiff(2, 2, np.array([1, np.nan, 0, 0], "<f4").tobytes(), bits=32, sample_format=3),
     ("NaN or infinite",)),
    ("tiff-float-inf", "scan.tif",
     lambda: encode(Image.fromarray(np.array([[1, np.inf], [0, 0]], np.float32)), "TIFF"),
     ("NaN or infinite",)),
    ("dicom-no-pixel-data", "scan.dcm", lambda: dicom_without("PixelData"), ("no pixel data",)),
    ("dicom-preamble-only", "scan.dcm", lambda: bytes(128) + b"DICM", ("no pixel data",)),
    ("dicom-truncated-pixels", "scan.dcm", lambda: dicom_bytes(dicom())[:-30],
     ("truncated or corrupt DICOM",)),
    ("dicom-pixel-length-short", "scan.dcm", lambda: dicom_pixels(bytes(10)),
     ("corrupt DICOM", "pixel data")),
    ("dicom-rows-65535", "scan.dcm", lambda: dicom_edited(Rows=65535, Columns=65535),
     ("over the limit",)),
    ("dicom-rows-4000-tiny-data", "scan.dcm", lambda: dicom_edited(Rows=4000, Columns=4000),
     ("corrupt DICOM",)),
    ("dicom-rows-missing", "scan.dcm", lambda: dicom_without("Rows"), ("too small",)),
    ("dicom-1x1", "scan.dcm", lambda: dicom_bytes(dicom(np.zeros((1, 1), np.uint8))),
     ("too small", "1×1")),
    ("dicom-bogus-transfer-syntax", "scan.dcm", lambda: dicom_syntax(b"1.2.3.4.5.6.7.8.9.1"),
     ("unsupported DICOM transfer syntax",)),
    ("dicom-binary-transfer-syntax", "scan.dcm", lambda: dicom_syntax(b"\xff" * 19),
     ("unsupported DICOM transfer syntax",)),
    ("dicom-garbage-jpeg-fragment", "scan.dcm",
     lambda: dicom_pixels(b"\xff\xd8\xff\xe0garbage!", JPEGBaseline8Bit), ("corrupt DICOM",)),
    ("dicom-garbage-rle-fragment", "scan.dcm", lambda: dicom_pixels(bytes(64), RLELossless),
     ("corrupt DICOM",)),
    ("dicom-multiframe-bomb", "cine.dcm",
     lambda: dicom_edited(sop_class=UltrasoundMultiFrameImageStorage, NumberOfFrames=2**31 - 1),
     ("corrupt DICOM",)),
    ("dicom-negative-frames", "cine.dcm", lambda: dicom_edited(NumberOfFrames=-5),
     ("Number of Frames",)),
    ("dicom-bits-allocated-7", "scan.dcm", lambda: dicom_edited(BitsAllocated=7),
     ("Bits Allocated",)),
    ("dicom-bits-stored-over-allocated", "scan.dcm", lambda: dicom_edited(BitsStored=16),
     ("Bits Stored",)),
    ("dicom-no-photometric", "scan.dcm", lambda: dicom_without("PhotometricInterpretation"),
     ("Photometric",)),
    ("dicom-palette-without-lut", "scan.dcm",
     lambda: dicom_edited(PhotometricInterpretation="PALETTE COLOR"), ("Palette",)),
    ("dicom-monochrome1-no-bits-stored", "scan.dcm",
     lambda: dicom_bytes(dicom(photometric="MONOCHROME1", BitsStored=None)), ("Bits Stored",)),
    ("dicom-rescale-slope-text", "scan.dcm", lambda: dicom_with_text("RescaleSlope", b"abc"),
     ("corrupt DICOM",)),
    ("dicom-pixel-spacing-text", "scan.dcm",
     lambda: dicom_with_text("PixelSpacing", b"abcdefgh", 2),
     ("corrupt DICOM",)),
    ("nifti-truncated", "vol.nii", lambda: nifti((2, 40, 40, 1, 1, 1, 1, 1), bytes(100)),
     ("truncated or corrupt NIfTI",)),
    ("nifti-gz-truncated", "vol.nii.gz",
     lambda: cut(gzip.compress(nifti((2, 40, 40, 1, 1, 1, 1, 1), NOISE)), 0.6),
     ("truncated or corrupt NIfTI",)),
    ("nifti-header-30000x30000", "vol.nii", lambda: nifti((2, 30_000, 30_000, 1, 1, 1, 1, 1)),
     ("over the limit",)),
    ("nifti-dims-lying-offset", "vol.nii",
     lambda: nifti((2, 4, 4, 1, 1, 1, 1, 1), bytes(16), offset=1e30), ("truncated",)),
    ("nifti-offset-nan", "vol.nii",
     lambda: nifti((2, 4, 4, 1, 1, 1, 1, 1), bytes(16), offset=float("nan")), ("NIfTI",)),
    ("nifti-dim0-9", "vol.nii", lambda: nifti((9, 4, 4, 1, 1, 1, 1, 1), bytes(16)), ("NIfTI",)),
    ("nifti-negative-dim", "vol.nii", lambda: nifti((2, -4, 4, 1, 1, 1, 1, 1), bytes(16)),
     ("NIfTI",)),
    ("nifti-unknown-datatype", "vol.nii",
     lambda: nifti((2, 4, 4, 1, 1, 1, 1, 1), bytes(16), datatype=9999), ("NIfTI",)),
    ("nifti-7d", "vol.nii", lambda: nifti((7, 2, 2, 2, 2, 2, 2, 2), bytes(128)),
     ("7D images are not supported",)),
    ("nifti-complex", "vol.nii",
     lambda: nifti((2, 2, 2, 1, 1, 1, 1, 1), bytes(32), datatype=32, bitpix=64),
     ("unsupported NIfTI pixel type",)),
    ("nifti-volume-without-allow", "vol.nii", lambda: nifti((3, 4, 4, 3, 1, 1, 1, 1), bytes(48)),
     ("3D volume",)),
    ("nrrd-sizes-lying", "vol.nrrd", lambda: nrrd(NRRD_4x4.replace("4 4", "400 400")),
     ("truncated or corrupt NRRD",)),
    ("nrrd-header-30000x30000", "vol.nrrd", lambda: nrrd(NRRD_4x4.replace("4 4", "30000 30000")),
     ("over the limit",)),
    ("nrrd-bogus-type", "vol.nrrd", lambda: nrrd(NRRD_4x4.replace("uint8", "bogus")),
     ("corrupt NRRD",)),
    ("nrrd-4d", "vol.nrrd",
     lambda: nrrd(NRRD_4x4.replace("dimension: 2", "dimension: 4").replace("4 4", "2 2 2 2")),
     ("4D images",)),
    ("nrrd-float-nan", "vol.nrrd",
     lambda: nrrd(NRRD_4x4.replace("uint8", "float").replace("4 4", "2 2") + "\nendian: little",
                  np.array([1, np.nan, 2, 3], "<f4").tobytes()), ("NaN or infinite",)),
    ("nrrd-zero-spacing", "vol.nrrd", lambda: nrrd(NRRD_4x4 + "\nspacings: 0 0"), ("spacing",)),
    ("nrrd-absolute-data-file", "vol.nrrd", lambda: nrrd(NRRD_4x4 + "\ndata file: /etc/hostname",
                                                         b""), ("outside the header's folder",)),
    ("nrrd-list-data-files", "vol.nrrd",
     lambda: nrrd("type: uint8\ndimension: 2\nsizes: 4 4\nencoding: raw\ndata file: LIST\n"
                  "../secret.raw", b""), ("outside the header's folder",)),
]


@pytest.mark.parametrize(("name", "build", "words"), [c[1:] for c in IMAGES],
                         ids=[c[0] for c in IMAGES])
def test_hostile_image_is_refused(tmp_path: Path, name: str, build: Callable[[], bytes],
                                  words: tuple[str, ...]) -> None:
    path = tmp_path / name
    path.write_bytes(build())
    result = refused(read_image, path, match=(name, *words), watch=[tmp_path])
    assert isinstance(result.error, ImageReadError)


@pytest.mark.parametrize(("name", "build", "frame"), [
    ("loop.tif", lambda: tiff(4, 4, bytes(16), next_ifd=None), 3),
    ("cine.gif", lambda: _animated_gif(300), 300),
    ("cine.dcm", lambda: dicom_edited(NumberOfFrames=10), 9),
    ("vol.nii", lambda: nifti((3, 4, 4, 3, 1, 1, 1, 1), bytes(48)), -1),
], ids=["tiff-ifd-loop", "gif-past-last-frame", "dicom-frames-lying", "nifti-negative-slice"])
def test_hostile_frame_request_is_refused(tmp_path: Path, name: str,
                                          build: Callable[[], bytes], frame: int) -> None:
    path = tmp_path / name
    path.write_bytes(build())
    refused(read_image, path, frame=frame, match=(name,), watch=[tmp_path])


def test_nrrd_data_file_outside_its_folder_is_never_read(tmp_path: Path) -> None:
    (tmp_path / "secret.raw").write_bytes(bytes(range(16)))
    upload = tmp_path / "upload"
    upload.mkdir()
    for target in ("../secret.raw", str(tmp_path / "secret.raw")):
        header = upload / "scan.nhdr"
        header.write_bytes(nrrd(f"{NRRD_4x4}\ndata file: {target}", b""))
        refused(read_image, header, match=("outside the header's folder",), watch=[tmp_path])
    (upload / "scan.raw").write_bytes(bytes(16))
    header.write_bytes(nrrd(f"{NRRD_4x4}\ndata file: scan.raw", b""))
    assert read_image(header).shape == (4, 4)  # a plain name beside the header is fine
    refused(read_image, header.read_bytes(), match=("data file", "separate"))


def test_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "scan.png"
    os.mkfifo(fifo)
    refused(read_image, fifo, match=("not a regular file",), watch=[tmp_path])
    refused(read_mask, "/dev/zero", match=("not a regular file",))


# --------------------------------------------------------------------------- odd but valid
def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _animated_gif(n: int) -> bytes:
    frames = [Image.fromarray(np.full((8, 8), i % 251, np.uint8)).convert("P") for i in range(n)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


#: (id, file name, builder, read_image options, expected shape)
ACCEPTED: list[tuple[str, str, Callable[[], bytes], dict, tuple[int, ...]]] = [
    ("png-named-dcm", "scan.dcm", lambda: png(GRAY), {}, (8, 8)),
    ("jpeg-named-png", "scan.png", lambda: encode(Image.fromarray(GRAY), "JPEG"), {}, (8, 8)),
    ("dicom-named-jpg", "scan.jpg", lambda: dicom_bytes(dicom()), {}, (8, 8)),
    ("png-16-bit", "scan.png", lambda: png(GRAY.astype(np.uint16) * 257), {}, (8, 8)),
    ("tiff-float32", "scan.tif", lambda: encode(Image.fromarray(GRAY.astype(np.float32)),
                                                "TIFF"), {}, (8, 8)),
    ("png-gray-alpha", "scan.png", lambda: encode(Image.new("LA", (6, 4)), "PNG"), {}, (4, 6)),
    ("tiff-12-bit", "scan.tif", lambda: tiff(4, 4, bytes(24), bits=12), {}, (4, 4)),
    ("jpeg-cmyk", "scan.jpg", lambda: encode(Image.new("CMYK", (6, 4), (0, 50, 100, 0)),
                                             "JPEG"), {}, (4, 6)),
    ("jpeg-exif-rotated", "scan.jpg", lambda: encode(Image.new("L", (6, 4)), "JPEG",
                                                     exif=_exif(6)), {}, (6, 4)),
    ("jpeg-exif-orientation-99", "scan.jpg", lambda: encode(Image.new("L", (6, 4)), "JPEG",
                                                            exif=_exif(99)), {}, (4, 6)),
    ("gif-animated-last-frame", "cine.gif", lambda: _animated_gif(300), {"frame": 299}, (8, 8)),
    ("png-extra-data-after-image", "scan.png",
     lambda: png_claiming(64, 64, zeros_deflated(65 * 64 + 20_000_000)), {}, (64, 64)),
    ("dicom-excess-pixel-data", "scan.dcm", lambda: dicom_pixels(GRAY.tobytes() * 3), {}, (8, 8)),
    ("nifti-float-nan-sanitised", "vol.nii",
     lambda: nifti((2, 2, 2, 1, 1, 1, 1, 1), np.array([1, np.nan, 2, 3], "<f4").tobytes(),
                   datatype=16, bitpix=32), {}, (2, 2)),
]


@pytest.mark.parametrize(("name", "build", "options", "shape"), [c[1:] for c in ACCEPTED],
                         ids=[c[0] for c in ACCEPTED])
def test_odd_but_valid_image_is_read(tmp_path: Path, name: str, build: Callable[[], bytes],
                                     options: dict, shape: tuple[int, ...]) -> None:
    path = tmp_path / name
    path.write_bytes(build())
    image = read_image(path, **options)
    assert isinstance(image, LoadedImage) and image.shape == shape
    assert np.isfinite(image.array).all()


def test_negative_or_non_finite_spacing_never_comes_out() -> None:
    flipped = read_image(nifti((2, 4, 4, 1, 1, 1, 1, 1), bytes(16), pixdim=(1, -2, 3, 1, 1, 1,
                                                                             1, 1)))
    assert flipped.spacing == (3.0, 2.0)
    assert read_image(dicom_edited(PixelSpacing=["inf", "0.5"])).spacing is None
    region = Dataset()
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX, region.PhysicalDeltaY = float("inf"), 0.01
    assert read_image(dicom_edited(SequenceOfUltrasoundRegions=[region])).spacing is None


# --------------------------------------------------------------------------- masks
IMAGE_SHAPE = (8, 8)
#: (id, builder, words the error must contain)
MASKS: list[tuple[str, Callable[[], bytes], tuple[str, ...]]] = [
    ("empty", lambda: png(np.zeros(IMAGE_SHAPE, np.uint8)), ("mask is empty",)),
    ("rgba-fully-transparent", lambda: png(np.dstack([np.full((8, 8, 3), 255, np.uint8),
                                                      np.zeros((8, 8), np.uint8)])),
     ("mask is empty",)),
    ("wrong-size", lambda: png(np.full((6, 9), 255, np.uint8)),
     ("mask size 9×6 does not match image size 8×8",)),
    ("transposed", lambda: png(np.full((8, 4), 255, np.uint8)), ("does not match",)),
    ("1x1", lambda: png(np.ones((1, 1), np.uint8)), ("too small",)),
    ("text", lambda: b"0 0 1 1\n0 1 1 0\n", ("not a supported image", "text")),
    ("truncated", lambda: cut(png(LESION), 0.5), ("truncated or corrupt PNG",)),
    ("float-nan", lambda: encode(Image.fromarray(np.where(LESION > 0, np.nan, 0).astype(
        np.float32)), "TIFF"), ("NaN or infinite",)),
    ("bomb", lambda: png_bomb(9000), ("over the limit",)),
    ("volume-for-2d-image", lambda: nifti((3, 8, 8, 2, 1, 1, 1, 1), bytes(128)), ("3D volume",)),
    ("dicom-without-pixels", lambda: dicom_without("PixelData"), ("no pixel data",)),
]


@pytest.mark.parametrize(("build", "words"), [c[1:] for c in MASKS], ids=[c[0] for c in MASKS])
def test_hostile_mask_is_refused(tmp_path: Path, build: Callable[[], bytes],
                                 words: tuple[str, ...]) -> None:
    path = tmp_path / "mask.png"
    path.write_bytes(build())
    refused(read_mask, path, like=IMAGE_SHAPE, match=("mask.png", *words), watch=[tmp_path])


def _palette_png(indices: np.ndarray) -> bytes:
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    return encode(image, "PNG")


@pytest.mark.parametrize("build", [
    lambda: png(LESION // 255 * np.array([[0, 1, 2, 3, 0, 1, 2, 3]], np.uint8)[:, :8]),
    lambda: _palette_png(LESION // 255),
    lambda: png(np.dstack([LESION, LESION, LESION, LESION])),
    lambda: png(np.full(IMAGE_SHAPE, 255, np.uint8)),
], ids=["three-labels", "palette", "rgba", "all-foreground"])
def test_odd_but_valid_mask_is_read(build: Callable[[], bytes]) -> None:
    mask = read_mask(build(), like=IMAGE_SHAPE)
    assert mask.dtype == bool and mask.shape == IMAGE_SHAPE and mask.any()


# --------------------------------------------------------------------------- prediction paths
@pytest.fixture(scope="module")
def phantom(prediction_bundles):
    """The test bundles and one phantom image with its mask."""
    row = prediction_bundles.rows().iloc[0]
    image = read_image(row["image"])
    return prediction_bundles, image, read_mask(row["mask"], like=image)


def _bad_predictions(image: LoadedImage, mask: np.ndarray) -> list:
    shape = image.shape
    nan = np.where(mask, np.nan, 1.0).astype(np.float32)
    return [
        ("empty-mask", image, np.zeros(shape, bool), {}, ("mask is empty",)),
        ("mask-shape-differs", image, np.ones((10, 10), bool), {}, ("does not match",)),
        ("mask-nan", image, np.where(mask, 1.0, np.nan), {}, ("NaN or infinite",)),
        ("mask-strings", image, np.full(shape, "x"), {}, ("numeric",)),
        ("mask-bytes-text", image, b"not a mask", {}, ("not a supported image",)),
        ("image-nan-array", nan, mask, {}, ("NaN or infinite",)),
        ("image-inf-loaded", LoadedImage(np.full(shape, np.inf, np.float32), None, {}), mask,
         {}, ("NaN or infinite",)),
        ("image-1x1-array", np.ones((1, 1), np.float32), np.ones((1, 1), bool), {},
         ("too small",)),
        ("image-complex-array", np.ones(shape, complex), mask, {}, ("real numbers",)),
        ("image-volume-array", np.ones((5, 8, 8), np.float32), np.ones((8, 8), bool), {},
         ("2D",)),
        ("image-pdf-bytes", b"%PDF-1.7 lying", mask, {}, ("PDF",)),
        ("box-nan", image, None, {"box": (float("nan"), 0, 10, 10)}, ("finite",)),
        ("box-inf", image, None, {"box": (0, 0, float("inf"), 10)}, ("finite",)),
        ("box-outside", image, None, {"box": (90, 90, 500, 500)}, ("inside",)),
        ("no-roi", image, None, {}, ("lesion mask or a box",)),
    ]


@pytest.mark.parametrize("which", ["tabular", "cnn"])
def test_predict_refuses_bad_image_and_mask_combinations(phantom, which: str) -> None:
    from eusgist import inference

    bundles, image, mask = phantom
    model = inference.load_model(getattr(bundles, which))
    for case, img, roi, options, words in _bad_predictions(image, mask):
        if which == "cnn" and case == "no-roi":
            continue  # the strong CNN also needs one, but the tabular case covers the message
        try:
            refused(inference.predict, model, img, roi, match=words, explain=False, **options)
        except AssertionError as exc:
            raise AssertionError(f"{which} {case}: {exc}") from None


def test_predict_with_an_all_foreground_mask_gives_a_finite_probability(phantom) -> None:
    from eusgist import inference

    bundles, image, _ = phantom
    pred = inference.predict(bundles.cnn, image, np.ones(image.shape, bool), explain=False)
    assert np.isfinite(pred.positive_probability)


def test_score_images_refuses_a_hostile_file_in_a_batch(phantom, tmp_path: Path) -> None:
    from eusgist import inference

    bundles, image, _ = phantom
    row = bundles.rows().iloc[0]
    bad = tmp_path / "scan.png"
    bad.write_bytes(png_claiming(30_000, 30_000))
    refused(inference.score_images, bundles.cnn, [row["image"], str(bad)],
            [row["mask"], row["mask"]], n_jobs=1, match=("scan.png", "over the limit"),
            watch=[tmp_path])


def test_predict_tab_handlers_turn_bad_uploads_into_messages(
    phantom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gr = pytest.importorskip("gradio")
    from eusgist.ui.predict import predict_image, show_image

    bundles, _, _ = phantom
    monkeypatch.setenv("EUSGIST_WEIGHTS_DIR", str(bundles.cnn.parent))  # the app loads by name
    model = bundles.cnn.name
    row = bundles.rows().iloc[0]
    uploads = {
        "scan.png": b"%PDF-1.4 not an image",
        "bomb.png": png_bomb(9000),
        "scan.dcm": dicom_without("PixelData"),
        "tiny.png": png(np.zeros((1, 1), np.uint8)),
        "empty.png": b"",
    }
    for name, data in uploads.items():
        (tmp_path / name).write_bytes(data)
        path = str(tmp_path / name)
        refused(show_image, path, errors=gr.Error, match=(name,), watch=[tmp_path])
        refused(predict_image, model, path, None, row["mask"], "", None,
                errors=gr.Error, match=(name,), watch=[tmp_path])
        refused(predict_image, model, row["image"], None, path, "", None,
                errors=gr.Error, match=(name,), watch=[tmp_path])
    for box in ("nan,0,10,10", "1e999,0,10,10", "1,2,3"):
        refused(predict_image, model, row["image"], None, None, box, None,
                errors=gr.Error, match=("box",), watch=[tmp_path])


def test_annotate_upload_refuses_hostile_images(tmp_path: Path) -> None:
    from eusgist.store import open_store
    from eusgist.store.importing import import_paths

    folder = tmp_path / "db"
    folder.mkdir()
    store = open_store(f"sqlite:///{folder / 'eusgist.sqlite'}")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    try:
        for case, name, build, words in IMAGES[:: max(1, len(IMAGES) // 12)]:
            data = build()
            (uploads / f"{case}-{name}").write_bytes(data)
            refused(store.add_image, data, name=name, match=(name, *words), watch=[folder])
        report = import_paths(store, [uploads])
        assert not report.added and len(report.errors) == len(list(uploads.iterdir()))
    finally:
        store.close()
