"""DICOM de-identification on pydicom's real example files, alone and through the store."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from _support import random_png
from pydicom import dcmread, examples
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from eusgist.store import AnnotationStore, Redaction, StoreError
from eusgist.store.deid import DEID_ACTIONS, STUDY_CODE_KEYWORDS, deidentify, pseudonym

EXAMPLES = ["ct", "mr", "rgb_color", "palette_color", "jpeg2k", "overlay"]
SALT = "test-salt"


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
    with pytest.raises(StoreError, match="DICOM files only"):
        store.add_image(random_png(9), name="a.png", redaction=Redaction(top=3))
