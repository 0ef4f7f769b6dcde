"""DICOM de-identification on import (DICOM PS3.15 Annex E, Basic Profile).

Every attribute in :data:`DEID_ACTIONS` is handled with its Basic Profile action code, at any
depth of nested sequences:

- ``X`` remove;
- ``Z`` replace by a zero-length value, except Patient's Name and Patient ID, which get the
  study code (a "dummy value consistent with the VR", as Z allows);
- ``U`` replace the UID by a new one derived from the old one and a per-database secret salt,
  so the files of one study still share their Study/Series UIDs after import.

Also removed: the 128-byte preamble's content (zeroed), all private attributes, and overlay
(60xx) and curve (50xx) groups, which can carry burned-in text and drawings. The result
says so in Patient Identity Removed (YES), De-identification Method and its Code Sequence
(DCM 113100). Age and sex are read first (age from Patient's Age, else birth date and study
date) so they can be kept as coded metadata. A DICOM without the 128-byte preamble is read
when it parses as DICOM (:func:`eusgist.io._dicom.parse_headerless`) and stored with one.

Burned-in text in the pixels: :class:`Redaction` blanks (sets to 0, black) given rectangles,
a top band and, with ``text=True``, the text that :mod:`eusgist.store.burned_text` detects
(names, IDs, dates, hospital and scanner settings), in every frame; the file is then stored
uncompressed. An import detects text by default (``redact="auto"``, :func:`import_redaction`):
in every DICOM (ultrasound or not: screen captures carry text too) and in PNG, JPEG, BMP, TIFF
and GIF images (:func:`redact_raster`; a redacted image is stored as PNG). ``redact="none"``
turns detection off (given rectangles and the top band still apply). NIfTI/NRRD volumes are
research data without screen text and are not searched. :func:`preview_redaction` shows what
an import would blank, so a person can check it and override it (turn detection off, give
rectangles) before importing. Detection can miss text (very large or faint lettering) and
can blank a little tissue (caliper labels next to a lesion): check the preview.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut
from pydicom.uid import generate_uid

from eusgist.errors import EusgistError
from eusgist.io import parse_dicom, read_pixels
from eusgist.io.sniff import sniff_format
from eusgist.store.burned_text import (  # noqa: F401  (find_text_boxes re-exported)
    Box,
    as_rgb8,
    find_text_boxes,
    find_text_boxes_in_frames,
    frame_picks,
    preview_text_boxes,
    redact,
)

log = logging.getLogger(__name__)

#: Attribute keyword -> PS3.15 Table E.1-1 Basic Profile action applied on import.
DEID_ACTIONS: dict[str, str] = {
    "AccessionNumber": "Z",
    "AcquisitionDate": "X",
    "AcquisitionDateTime": "X",
    "AcquisitionTime": "X",
    "AdditionalPatientHistory": "X",
    "AdmissionID": "X",
    "AdmittingDiagnosesDescription": "X",
    "Allergies": "X",
    "BranchOfService": "X",
    "ContentCreatorName": "Z",
    "ContentDate": "Z",
    "ContentTime": "Z",
    "CountryOfResidence": "X",
    "CurrentPatientLocation": "X",
    "DerivationDescription": "X",
    "DeviceSerialNumber": "X",
    "EthnicGroup": "X",
    "FrameOfReferenceUID": "U",
    "ImageComments": "X",
    "InstanceCreatorUID": "U",
    "InstitutionAddress": "X",
    "InstitutionName": "X",
    "InstitutionalDepartmentName": "X",
    "IssuerOfPatientID": "X",
    "MedicalAlerts": "X",
    "MedicalRecordLocator": "X",
    "MilitaryRank": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "Occupation": "X",
    "OperatorsName": "X",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "PatientAddress": "X",
    "PatientAge": "X",
    "PatientBirthDate": "Z",
    "PatientBirthName": "X",
    "PatientBirthTime": "X",
    "PatientComments": "X",
    "PatientID": "Z",
    "PatientMotherBirthName": "X",
    "PatientName": "Z",
    "PatientReligiousPreference": "X",
    "PatientSex": "Z",
    "PatientSize": "X",
    "PatientTelephoneNumbers": "X",
    "PatientWeight": "X",
    "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepID": "X",
    "PerformedProcedureStepStartDate": "X",
    "PerformedProcedureStepStartTime": "X",
    "PerformingPhysicianName": "X",
    "PhysiciansOfRecord": "X",
    "ProtocolName": "X",
    "ReferencedImageSequence": "X",
    "ReferencedPatientSequence": "X",
    "ReferencedPerformedProcedureStepSequence": "X",
    "ReferencedSOPInstanceUID": "U",
    "ReferencedStudySequence": "X",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianTelephoneNumbers": "X",
    "RequestAttributesSequence": "X",
    "RequestingPhysician": "X",
    "SeriesDate": "X",
    "SeriesDescription": "X",
    "SeriesInstanceUID": "U",
    "SeriesTime": "X",
    "SOPInstanceUID": "U",
    "SourceImageSequence": "X",
    "StationName": "X",
    "StudyDate": "Z",
    "StudyDescription": "X",
    "StudyID": "Z",
    "StudyInstanceUID": "U",
    "StudyTime": "Z",
}
#: Attributes that receive the study code instead of an empty value.
STUDY_CODE_KEYWORDS: tuple[str, ...] = ("PatientName", "PatientID")
DEID_METHOD = "DICOM PS3.15 Basic Profile (eusgist import)"
#: Values of an import's ``redact`` option: detect burned-in text and blank it, or do not.
REDACT_MODES: tuple[str, ...] = ("auto", "none")
#: Formats whose burned-in text an import blanks itself (the store redacts only DICOM).
RASTER_FORMATS = frozenset({"png", "jpeg", "bmp", "tiff", "gif"})
#: Pillow modes a redacted raster image is stored in as PNG (others, 32-bit and float, TIFF).
_PNG_MODES = frozenset({"L", "LA", "RGB", "RGBA", "I;16"})


@dataclass(frozen=True)
class Redaction:
    """Pixel regions blanked (set to 0) in every frame.

    ``regions`` are ``(x0, y0, x1, y1)`` rectangles in pixels, end-exclusive; ``top`` is the
    height in pixels of a band at the top of the image (where scanners print names);
    ``text`` also blanks the burned-in text found by :func:`find_text_boxes`.
    """

    regions: tuple[tuple[int, int, int, int], ...] = ()
    top: int = 0
    text: bool = False

    def __post_init__(self) -> None:
        if self.top < 0:
            raise EusgistError(f"redaction top band {self.top} must be >= 0")
        for x0, y0, x1, y1 in self.regions:
            if min(x0, y0) < 0 or x1 <= x0 or y1 <= y0:
                raise EusgistError(
                    f"redaction rectangle {(x0, y0, x1, y1)} is not x0,y0,x1,y1 with x0<x1, y0<y1"
                )

    def __bool__(self) -> bool:
        return bool(self.regions) or self.top > 0 or self.text


@dataclass(frozen=True)
class Deidentified:
    """A de-identified DICOM file, what was kept from the identity, coded, and the
    rectangles blanked in its pixels (given, top band and detected text)."""

    data: bytes
    study_code: str
    age: int | None
    sex: str | None
    blanked: tuple[Box, ...] = ()


@dataclass(frozen=True)
class Redacted:
    """An image to store: the original bytes when nothing was blanked, else a PNG (TIFF
    for 32-bit and float pixels) of its first frame with ``blanked`` set to black."""

    data: bytes
    blanked: tuple[Box, ...] = ()


@dataclass(frozen=True)
class RedactionPreview:
    """What an import would blank: the first frame (``(H, W, 3)`` uint8) with the boxes
    outlined in red, the boxes, and the frame's size."""

    image: np.ndarray
    boxes: tuple[Box, ...]
    width: int
    height: int


