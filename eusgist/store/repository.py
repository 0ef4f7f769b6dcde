"""The annotation repository: every read and write of the database goes through here.

:class:`AnnotationStore` holds the transactions, annotators and annotations; its images and
case record are in :mod:`eusgist.store.images`, its review, worklists and agreement in
:mod:`eusgist.store.review`.

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

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from eusgist.store import db
from eusgist.store.images import ImagesMixin
from eusgist.store.models import ROLES, Annotation, Annotator, Image, Revision, utcnow
from eusgist.store.readings import decode_reading, encode_reading
from eusgist.store.records import (  # noqa: F401  (ImageInfo: re-exported)
    AnnotationInfo,
    ConflictError,
    ImageInfo,
    NotAllowedError,
    NotFoundError,
    RevisionInfo,
    StoreError,
    decode_mask,
    encode_mask,
)
from eusgist.store.review import (  # noqa: F401  (re-exported)
    Decision,
    MergeMethod,
    ReviewMixin,
    WorklistKind,
)
from eusgist.store.rows import (  # noqa: F401  (MAX_NAME_LENGTH, MaskSource: re-exported)
    MAX_NAME_LENGTH,
    MaskSource,
    annotation_info,
    as_mask,
    check_name,
    revision_info,
)

log = logging.getLogger(__name__)

#: Tools a revision may record.
TOOLS: tuple[str, ...] = ("brush", "polygon", "lasso", "threshold", "import", "merge",
                          "suggestion")
#: Attempts of a transaction that lost a race on a unique key (PostgreSQL get-or-create).
_RETRIES = 5
T = TypeVar("T")


class AnnotationStore(ImagesMixin, ReviewMixin):
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
        name = check_name(name)
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
            found = session.scalar(select(Annotator).where(Annotator.name == check_name(name)))
            return found is not None and found.role == "reviewer"

    def annotators(self) -> dict[str, str]:
        """Name -> role of every annotator."""
        with self._read() as session:
            return {
                a.name: a.role for a in session.scalars(select(Annotator).order_by(Annotator.name))
            }

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
        array = as_mask(mask)
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
            return revision_info(rev)

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
            return [annotation_info(a) for a in session.scalars(query)]

    def annotations_for(self, image_id: int, viewer: str) -> list[AnnotationInfo]:
        """The image's annotations ``viewer`` may see: all for reviewers, else only their
        own (annotators read blind)."""
        found = self.annotations(image_id)
        if self.is_reviewer(viewer):
            return found
        return [a for a in found if a.owner == check_name(viewer)]

    def get_annotation(self, annotation_id: int) -> AnnotationInfo:
        """One annotation."""
        with self._read() as session:
            return annotation_info(self._annotation(session, annotation_id))

    def history(self, annotation_id: int) -> list[RevisionInfo]:
        """Every revision of an annotation, oldest first."""
        with self._read() as session:
            self._annotation(session, annotation_id)
            query = (
                select(Revision)
                .where(Revision.annotation_id == annotation_id)
                .order_by(Revision.number)
            )
            return [revision_info(r) for r in session.scalars(query)]

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
            if old.annotation.owner.name != check_name(annotator):
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
            return revision_info(rev)

        return self._write(work)

    def submit(
        self, annotation_id: int, annotator: str, expected_revision: int | None = None
    ) -> AnnotationInfo:
        """Mark the caller's own annotation as submitted for review."""

        def work(session: Session) -> AnnotationInfo:
            ann = self._annotation(session, annotation_id)
            if ann.owner.name != check_name(annotator):
                raise NotAllowedError(
                    f"annotation {annotation_id} belongs to {ann.owner.name}, not {annotator}"
                )
            self._check_expected(ann, expected_revision)
            ann.status, ann.updated_at = "submitted", utcnow()
            return annotation_info(ann)

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
