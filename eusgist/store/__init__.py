"""The annotation database: patients, lesions, images, annotators and ROI revisions.

Open it with :func:`open_store` (SQLite in ``annotations/eusgist.sqlite`` by default, any
SQLAlchemy URL through ``EUSGIST_DATABASE_URL``) and work through the returned
:class:`AnnotationStore`. Annotators read blind (:mod:`eusgist.store.readings` says which
fields are each reader's own and which are the reviewers' case record).
:mod:`eusgist.store.importing` brings files, folders, ZIPs and
DICOM (de-identified, :mod:`eusgist.store.deid`) in; :mod:`eusgist.store.export` writes
the accepted annotations out as a manifest dataset.
"""

from eusgist.store.db import DATABASE_URL_ENV, default_database_url
from eusgist.store.deid import Redaction
from eusgist.store.metadata import METADATA_FIELDS
from eusgist.store.models import LABELS, ROLES, STATUSES
from eusgist.store.readings import CASE_FIELDS, READER_FIELDS
from eusgist.store.records import (
    AddedImage,
    Agreement,
    AnnotationInfo,
    ConflictError,
    DatabaseFullError,
    ImageInfo,
    NotAllowedError,
    NotFoundError,
    ReadOnlyDatabaseError,
    RevisionInfo,
    StorageError,
    StoreError,
    WorklistItem,
)
from eusgist.store.repository import TOOLS, AnnotationStore, open_store

__all__ = [
    "CASE_FIELDS",
    "DATABASE_URL_ENV",
    "LABELS",
    "METADATA_FIELDS",
    "READER_FIELDS",
    "ROLES",
    "STATUSES",
    "TOOLS",
    "AddedImage",
    "Agreement",
    "AnnotationInfo",
    "AnnotationStore",
    "ConflictError",
    "DatabaseFullError",
    "ImageInfo",
    "NotAllowedError",
    "NotFoundError",
    "ReadOnlyDatabaseError",
    "Redaction",
    "RevisionInfo",
    "StorageError",
    "StoreError",
    "WorklistItem",
    "default_database_url",
    "open_store",
]