def import_redaction(redact: str = "auto", redaction: Redaction | None = None) -> Redaction:
    """The redaction an import applies: ``redaction`` (rectangles, top band), with text
    detection added when ``redact`` is ``"auto"``.

    Raises
    ------
    EusgistError
        For a ``redact`` value other than ``"auto"`` or ``"none"``.
    """
    if redact not in REDACT_MODES:
        raise EusgistError(
            f"redact must be one of {', '.join(REDACT_MODES)}, not {redact!r}"
        )
    redaction = redaction or Redaction()
    return replace(redaction, text=True) if redact == "auto" else redaction


def pseudonym(salt: str, value: str, prefix: str = "P-") -> str:
    """A stable study code for ``value`` (keyed hash; not reversible without the salt)."""
    digest = hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"{prefix}{digest[:12]}"


def _age(ds: Dataset) -> int | None:
    text = str(ds.get("PatientAge", "") or "").strip().upper()
    if len(text) == 4 and text[:3].isdigit() and text[3] in "DWMY":
        return int(text[:3]) // {"D": 365, "W": 52, "M": 12, "Y": 1}[text[3]]
    birth, study = str(ds.get("PatientBirthDate", "") or ""), str(ds.get("StudyDate", "") or "")
    try:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        seen = date(int(study[:4]), int(study[4:6]), int(study[6:8]))
    except ValueError:
        return None
    years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return years if 0 <= years <= 120 else None


