"""ORM rows as the repository's records, and the name and mask checks its parts share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eusgist.io import read_mask
from eusgist.store.metadata import METADATA_FIELDS
from eusgist.store.models import Annotation, Image, Revision
from eusgist.store.readings import decode_reading
from eusgist.store.records import (
    AnnotationInfo,
    ImageInfo,
    RevisionInfo,
    StoreError,
    as_utc,
)

MAX_NAME_LENGTH = 64
MaskSource = np.ndarray | bytes | str | Path


def check_name(name: str, what: str = "annotator") -> str:
    name = str(name).strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise StoreError(f"{what} name {name!r} must be 1-{MAX_NAME_LENGTH} printable characters")
    return name


def as_mask(mask: MaskSource) -> np.ndarray:
    if not isinstance(mask, np.ndarray):
        return read_mask(mask)
    if mask.ndim != 2 or 0 in mask.shape:
        raise StoreError(f"mask must be a 2D array, got shape {mask.shape}")
    if mask.dtype.kind not in "biuf" or (mask.dtype.kind == "f" and not np.isfinite(mask).all()):
        raise StoreError(f"mask must be boolean or finite numbers, got dtype {mask.dtype}")
    out = mask != 0
    if not out.any():
        raise StoreError("mask is empty (no lesion pixel); nothing was saved")
    return out


def image_info(image: Image) -> ImageInfo:
    lesion, patient = image.lesion, image.lesion.patient
    metadata = {
        name: getattr(patient if field.level == "patient" else lesion, name)
        for name, field in METADATA_FIELDS.items()
    }
    spacing = (
        (image.spacing_y_mm, image.spacing_x_mm)
        if image.spacing_y_mm is not None and image.spacing_x_mm is not None
        else None
    )
    return ImageInfo(
        id=image.id,
        name=image.name,
        format=image.format,
        width=image.width,
        height=image.height,
        spacing=spacing,
        sha256=image.sha256,
        source=image.source,
        patient=patient.code,
        lesion=lesion.code,
        label=lesion.label,
        pathology_confirmed=lesion.pathology_confirmed,
        metadata=metadata,
        created_at=as_utc(image.created_at),
    )


def annotation_info(ann: Annotation) -> AnnotationInfo:
    return AnnotationInfo(
        id=ann.id,
        image_id=ann.image_id,
        owner=ann.owner.name,
        status=ann.status,
        revision=ann.revision,
        updated_at=as_utc(ann.updated_at),
        reviewed_by=ann.reviewed_by.name if ann.reviewed_by else None,
        review_note=ann.review_note,
    )


def revision_info(rev: Revision) -> RevisionInfo:
    return RevisionInfo(
        annotation_id=rev.annotation_id,
        image_id=rev.annotation.image_id,
        owner=rev.annotation.owner.name,
        number=rev.number,
        tool=rev.tool,
        author=rev.author.name,
        area=rev.area,
        restored_from=rev.restored_from,
        note=rev.note,
        created_at=as_utc(rev.created_at),
        reading=decode_reading(rev.reading),
    )
