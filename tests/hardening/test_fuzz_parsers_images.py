"""Property-based fuzzing of the DICOM, NIfTI/NRRD and mask readers (bounded runs).

Valid small files are mutated (bit flips, byte rewrites in the header, truncations, junk
appended); the only allowed outcomes are a valid image/mask or :class:`ImageReadError`.
The raw-bytes fuzz of :func:`read_image` lives in tests/test_io.py.
"""

from __future__ import annotations

import gzip
import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import RLELossless, UltrasoundImageStorage

from eusgist.io import ImageReadError, LoadedImage, read_image, read_mask

pytestmark = pytest.mark.filterwarnings("ignore")
LIMIT = 100_000  # pixels: a mutated size field must be refused, not allocated
FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PIXELS = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 997).astype(np.uint16)


def _dicom(compressed: bool = False) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UltrasoundImageStorage
    ds.Modality = "US"
    ds.PixelSpacing = [0.1, 0.1]
    ds.RescaleSlope, ds.RescaleIntercept = 2, -10
    ds.set_pixel_data(PIXELS, "MONOCHROME2", 16)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if compressed:
        ds.compress(RLELossless)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _nifti(gz: bool) -> bytes:
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 2, 8, 6, 1, 1, 1, 1, 1)
    struct.pack_into("<hh", header, 70, 512, 16)  # uint16
    struct.pack_into("<8f", header, 76, 1, 0.2, 0.2, 1, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)
    header[344:348] = b"n+1\x00"
    data = bytes(header) + PIXELS.astype("<u2").tobytes()
    return gzip.compress(data, mtime=0) if gz else data


def _nrrd() -> bytes:
    return (b"NRRD0004\ntype: uint16\ndimension: 2\nsizes: 8 6\nendian: little\n"
            b"spacings: 0.2 0.2\nencoding: raw\n\n" + PIXELS.astype("<u2").tobytes())


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


MASK = np.zeros((6, 8), np.uint8)
MASK[1:4, 2:6] = 255
SEEDS = {
    "dicom": _dicom(),
    "dicom-rle": _dicom(compressed=True),
    "nifti": _nifti(gz=False),
    "nifti-gz": _nifti(gz=True),
    "nrrd": _nrrd(),
}
MASK_SEEDS = {"png": _png(MASK), "png-rgba": _png(np.dstack([MASK] * 4)),
              "nrrd": _nrrd().split(b"\n\n")[0].replace(b"uint16", b"uint8") + b"\n\n"
              + MASK.tobytes()}


@st.composite
def mutated(draw: st.DrawFn, seeds: dict[str, bytes], header: int) -> bytes:
    """A seed file with a few mutations, mostly within its first `header` bytes."""
    data = bytearray(draw(st.sampled_from(sorted(seeds.items())))[1])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "int", "cut", "append"]))
        where = draw(st.integers(0, max(0, min(header, len(data)) - 1)))
        if kind == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[where] = draw(st.integers(0, 255))
        elif kind == "int" and len(data) >= where + 4:  # a size/offset field set to an extreme
            value = draw(st.sampled_from([0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            data[where:where + 4] = value.to_bytes(4, draw(st.sampled_from(["little", "big"])))
        elif kind == "cut":
            del data[draw(st.integers(0, len(data))):]
        elif kind == "append":
            data += draw(st.binary(max_size=64))
    return bytes(data)


def _check_image(image: LoadedImage) -> None:
    assert image.array.dtype == np.float32 and image.array.ndim == 2
    assert min(image.shape) >= 2 and image.array.size <= LIMIT
    assert np.isfinite(image.array).all()
    if image.spacing is not None:
        assert all(np.isfinite(s) and s > 0 for s in image.spacing)


@FUZZ
@given(data=mutated(SEEDS, header=400))
def test_mutated_dicom_nifti_nrrd_read_or_refuse(data: bytes) -> None:
    try:
        image = read_image(data, name="fuzz", max_pixels=LIMIT)
    except ImageReadError as exc:
        assert str(exc).startswith("fuzz: ")
    else:
        _check_image(image)


@FUZZ
@given(data=mutated(SEEDS, header=4096), frame=st.integers(-1, 3))
def test_mutated_files_anywhere_with_a_frame_read_or_refuse(data: bytes, frame: int) -> None:
    try:
        image = read_image(data, name="fuzz", frame=frame, max_pixels=LIMIT)
    except ImageReadError as exc:
        assert str(exc).startswith("fuzz: ")
    else:
        _check_image(image)


@FUZZ
@given(data=mutated(MASK_SEEDS, header=200), like=st.sampled_from([None, (6, 8), (8, 6)]))
def test_mutated_masks_read_or_refuse(data: bytes, like: tuple[int, int] | None) -> None:
    try:
        mask = read_mask(data, like=like, name="fuzz", max_pixels=LIMIT)
    except ImageReadError as exc:
        assert str(exc).startswith("fuzz: ")
    else:
        assert mask.dtype == bool and mask.ndim == 2 and mask.any()
        assert like is None or mask.shape == like


def test_seeds_are_valid() -> None:
    for name, data in SEEDS.items():
        _check_image(read_image(data, name=name))
    for data in MASK_SEEDS.values():
        assert read_mask(data, like=(6, 8)).sum() == 12
