"""DICOM de-identification on pydicom's real example files, alone and through the store."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
import pytest
from _support import random_png
from PIL import Image
from pydicom import dcmread, dcmwrite, examples
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from eusgist.io import read_image
from eusgist.store import AnnotationStore, Redaction
from eusgist.store.deid import (
    DEID_ACTIONS,
    STUDY_CODE_KEYWORDS,
    deidentify,
    import_redaction,
    preview_redaction,
    pseudonym,
    redact_raster,
)

EXAMPLES = ["ct", "mr", "rgb_color", "palette_color", "jpeg2k", "overlay"]
SALT = "test-salt"
#: Burned-in text inside pydicom's real ultrasound examples (x0, y0, x1, y1): the hospital
#: name "BAPTIST MED CTR" of the GE screens (jpeg2k is US1_J2KR) and the Philips date.
BURNED_IN = {
    "jpeg2k": (18, 24, 170, 40),
    "rgb_color": (9, 11, 85, 21),
    "palette_color": (668, 8, 775, 26),
}


def _original(name: str) -> tuple[bytes, Dataset]:
    path = Path(getattr(examples, name).filename)
    data = path.read_bytes()
    return data, dcmread(io.BytesIO(data))


def _all_elements(ds: Dataset) -> list:  # noqa: ANN401
    found = []
    ds.walk(lambda _ds, elem: found.append(elem))
    return found


def test_every_listed_keyword_is_a_dicom_attribute() -> None:
    assert all(tag_for_keyword(k) is not None for k in DEID_ACTIONS)
    assert set(DEID_ACTIONS.values()) <= {"X", "Z", "U"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_basic_profile_actions_are_applied(name: str) -> None:
    data, before = _original(name)
    result = deidentify(data, salt=SALT)
    after = dcmread(io.BytesIO(result.data))
    elements = _all_elements(after)
    keywords = {e.keyword for e in elements}
    removed = {k for k, action in DEID_ACTIONS.items() if action == "X"}
    assert not keywords & removed
    assert not any(e.tag.is_private for e in elements)
    assert not any(
        0x5000 <= e.tag.group <= 0x501E or 0x6000 <= e.tag.group <= 0x601E for e in elements
    )
    for keyword, action in DEID_ACTIONS.items():
        if keyword not in before:
            continue
        if action == "Z":
            expected = result.study_code if keyword in STUDY_CODE_KEYWORDS else ""
            assert str(after[keyword].value or "") == expected, keyword
        elif action == "U":
            assert after[keyword].value != before[keyword].value, keyword
    assert result.data[:132] == b"\0" * 128 + b"DICM"
    assert after.PatientIdentityRemoved == "YES"
    assert after.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
    for keyword in ("PatientName", "PatientBirthDate", "ReferringPhysicianName", "OperatorsName"):
        value = str(before.get(keyword, "") or "")
        if len(value) >= 6:
            assert value.encode() not in result.data, keyword
    assert after.pixel_array.shape == before.pixel_array.shape


def test_nested_sequences_are_scrubbed_too() -> None:
    _, ds = _original("ct")
    item = Dataset()
    item.SeriesInstanceUID = ds.SeriesInstanceUID
    item.OperatorsName = "Nurse^Nested"
    item.add_new(0x00091001, "LO", "private nested")
    ds.ReferencedSeriesSequence = [item]
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    after = dcmread(io.BytesIO(deidentify(buf.getvalue(), salt=SALT).data))
    [nested] = after.ReferencedSeriesSequence
    assert "OperatorsName" not in nested and not any(e.tag.is_private for e in nested)
    assert nested.SeriesInstanceUID == after.SeriesInstanceUID != ds.SeriesInstanceUID


def test_codes_and_uids_are_consistent_within_a_database() -> None:
    rgb, j2k = (deidentify(_original(n)[0], salt=SALT) for n in ("rgb_color", "jpeg2k"))
    before_rgb, before_j2k = _original("rgb_color")[1], _original("jpeg2k")[1]
    assert before_rgb.PatientID == before_j2k.PatientID
    assert rgb.study_code == j2k.study_code == pseudonym(SALT, before_rgb.PatientID)
    assert pseudonym("another-salt", before_rgb.PatientID) != rgb.study_code
    again = deidentify(_original("rgb_color")[0], salt=SALT)
    assert (
        dcmread(io.BytesIO(again.data)).StudyInstanceUID
        == dcmread(io.BytesIO(rgb.data)).StudyInstanceUID
    )


def test_age_and_sex_are_kept_as_coded_metadata() -> None:
    result = deidentify(_original("overlay")[0], salt=SALT)
    assert (result.age, result.sex) == (58, "M")
    assert "PatientAge" not in dcmread(io.BytesIO(result.data))


@pytest.mark.parametrize("name", ["mr", "rgb_color", "jpeg2k"])
def test_redaction_blanks_the_top_band_and_rectangles_only(name: str) -> None:
    data, before = _original(name)
    redaction = Redaction(regions=((10, 20, 30, 25),), top=6)
    after = dcmread(io.BytesIO(deidentify(data, salt=SALT, redaction=redaction).data))
    old, new = before.pixel_array, after.pixel_array
    blanked = np.zeros(old.shape[:2], bool)
    blanked[:6, :] = True
    blanked[20:25, 10:30] = True
    assert not new[blanked].any()
    assert np.array_equal(new[~blanked], old[~blanked])


def test_bad_redactions_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the 64×64 image"):
        deidentify(_original("mr")[0], salt=SALT, redaction=Redaction(regions=((70, 0, 80, 5),)))
    with pytest.raises(ValueError, match="x0<x1"):
        Redaction(regions=((5, 5, 2, 8),))
    with pytest.raises(ValueError, match=">= 0"):
        Redaction(top=-1)


def test_store_import_of_dicom_is_deidentified_and_deduplicated(store: AnnotationStore) -> None:
    data, before = _original("overlay")
    added = store.add_image(
        data, name="Sssssss_Jsssss.dcm", source="file:/scans/Sssssss_Jsssss.dcm"
    )
    info = added.image
    assert added.created and info.format == "dicom"
    assert (
        info.patient.startswith("P-")
        and info.name.startswith(info.patient)
        and info.source == "file"
    )
    assert (info.metadata["age"], info.metadata["sex"]) == (58, "M")
    stored = store.image_bytes(info.id)
    assert str(before.PatientName).encode() not in stored and b"Sssssss" not in stored
    assert dcmread(io.BytesIO(stored)).PatientID == info.patient
    assert store.add_image(data, name="again.dcm").image == info
    png = store.add_image(random_png(9), name="a.png", redaction=Redaction(top=3)).image
    pixels = read_image(store.image_bytes(png.id)).array
    assert (pixels[:3] == 0).all() and pixels[3:].any()  # the band is black, the rest kept


def _mask(shape: tuple[int, ...], boxes: tuple[tuple[int, int, int, int], ...]) -> np.ndarray:
    blanked = np.zeros(shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        blanked[y0:y1, x0:x1] = True
    return blanked


def _headerless(name: str) -> bytes:
    """A pydicom example written as old files are: no preamble, no file meta, implicit VR."""
    ds = copy.deepcopy(getattr(examples, name))
    ds.preamble = None
    del ds.file_meta
    buf = io.BytesIO()
    dcmwrite(buf, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(BURNED_IN))
def test_burned_in_text_of_real_ultrasound_is_found_and_blanked(name: str) -> None:
    data, before = _original(name)
    result = deidentify(data, salt=SALT, redaction=Redaction(text=True), name=name)
    after = dcmread(io.BytesIO(result.data))
    old, new = before.pixel_array, after.pixel_array
    x0, y0, x1, y1 = BURNED_IN[name]
    assert old[y0:y1, x0:x1].any() and not new[y0:y1, x0:x1].any()
    blanked = _mask(old.shape, result.blanked)
    assert blanked[y0:y1, x0:x1].all()
    assert not new[blanked].any()
    np.testing.assert_array_equal(new[~blanked], old[~blanked])
    assert 0.01 < blanked.mean() < 0.2  # text lines, not the image
    rows, cols = blanked.shape
    assert blanked[rows // 3 : rows * 2 // 3, cols // 4 : cols * 3 // 4].mean() < 0.02  # tissue
    assert after.PatientIdentityRemoved == "YES"


def test_text_is_blanked_in_every_frame_of_a_cine() -> None:
    data, before = _original("ybr_color")
    result = deidentify(data, salt=SALT, redaction=Redaction(text=True))
    new = dcmread(io.BytesIO(result.data)).pixel_array
    assert new.shape == before.pixel_array.shape and len(result.blanked) >= 5
    assert not new[:, _mask(new.shape[1:], result.blanked)].any()


def test_an_image_without_text_keeps_its_pixel_data() -> None:
    data, before = _original("ct")
    result = deidentify(data, salt=SALT, redaction=Redaction(text=True))
    after = dcmread(io.BytesIO(result.data))
    assert result.blanked == ()
    assert after.PixelData == before.PixelData
    assert after.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID


def test_preview_shows_what_the_import_blanks() -> None:
    data, before = _original("jpeg2k")
    preview = preview_redaction(data, name="us.dcm")
    assert (preview.width, preview.height) == (640, 480)
    assert preview.image.shape == (480, 640, 3) and preview.image.dtype == np.uint8
    assert preview.boxes == deidentify(data, salt=SALT, redaction=Redaction(text=True)).blanked
    x0, y0, x1, y1 = preview.boxes[0]
    assert tuple(preview.image[y0, (x0 + x1) // 2]) == (255, 40, 40)
    override = Redaction(regions=((0, 0, 10, 10),), top=5)
    assert preview_redaction(data, override).boxes == ((0, 0, 10, 10), (0, 0, 640, 5))
    with pytest.raises(ValueError, match="outside the 640×480 image"):
        preview_redaction(data, Redaction(regions=((700, 0, 710, 5),)))


def test_import_redaction_modes() -> None:
    given = Redaction(regions=((1, 2, 3, 4),), top=2)
    assert import_redaction() == Redaction(text=True)
    assert import_redaction("auto", given) == Redaction(((1, 2, 3, 4),), 2, text=True)
    assert import_redaction("none", given) == given and not import_redaction("none")
    with pytest.raises(ValueError, match="redact must be one of auto, none, not 'always'"):
        import_redaction("always")


def test_dicom_without_preamble_is_deidentified_and_stored_with_one(
    store: AnnotationStore,
) -> None:
    data = _headerless("palette_color")
    assert data[128:132] != b"DICM" and data[:2] == b"\x08\x00"
    result = deidentify(data, salt=SALT, redaction=Redaction(text=True))
    after = dcmread(io.BytesIO(result.data))
    assert result.data[128:132] == b"DICM" and after.PatientIdentityRemoved == "YES"
    x0, y0, x1, y1 = BURNED_IN["palette_color"]
    assert not after.pixel_array[y0:y1, x0:x1].any()
    info = store.add_image(data, name="old.dcm").image
    assert info.format == "dicom" and (info.width, info.height) == (800, 350)
    assert store.image_bytes(info.id)[128:132] == b"DICM"


@pytest.mark.parametrize(
    ("mode", "dtype", "fmt", "stored_as"),
    [
        ("L", np.uint8, "PNG", b"\x89PNG"),
        ("I;16", np.uint16, "PNG", b"\x89PNG"),
        ("RGBA", np.uint8, "PNG", b"\x89PNG"),
        ("RGB", np.uint8, "JPEG", b"\x89PNG"),
        ("F", np.float32, "TIFF", b"II*\x00"),
    ],
)
def test_raster_images_are_redacted_losslessly(
    mode: str, dtype: type, fmt: str, stored_as: bytes
) -> None:
    shape = (40, 60, 4) if mode == "RGBA" else (40, 60, 3) if mode == "RGB" else (40, 60)
    values = np.random.default_rng(1).integers(1, 200, shape).astype(dtype)
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, format=fmt)
    original = buf.getvalue()
    before = read_image(original).array
    result = redact_raster(original, Redaction(regions=((5, 30, 20, 35),), top=3), name="x")
    assert result.data.startswith(stored_as)
    assert result.blanked == ((5, 30, 20, 35), (0, 0, 60, 3))
    after = read_image(result.data).array
    blanked = _mask(after.shape, result.blanked)
    assert not after[blanked].any()
    np.testing.assert_array_equal(after[~blanked], before[~blanked])
    if mode == "RGBA":
        assert (np.asarray(Image.open(io.BytesIO(result.data)))[0, :, 3] == 255).all()
    assert redact_raster(original, Redaction(text=True), name="x").data == original  # no text
    with pytest.raises(ValueError, match="outside the 60×40 image"):
        redact_raster(original, Redaction(regions=((60, 0, 70, 5),)), name="x")
