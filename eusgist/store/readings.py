"""Blind reading: which fields are each reader's own and which are the lesion's truth.

- **Each reader's own reading** (:data:`READER_FIELDS`): the diagnostic impression (GIST /
  leiomyoma / other) and the EUS description of the lesion (guo2024 Table 1: location,
  layer of origin, echo pattern, shape, long and short diameter, lobulation,
  calcification, cystic areas). It is saved with every revision of the reader's own
  annotation, so it is versioned with the mask and never overwrites another reader's.
- **The case record** (lesion- and patient-level truth, :data:`CASE_FIELDS` with the
  label): the pathology result (label and whether pathology confirmed it), the patient's
  age and sex, and the lesion's agreed description. Reviewers enter it (or an import, e.g.
  age and sex from DICOM); annotators neither see nor write it.

An annotator who is not a reviewer sees only the image (with its pseudonymous patient and
lesion codes) and their own annotation and reading: :func:`blind_image` blanks the case
record of an :class:`~eusgist.store.records.ImageInfo`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from eusgist.store.metadata import METADATA_FIELDS, validate_metadata
from eusgist.store.models import LABELS
from eusgist.store.records import ImageInfo, StoreError

#: A reader's own fields, in form order: the impression, then the lesion's EUS description.
READER_FIELDS: tuple[str, ...] = ("diagnosis", *(
    name for name, spec in METADATA_FIELDS.items() if spec.level == "lesion"))
#: Patient facts of the case record (with the lesion's label and pathology confirmation).
CASE_FIELDS: tuple[str, ...] = tuple(
    name for name, spec in METADATA_FIELDS.items() if spec.level == "patient")


def validate_reading(values: Mapping[str, object]) -> dict[str, object]:
    """Check and normalise a reading (:data:`READER_FIELDS`; ``None`` = not given).

    Raises
    ------
    ValueError
        Naming an unknown field or a bad value and what is allowed.
    """
    unknown = sorted(set(values) - set(READER_FIELDS))
    if unknown:
        raise StoreError(f"unknown reading field(s) {unknown}; known: {list(READER_FIELDS)}")
    diagnosis = values.get("diagnosis")
    if diagnosis in ("", None):
        diagnosis = None
    elif diagnosis not in LABELS:
        raise StoreError(f"unknown diagnosis {diagnosis!r}; expected one of {list(LABELS)}")
    clean = validate_metadata({k: v for k, v in values.items() if k != "diagnosis"})
    return {name: diagnosis if name == "diagnosis" else clean.get(name)
            for name in READER_FIELDS}


def encode_reading(values: Mapping[str, object] | None) -> str | None:
    """A validated reading as stored (JSON), or None when nothing was given."""
    clean = validate_reading(values or {})
    given = {k: v for k, v in clean.items() if v is not None}
    return json.dumps(given, sort_keys=True) if given else None


def decode_reading(text: str | None) -> dict[str, object]:
    """A stored reading with every field of :data:`READER_FIELDS` (``None`` = not given)."""
    stored = json.loads(text) if text else {}
    return {name: stored.get(name) for name in READER_FIELDS}


def blind_image(info: ImageInfo) -> ImageInfo:
    """``info`` without the case record (label, pathology confirmation, metadata), as an
    annotator who is not a reviewer sees it."""
    return replace(info, label=None, pathology_confirmed=False,
                   metadata={name: None for name in info.metadata})
