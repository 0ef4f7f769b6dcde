"""Images and the case record of the annotation repository (a part of
:class:`~eusgist.store.repository.AnnotationStore`, which supplies the transactions and
the annotator look-ups)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from eusgist.io import LoadedImage, read_image
from eusgist.store.deid import RASTER_FORMATS, Redaction, deidentify, redact_raster
from eusgist.store.metadata import METADATA_FIELDS, validate_metadata
from eusgist.store.models import LABELS, Image, ImageFile, Lesion, Patient, Setting, utcnow
from eusgist.store.readings import blind_image
from eusgist.store.records import AddedImage, ImageInfo, NotFoundError, StoreError
from eusgist.store.rows import check_name, image_info

log = logging.getLogger(__name__)

#: What only reviewers may do to the case record (said when an annotator is refused).
CASE_ACTION = "record the pathology result and the case record (age, sex, description)"


class ImagesMixin:
    """Adding and reading images; the case record (label and metadata), reviewers only."""


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
                return AddedImage(image_info(existing), created=False)
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
        patient = check_name(patient or f"P-{source_sha[:12]}", "patient")
        lesion = check_name(lesion or f"L-{source_sha[:12]}", "lesion")
        height, width = loaded.shape
        spacing = loaded.spacing

        def work(session: Session) -> AddedImage:
            existing = self._find_duplicate(session, source_sha)
            if existing is not None:
                return AddedImage(image_info(existing), created=False)
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
            return AddedImage(image_info(image), created=True)

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
            return image_info(self._image(session, image_id))

    def image_for(self, image_id: int, viewer: str) -> ImageInfo:
        """The image as ``viewer`` may see it: everything for reviewers; without the case
        record (label, pathology confirmation, metadata) for annotators, who read blind."""
        info = self.get_image(image_id)
        return info if self.is_reviewer(viewer) else blind_image(info)

    def list_images(self) -> list[ImageInfo]:
        """Every image, oldest first."""
        with self._read() as session:
            return [image_info(i) for i in session.scalars(select(Image).order_by(Image.id))]

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
            who = self._reviewer(session, annotator, CASE_ACTION)
            image = self._image(session, image_id)
            lesion = image.lesion
            lesion.label, lesion.pathology_confirmed = label, bool(pathology_confirmed)
            lesion.labelled_by_id = who.id
            lesion.labelled_at = utcnow()
            return image_info(image)

        return self._write(work)

    def set_metadata(
        self, image_id: int, values: Mapping[str, object], *, annotator: str
    ) -> ImageInfo:
        """Set the case record's lesion/patient metadata of the image (fields:
        :data:`METADATA_FIELDS`); reviewers only."""
        clean = validate_metadata(values)

        def work(session: Session) -> ImageInfo:
            self._reviewer(session, annotator, CASE_ACTION)
            image = self._image(session, image_id)
            for name, value in clean.items():
                owner = (
                    image.lesion.patient
                    if METADATA_FIELDS[name].level == "patient"
                    else image.lesion
                )
                setattr(owner, name, value)
            return image_info(image)

        return self._write(work)
