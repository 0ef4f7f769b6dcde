"""ORM models of the annotation database (SQLAlchemy 2, typed declarative mapping).

Layout: a :class:`Patient` has :class:`Lesion` s, a lesion has :class:`Image` s; an image has
one :class:`Annotation` per annotator, and every save of an annotation's ROI is a new
:class:`Revision` (history is append-only) carrying the annotator's own reading. The lesion
carries the case record: the pathology label (GIST / leiomyoma / other) and the agreed
guo2024 Table 1 metadata; the patient carries age and sex (see
:mod:`eusgist.store.readings` for who sees what).

Original files are kept as bytes in the database (:class:`ImageFile`), not in a folder beside
it: one file (or one PostgreSQL database) holds everything, a save is one transaction, and a
Hugging Face Space or a PostgreSQL server needs no shared file system.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

UTC = timezone.utc  # datetime.UTC needs Python 3.11; the Space runs 3.10

#: Constraint names Alembic can rely on, identical on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LABELS: tuple[str, ...] = ("GIST", "leiomyoma", "other")
ROLES: tuple[str, ...] = ("annotator", "reviewer")
STATUSES: tuple[str, ...] = ("draft", "submitted", "accepted", "rejected")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Setting(Base):
    """Key/value settings of one database (e.g. the pseudonymisation salt)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Annotator(Base):
    """A person who annotates, identified by name; ``role`` is annotator or reviewer."""

    __tablename__ = "annotators"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="annotator")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Patient(Base):
    """A patient, known only by a study code; age (years) and sex are Table 1 fields."""

    __tablename__ = "patients"
    __table_args__ = (CheckConstraint("sex IN ('F', 'M')", name="sex"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    age: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(1))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    lesions: Mapped[list[Lesion]] = relationship(back_populates="patient")


class Lesion(Base):
    """A lesion of a patient: its label (pathology) and its EUS description."""

    __tablename__ = "lesions"
    __table_args__ = (
        UniqueConstraint("patient_id", "code"),
        CheckConstraint(_in("label", LABELS), name="label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(16))
    pathology_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    labelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id"))
    labelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    location: Mapped[str | None] = mapped_column(String(32))
    layer_of_origin: Mapped[str | None] = mapped_column(String(32))
    echo_pattern: Mapped[str | None] = mapped_column(String(32))
    shape: Mapped[str | None] = mapped_column(String(32))
    long_diameter_mm: Mapped[float | None] = mapped_column(Float)
    short_diameter_mm: Mapped[float | None] = mapped_column(Float)
    lobulation: Mapped[bool | None] = mapped_column(Boolean)
    calcification: Mapped[bool | None] = mapped_column(Boolean)
    cystic_areas: Mapped[bool | None] = mapped_column(Boolean)

    patient: Mapped[Patient] = relationship(back_populates="lesions")
    images: Mapped[list[Image]] = relationship(back_populates="lesion")


class ImageFile(Base):
    """The stored bytes of an image (for DICOM: after de-identification)."""

    __tablename__ = "image_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Image(Base):
    """An imported image. ``sha256`` is the hash of the stored bytes, ``source_sha256``
    of the bytes as uploaded (the de-duplication key)."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[int] = mapped_column(ForeignKey("lesions.id"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("image_files.id"), unique=True)
    source_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    n_bytes: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    spacing_y_mm: Mapped[float | None] = mapped_column(Float)
    spacing_x_mm: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(255))
    deidentified: Mapped[bool] = mapped_column(Boolean, default=False)
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    lesion: Mapped[Lesion] = relationship(back_populates="images")
    file: Mapped[ImageFile] = relationship()


class Annotation(Base):
    """One annotator's ROI on one image; ``revision`` is the number of its latest revision."""

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("image_id", "owner_id"),
        CheckConstraint(_in("status", STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)

    image: Mapped[Image] = relationship()
    owner: Mapped[Annotator] = relationship(foreign_keys=[owner_id])
    reviewed_by: Mapped[Annotator | None] = relationship(foreign_keys=[reviewed_by_id])


class Revision(Base):
    """One saved state of an annotation: the mask as a lossless PNG (0/255) and the
    annotator's own reading (JSON, :mod:`eusgist.store.readings`)."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("annotation_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id"))
    number: Mapped[int] = mapped_column(Integer)
    mask_png: Mapped[bytes] = mapped_column(LargeBinary)
    area: Mapped[int] = mapped_column(Integer)
    tool: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"))
    restored_from: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    reading: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    annotation: Mapped[Annotation] = relationship()
    author: Mapped[Annotator] = relationship()