def _sex(ds: Dataset) -> str | None:
    sex = str(ds.get("PatientSex", "") or "").strip().upper()
    return sex if sex in ("F", "M") else None


def _scrub(ds: Dataset, salt: str, study_code: str) -> None:
    ds.remove_private_tags()
    for elem in list(ds):
        group = elem.tag.group
        if 0x5000 <= group <= 0x501E or 0x6000 <= group <= 0x601E:
            del ds[elem.tag]
            continue
        action = DEID_ACTIONS.get(elem.keyword)
        if action is None:
            if elem.VR == "SQ":
                for item in elem.value:
                    _scrub(item, salt, study_code)
        elif action == "X":
            del ds[elem.tag]
        elif action == "U":
            if elem.value:
                elem.value = _new_uid(salt, str(elem.value))
        elif elem.keyword in STUDY_CODE_KEYWORDS:
            elem.value = study_code
        else:
            elem.value = None


def _new_uid(salt: str, uid: str) -> str:
    return generate_uid(entropy_srcs=[salt, uid])


def _planned_boxes(
    redaction: Redaction, frames: Sequence[np.ndarray], rows: int, cols: int, name: str
) -> list[Box]:
    """The given rectangles, the top band and, with ``redaction.text``, the text found in
    ``frames`` (already the ones to look at)."""
    boxes = list(redaction.regions) + ([(0, 0, cols, redaction.top)] if redaction.top else [])
    for x0, y0, x1, y1 in boxes:
        if x0 >= cols or y0 >= rows:
            raise EusgistError(
                f"{name}: redaction rectangle {(x0, y0, x1, y1)} is outside the {cols}×{rows} image"
            )
    if redaction.text:
        found = find_text_boxes_in_frames(frames)
        log.info("%s: %d burned-in text region(s) found", name, len(found))
        boxes += found
    return boxes


def _dicom_frames(ds: Dataset, pixels: np.ndarray, redaction: Redaction) -> list[np.ndarray]:
    """The frames text is looked for in (palette colours applied), none without ``text``."""
    if not redaction.text:
        return []
    n_frames = int(ds.get("NumberOfFrames") or 1)
    frames = pixels if n_frames > 1 else pixels[None]
    palette = str(ds.get("PhotometricInterpretation", "")) == "PALETTE COLOR"
    return [
        as_rgb8(apply_color_lut(frames[i], ds) if palette else frames[i])
        for i in frame_picks(len(frames))
    ]


def _redact(ds: Dataset, redaction: Redaction, name: str) -> list[Box]:
    try:
        return _blank(ds, redaction, name)
    except (RuntimeError, NotImplementedError, AttributeError) as exc:
        raise EusgistError(f"{name}: cannot redact the pixel data ({exc})") from exc


def _blank(ds: Dataset, redaction: Redaction, name: str) -> list[Box]:
    """Blank the planned boxes in every frame; the pixel data is left as it is (compressed)
    when there are none."""
    pixels = ds.pixel_array
    color = int(ds.get("SamplesPerPixel", 1)) > 1
    frame_axes = pixels[..., 0] if color else pixels
    rows, cols = frame_axes.shape[-2:]
    boxes = _planned_boxes(redaction, _dicom_frames(ds, pixels, redaction), rows, cols, name)
    if not boxes:
        return []
    pixels = pixels.copy()
    for x0, y0, x1, y1 in boxes:
        if color:
            pixels[..., y0:y1, x0:x1, :] = 0
        else:
            pixels[..., y0:y1, x0:x1] = 0
    photometric = str(ds.PhotometricInterpretation)
    if photometric.startswith("YBR"):
        photometric = "RGB"  # pixel_array converted the colour space
    ds.set_pixel_data(np.ascontiguousarray(pixels), photometric, int(ds.BitsStored))
    return boxes


