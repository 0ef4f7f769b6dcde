"""The annotation repository: every read and write of the database goes through here.

Rules the methods enforce:

- Annotators are identified by name. Each annotator has at most one annotation per image;
  a save always goes to the caller's own annotation (created on first save), so nobody
  can modify another annotator's work.
- Blind reading (:mod:`eusgist.store.readings`): each revision carries its annotator's own
  reading; the case record (pathology label, age, sex, agreed description) is written by
  reviewers only, and :meth:`AnnotationStore.image_for` and
  :meth:`AnnotationStore.annotations_for` show an annotator who is not a reviewer neither
  the case record nor anyone else's annotations.
- Every save appends a revision; nothing is overwritten or deleted. ``restore`` appends a
  copy of an old revision (mask and reading), keeping the annotation submitted for review
  unless it was a draft. A save with a stale ``expected_revision`` raises
  :class:`ConflictError` and changes nothing.
- Only reviewers accept, reject or merge; accepting one annotation of an image demotes any
  other accepted one of that image to submitted, so an image has at most one accepted ROI.
- A save is one transaction: a bad input or a crash leaves the previous state intact.
- The database's own failures (disk full, read-only, unreachable) raise a
  :class:`StorageError` naming the database and the cause, never a raw driver error.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import combinations
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
from sqlalchemy import Engine, exists, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from eusgist.io import LoadedImage, read_image, read_mask
from eusgist.store import db
from eusgist.store.deid import RASTER_FORMATS, Redaction, deidentify, redact_raster
from eusgist.store.metadata import METADATA_FIELDS, validate_metadata
from eusgist.store.models import (
    LABELS,
    ROLES,
    Annotation,
    Annotator,
    Image,
    ImageFile,
    Lesion,
    Patient,
    Revision,
    Setting,
    utcnow,
)
from eusgist.store.readings import blind_image, decode_reading, encode_reading
from eusgist.store.records import (
    AddedImage,
    Agreement,
    AnnotationInfo,
    ConflictError,
    ImageInfo,
    NotAllowedError,
    NotFoundError,
    RevisionInfo,
    StoreError,
    WorklistItem,
    as_utc,
    decode_mask,
    encode_mask,
)

log = logging.getLogger(__name__)

#: Tools a revision may record.
TOOLS: tuple[str, ...] = ("brush", "polygon", "lasso", "threshold", "import", "merge")
MAX_NAME_LENGTH = 64
#: Attempts of a transaction that lost a race on a unique key (PostgreSQL get-or-create).
_RETRIES = 5
#: What only reviewers may do to the case record (said when an annotator is refused).
_CASE_ACTION = "record the pathology result and the case record (age, sex, description)"

WorklistKind = Literal["todo", "unannotated", "mine", "needs_review"]
Decision = Literal["accept", "reject"]
MergeMethod = Literal["majority", "union", "intersection"]
MaskSource = np.ndarray | bytes | str | Path
T = TypeVar("T")


def _check_name(name: str, what: str = "annotator") -> str:
    name = str(name).strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise StoreError(f"{what} name {name!r} must be 1-{MAX_NAME_LENGTH} printable characters")
    return name


def _as_mask(mask: MaskSource) -> np.ndarray:
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


def _image_info(image: Image) -> ImageInfo:
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


def _annotation_info(ann: Annotation) -> AnnotationInfo:
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


def _revision_info(rev: Revision) -> RevisionInfo:
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


class AnnotationStore:
    """Repository over one database; safe to share between threads and processes.

    Open one with :func:`open_store`. Methods return plain frozen dataclasses, never ORM
    objects, and raise :class:`StoreError` subclasses (``ValueError``) on bad requests.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._salt: str | None = None

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def _storage_error(self, exc: DBAPIError, *, writing: bool) -> None:
        """Raise the clear :class:`StorageError` for a failure of the database itself."""
        clear = db.storage_error(exc, self.url, writing=writing)
        if clear is not None:
            log.warning("%s", clear)
            raise clear from exc

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except DBAPIError as exc:
            self._storage_error(exc, writing=False)
            raise

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction, retrying when a concurrent insert of the same
        unique key won (the retry then finds the other row). A failure of the database
        (full, read-only, ...) rolls the transaction back and raises :class:`StorageError`."""
        for attempt in range(1, _RETRIES + 1):
            try:
                with self._sessions.begin() as session:
                    return work(session)
            except IntegrityError:
                if attempt == _RETRIES:
                    raise
                log.debug("unique-key race, retrying (attempt %d)", attempt)
            except DBAPIError as exc:
                self._storage_error(exc, writing=True)
                raise
        raise AssertionError("unreachable")

    # -- annotators ---------------------------------------------------------------------

    @staticmethod
    def _annotator(session: Session, name: str, *, create: bool = True) -> Annotator:
        name = _check_name(name)
        found = session.scalar(select(Annotator).where(Annotator.name == name))
        if found is None:
            if not create:
                raise NotFoundError(f"unknown annotator {name!r}")
            found = Annotator(name=name, role="annotator")
            session.add(found)
            session.flush()
        return found

    def add_annotator(self, name: str, role: str = "annotator") -> None:
        """Register ``name`` (or change its role); role is annotator or reviewer."""
        if role not in ROLES:
            raise StoreError(f"unknown role {role!r}; expected one of {list(ROLES)}")

        def work(session: Session) -> None:
            self._annotator(session, name).role = role

        self._write(work)

    def is_reviewer(self, name: str) -> bool:
        """Whether ``name`` is a registered reviewer."""
        with self._read() as session:
            found = session.scalar(select(Annotator).where(Annotator.name == _check_name(name)))
            return found is not None and found.role == "reviewer"

    def annotators(self) -> dict[str, str]:
        """Name -> role of every annotator."""
        with self._read() as session:
            return {
                a.name: a.role for a in session.scalars(select(Annotator).order_by(Annotator.name))
            }

    # -- images ---------------------------------------------------------------------------

    def _pseudonym_salt(self) -> str:
        if self._salt is None:
            with self._read() as session:
                setting = session.get(Setting, "pseudonym_salt")
                if setting is None:
                    raise StoreError(
                        f"{self.url}: database has no pseudonym salt; was it migrated?"
                    )
                self._salt = setting.value
        return self._salt

    def _find_duplicate(self, session: Session, source_sha256: str) -> Image | None:
        return session.scalar(select(Image).where(Image.source_sha256 == source_sha256))

    def add_image(
        self,
        data: bytes,
        *,
        name: str = "<upload>",
        patient: str | None = None,
        lesion: str | None = None,
        source: str = "upload",
        annotator: str | None = None,
        redaction: Redaction | None = None,
        max_pixels: int | None = None,
    ) -> AddedImage:
        """Store an image (deduplicated by the hash of ``data``).

        DICOM is de-identified (:func:`eusgist.store.deid.deidentify`) before anything is
        stored; its file name is replaced and ``source`` cut to its kind (the part before
        the first ``:``), since paths often carry the patient's name.
        Without ``patient``/``lesion`` codes the image gets its own: a DICOM pseudonym of
        the Patient ID, else one derived from the content hash.

        Raises
        ------
        eusgist.io.ImageReadError
            When ``data`` is not a readable 2D image.
        StoreError
            For a redaction of a volume (NIfTI/NRRD) or bad codes.
        """
        source_sha = hashlib.sha256(data).hexdigest()
        with self._read() as session:
            existing = self._find_duplicate(session, source_sha)
            if existing is not None:
                return AddedImage(_image_info(existing), created=False)
        loaded = read_image(data, name=name, max_pixels=max_pixels)
        stored, age, sex, deidentified, blanked = data, None, None, False, False
        if loaded.meta["format"] == "dicom":
            result = deidentify(
                data,
                salt=self._pseudonym_salt(),
                study_code=patient,
                redaction=redaction,
                name=name,
            )
            stored, patient, age, sex, deidentified = (
                result.data,
                result.study_code,
                result.age,
                result.sex,
                True,
            )
            blanked = bool(result.blanked)
            name, source = f"{patient}-{source_sha[:8]}.dcm", source.split(":", 1)[0]
            loaded = read_image(stored, name=name, max_pixels=max_pixels)
        elif redaction and loaded.meta["format"] in RASTER_FORMATS:
            redacted = redact_raster(data, redaction, name=name)
            stored, blanked = redacted.data, bool(redacted.blanked)
            if blanked:
                loaded = read_image(stored, name=name, max_pixels=max_pixels)
        elif redaction:
            raise StoreError(f"{name}: redaction of burned-in text is supported for DICOM "
                             "and 2D raster images (PNG, JPEG, BMP, TIFF, GIF) only")
        if loaded.is_volume:
            raise StoreError(f"{name}: volumes are not supported; import 2D images")
        patient = _check_name(patient or f"P-{source_sha[:12]}", "patient")
        lesion = _check_name(lesion or f"L-{source_sha[:12]}", "lesion")
        height, width = loaded.shape
        spacing = loaded.spacing

        def work(session: Session) -> AddedImage:
            existing = self._find_duplicate(session, source_sha)
            if existing is not None:
                return AddedImage(_image_info(existing), created=False)
            pat = session.scalar(select(Patient).where(Patient.code == patient))
            if pat is None:
                pat = Patient(code=patient, age=age, sex=sex)
                session.add(pat)
                session.flush()
            les = session.scalar(
                select(Lesion).where(Lesion.patient_id == pat.id, Lesion.code == lesion)
            )
            if les is None:
                les = Lesion(patient=pat, code=lesion, pathology_confirmed=False)
                session.add(les)
            importer = self._annotator(session, annotator) if annotator else None
            image = Image(
                lesion=les,
                file=ImageFile(data=stored),
                source_sha256=source_sha,
                sha256=hashlib.sha256(stored).hexdigest(),
                name=name[:255],
                format=str(loaded.meta["format"]),
                n_bytes=len(stored),
                height=height,
                width=width,
                spacing_y_mm=spacing[0] if spacing else None,
                spacing_x_mm=spacing[1] if spacing else None,
                source=source[:255],
                deidentified=deidentified,
                redacted=blanked,
                imported_by_id=importer.id if importer else None,
            )
            session.add(image)
            session.flush()
            log.info(
                "stored image %d %s (%d×%d, %s)", image.id, image.name, width, height, image.format
            )
            return AddedImage(_image_info(image), created=True)

        return self._write(work)

    @staticmethod
    def _image(session: Session, image_id: int) -> Image:
        image = session.get(Image, image_id)
        if image is None:
            raise NotFoundError(f"unknown image id {image_id}")
        return image

    def get_image(self, image_id: int) -> ImageInfo:
        """One image's description."""
        with self._read() as session:
            return _image_info(self._image(session, image_id))

    def image_for(self, image_id: int, viewer: str) -> ImageInfo:
        """The image as ``viewer`` may see it: everything for reviewers; without the case
        record (label, pathology confirmation, metadata) for annotators, who read blind."""
        info = self.get_image(image_id)
        return info if self.is_reviewer(viewer) else blind_image(info)

    def list_images(self) -> list[ImageInfo]:
        """Every image, oldest first."""
        with self._read() as session:
            return [_image_info(i) for i in session.scalars(select(Image).order_by(Image.id))]

    def image_bytes(self, image_id: int) -> bytes:
        """The stored file (for DICOM: the de-identified file)."""
        with self._read() as session:
            return self._image(session, image_id).file.data

    def load_image(self, image_id: int) -> LoadedImage:
        """The stored image decoded by :func:`eusgist.io.read_image`."""
        with self._read() as session:
            image = self._image(session, image_id)
            data, name = image.file.data, image.name
        return read_image(data, name=name)

    def set_label(
        self, image_id: int, label: str, *, annotator: str, pathology_confirmed: bool = False
    ) -> ImageInfo:
        """Record the pathology result of the image's lesion (GIST / leiomyoma / other) in
        the case record; reviewers only (annotators give their own impression with their
        annotation's reading)."""
        if label not in LABELS:
            raise StoreError(f"unknown label {label!r}; expected one of {list(LABELS)}")

        def work(session: Session) -> ImageInfo:
            who = self._reviewer(session, annotator, _CASE_ACTION)
            image = self._image(session, image_id)
            lesion = image.lesion
            lesion.label, lesion.pathology_confirmed = label, bool(pathology_confirmed)
            lesion.labelled_by_id = who.id
            lesion.labelled_at = utcnow()
            return _image_info(image)

        return self._write(work)

    def set_metadata(
        self, image_id: int, values: Mapping[str, object], *, annotator: str
    ) -> ImageInfo:
        """Set the case record's lesion/patient metadata of the image (fields:
        :data:`METADATA_FIELDS`); reviewers only."""
        clean = validate_metadata(values)

        def work(session: Session) -> ImageInfo:
            self._reviewer(session, annotator, _CASE_ACTION)
            image = self._image(session, image_id)
            for name, value in clean.items():
                owner = (
                    image.lesion.patient
                    if METADATA_FIELDS[name].level == "patient"
                    else image.lesion
                )
                setattr(owner, name, value)
            return _image_info(image)

        return self._write(work)

    # -- annotations ----------------------------------------------------------------------

    def _append(
        self,
        session: Session,
        image: Image,
        owner: Annotator,
        mask_png: bytes,
        area: int,
        *,
        tool: str,
        expected_revision: int | None,
        status: str | None,
        restored_from: int | None = None,
        note: str | None = None,
        reading: str | None = None,
    ) -> Revision:
        """Append a revision to ``owner``'s annotation of ``image`` (created if needed).

        ``status`` None keeps the annotation submitted for review unless it is a draft
        (or new); ``reading`` None carries the previous revision's reading over."""
        ann = session.scalar(
            select(Annotation)
            .where(Annotation.image_id == image.id, Annotation.owner_id == owner.id)
            .with_for_update()
        )
        current = 0 if ann is None else ann.revision
        if expected_revision is not None and expected_revision != current:
            raise ConflictError(
                f"{owner.name}'s annotation of image {image.id} is at revision {current}, "
                f"not {expected_revision}: someone saved meanwhile; reload it "
                "(nothing was overwritten)"
            )
        now = utcnow()
        if status is None:
            status = "draft" if ann is None or ann.status == "draft" else "submitted"
        if reading is None and ann is not None and current:
            reading = self._revision(session, ann.id, current).reading
        if ann is None:
            ann = Annotation(image_id=image.id, owner=owner, revision=0, created_at=now)
            session.add(ann)
        ann.revision = current + 1
        ann.status, ann.updated_at = status, now
        ann.reviewed_by_id = ann.reviewed_at = ann.review_note = None
        rev = Revision(
            annotation=ann,
            number=ann.revision,
            mask_png=mask_png,
            area=area,
            tool=tool,
            author=owner,
            restored_from=restored_from,
            note=note,
            reading=reading,
            created_at=now,
        )
        session.add(rev)
        session.flush()
        return rev

    @staticmethod
    def _check_size(image: Image, shape: tuple[int, ...]) -> None:
        if shape != (image.height, image.width):
            raise StoreError(
                f"mask size {shape[1]}×{shape[0]} does not match image {image.id} "
                f"({image.width}×{image.height}); nothing was saved"
            )

    def save_annotation(
        self,
        image_id: int,
        annotator: str,
        mask: MaskSource,
        tool: str,
        expected_revision: int | None = None,
        *,
        submit: bool = False,
        note: str | None = None,
        reading: Mapping[str, object] | None = None,
    ) -> RevisionInfo:
        """Save ``mask`` as a new revision of ``annotator``'s annotation of the image.

        Parameters
        ----------
        mask : array (H, W) or a mask file (path or bytes)
            Non-zero = lesion; must match the image size and not be empty.
        tool : str
            One of :data:`TOOLS`.
        expected_revision : int, optional
            The revision the edit started from (0 for a new annotation); when given and
            no longer the latest, :class:`ConflictError` is raised and nothing is saved.
        submit : bool
            Mark the annotation submitted for review (else it is a draft). Any earlier
            review no longer applies to the new revision and is cleared.
        reading : mapping, optional
            The annotator's own reading (:data:`~eusgist.store.readings.READER_FIELDS`);
            None keeps the previous revision's.
        """
        if tool not in TOOLS:
            raise StoreError(f"unknown tool {tool!r}; expected one of {list(TOOLS)}")
        stored_reading = None if reading is None else encode_reading(reading)
        array = _as_mask(mask)
        mask_png, area = encode_mask(array), int(array.sum())

        def work(session: Session) -> RevisionInfo:
            image = self._image(session, image_id)
            self._check_size(image, array.shape)
            owner = self._annotator(session, annotator)
            rev = self._append(
                session,
                image,
                owner,
                mask_png,
                area,
                tool=tool,
                expected_revision=expected_revision,
                status="submitted" if submit else "draft",
                note=note,
                reading=stored_reading,
            )
            return _revision_info(rev)

        return self._write(work)

    @staticmethod
    def _annotation(session: Session, annotation_id: int) -> Annotation:
        ann = session.get(Annotation, annotation_id)
        if ann is None:
            raise NotFoundError(f"unknown annotation id {annotation_id}")
        return ann

    def annotations(self, image_id: int) -> list[AnnotationInfo]:
        """All annotations of an image."""
        with self._read() as session:
            self._image(session, image_id)
            query = (
                select(Annotation).where(Annotation.image_id == image_id).order_by(Annotation.id)
            )
            return [_annotation_info(a) for a in session.scalars(query)]

    def annotations_for(self, image_id: int, viewer: str) -> list[AnnotationInfo]:
        """The image's annotations ``viewer`` may see: all for reviewers, else only their
        own (annotators read blind)."""
        found = self.annotations(image_id)
        if self.is_reviewer(viewer):
            return found
        return [a for a in found if a.owner == _check_name(viewer)]

    def get_annotation(self, annotation_id: int) -> AnnotationInfo:
        """One annotation."""
        with self._read() as session:
            return _annotation_info(self._annotation(session, annotation_id))

    def history(self, annotation_id: int) -> list[RevisionInfo]:
        """Every revision of an annotation, oldest first."""
        with self._read() as session:
            self._annotation(session, annotation_id)
            query = (
                select(Revision)
                .where(Revision.annotation_id == annotation_id)
                .order_by(Revision.number)
            )
            return [_revision_info(r) for r in session.scalars(query)]

    def _revision(self, session: Session, annotation_id: int, number: int | None) -> Revision:
        ann = self._annotation(session, annotation_id)
        number = ann.revision if number is None else number
        rev = session.scalar(
            select(Revision).where(
                Revision.annotation_id == annotation_id, Revision.number == number
            )
        )
        if rev is None:
            raise NotFoundError(
                f"annotation {annotation_id} has no revision {number} (latest: {ann.revision})"
            )
        return rev

    def mask_png(self, annotation_id: int, revision: int | None = None) -> bytes:
        """A revision's mask as PNG bytes (0/255); the latest by default."""
        with self._read() as session:
            return self._revision(session, annotation_id, revision).mask_png

    def mask(self, annotation_id: int, revision: int | None = None) -> np.ndarray:
        """A revision's mask as a boolean array; the latest by default."""
        return decode_mask(self.mask_png(annotation_id, revision))

    def reading(self, annotation_id: int, revision: int | None = None) -> dict[str, object]:
        """A revision's reading (:data:`~eusgist.store.readings.READER_FIELDS`); the latest
        by default."""
        with self._read() as session:
            return decode_reading(self._revision(session, annotation_id, revision).reading)

    def restore(
        self,
        annotation_id: int,
        revision: int,
        annotator: str,
        expected_revision: int | None = None,
    ) -> RevisionInfo:
        """Save a copy of an old revision (mask and reading) as the newest revision of
        ``annotator``'s own annotation of that image. The annotation stays submitted for
        review (an accepted or rejected one is submitted again: the review was of another
        revision) unless it was a draft. Restoring someone else's revision forks it, and
        only a reviewer may (annotators work blind to each other's masks)."""

        def work(session: Session) -> RevisionInfo:
            old = self._revision(session, annotation_id, revision)
            if old.annotation.owner.name != _check_name(annotator):
                self._reviewer(session, annotator, "restore another annotator's revision")
            image = old.annotation.image
            rev = self._append(
                session,
                image,
                self._annotator(session, annotator),
                old.mask_png,
                old.area,
                tool=old.tool,
                expected_revision=expected_revision,
                status=None,
                restored_from=old.number,
                note=f"restored from annotation {annotation_id} revision {old.number}",
                reading=old.reading,
            )
            return _revision_info(rev)

        return self._write(work)

    def submit(
        self, annotation_id: int, annotator: str, expected_revision: int | None = None
    ) -> AnnotationInfo:
        """Mark the caller's own annotation as submitted for review."""

        def work(session: Session) -> AnnotationInfo:
            ann = self._annotation(session, annotation_id)
            if ann.owner.name != _check_name(annotator):
                raise NotAllowedError(
                    f"annotation {annotation_id} belongs to {ann.owner.name}, not {annotator}"
                )
            self._check_expected(ann, expected_revision)
            ann.status, ann.updated_at = "submitted", utcnow()
            return _annotation_info(ann)

        return self._write(work)

    @staticmethod
    def _check_expected(ann: Annotation, expected_revision: int | None) -> None:
        if expected_revision is not None and expected_revision != ann.revision:
            raise ConflictError(
                f"annotation {ann.id} is at revision {ann.revision}, "
                f"not {expected_revision}; reload it"
            )

    def _reviewer(
        self, session: Session, name: str, action: str = "accept, reject or merge"
    ) -> Annotator:
        try:
            reviewer = self._annotator(session, name, create=False)
        except NotFoundError:
            reviewer = None
        if reviewer is None or reviewer.role != "reviewer":
            raise NotAllowedError(f"{name} is not a reviewer; only reviewers may {action}")
        return reviewer

    def require_reviewer(self, name: str, action: str) -> None:
        """Raise :class:`NotAllowedError` (saying what was refused: ``action``) unless
        ``name`` is a registered reviewer. Annotators see only their own work."""
        with self._read() as session:
            self._reviewer(session, name, action)

    @staticmethod
    def _demote_accepted(session: Session, image_id: int, keep: int) -> None:
        for other in session.scalars(
            select(Annotation).where(
                Annotation.image_id == image_id,
                Annotation.status == "accepted",
                Annotation.id != keep,
            )
        ):
            other.status = "submitted"

    def review(
        self,
        annotation_id: int,
        reviewer: str,
        decision: Decision,
        *,
        note: str | None = None,
        expected_revision: int | None = None,
    ) -> AnnotationInfo:
        """Accept or reject a submitted annotation (reviewers only).

        ``expected_revision`` guards against reviewing a revision other than the one seen.
        """
        if decision not in ("accept", "reject"):
            raise StoreError(f"unknown review decision {decision!r}; expected 'accept' or 'reject'")

        def work(session: Session) -> AnnotationInfo:
            who = self._reviewer(session, reviewer)
            ann = session.scalar(
                select(Annotation).where(Annotation.id == annotation_id).with_for_update()
            )
            if ann is None:
                raise NotFoundError(f"unknown annotation id {annotation_id}")
            if ann.status == "draft":
                raise StoreError(
                    f"annotation {annotation_id} is a draft; its annotator must submit it first"
                )
            self._check_expected(ann, expected_revision)
            ann.status = "accepted" if decision == "accept" else "rejected"
            ann.reviewed_by, ann.reviewed_at, ann.review_note = who, utcnow(), note
            if decision == "accept":
                self._demote_accepted(session, ann.image_id, ann.id)
            return _annotation_info(ann)

        return self._write(work)

    def merge(
        self,
        image_id: int,
        reviewer: str,
        annotation_ids: Sequence[int] | None = None,
        method: MergeMethod = "majority",
    ) -> RevisionInfo:
        """Combine annotations' latest masks into the reviewer's own annotation, accepted.

        ``annotation_ids`` defaults to every submitted or accepted annotation of the image
        by others (drafts are not finished); ``majority`` keeps pixels marked by more than
        half of them.
        """
        if method not in ("majority", "union", "intersection"):
            raise StoreError(
                f"unknown merge method {method!r}; expected majority, union or intersection"
            )

        def work(session: Session) -> RevisionInfo:
            who = self._reviewer(session, reviewer)
            image = self._image(session, image_id)
            query = select(Annotation).where(
                Annotation.image_id == image_id, Annotation.revision > 0
            )
            if annotation_ids is None:
                query = query.where(Annotation.status.in_(("submitted", "accepted")),
                                    Annotation.owner_id != who.id)
            else:
                query = query.where(Annotation.id.in_(list(annotation_ids)))
            sources = list(session.scalars(query.order_by(Annotation.id)))
            missing = set(annotation_ids or ()) - {a.id for a in sources}
            if missing:
                raise NotFoundError(f"image {image_id} has no annotation(s) {sorted(missing)}")
            if not sources:
                raise StoreError(f"image {image_id} has no annotations to merge")
            masks = np.stack(
                [decode_mask(self._revision(session, a.id, None).mask_png) for a in sources]
            )
            votes = masks.sum(axis=0)
            threshold = {
                "union": 1,
                "intersection": len(sources),
                "majority": len(sources) // 2 + 1,
            }[method]
            merged = votes >= threshold
            if not merged.any():
                raise StoreError(
                    f"the {method} of annotations {[a.id for a in sources]} is empty; "
                    "nothing was saved"
                )
            rev = self._append(
                session,
                image,
                who,
                encode_mask(merged),
                int(merged.sum()),
                tool="merge",
                expected_revision=None,
                status="accepted",
                note=f"{method} of annotations {[a.id for a in sources]}",
            )
            ann = rev.annotation
            ann.reviewed_by, ann.reviewed_at = who, utcnow()
            self._demote_accepted(session, image_id, ann.id)
            return _revision_info(rev)

        return self._write(work)

    # -- worklists, agreement, export selection --------------------------------------------

    def list_worklist(
        self, annotator: str, kind: WorklistKind = "unannotated"
    ) -> list[WorklistItem]:
        """Images to work on, with their patient and lesion codes.

        ``todo``: images the annotator has not annotated yet; ``unannotated``: images nobody
        has annotated; ``mine``: the annotator's own annotations; ``needs_review``:
        submitted annotations by others (reviewers only).
        """
        name = _check_name(annotator)
        with self._read() as session:
            if kind in ("todo", "unannotated"):
                has = exists().where(Annotation.image_id == Image.id)
                if kind == "todo":
                    has = has.where(Annotation.owner_id == Annotator.id, Annotator.name == name)
                images = session.scalars(
                    select(Image).where(~has).order_by(Image.id)
                    .options(joinedload(Image.lesion).joinedload(Lesion.patient)))
                return [WorklistItem(i.id, i.name, patient=i.lesion.patient.code,
                                     lesion=i.lesion.code) for i in images]
            query = select(Annotation).join(Annotation.owner).join(Annotation.image)
            if kind == "mine":
                query = query.where(Annotator.name == name)
            elif kind == "needs_review":
                self._reviewer(session, name, "see the annotations others submitted")
                query = query.where(Annotation.status == "submitted", Annotator.name != name)
            else:
                raise StoreError(
                    f"unknown worklist {kind!r}; expected todo, unannotated, mine or needs_review"
                )
            return [
                WorklistItem(
                    a.image_id,
                    a.image.name,
                    a.id,
                    a.owner.name,
                    a.status,
                    a.revision,
                    as_utc(a.updated_at),
                    a.image.lesion.patient.code,
                    a.image.lesion.code,
                )
                for a in session.scalars(query.order_by(Annotation.image_id, Annotation.id))
            ]

    def agreement(self, image_id: int) -> list[Agreement]:
        """Dice and IoU between every pair of annotators' latest masks (rejected ones left out)."""
        with self._read() as session:
            self._image(session, image_id)
            query = select(Annotation).where(
                Annotation.image_id == image_id,
                Annotation.status != "rejected",
                Annotation.revision > 0,
            )
            masks = {
                a.owner.name: decode_mask(self._revision(session, a.id, None).mask_png)
                for a in session.scalars(query.order_by(Annotation.id))
            }
        result = []
        for (a, ma), (b, mb) in combinations(masks.items(), 2):
            inter, total, union = np.sum(ma & mb), ma.sum() + mb.sum(), np.sum(ma | mb)
            result.append(Agreement(a, b, float(2 * inter / total), float(inter / union)))
        return result

    def chosen_annotations(
        self, *, include_drafts: bool = False
    ) -> list[tuple[ImageInfo, AnnotationInfo]]:
        """Per image, the annotation to export: the accepted one, else the most recently
        updated submitted one, else (with ``include_drafts``) the latest draft."""
        rank = {"accepted": 0, "submitted": 1} | ({"draft": 2} if include_drafts else {})
        with self._read() as session:
            query = select(Annotation).where(
                Annotation.status.in_(list(rank)), Annotation.revision > 0
            )
            best: dict[int, Annotation] = {}
            for ann in session.scalars(query):
                key = (rank[ann.status], -as_utc(ann.updated_at).timestamp(), -ann.id)
                held = best.get(ann.image_id)
                if held is None or key < (
                    rank[held.status],
                    -as_utc(held.updated_at).timestamp(),
                    -held.id,
                ):
                    best[ann.image_id] = ann
            return [(_image_info(best[i].image), _annotation_info(best[i])) for i in sorted(best)]


def open_store(url: str | None = None, *, migrate: bool = True) -> AnnotationStore:
    """Open (and by default create or upgrade) the annotation database at ``url``.

    ``url`` defaults to :func:`eusgist.store.db.default_database_url`.
    """
    engine = db.make_engine(url or db.default_database_url())
    if migrate:
        try:
            db.migrate(engine)
        except DBAPIError as exc:
            engine.dispose()
            clear = db.storage_error(exc, engine.url.render_as_string(hide_password=True),
                                     writing=True)
            if clear is None:
                raise
            raise clear from exc
    return AnnotationStore(engine)
