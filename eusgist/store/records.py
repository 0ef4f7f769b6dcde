"""What the repository hands out: plain frozen records, its errors (defined in
:mod:`eusgist.errors`), the mask codec."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from PIL import Image as PILImage

from eusgist.errors import (  # noqa: F401  (re-exported: the store's errors)
    ConflictError,
    DatabaseFullError,
    NotAllowedError,
    NotFoundError,
    ReadOnlyDatabaseError,
    StorageError,
    StoreError,
)

UTC = timezone.utc  # datetime.UTC needs Python 3.11; the Space runs 3.10


@dataclass(frozen=True)
class ImageInfo:
    """An image with its patient, lesion, label and metadata (``None`` = not set)."""

    id: int
    name: str
    format: str
    width: int
    height: int
    spacing: tuple[float, float] | None
    sha256: str
    source: str
    patient: str
    lesion: str
    label: str | None
    pathology_confirmed: bool
    metadata: Mapping[str, object]
    created_at: datetime


@dataclass(frozen=True)
class AddedImage:
    """Result of :meth:`AnnotationStore.add_image`; ``created`` is False for a duplicate."""

    image: ImageInfo
    created: bool


@dataclass(frozen=True)
class AnnotationInfo:
    """One annotator's annotation of an image; ``revision`` is its latest revision."""

    id: int
    image_id: int
    owner: str
    status: str
    revision: int
    updated_at: datetime
    reviewed_by: str | None
    review_note: str | None


@dataclass(frozen=True)
class RevisionInfo:
    """One saved revision (without the mask; see :meth:`AnnotationStore.mask`) and the
    annotator's reading with it (:data:`eusgist.store.readings.READER_FIELDS`)."""

    annotation_id: int
    image_id: int
    owner: str
    number: int
    tool: str
    author: str
    area: int
    restored_from: int | None
    note: str | None
    created_at: datetime
    reading: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class WorklistItem:
    """A row of a worklist; the annotation fields are None for images not annotated."""

    image_id: int
    image_name: str
    annotation_id: int | None = None
    owner: str | None = None
    status: str | None = None
    revision: int | None = None
    updated_at: datetime | None = None
    patient: str | None = None
    lesion: str | None = None


@dataclass(frozen=True)
class Agreement:
    """Overlap of two annotators' latest masks of one image."""

    a: str
    b: str
    dice: float
    iou: float


def encode_mask(mask: np.ndarray) -> bytes:
    """A boolean mask as PNG bytes with values 0/255 (lossless)."""
    buf = io.BytesIO()
    PILImage.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def decode_mask(data: bytes) -> np.ndarray:
    """The boolean mask stored by :func:`encode_mask`."""
    with PILImage.open(io.BytesIO(data)) as image:
        return np.asarray(image) > 0


def as_utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC (SQLite hands back naive UTC datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
