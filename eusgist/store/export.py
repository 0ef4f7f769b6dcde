"""Export the annotation database as a manifest dataset (see docs/design.md) ready for ``train``.

Per image the accepted annotation is used, else the most recently updated submitted one,
else (``include_drafts``) the latest draft; images without one, without a label or with a
label not asked for are left out and counted. The label and metadata are the case record's
(the pathology result entered by a reviewer); where it has none, the chosen annotator's own
reading fills in (column ``label_source``: ``pathology`` or ``reader``). Layout of ``out``::

    manifest.csv            image,mask,label,patient_id,lesion_id + metadata columns
                            (lesion_id = "<patient>-<lesion>", unique across patients)
    images/<id>.<ext>       the stored file (DICOM as de-identified on import)
    masks/<id>.png          the ROI, 8-bit PNG with values 0/255
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eusgist.data import write_manifest
from eusgist.errors import EusgistError
from eusgist.store.metadata import METADATA_FIELDS
from eusgist.store.records import ImageInfo
from eusgist.store.repository import AnnotationStore

log = logging.getLogger(__name__)

#: File extension written for each stored format.
EXTENSIONS: dict[str, str] = {
    "png": "png",
    "jpeg": "jpg",
    "bmp": "bmp",
    "tiff": "tif",
    "gif": "gif",
    "dicom": "dcm",
    "nifti": "nii",
    "nrrd": "nrrd",
}
DEFAULT_LABELS: tuple[str, ...] = ("GIST", "leiomyoma")
_OUTPUTS = ("manifest.csv", "images", "masks")


@dataclass(frozen=True)
class _Labelled(ImageInfo):
    """An image with where its label came from (``pathology`` or ``reader``)."""

    label_source: str | None = None


def _with_reading(image: ImageInfo, reading: Mapping[str, object]) -> _Labelled:
    """The case record of ``image``, its gaps filled from the annotator's ``reading``."""
    metadata = {name: reading.get(name) if value is None and name in reading else value
                for name, value in image.metadata.items()}
    label, source = image.label, "pathology" if image.label is not None else None
    if label is None and reading.get("diagnosis") is not None:
        label, source = str(reading["diagnosis"]), "reader"
    fields = {f.name: getattr(image, f.name) for f in dataclasses.fields(ImageInfo)}
    return _Labelled(**{**fields, "label": label, "metadata": metadata, "label_source": source})


@dataclass(frozen=True)
class ExportSummary:
    """Where the manifest went, how many rows it has and why images were left out."""

    manifest: Path
    n_images: int
    left_out: dict[str, int]


def _prepare(out: Path, overwrite: bool) -> None:
    present = [name for name in _OUTPUTS if (out / name).exists()]
    if present and not overwrite:
        raise FileExistsError(
            f"{out}: already holds {', '.join(present)}; choose another folder or overwrite"
        )
    for name in present:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()


def export_annotations(
    store: AnnotationStore,
    out: str | os.PathLike[str],
    *,
    include_drafts: bool = False,
    labels: Sequence[str] = DEFAULT_LABELS,
    confirmed_only: bool = False,
    overwrite: bool = False,
) -> ExportSummary:
    """Write the dataset to ``out``; return a summary.

    Raises
    ------
    ValueError
        When no image qualifies (nothing is written then).
    FileExistsError
        When ``out`` already holds an export and ``overwrite`` is False.
    """
    out = Path(out)
    left_out: Counter[str] = Counter()
    chosen = []
    for image, annotation in store.chosen_annotations(include_drafts=include_drafts):
        image = _with_reading(image, store.reading(annotation.id))
        if image.label is None:
            left_out["no label"] += 1
        elif image.label not in labels:
            left_out[f"label {image.label}"] += 1
        elif confirmed_only and not image.pathology_confirmed:
            left_out["not pathology-confirmed"] += 1
        else:
            chosen.append((image, annotation))
    left_out["no usable annotation"] = (
        len(store.list_images()) - sum(left_out.values()) - len(chosen)
    )
    left = {reason: n for reason, n in left_out.items() if n}
    if not chosen:
        raise EusgistError(
            f"nothing to export from {store.url}: every image was left out ({left or 'no images'})"
        )
    _prepare(out, overwrite)
    rows = []
    for image, annotation in chosen:
        ext = EXTENSIONS.get(image.format, "bin")
        data = store.image_bytes(image.id)
        if image.format == "nifti" and data[:2] == b"\x1f\x8b":
            ext = "nii.gz"
        image_path = f"images/{image.id:06d}.{ext}"
        mask_path = f"masks/{image.id:06d}.png"
        (out / image_path).write_bytes(data)
        (out / mask_path).write_bytes(store.mask_png(annotation.id))
        rows.append(
            {
                "image": image_path,
                "mask": mask_path,
                "label": image.label,
                "label_source": image.label_source,
                "patient_id": image.patient,
                "lesion_id": f"{image.patient}-{image.lesion}",  # lesion codes are per patient
                "pathology_confirmed": image.pathology_confirmed,
                **{name: image.metadata[name] for name in METADATA_FIELDS},
                "spacing_y_mm": image.spacing[0] if image.spacing else None,
                "spacing_x_mm": image.spacing[1] if image.spacing else None,
                "annotator": annotation.owner,
                "annotation_status": annotation.status,
                "revision": annotation.revision,
                "image_sha256": image.sha256,
            }
        )
    table = pd.DataFrame(rows)
    for name, field in METADATA_FIELDS.items():
        if field.kind == "integer":
            table[name] = table[name].astype("Int64")  # 61, not 61.0, beside blanks
    manifest = write_manifest(table, out / "manifest.csv")
    log.info("exported %d images to %s (left out: %s)", len(rows), manifest, left or "none")
    return ExportSummary(manifest, len(rows), left)
