"""eusgist.io: every format into the canonical form, and every bad input's exact message."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import io
import logging
import re
import struct
from pathlib import Path

import numpy as np
import pydicom
import pydicom.examples
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_bytes import encode, png, png_claiming
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    MPEG4HP41,
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from eusgist.io import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    LoadedImage,
    read_image,
    read_mask,
    sniff_format,
    to_uint8,
)

BUSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "busi"
RNG = np.random.default_rng(20240601)
GRAY = RNG.integers(0, 256, (12, 16), dtype=np.uint8)
RGB = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601, written from the formula."""
    rgb = rgb.astype(np.float64)
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.float32)


def exact(message: str) -> str:
    """A `match=` pattern for exactly `message`."""
    return f"^{re.escape(message)}$"


def prefix(message: str) -> str:
    """A `match=` pattern for `message` followed by a parenthesised decoder detail."""
    return f"^{re.escape(message)}( \\(.+\\))?$"


def dicom(
    pixels: np.ndarray,
    photometric: str = "MONOCHROME2",
    *,
    bits: int | None = None,
    sop_class: str = UltrasoundImageStorage,
    **attributes: object,
) -> Dataset:
    """A minimal valid DICOM dataset holding `pixels` (frames first when multi-frame)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.Modality = "US"
    ds.Manufacturer = "eusgist tests"
    ds.set_pixel_data(pixels, photometric, bits or pixels.dtype.itemsize * 8)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def itk_bytes(tmp_path: Path, image: sitk.Image, suffix: str) -> bytes:
    path = tmp_path / f"written{suffix}"
    sitk.WriteImage(image, str(path))
    return path.read_bytes()


def itk_image(array: np.ndarray, spacing: tuple[float, ...], *, vector: bool = False) -> sitk.Image:
    image = sitk.GetImageFromArray(array, isVector=vector)
    image.SetSpacing(spacing)
    return image


# --------------------------------------------------------------------------- raster formats


@pytest.mark.parametrize(
    ("data", "expected", "mode"),
    [
        (png(GRAY), GRAY, "L"),
        (png(GRAY.astype(np.uint16) * 257), GRAY.astype(np.float32) * 257, "I;16"),
        (encode(Image.fromarray(RGB), "BMP"), luma(RGB), "RGB"),
        (png(RGB), luma(RGB), "RGB"),
        (png(np.dstack([RGB, GRAY])), luma(RGB), "RGBA"),  # alpha dropped
        (png(np.dstack([GRAY, 255 - GRAY])), GRAY, "LA"),
        (encode(Image.fromarray(GRAY > 127), "PNG"), (GRAY > 127) * np.float32(255), "1"),
        (encode(Image.fromarray(GRAY).convert("CMYK"), "TIFF"), GRAY, "CMYK"),
    ],
    ids=["png8", "png16", "bmp-rgb", "png-rgb", "png-rgba", "png-la", "png-1bit", "tiff-cmyk"],
)
def test_raster_round_trip(data: bytes, expected: np.ndarray, mode: str) -> None:
    image = read_image(data)
    assert image.array.dtype == np.float32
    np.testing.assert_allclose(image.array, expected, atol=1.0 if mode == "CMYK" else 0)
    assert image.meta["mode"] == mode
    assert image.spacing is None


def test_png_16_bit_keeps_full_range() -> None:
    values = np.array([[0, 1, 65534, 65535]] * 2, dtype=np.uint16)
    image = read_image(png(values))
    np.testing.assert_array_equal(image.array, values)
    assert image.meta["dtype"] == "uint16"


def test_palette_png_is_expanded_through_its_palette() -> None:
    palette = RNG.integers(0, 256, (256, 3), dtype=np.uint8)
    indices = RNG.integers(0, 256, (8, 9), dtype=np.uint8)
    paletted = Image.fromarray(indices, "P")
    paletted.putpalette(palette.tobytes())
    image = read_image(encode(paletted, "PNG"))
    np.testing.assert_array_equal(image.array, luma(palette[indices]))
    assert image.meta["mode"] == "P"


def test_jpeg_reads_close_to_the_original() -> None:
    smooth = np.add.outer(np.arange(32), np.arange(48)).astype(np.uint8) * 2
    image = read_image(encode(Image.fromarray(smooth), "JPEG", quality=95))
    assert image.shape == (32, 48)
    assert np.abs(image.array - smooth).max() <= 4
    assert image.meta["format"] == "jpeg"


def test_jpeg_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(Image.fromarray(np.zeros((20, 30), np.uint8)), "JPEG", exif=exif.tobytes())
    image = read_image(data)
    assert image.shape == (30, 20)
    assert image.meta["exif_orientation"] == 6


def test_multipage_tiff_chooses_frame() -> None:
    pages = [Image.fromarray(GRAY // (k + 1)) for k in range(3)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    for k in range(3):
        image = read_image(data, frame=k)
        np.testing.assert_array_equal(image.array, GRAY // (k + 1))
        assert (image.meta["n_frames"], image.meta["frame"]) == (3, k)
    assert read_image(data).meta["frame"] == 0
    with pytest.raises(
        ImageReadError, match=exact("<bytes>: frame 3 is out of range (the file has 3 frames)")
    ):
        read_image(data, frame=3)


def test_gif_palette_frames() -> None:
    palette = RNG.integers(0, 256, (256, 3), dtype=np.uint8)
    indices = [RNG.integers(0, 256, (10, 11), dtype=np.uint8) for _ in range(2)]
    frames = []
    for frame in indices:
        paletted = Image.fromarray(frame, "P")
        paletted.putpalette(palette.tobytes())
        frames.append(paletted)
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], optimize=False)
    for k in range(2):
        np.testing.assert_array_equal(read_image(data, frame=k).array, luma(palette[indices[k]]))


def test_float_tiff_keeps_values() -> None:
    values = RNG.normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_array_equal(read_image(encode(Image.fromarray(values), "TIFF")).array, values)


@pytest.mark.parametrize("dtype", [np.uint32, np.int32])
def test_32_bit_integer_tiff_keeps_sign(tmp_path: Path, dtype: type) -> None:
    # Pillow reads every 32-bit integer TIFF as signed; unsigned ones must not wrap.
    info = np.iinfo(dtype)
    values = np.array([[info.min, 0, 1], [2**30, info.max - 1, info.max]], dtype=dtype)
    path = tmp_path / "counts.tif"
    sitk.WriteImage(sitk.GetImageFromArray(values), str(path))
    got = read_image(path).array.squeeze()
    np.testing.assert_allclose(got, values.astype(np.float64), rtol=1e-7)


def test_screen_dpi_is_not_spacing() -> None:
    image = read_image(encode(Image.fromarray(GRAY), "PNG", dpi=(96, 96)))
    assert image.spacing is None
    assert image.meta["dpi"] == pytest.approx((96, 96), abs=0.1)


def test_imagej_calibrated_tiff_gives_spacing() -> None:
    data = encode(
        Image.fromarray(GRAY),
        "TIFF",
        description="ImageJ=1.54f\nunit=mm\n",
        x_resolution=10,
        y_resolution=20,
    )
    image = read_image(data)
    assert image.spacing == pytest.approx((0.05, 0.1))
    assert image.meta["spacing_source"] == "ImageJ calibration"


# --------------------------------------------------------------------------- NIfTI / NRRD


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd"])
def test_itk_2d_round_trip(tmp_path: Path, suffix: str) -> None:
    values = RNG.integers(0, 4000, (12, 16)).astype(np.int16)
    image = read_image(itk_bytes(tmp_path, itk_image(values, (0.3, 0.2)), suffix))
    np.testing.assert_array_equal(image.array, values)
    assert image.spacing == pytest.approx((0.2, 0.3))  # (row, column)
    assert image.meta["format"] == ("nrrd" if suffix == ".nrrd" else "nifti")
    assert not image.is_volume


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_itk_volume(tmp_path: Path, suffix: str) -> None:
    values = RNG.random((4, 6, 8)).astype(np.float32)
    data = itk_bytes(tmp_path, itk_image(values, (0.5, 0.6, 2.0)), suffix)
    label = "NRRD" if suffix == ".nrrd" else "NIfTI"
    with pytest.raises(
        ImageReadError,
        match=exact(
            f"vol: {label} file is a 3D volume with 4 slices; pass allow_volume=True to read it "
            "whole or frame= to choose one slice"
        ),
    ):
        read_image(data, name="vol")
    volume = read_image(data, allow_volume=True)
    assert volume.is_volume and volume.shape == (4, 6, 8)
    np.testing.assert_array_equal(volume.array, values)
    assert volume.spacing == pytest.approx((2.0, 0.6, 0.5))
    one = read_image(data, frame=2)
    np.testing.assert_array_equal(one.array, values[2])
    assert one.spacing == pytest.approx((0.6, 0.5))
    with pytest.raises(
        ImageReadError, match=exact("<bytes>: frame 4 is out of range (the file has 4 frames)")
    ):
        read_image(data, frame=4)


def test_single_slice_volume_is_2d(tmp_path: Path) -> None:
    data = itk_bytes(tmp_path, itk_image(GRAY[None], (1.0, 1.0, 5.0)), ".nii")
    image = read_image(data)
    assert image.shape == GRAY.shape and not image.is_volume


def test_rgb_nifti_is_reduced_to_luma(tmp_path: Path) -> None:
    data = itk_bytes(tmp_path, itk_image(RGB, (1.0, 1.0), vector=True), ".nii")
    np.testing.assert_array_equal(read_image(data).array, luma(RGB))


def test_extension_is_ignored(tmp_path: Path) -> None:
    lying = tmp_path / "really_a_nifti.png"
    lying.write_bytes(itk_bytes(tmp_path, itk_image(GRAY, (1.0, 1.0)), ".nii.gz"))
    assert read_image(lying).meta["format"] == "nifti"
    jpeg_named_png = tmp_path / "photo.png"
    jpeg_named_png.write_bytes(encode(Image.fromarray(GRAY), "JPEG"))
    assert read_image(jpeg_named_png).meta["format"] == "jpeg"


def test_detached_nrrd_is_read_from_its_path(tmp_path: Path) -> None:
    header = tmp_path / "scan.nhdr"
    sitk.WriteImage(itk_image(GRAY, (0.5, 0.5)), str(header))
    np.testing.assert_array_equal(read_image(header).array, GRAY)
    with pytest.raises(ImageReadError, match=prefix("scan.nhdr: truncated or corrupt NRRD file")):
        read_image(header.read_bytes(), name="scan.nhdr")  # the data file cannot be found


def test_4d_is_refused() -> None:
    header = b"NRRD0004\ntype: uint8\ndimension: 4\nsizes: 3 4 5 2\nencoding: raw\n\n"
    with pytest.raises(
        ImageReadError, match=exact("t.nrrd: 4D images are not supported (3×4×5×2)")
    ):
        read_image(header + bytes(120), name="t.nrrd")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd"])
def test_truncated_itk_file(tmp_path: Path, suffix: str) -> None:
    data = itk_bytes(
        tmp_path, itk_image(RNG.random((4, 6, 8)).astype(np.float32), (1, 1, 1)), suffix
    )
    if suffix == ".nii.gz":  # cut the compressed stream, not the gzip container
        data = gzip.compress(gzip.decompress(data)[:600])
    else:
        data = data[: len(data) // 2]
    label = "NRRD" if suffix == ".nrrd" else "NIfTI"
    with pytest.raises(
        ImageReadError, match=prefix(f"cut{suffix}: truncated or corrupt {label} file")
    ):
        read_image(data, name=f"cut{suffix}", allow_volume=True)


# --------------------------------------------------------------------------- DICOM built here


def test_dicom_monochrome_with_rescale_and_spacing() -> None:
    stored = RNG.integers(0, 4096, (10, 12), dtype=np.uint16)
    ds = dicom(stored, bits=12, RescaleSlope=2, RescaleIntercept=-100, PixelSpacing=[0.25, 0.5])
    image = read_image(dicom_bytes(ds), name="mono.dcm")
    np.testing.assert_array_equal(image.array, stored * 2.0 - 100)
    assert image.spacing == (0.25, 0.5)
    assert image.meta["rescale"] == (2.0, -100.0)
    assert image.meta["spacing_source"] == "PixelSpacing"
    assert image.meta["photometric"] == "MONOCHROME2"
    assert image.meta["modality"] == "US" and image.meta["manufacturer"] == "eusgist tests"


def test_dicom_monochrome1_is_inverted() -> None:
    stored = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
    np.testing.assert_array_equal(
        read_image(dicom_bytes(dicom(stored, "MONOCHROME1"))).array, 255 - stored
    )


def test_dicom_rgb_and_ybr_full() -> None:
    np.testing.assert_array_equal(read_image(dicom_bytes(dicom(RGB, "RGB"))).array, luma(RGB))
    ybr = convert_color_space(RGB, "RGB", "YBR_FULL")
    image = read_image(dicom_bytes(dicom(ybr, "YBR_FULL")))
    np.testing.assert_allclose(image.array, luma(RGB), atol=1.5)  # YBR is rounded to 8 bits
    assert image.meta["photometric"] == "YBR_FULL"


def test_dicom_palette_color() -> None:
    lut = RNG.integers(0, 256, (3, 256), dtype=np.uint8)
    indices = RNG.integers(0, 256, (8, 9), dtype=np.uint8)
    ds = dicom(indices, "PALETTE COLOR")
    for colour, table in zip(("Red", "Green", "Blue"), lut, strict=True):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 8])
        setattr(ds, f"{colour}PaletteColorLookupTableData", table.tobytes())
    expected = luma(np.stack([table[indices] for table in lut], axis=-1))
    np.testing.assert_array_equal(read_image(dicom_bytes(ds)).array, expected)


def test_dicom_multiframe_chooses_frame() -> None:
    frames = RNG.integers(0, 256, (3, 5, 6), dtype=np.uint8)
    data = dicom_bytes(dicom(frames, sop_class=UltrasoundMultiFrameImageStorage))
    for k in range(3):
        image = read_image(data, frame=k)
        np.testing.assert_array_equal(image.array, frames[k])
        assert (image.meta["n_frames"], image.meta["frame"]) == (3, k)
    with pytest.raises(
        ImageReadError, match=exact("cine.dcm: frame 3 is out of range (the file has 3 frames)")
    ):
        read_image(data, frame=3, name="cine.dcm")


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless], ids=["rle", "jpeg2000"])
def test_dicom_lossless_compression(syntax: str) -> None:
    rgb = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # OpenJPEG needs 32+ pixels a side
    ds = dicom(rgb, "RGB")
    ds.compress(
        syntax, rgb, **({"photometric_interpretation": "RGB"} if syntax == JPEG2000Lossless else {})
    )
    image = read_image(dicom_bytes(ds))
    np.testing.assert_array_equal(image.array, luma(rgb))
    assert image.meta["transfer_syntax"] == pydicom.uid.UID(syntax).name


@pytest.mark.parametrize("colour", [False, True], ids=["gray", "ycbcr"])
def test_dicom_jpeg_baseline(colour: bool) -> None:
    pixels = RGB if colour else GRAY
    frame = encode(Image.fromarray(pixels), "JPEG", quality=95)
    ds = dicom(pixels, "YBR_FULL_422" if colour else "MONOCHROME2")
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    reference = np.asarray(Image.open(io.BytesIO(frame)))
    expected = luma(reference) if colour else reference
    np.testing.assert_allclose(read_image(dicom_bytes(ds)).array, expected, atol=3)


def test_dicom_ultrasound_region_spacing() -> None:
    def region(spatial: int, x1: int, delta: float) -> Dataset:
        item = Dataset()
        item.RegionSpatialFormat = spatial
        item.RegionLocationMinX0, item.RegionLocationMinY0 = 0, 0
        item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, 10
        item.PhysicalUnitsXDirection = item.PhysicalUnitsYDirection = 3  # cm
        item.PhysicalDeltaX, item.PhysicalDeltaY = delta, delta / 2
        return item

    # A 2D region wins over a larger M-mode (3) region; among 2D regions the largest wins.
    regions = [region(3, 12, 0.9), region(1, 4, 0.5), region(1, 8, 0.02)]
    image = read_image(dicom_bytes(dicom(GRAY, SequenceOfUltrasoundRegions=regions)))
    assert image.spacing == pytest.approx((0.1, 0.2))
    assert image.meta["spacing_source"] == "SequenceOfUltrasoundRegions"


# --------------------------------------------------------------------------- real DICOM files


def test_pydicom_real_ultrasound_examples() -> None:
    rgb = read_image(pydicom.examples.get_path("rgb_color"))
    assert rgb.shape == (240, 320) and rgb.meta["photometric"] == "RGB"
    assert rgb.meta["manufacturer"] == "G.E. Medical Systems" and rgb.meta["modality"] == "US"
    np.testing.assert_array_equal(rgb.array, luma(pydicom.examples.rgb_color.pixel_array))

    palette = read_image(pydicom.examples.get_path("palette_color"))
    assert palette.shape == (350, 800) and palette.meta["photometric"] == "PALETTE COLOR"
    assert palette.spacing == pytest.approx((0.2622878766, 0.2622878766))  # 0.0262 cm

    cine = pydicom.examples.get_path("ybr_color")
    last = read_image(cine, frame=29)
    assert last.meta["transfer_syntax"] == "JPEG Baseline (Process 1)"
    assert (last.meta["n_frames"], last.meta["frame"]) == (30, 29)
    assert last.spacing == pytest.approx((0.5104970559, 0.5104970559))
    np.testing.assert_allclose(
        last.array, luma(pydicom.examples.ybr_color.pixel_array[29]), atol=1e-3
    )
    with pytest.raises(
        ImageReadError,
        match=exact("examples_ybr_color.dcm: frame 30 is out of range (the file has 30 frames)"),
    ):
        read_image(cine, frame=30)

    j2k = read_image(pydicom.examples.get_path("jpeg2k"))
    assert j2k.shape == (480, 640) and j2k.meta["photometric"] == "YBR_RCT"


def test_dicom_preamble_that_is_a_tiff_header_is_still_dicom() -> None:
    data = Path(pydicom.examples.get_path("rgb_color")).read_bytes()
    assert data[:4] == b"II*\x00"
    assert sniff_format(data) == "dicom"


def _headerless(ds: Dataset) -> bytes:
    """``ds`` as old files are written (pydicom's OT-PAL-8-face.dcm): no preamble, no file
    meta, implicit VR little endian."""
    ds = copy.deepcopy(ds)
    ds.preamble = None
    del ds.file_meta
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return buf.getvalue()


@pytest.mark.parametrize("cut", ["no-meta", "meta-no-preamble", "marker-no-preamble"])
def test_dicom_without_the_preamble_is_read(cut: str) -> None:
    path = pydicom.examples.get_path("palette_color")
    full = Path(path).read_bytes()
    data = {
        "no-meta": _headerless(pydicom.examples.palette_color),
        "meta-no-preamble": full[132:],
        "marker-no-preamble": full[128:],
    }[cut]
    assert sniff_format(data) is None  # not by its magic bytes ...
    image = read_image(data, name="old.dcm")  # ... but it parses as DICOM to the end
    expected = read_image(path)
    np.testing.assert_array_equal(image.array, expected.array)
    assert image.meta["format"] == "dicom" and image.spacing == expected.spacing
    syntax = "Implicit VR Little Endian" if cut == "no-meta" else "Explicit VR Little Endian"
    assert image.meta["transfer_syntax"] == syntax


@pytest.mark.parametrize(
    "data",
    [
        b"\x08\x00" + RNG.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        b"\x02\x00\x00\x00UL\x04\x00" + RNG.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        b"DICM\x08\x00" + bytes(300),
        b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + bytes(range(256)) * 4,
    ],
    ids=["group-8-noise", "meta-noise", "marker-zeros", "one-element-then-noise"],
)
def test_bytes_that_only_start_like_dicom_are_still_refused(data: bytes) -> None:
    with pytest.raises(
        ImageReadError, match=exact("x: not a supported image (detected: unknown binary data)")
    ):
        read_image(data, name="x")


@pytest.mark.parametrize(
    ("file_name", "shape"),
    [
        ("JPEGLSNearLossless_08.dcm", (45, 10)),  # JPEG-LS through pylibjpeg-libjpeg
        ("JPGExtended.dcm", (1024, 256)),  # 12-bit JPEG
        ("MR_small_jp2klossless.dcm", (64, 64)),
        ("image_dfl.dcm", (512, 512)),  # deflated transfer syntax
        ("MR_small_bigendian.dcm", (64, 64)),
    ],
)
def test_pydicom_test_files_decode(file_name: str, shape: tuple[int, int]) -> None:
    image = read_image(get_testdata_file(file_name))
    assert image.shape == shape and np.isfinite(image.array).all()


# --------------------------------------------------------------------------- bad input


def test_not_an_image(tmp_path: Path) -> None:
    text = tmp_path / "scan.png"
    text.write_text("patient,label\n1,GIST\n")
    with pytest.raises(
        ImageReadError, match=exact("scan.png: not a supported image (detected: text)")
    ):
        read_image(text)


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"PK\x03\x04" + bytes(40), "ZIP archive"),
        (b"%PDF-1.7\n" + bytes(40), "PDF document"),
        (gzip.compress(b"hello"), "gzip archive"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20), "WebP image"),
        (bytes(range(256)), "unknown binary data"),
        (Path(get_testdata_file("no_meta.dcm")).read_bytes()[:200], "unknown binary data"),
    ],
    ids=["zip", "pdf", "gzip", "webp", "binary", "dicom-without-preamble"],
)
def test_not_an_image_says_what_it_looks_like(data: bytes, detected: str) -> None:
    with pytest.raises(
        ImageReadError, match=exact(f"x: not a supported image (detected: {detected})")
    ):
        read_image(data, name="x")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "scan.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=exact("scan.png: file is empty (0 bytes)")):
        read_image(tmp_path / "scan.png")


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    ("data", "label"),
    [
        (png(GRAY)[:-30], "PNG"),
        (png(GRAY)[:40], "PNG"),
        (encode(Image.fromarray(RGB), "JPEG")[:300], "JPEG"),
        (encode(Image.fromarray(RGB), "BMP")[:200], "BMP"),
        (encode(Image.fromarray(GRAY), "TIFF")[:100], "TIFF"),
        (encode(Image.fromarray(GRAY), "GIF")[:30], "GIF"),
        (Path(get_testdata_file("MR_truncated.dcm")).read_bytes(), "DICOM"),
    ],
    ids=["png-data", "png-header", "jpeg", "bmp", "tiff", "gif", "dicom"],
)
def test_truncated_file(data: bytes, label: str) -> None:
    with pytest.raises(ImageReadError, match=prefix(f"scan: truncated or corrupt {label} file")):
        read_image(data, name="scan")


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (png(np.zeros((1, 1), np.uint8)), "1×1"),
        (png(np.zeros((1, 9), np.uint8)), "9×1"),
        (png(np.zeros((9, 1, 3), np.uint8)), "1×9"),
        (dicom_bytes(dicom(np.zeros((4, 4), np.uint8), Rows=0)), "4×0"),
    ],
    ids=["1x1", "1xN", "Nx1-rgb", "dicom-0-rows"],
)
def test_too_small(data: bytes, size: str) -> None:
    with pytest.raises(
        ImageReadError,
        match=exact(f"tiny: image is too small ({size} pixels; at least 2×2 needed)"),
    ):
        read_image(data, name="tiny")


def test_pixel_limit_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bomb = tmp_path / "big.png"
    bomb.write_bytes(png_claiming(100_000, 10_000))
    monkeypatch.setenv("EUSGIST_MAX_PIXELS", "100000000")
    with pytest.raises(
        ImageReadError,
        match=exact(
            "big.png: image has 1,000,000,000 pixels, over the limit of 100,000,000 "
            "(set EUSGIST_MAX_PIXELS to raise it)"
        ),
    ):
        read_image(bomb)
    monkeypatch.setenv("EUSGIST_MAX_PIXELS", "191")
    with pytest.raises(
        ImageReadError,
        match=exact(
            "<bytes>: image has 192 pixels, over the limit of 191 "
            "(set EUSGIST_MAX_PIXELS to raise it)"
        ),
    ):
        read_image(png(GRAY))
    assert read_image(png(GRAY), max_pixels=192).shape == GRAY.shape  # the argument wins
    monkeypatch.setenv("EUSGIST_MAX_PIXELS", "lots")
    with pytest.raises(
        ValueError, match=exact("EUSGIST_MAX_PIXELS must be a positive integer, got 'lots'")
    ):
        read_image(png(GRAY))
    monkeypatch.delenv("EUSGIST_MAX_PIXELS")
    assert DEFAULT_MAX_PIXELS == 64_000_000
    with pytest.raises(ImageReadError, match=r"over the limit of 64,000,000 "):
        read_image(png_claiming(10_000, 7_000))


def test_pillow_bomb_guard_still_applies_above_our_limit() -> None:
    with pytest.raises(
        ImageReadError, match=r"^big: image is too large to decode safely \(Image size"
    ):
        read_image(png_claiming(100_000, 10_000), name="big", max_pixels=2_000_000_000)


def test_pixel_limit_is_checked_before_decoding_dicom_and_nifti() -> None:
    ds = dicom(np.zeros((4, 4), np.uint8))
    ds.Rows = ds.Columns = 60_000  # 4 GB claimed by a few bytes: must not be allocated
    with pytest.raises(
        ImageReadError,
        match=exact(
            "huge.dcm: image has 3,600,000,000 pixels, over the limit of 64,000,000 "
            "(set EUSGIST_MAX_PIXELS to raise it)"
        ),
    ):
        read_image(dicom_bytes(ds), name="huge.dcm")

    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 3, 5000, 5000, 400, 1, 1, 1, 1)
    struct.pack_into("<hh", header, 70, 2, 8)  # uint8
    struct.pack_into("<8f", header, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)
    header[344:348] = b"n+1\x00"
    with pytest.raises(ImageReadError, match=r"^huge.nii: image has 10,000,000,000 pixels"):
        read_image(bytes(header), name="huge.nii", allow_volume=True)


def test_pixel_limit_counts_one_frame_of_a_cine() -> None:
    data = dicom_bytes(
        dicom(np.zeros((10, 10, 10), np.uint8), sop_class=UltrasoundMultiFrameImageStorage)
    )
    assert read_image(data, frame=9, max_pixels=100).shape == (10, 10)
    with pytest.raises(ImageReadError, match=r"image has 100 pixels, over the limit of 99 "):
        read_image(data, max_pixels=99)


def test_deflate_bomb_is_refused_before_inflating() -> None:
    ds = dicom(np.full((4, 4), 7, np.uint8))
    ds.add_new(0x00091010, "OB", bytes(1_000_000))  # inflates 1 MB from about 1 kB
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    data = dicom_bytes(ds)
    assert len(data) < 5_000
    assert read_image(data).meta["transfer_syntax"] == "Deflated Explicit VR Little Endian"
    with pytest.raises(
        ImageReadError,
        match=exact(
            "z.dcm: deflated DICOM inflates to over 800 bytes, too much for the pixel limit "
            "of 100 (set EUSGIST_MAX_PIXELS to raise it)"
        ),
    ):
        read_image(data, name="z.dcm", max_pixels=100)


def test_dicom_without_pixel_data() -> None:
    with pytest.raises(
        ImageReadError, match=exact("x.dcm: DICOM has no pixel data (Comprehensive SR Storage)")
    ):
        read_image(get_testdata_file("test-SR.dcm"), name="x.dcm")


def test_dicom_video_transfer_syntax_is_unsupported() -> None:
    ds = dicom(GRAY)
    ds.file_meta.TransferSyntaxUID = MPEG4HP41
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    ds["PixelData"].VR = "OB"
    with pytest.raises(
        ImageReadError,
        match=exact(
            "clip.dcm: unsupported DICOM transfer syntax MPEG-4 AVC/H.264 High Profile / Level 4.1 "
            "(1.2.840.10008.1.2.4.102): no decoder available"
        ),
    ):
        read_image(dicom_bytes(ds), name="clip.dcm")


def test_dicom_without_transfer_syntax() -> None:
    with pytest.raises(
        ImageReadError,
        match=exact(
            "meta_missing_tsyntax.dcm: unsupported DICOM: no transfer syntax in the file meta"
        ),
    ):
        read_image(get_testdata_file("meta_missing_tsyntax.dcm"))


def test_dicom_unsupported_photometric() -> None:
    ds = dicom(RGB, "RGB", PhotometricInterpretation="HSV")
    with pytest.raises(
        ImageReadError, match=exact("x.dcm: unsupported DICOM photometric interpretation HSV")
    ):
        read_image(dicom_bytes(ds), name="x.dcm")


def test_non_finite_values() -> None:
    values = np.ones((4, 4), np.float32)
    values[1, 2] = np.nan
    with pytest.raises(ImageReadError, match=exact("f.tif: image contains NaN or infinite values")):
        read_image(encode(Image.fromarray(values), "TIFF"), name="f.tif")


def test_frame_of_a_single_frame_image() -> None:
    for frame in (1, -1):
        with pytest.raises(
            ImageReadError,
            match=exact(f"<bytes>: frame {frame} is out of range (the file has 1 frame)"),
        ):
            read_image(png(GRAY), frame=frame)


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(
        ImageReadError, match=exact("nope.png: cannot read file (No such file or directory)")
    ):
        read_image(tmp_path / "nope.png")
    with pytest.raises(
        ImageReadError, match=exact(f"{tmp_path.name}: cannot read file (Is a directory)")
    ):
        read_image(tmp_path)


def test_wrong_source_types() -> None:
    with pytest.raises(
        TypeError, match="source must be a path, bytes or a binary file object, not int"
    ):
        read_image(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary mode"):
        read_image(io.StringIO("text"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=exact("max_pixels must be a positive integer, got 0")):
        read_image(png(GRAY), max_pixels=0)


# --------------------------------------------------------------------------- sources


def test_path_bytes_and_file_objects_agree(tmp_path: Path) -> None:
    data = dicom_bytes(dicom(GRAY, PixelSpacing=[0.1, 0.2]))
    path = tmp_path / "scan.dcm"
    path.write_bytes(data)
    with path.open("rb") as handle:
        from_handle = read_image(handle)
    results = {
        "scan.dcm": [read_image(path), read_image(str(path)), from_handle],
        "<bytes>": [read_image(data), read_image(bytearray(data)), read_image(memoryview(data))],
        "<stream>": [read_image(io.BytesIO(data))],
        "given": [read_image(data, name="given")],
    }
    for name, images in results.items():
        for image in images:
            np.testing.assert_array_equal(image.array, GRAY)
            assert image.spacing == (0.1, 0.2)
            assert image.meta["source"] == name
            assert image.meta["sha256"] == results["scan.dcm"][0].meta["sha256"]


def test_loaded_image_is_immutable() -> None:
    image = read_image(png(GRAY))
    assert isinstance(image, LoadedImage) and image.shape == (12, 16) and not image.is_volume
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.spacing = (1.0, 1.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        image.meta["source"] = "other"  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(GRAY), "png"),
        (encode(Image.fromarray(GRAY), "JPEG"), "jpeg"),
        (encode(Image.fromarray(GRAY), "BMP"), "bmp"),
        (encode(Image.fromarray(GRAY), "TIFF"), "tiff"),
        (encode(Image.fromarray(GRAY), "GIF"), "gif"),
        (b"BM" + bytes(40), None),  # "BM" text without a BMP info header
        (b"hello", None),
        (b"", None),
    ],
)
def test_sniff_format(data: bytes, expected: str | None) -> None:
    assert sniff_format(data) == expected


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize(
    "encoded",
    [
        png((GRAY > 127).astype(np.uint8) * 255),
        png((GRAY > 127).astype(np.uint8)),
        png((GRAY > 127).astype(np.uint16) * 1000),
        encode(Image.fromarray(GRAY > 127), "PNG"),
        png(np.dstack([(GRAY > 127) * np.uint8(200), np.zeros((12, 16, 2), np.uint8)])),  # red
        png(np.dstack([np.zeros((12, 16, 2), np.uint8), (GRAY > 127) * np.uint8(9)])),  # blue
    ],
    ids=["0-255", "0-1", "16-bit", "1-bit", "red-rgb", "blue-rgb"],
)
def test_mask_any_nonzero_is_lesion(encoded: bytes) -> None:
    mask = read_mask(encoded)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, GRAY > 127)


def test_mask_alpha_hides_transparent_pixels() -> None:
    lesion = GRAY > 127
    rgba = np.zeros((12, 16, 4), np.uint8)
    rgba[~lesion] = (255, 255, 255, 0)  # transparent white background
    rgba[lesion] = (0, 255, 0, 255)
    np.testing.assert_array_equal(read_mask(png(rgba)), lesion)
    la = np.dstack([np.full((12, 16), 255, np.uint8), lesion * np.uint8(255)])
    np.testing.assert_array_equal(read_mask(png(la)), lesion)


def test_palette_mask() -> None:
    paletted = Image.fromarray((GRAY > 127).astype(np.uint8), "P")
    paletted.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    np.testing.assert_array_equal(read_mask(encode(paletted, "PNG")), GRAY > 127)


def test_mask_must_match_image() -> None:
    image = read_image(png(np.zeros((90, 120), np.uint8)))
    mask = png(np.full((80, 100), 255, np.uint8))
    message = exact("mask.png: mask size 100×80 does not match image size 120×90")
    with pytest.raises(ImageReadError, match=message):
        read_mask(mask, like=image, name="mask.png")
    with pytest.raises(ImageReadError, match=message):
        read_mask(mask, like=(90, 120), name="mask.png")
    assert read_mask(mask, like=(80, 100)).all()


def test_empty_mask() -> None:
    with pytest.raises(ImageReadError, match=exact("mask.png: mask is empty (no non-zero pixels)")):
        read_mask(png(np.zeros((5, 5), np.uint8)), name="mask.png")
    assert not read_mask(png(np.zeros((5, 5), np.uint8)), allow_empty=True).any()


def test_volume_mask_like_a_volume(tmp_path: Path) -> None:
    labels = (RNG.random((3, 6, 8)) > 0.5).astype(np.uint8)
    image = read_image(
        itk_bytes(tmp_path, itk_image(labels * 100, (1, 1, 1)), ".nii.gz"), allow_volume=True
    )
    mask = read_mask(itk_bytes(tmp_path, itk_image(labels, (1, 1, 1)), ".nrrd"), like=image)
    np.testing.assert_array_equal(mask, labels.astype(bool))


def test_jpeg_mask_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="eusgist.io"):
        read_mask(encode(Image.fromarray(np.full((8, 8), 255, np.uint8)), "JPEG"), name="m.jpg")
    assert "m.jpg: JPEG is lossy" in caplog.text


@pytest.mark.skipif(not BUSI.is_dir(), reason="BUSI data not present")
def test_real_busi_images_and_masks() -> None:
    for path in sorted((BUSI / "images").glob("*.png"))[:5]:
        image = read_image(path)
        mask = read_mask(BUSI / "masks" / path.name, like=image)
        assert image.meta["mode"] == "L" and image.spacing is None
        assert 0 < mask.mean() < 1


# --------------------------------------------------------------------------- display


def test_to_uint8_windows() -> None:
    assert to_uint8(GRAY.astype(np.float32)).tolist() == GRAY.tolist()  # 8-bit shown as stored
    ramp = np.linspace(0, 4000, 1001)
    np.testing.assert_array_equal(to_uint8(ramp, window="minmax"), np.rint(ramp / 4000 * 255))
    assert to_uint8(ramp)[[0, 5, -6, -1]].tolist() == [0, 0, 255, 255]  # 0.5–99.5 percentiles
    assert to_uint8(np.array([-10.0, 0.0, 60.0, 100.0, 200.0]), window=(0, 100)).tolist() == [
        0,
        0,
        153,
        255,
        255,
    ]
    assert to_uint8(np.array([np.nan, np.inf, -np.inf, 1.5, 3.5]), window="minmax").tolist() == [
        0,
        0,
        0,
        0,
        255,
    ]
    assert to_uint8(np.full((2, 2), 7.5)).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="window must be"):
        to_uint8(ramp, window=(5, 5))
    with pytest.raises(ValueError, match="window must be"):
        to_uint8(ramp, window="auto")


# --------------------------------------------------------------------------- robustness

_MAGIC = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x00\x00\x00\x00",
    b"\xff\xd8\xff",
    b"II*\x00",
    b"MM\x00*",
    b"GIF89a",
    b"BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00",
    bytes(128) + b"DICM",
    b"\x08\x00",  # DICOM without the preamble: group 0008 first ...
    b"\x02\x00\x00\x00UL\x04\x00",  # ... or the file meta
    b"DICM\x02\x00",
    b"NRRD0004\n",
    b"NRRD0004\ntype: uint8\ndimension: 2\nsizes: 4 4\nencoding: raw\n\n",
    struct.pack("<i", 348) + bytes(340) + b"n+1\x00",
]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(magic=st.sampled_from(_MAGIC), tail=st.binary(max_size=600))
def test_random_bytes_raise_only_image_read_error(magic: bytes, tail: bytes) -> None:
    try:
        read_image(magic + tail, max_pixels=100_000)
        read_mask(magic + tail, max_pixels=100_000, allow_empty=True)
    except ImageReadError as exc:
        assert str(exc).startswith("<bytes>: ")