def deidentify(
    data: bytes,
    *,
    salt: str,
    study_code: str | None = None,
    redaction: Redaction | None = None,
    name: str = "<dicom>",
) -> Deidentified:
    """Apply the Basic Profile actions (and an optional pixel redaction) to a DICOM file.

    ``study_code`` replaces Patient's Name and Patient ID; by default it is a pseudonym of
    the Patient ID (or, without one, of the Study Instance UID).

    Raises
    ------
    ValueError
        When the bytes are not DICOM or a redaction rectangle lies outside the image.
    """
    try:
        ds = parse_dicom(data)
    except (InvalidDicomError, EOFError, OSError, ValueError) as exc:
        raise EusgistError(f"{name}: cannot be read as DICOM ({exc})") from exc
    if study_code is None:
        key = str(ds.get("PatientID", "") or "").strip() or str(
            ds.get("StudyInstanceUID", "") or ""
        )
        study_code = pseudonym(salt, key or hashlib.sha256(data).hexdigest())
    age, sex = _age(ds), _sex(ds)
    blanked: list[Box] = []
    if redaction:
        blanked = _redact(ds, redaction, name)
    elif str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        log.warning("%s: DICOM says it has burned-in annotation and no redaction was given", name)
    _scrub(ds, salt, study_code)
    if "SOPInstanceUID" in ds and hasattr(ds, "file_meta"):
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.preamble = b"\0" * 128  # a preamble may hold a TIFF or other data of its own
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEID_METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "113100", "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = [code]
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return Deidentified(out.getvalue(), study_code, age, sex, tuple(blanked))


def _raster_pixels(data: bytes, name: str) -> np.ndarray:
    """Frame 0 of a raster image, ``(H, W, C)``, read with every limit of the readers."""
    pixels, meta = read_pixels(data, name=name)
    if int(meta.get("n_frames", 1)) > 1:
        log.warning("%s: only the first of %s frames is kept when it is redacted",
                    name, meta["n_frames"])
    return pixels


def redact_raster(data: bytes, redaction: Redaction, *, name: str = "<image>") -> Redacted:
    """Blank rectangles, a top band and/or detected text in a PNG, JPEG, BMP, TIFF or GIF.

    Nothing to blank leaves the bytes as they are; else the first frame (EXIF orientation
    applied) is re-encoded losslessly, as PNG (TIFF for 32-bit and float pixels), with the
    boxes black (an alpha channel made opaque there).

    Raises
    ------
    ValueError
        When ``data`` is not a readable image or a rectangle lies outside it.
    """
    pixels = _raster_pixels(data, name)
    rows, cols = pixels.shape[:2]
    boxes = _planned_boxes(redaction, [pixels] if redaction.text else [], rows, cols, name)
    if not boxes:
        return Redacted(data)
    blanked = redact(pixels, boxes)
    picture = Image.fromarray(blanked[..., 0] if blanked.shape[-1] == 1 else blanked)
    out = io.BytesIO()
    picture.save(out, format="PNG" if picture.mode in _PNG_MODES else "TIFF")
    return Redacted(out.getvalue(), tuple(boxes))


def preview_redaction(
    data: bytes, redaction: Redaction = Redaction(text=True), *, name: str = "<image>"
) -> RedactionPreview:
    """What importing ``data`` with ``redaction`` would blank, drawn on its first frame.

    The boxes are the ones the import would blank (the same frames are searched), so a
    person can check them and, if needed, import with ``redact="none"`` and their own
    rectangles instead. NIfTI/NRRD images are shown without detection, as imports skip it.

    Raises
    ------
    ValueError
        When ``data`` is not a readable image or a rectangle lies outside it.
    """
    fmt = sniff_format(data)
    raster = fmt in RASTER_FORMATS
    frame = _raster_pixels(data, name) if raster else read_pixels(data, name=name)[0]
    frames = [frame]
    if fmt in ("nifti", "nrrd"):
        redaction = replace(redaction, text=False)
    elif not raster and redaction.text:  # DICOM, with or without the preamble
        ds = parse_dicom(data)
        frames = _dicom_frames(ds, ds.pixel_array, redaction)
    rows, cols = frame.shape[:2]
    boxes = _planned_boxes(redaction, frames, rows, cols, name)
    return RedactionPreview(preview_text_boxes(frame, boxes), tuple(boxes), cols, rows)


def redaction_boxes(text: Sequence[str]) -> tuple[tuple[int, int, int, int], ...]:
    """Parse ``"x0,y0,x1,y1"`` strings (command line) into rectangles."""
    boxes = []
    for item in text:
        parts = item.split(",")
        try:
            x0, y0, x1, y1 = (int(p) for p in parts)
        except ValueError:
            raise EusgistError(
                f"redaction rectangle {item!r} is not x0,y0,x1,y1 (four integers)"
            ) from None
        boxes.append((x0, y0, x1, y1))
    return tuple(boxes)
