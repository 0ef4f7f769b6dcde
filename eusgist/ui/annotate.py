"""Annotate tab: worklists, drawing lesion ROIs, labels and metadata, review and export.

Every action calls :mod:`eusgist.store` (the database is ``$EUSGIST_DATABASE_URL`` or the
default, opened lazily on first use and cached per URL) and :mod:`eusgist.masks`. The
annotator is the signed-in user (``gr.Request.username`` with ``auth=``, the Hugging Face
OAuth profile on a Space), else the name typed in the tab (not on a Space with Hugging Face
sign-in, :mod:`eusgist.ui.signin`). Names listed in
``$EUSGIST_REVIEWERS`` (comma-separated) are registered as reviewers when the database is
opened. Each browser session keeps the loaded image and the revision it started from in a
``gr.State``, so a save or restore based on a stale revision is refused and nothing is
overwritten.

A reopened mask is the editor's filled, editable lesion layer. Gradio 6.31's ImageEditor
draws a layer sent from the server centred in a new layer as large as everything on its
canvas so far (the initial canvas and every image this page showed), not over the image:
:func:`_editor_value` therefore pads the layer to that extent, tracked per session in
:class:`Loaded`, with the mask at the top-left corner where the image is. The browser sends
an edited layer back cropped to the image, an unedited one as it was sent (padded).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from eusgist.config import settings
from eusgist.errors import EusgistError
from eusgist.io import to_uint8
from eusgist.masks import adjust_contrast, mask_from_layers, mask_layer, overlay, parse_points
from eusgist.masks import shape_mask as points_mask
from eusgist.store import (
    LABELS,
    METADATA_FIELDS,
    AnnotationInfo,
    AnnotationStore,
    ConflictError,
    ReadOnlyDatabaseError,
    Redaction,
    default_database_url,
    open_store,
)
from eusgist.store.db import storage_notice
from eusgist.store.export import export_annotations
from eusgist.store.importing import import_paths
from eusgist.store.metadata import validate_metadata
from eusgist.ui.errors import user_errors
from eusgist.ui.signin import oauth_enabled

log = logging.getLogger(__name__)

WORKLISTS = ("unannotated", "mine", "needs_review", "all")
#: The editor's initial canvas (height, width): the least extent of a sent layer.
EDITOR_CANVAS = (800, 800)
#: Metadata fields shown in the form, in order (see :data:`eusgist.store.METADATA_FIELDS`).
FORM_FIELDS = (
    "location",
    "layer_of_origin",
    "echo_pattern",
    "shape",
    "long_diameter_mm",
    "lobulation",
    "calcification",
    "cystic_areas",
)
YES_NO = ("yes", "no")
MetadataValue = str | float | None

_stores: dict[str, AnnotationStore] = {}
_stores_lock = threading.Lock()


def current_store() -> AnnotationStore:
    """The store at the configured URL, opened (and migrated) once per URL."""
    url = default_database_url()
    with _stores_lock:
        if url not in _stores:
            store = open_store(url)
            for name in settings().reviewers:
                if name:
                    try:
                        store.add_annotator(name, "reviewer")
                    except ReadOnlyDatabaseError as exc:  # still open it for reading
                        log.warning("reviewers not registered: %s", exc)
                        break
            _stores[url] = store
        return _stores[url]


@dataclass(frozen=True)
class Loaded:
    """What one browser session is editing: the image, the revision the edit started
    from (0 = no annotation yet), the tool used, the label/metadata as loaded and the
    editor canvas extent (height, width) this session has grown to."""

    image_id: int
    annotator: str
    revision: int
    label: str | None = None
    confirmed: bool = False
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    tool: str = "brush"
    extent: tuple[int, int] = EDITOR_CANVAS


def annotator_name(
    typed: str | None, request: gr.Request | None, profile: gr.OAuthProfile | None
) -> str:
    """The signed-in user, else the typed name (not on a Space with Hugging Face sign-in);
    a clear error when there is neither."""
    if profile is not None:
        return str(profile.username)
    if request is not None and request.username:
        return str(request.username)
    if oauth_enabled():
        raise EusgistError("sign in with Hugging Face first (the button at the top of the "
                           "page): annotations are saved under your Hub username")
    name = (typed or "").strip()
    if not name:
        raise EusgistError("enter your name (annotator) first: every annotation is saved under it")
    return name


def _image_id(value: float | str | None) -> int:
    try:
        return int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EusgistError(f"choose an image first (image id {value!r})") from None


def _background(store: AnnotationStore, image_id: int, contrast: float) -> np.ndarray:
    return adjust_contrast(to_uint8(store.load_image(image_id).array), contrast)


#: Pictures handed to the browser, as PNG files named by their content.
PICTURE_DIR = Path(tempfile.gettempdir()) / "eusgist-pictures"
#: Pictures are patient images: those older than this many seconds are deleted (as Gradio's
#: own temporary copies are, see ``eusgist.ui.CACHE_LIFETIME``).
PICTURE_MAX_AGE = 86400


def prune_pictures(now: float | None = None) -> int:
    """Delete pictures older than :data:`PICTURE_MAX_AGE`; return how many were deleted."""
    cutoff = (time.time() if now is None else now) - PICTURE_MAX_AGE
    deleted = 0
    for old in PICTURE_DIR.glob("*.png"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
                deleted += 1
        except FileNotFoundError:  # another session pruned it first
            continue
    return deleted


def picture_file(array: np.ndarray) -> str:
    """``array`` as a PNG file named by its content, written under a temporary name and
    renamed into place.

    Gradio caches an array output by rewriting its content-named file in place, so two
    sessions showing the same picture at once (annotators opening the same image) could
    serve each other a half-written file; a finished file path is copied atomically."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
    data = buf.getvalue()
    path = PICTURE_DIR / f"{hashlib.sha256(data).hexdigest()[:40]}.png"
    if not path.is_file():
        PICTURE_DIR.mkdir(parents=True, exist_ok=True)
        prune_pictures()
        partial = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)
    return str(path)


def _editor_value(
    background: np.ndarray, mask: np.ndarray, extent: tuple[int, int]
) -> tuple[dict, tuple[int, int]]:
    """ImageEditor value showing ``mask`` as the filled, editable lesion layer, padded to
    the session's canvas ``extent`` grown to this image (see the module notes); and that
    extent."""
    height, width = mask.shape
    extent = (max(extent[0], height), max(extent[1], width))
    layer = np.zeros((*extent, 4), dtype=np.uint8)
    layer[:height, :width] = mask_layer(mask)
    picture = picture_file(background)
    return {"background": picture, "layers": [picture_file(layer)], "composite": picture}, extent


def _form_value(name: str, value: object) -> MetadataValue:
    if value is None:
        return None
    if METADATA_FIELDS[name].kind == "flag":
        return YES_NO[0] if value else YES_NO[1]
    return value  # type: ignore[return-value]


@user_errors
def upload_images(
    files: list[str] | None,
    patient: str,
    lesion: str,
    redact_top_px: float | None,
    name: str,
    request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> str:
    """Import image files, ZIP archives or DICOM (de-identified; ``redact_top_px`` blanks a
    band at the top of DICOM frames); return a Markdown summary with the new image ids."""
    if not files:
        raise EusgistError("choose one or more image files, ZIP archives or DICOM files")
    try:
        importer: str | None = annotator_name(name, request, profile)
    except ValueError:
        importer = None
    top = int(redact_top_px or 0)
    report = import_paths(
        current_store(),
        files,
        annotator=importer,
        patient=patient.strip() or None,
        lesion=lesion.strip() or None,
        redaction=Redaction(top=top) if top else None,
    )
    lines = [f"**Import: {report.summary()}.**"]
    lines += [f"- image {i.id}: {i.name} ({i.width}×{i.height})" for i in report.added]
    lines += [f"- already stored as image {i.id}: {i.name}" for i in report.duplicates]
    lines += [f"- failed: {Path(n).name}: {why}" for n, why in report.errors + report.skipped]
    return "\n".join(lines)


@user_errors
def worklist_table(
    kind: str, name: str, request: gr.Request, profile: gr.OAuthProfile | None = None
) -> pd.DataFrame:
    """Images of a worklist: unannotated, mine, needs_review (submitted by others) or all."""
    store = current_store()
    columns = ["image_id", "image", "annotation_id", "owner", "status", "revision"]
    if kind == "all":
        rows = [(i.id, i.name, None, None, None, None) for i in store.list_images()]
    else:
        who = annotator_name(name, request, profile) if kind != "unannotated" else "-"
        rows = [
            (w.image_id, w.image_name, w.annotation_id, w.owner, w.status, w.revision)
            for w in store.list_worklist(who, kind)  # type: ignore[arg-type]
        ]
    return pd.DataFrame(rows, columns=columns)


def unannotated_table() -> pd.DataFrame:
    """The unannotated worklist (shown when the page opens)."""
    return worklist_table("unannotated", "", None)


@user_errors
def load_image(
    image_id: float | None,
    contrast: float,
    previous: Loaded | None,
    name: str,
    request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[object, ...]:
    """Open an image with the caller's own latest mask (if any) as the editable layer.

    Returns the editor value, the session state (replacing ``previous``), a Markdown
    description, the label, the pathology-confirmed flag and the metadata form values
    (:data:`FORM_FIELDS`).
    """
    who = annotator_name(name, request, profile)
    store, iid = current_store(), _image_id(image_id)
    info = store.get_image(iid)
    background = _background(store, iid, contrast)
    own = next((a for a in store.annotations(iid) if a.owner == who), None)
    if own is not None:
        mask = store.mask(own.id)
        text = f"your revision {own.revision} ({own.status})"
    else:
        mask = np.zeros(background.shape, dtype=bool)
        text = "no annotation of yours yet"
    others = [a.owner for a in store.annotations(iid) if a.owner != who]
    metadata = {f: _form_value(f, info.metadata.get(f)) for f in FORM_FIELDS}
    editor, extent = _editor_value(background, mask, previous.extent if previous else EDITOR_CANVAS)
    loaded = Loaded(iid, who, own.revision if own else 0, info.label, info.pathology_confirmed,
                    metadata, extent=extent)
    description = (
        f"**Image {iid}: {info.name}** ({info.width}×{info.height}, patient {info.patient}, "
        f"lesion {info.lesion}) — {who}: {text}"
        + (f"; also annotated by {', '.join(others)}" if others else "")
    )
    return (editor, loaded, description, info.label, info.pathology_confirmed,
            *metadata.values())


def _loaded_by_caller(
    loaded: Loaded | None, name: str, request: gr.Request, profile: gr.OAuthProfile | None
) -> tuple[Loaded, str]:
    """The session's loaded image and the caller, who must be the one it was loaded for."""
    loaded = _require_loaded(loaded)
    who = annotator_name(name, request, profile)
    if who != loaded.annotator:
        raise EusgistError(
            f"image {loaded.image_id} was loaded for {loaded.annotator}, not {who}; load it again"
        )
    return loaded, who


def _require_loaded(loaded: Loaded | None) -> Loaded:
    if loaded is None:
        raise EusgistError("load an image first (pick one from the worklist)")
    return loaded


def _drawn_mask(editor: dict | None, loaded: Loaded, shape: tuple[int, int]) -> np.ndarray:
    """The lesion mask painted in the editor value; a layer of the session's padded extent
    (sent by :func:`_editor_value`, come back unedited) is cropped to the image first."""
    layers = [np.asarray(x) for x in (editor or {}).get("layers") or [] if x is not None]
    return mask_from_layers(
        [x[: shape[0], : shape[1]] if x.shape[:2] == loaded.extent else x for x in layers],
        shape)


@user_errors
def change_contrast(editor: dict | None, loaded: Loaded | None, contrast: float) -> dict:
    """Redraw the background at another contrast; the painted layers are kept as they are
    (the stored image never changes)."""
    loaded = _require_loaded(loaded)
    background = _background(current_store(), loaded.image_id, contrast)
    return _editor_value(background, _drawn_mask(editor, loaded, background.shape),
                         loaded.extent)[0]


@user_errors
def add_shape(
    editor: dict | None, loaded: Loaded | None, points: str, contrast: float
) -> tuple[dict, Loaded]:
    """Paint a box (two corners ``x0,y0 x1,y1``) or a polygon (three or more points) into
    the lesion layer."""
    loaded = _require_loaded(loaded)
    info = current_store().get_image(loaded.image_id)
    shape = (info.height, info.width)
    mask = _drawn_mask(editor, loaded, shape) | points_mask(parse_points(points), shape)
    value, _ = _editor_value(_background(current_store(), loaded.image_id, contrast), mask,
                             loaded.extent)
    return value, replace(loaded, tool="polygon")


@user_errors
def save_annotation(
    editor: dict | None,
    loaded: Loaded | None,
    name: str,
    label: str | None,
    pathology_confirmed: bool,
    location: str | None,
    layer_of_origin: str | None,
    echo_pattern: str | None,
    shape: str | None,
    long_diameter_mm: float | None,
    lobulation: str | None,
    calcification: str | None,
    cystic_areas: str | None,
    submit: bool,
    note: str,
    request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[str, Loaded]:
    """Save the drawn mask as a new revision of the caller's annotation, with label and
    metadata (only fields changed since loading are written).

    ``editor`` is the ImageEditor value. API callers may send a plain mask image as its only
    layer: ``{"background": None, "layers": [handle_file("mask.png")], "composite": None}``
    (non-black, non-transparent pixels are lesion). The save starts from the revision
    loaded in this session (call ``annotate_load`` first); when someone saved a newer one
    meanwhile, nothing is saved and the drawing stays in the editor.
    """
    loaded, who = _loaded_by_caller(loaded, name, request, profile)
    store = current_store()
    info = store.get_image(loaded.image_id)
    mask = _drawn_mask(editor, loaded, (info.height, info.width))
    if not mask.any():
        raise EusgistError("the mask is empty: paint the lesion first; nothing was saved")
    values = dict(zip(FORM_FIELDS, (location, layer_of_origin, echo_pattern, shape,
                                    long_diameter_mm, lobulation, calcification, cystic_areas),
                      strict=True))
    values = {k: None if v in (None, "") else v for k, v in values.items()}
    changed = {k: v for k, v in values.items() if v != loaded.metadata.get(k)}
    validate_metadata(changed)  # refuse bad values before anything is written
    if label is not None and label not in LABELS:
        raise EusgistError(f"unknown label {label!r}; expected one of {list(LABELS)}")
    try:
        rev = store.save_annotation(
            loaded.image_id, who, mask, loaded.tool, loaded.revision, submit=submit,
            note=note.strip() or None,
        )
    except ConflictError as exc:
        raise EusgistError(
            f"Not saved: someone saved a newer revision of this annotation ({exc}). "
            "Your drawing is still in the editor."
        ) from exc
    if changed:
        store.set_metadata(loaded.image_id, changed)
    if label and (label, bool(pathology_confirmed)) != (loaded.label, loaded.confirmed):
        store.set_label(loaded.image_id, label, annotator=who,
                        pathology_confirmed=pathology_confirmed)
    log.info("%s saved revision %d of image %d", who, rev.number, loaded.image_id)
    status = "submitted for review" if submit else "draft"
    message = (f"Saved revision {rev.number} of {who}'s annotation of image {loaded.image_id} "
               f"({rev.area} px, {status}).")
    return message, replace(loaded, revision=rev.number, label=label or loaded.label,
                            confirmed=bool(pathology_confirmed) if label else loaded.confirmed,
                            metadata={**loaded.metadata, **changed})


@user_errors
def next_image(
    kind: str, loaded: Loaded | None, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> int:
    """The first image of the worklist other than the one loaded."""
    table = worklist_table(kind, name, request, profile)
    current = loaded.image_id if loaded else None
    ids = [int(i) for i in table["image_id"] if int(i) != current]
    if not ids:
        raise EusgistError(f"the {kind} worklist has no other image")
    return ids[0]


@user_errors
def history_table(
    loaded: Loaded | None, name: str, request: gr.Request, profile: gr.OAuthProfile | None = None
) -> pd.DataFrame:
    """Revisions of the caller's annotation of the loaded image, oldest first."""
    loaded = _require_loaded(loaded)
    who = annotator_name(name, request, profile)
    store = current_store()
    own = next((a for a in store.annotations(loaded.image_id) if a.owner == who), None)
    revisions = store.history(own.id) if own else []
    return pd.DataFrame(
        [(r.number, r.tool, r.area, r.note, r.created_at.strftime("%Y-%m-%d %H:%M:%S"))
         for r in revisions],
        columns=["revision", "tool", "area_px", "note", "saved_utc"],
    )


def _revision_source(
    store: AnnotationStore, loaded: Loaded, annotation_id: float | None, who: str, action: str
) -> AnnotationInfo:
    """The annotation of the loaded image whose revisions ``who`` asks for: their own when
    ``annotation_id`` is blank; another annotator's for reviewers only (annotators work
    blind)."""
    if annotation_id in (None, ""):
        own = next((a for a in store.annotations(loaded.image_id) if a.owner == who), None)
        if own is None:
            raise EusgistError(f"{who} has no annotation of image {loaded.image_id} yet")
        return own
    info = store.get_annotation(int(annotation_id))  # type: ignore[arg-type]
    if info.image_id != loaded.image_id:
        raise EusgistError(f"annotation {info.id} is of image {info.image_id}, not the loaded "
                         f"image {loaded.image_id}; open image {info.image_id} first")
    if info.owner != who:
        store.require_reviewer(who, f"{action} another annotator's revisions")
    return info


def _revision_number(revision: float | None) -> int:
    try:
        return int(float(revision))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EusgistError(f"enter a revision number from the history (got {revision!r})") from None


@user_errors
def preview_revision(
    loaded: Loaded | None,
    revision: float | None,
    annotation_id: float | None,
    contrast: float,
    name: str,
    request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[str, str]:
    """A revision's mask over the loaded image (read-only) and a caption. The caller's own
    annotation when ``annotation_id`` is blank; reviewers may give another's."""
    loaded = _require_loaded(loaded)
    who = annotator_name(name, request, profile)
    store = current_store()
    source = _revision_source(store, loaded, annotation_id, who, "preview")
    number = _revision_number(revision)
    mask = store.mask(source.id, number)
    rev = next(r for r in store.history(source.id) if r.number == number)
    picture = picture_file(overlay(_background(store, loaded.image_id, contrast), [mask]))
    return picture, (f"Revision {number} of {source.owner}'s annotation {source.id} "
                     f"({rev.area} px, {rev.tool}, saved {rev.created_at:%Y-%m-%d %H:%M:%S} "
                     "UTC).")


@user_errors
def restore_revision(
    loaded: Loaded | None,
    revision: float | None,
    annotation_id: float | None,
    contrast: float,
    name: str,
    request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[dict, Loaded, str]:
    """Save a copy of a revision as the newest (draft) revision of the caller's annotation
    and load it into the editor. It starts from the revision loaded in this session: when
    someone saved a newer one meanwhile, nothing is restored. Restoring another annotator's
    revision (reviewers only) forks it into the reviewer's own annotation."""
    loaded, who = _loaded_by_caller(loaded, name, request, profile)
    store = current_store()
    source = _revision_source(store, loaded, annotation_id, who, "restore")
    number = _revision_number(revision)
    try:
        rev = store.restore(source.id, number, who, expected_revision=loaded.revision)
    except ConflictError as exc:
        raise EusgistError(f"Not restored: someone saved a newer revision of this annotation "
                         f"({exc}).") from exc
    log.info("%s restored revision %d of annotation %d as revision %d", who, number, source.id,
             rev.number)
    background = _background(store, loaded.image_id, contrast)
    editor, _ = _editor_value(background, store.mask(rev.annotation_id, rev.number),
                              loaded.extent)
    message = (f"Restored revision {number} of {source.owner}'s annotation as revision "
               f"{rev.number} of {who}'s ({rev.area} px, draft).")
    return editor, replace(loaded, revision=rev.number, tool=rev.tool), message


@user_errors
def review_view(
    image_id: float | None, contrast: float, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[str, pd.DataFrame, pd.DataFrame, dict, dict[int, int]]:
    """Every annotator's latest mask of the image overlaid in its own colour, the pairwise
    Dice/IoU agreement, the annotations, and the revisions seen (guarding the decision).
    Reviewers only: annotators work blind to each other's masks."""
    store, iid = current_store(), _image_id(image_id)
    store.require_reviewer(annotator_name(name, request, profile),
                           "compare the annotations of an image")
    annotations = [a for a in store.annotations(iid) if a.revision > 0]
    if not annotations:
        raise EusgistError(f"image {iid} has no annotations to review")
    picture = picture_file(
        overlay(_background(store, iid, contrast), [store.mask(a.id) for a in annotations]))
    agreement = pd.DataFrame(
        [(g.a, g.b, round(g.dice, 4), round(g.iou, 4)) for g in store.agreement(iid)],
        columns=["annotator_a", "annotator_b", "dice", "iou"],
    )
    colours = ["orange", "sky blue", "green", "yellow", "pink", "vermilion", "blue"]
    table = pd.DataFrame(
        [(a.id, a.owner, colours[i % len(colours)], a.status, a.revision, a.reviewed_by)
         for i, a in enumerate(annotations)],
        columns=["annotation_id", "owner", "colour", "status", "revision", "reviewed_by"],
    )
    choices = [(f"{a.owner} (#{a.id}, {a.status})", a.id) for a in annotations]
    return (picture, agreement, table, gr.update(choices=choices, value=choices[0][1]),
            {a.id: a.revision for a in annotations})


@user_errors
def decide(
    annotation_id: float | None,
    decision: str,
    note: str,
    seen: dict[int, int] | None,
    name: str,
    request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> str:
    """Accept or reject an annotation (reviewers only), as of the revision shown."""
    who = annotator_name(name, request, profile)
    if annotation_id in (None, ""):
        raise EusgistError("choose the annotation to accept or reject")
    aid = int(annotation_id)  # type: ignore[arg-type]
    info = current_store().review(aid, who, decision,  # type: ignore[arg-type]
                                  note=note.strip() or None,
                                  expected_revision=(seen or {}).get(aid))
    return f"{who}: annotation {aid} by {info.owner} is now {info.status}."


@user_errors
def merge(
    image_id: float | None, method: str, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> str:
    """Merge the image's annotations (majority, union or intersection) into the reviewer's
    own accepted annotation."""
    who = annotator_name(name, request, profile)
    iid = _image_id(image_id)
    rev = current_store().merge(iid, who, method=method)  # type: ignore[arg-type]
    return f"{who}: merged ({rev.note}) as revision {rev.number}, accepted ({rev.area} px)."


@user_errors
def export_zip(
    include_drafts: bool, confirmed_only: bool, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[str, str]:
    """Export the accepted (else submitted) annotations as a manifest dataset in a ZIP
    (reviewers only: it holds everyone's annotations)."""
    store = current_store()
    store.require_reviewer(annotator_name(name, request, profile), "export everyone's annotations")
    work = Path(tempfile.mkdtemp(prefix="eusgist-export-"))
    summary = export_annotations(store, work / "dataset",
                                 include_drafts=include_drafts, confirmed_only=confirmed_only)
    archive = shutil.make_archive(str(work / "eusgist-annotations"), "zip", work / "dataset")
    left = ", ".join(f"{n} {why}" for why, n in summary.left_out.items()) or "none"
    return f"Exported {summary.n_images} images (left out: {left}).", archive


def _metadata_input(name: str) -> gr.components.Component:
    spec, label = METADATA_FIELDS[name], name.replace("_", " ").capitalize()
    if spec.kind == "number":
        return gr.Number(label=label.replace(" mm", " (mm)"), value=None, minimum=0)
    choices = list(spec.choices) if spec.kind == "category" else list(YES_NO)
    return gr.Dropdown(label=label, choices=choices, value=None)


def build() -> None:
    """Add the Annotate tab to the enclosing Blocks."""
    with gr.Tab("Annotate", id="annotate", elem_id="annotate"):
        notice = storage_notice()  # a Space without persistent storage says so
        if notice:
            gr.Markdown(f"⚠️ {notice}", elem_id="annotate-storage-notice")
        loaded = gr.State(None)
        seen = gr.State({})
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                name = gr.Textbox(label="Your name", placeholder="used when not signed in",
                                  elem_id="annotate-name")
                with gr.Row():
                    kind = gr.Radio(list(WORKLISTS), value="unannotated", label="Worklist",
                                    scale=3)
                    refresh_btn = gr.Button("Refresh", scale=1, size="sm")
                worklist = gr.Dataframe(unannotated_table, label="Images (click a row to open)",
                                        interactive=False, max_height=260)
                with gr.Row():
                    image_id = gr.Number(label="Image id", precision=0, minimum=1,
                                         elem_id="annotate-image-id")
                    open_btn = gr.Button("Open", elem_id="annotate-open")
                with gr.Accordion("Upload images", open=False):
                    files = gr.File(label="Images, ZIP or DICOM", file_count="multiple",
                                    type="filepath", elem_id="annotate-files")
                    patient = gr.Textbox(label="Patient code (optional)")
                    lesion = gr.Textbox(label="Lesion code (optional)")
                    redact = gr.Number(label="DICOM: blank top band (px)", value=0,
                                       precision=0, minimum=0)
                    upload_btn = gr.Button("Upload")
                    upload_log = gr.Markdown()
            with gr.Column(scale=3):
                description = gr.Markdown("Open an image from the worklist.")
                editor = gr.ImageEditor(
                    label="Lesion ROI: brush paints, eraser removes; undo and zoom in the toolbar",
                    type="numpy", image_mode="RGBA", format="png", sources=[], transforms=(),
                    canvas_size=EDITOR_CANVAS[::-1],
                    brush=gr.Brush(colors=["#ff4040"], color_mode="fixed"),
                    layers=gr.LayerOptions(allow_additional_layers=False, layers=["lesion"]),
                    elem_id="annotate-editor", height=560,
                )
                contrast = gr.Slider(0.5, 3.0, value=1.0, step=0.1, label="Display contrast")
                with gr.Row():
                    points = gr.Textbox(label="Box or polygon (x,y points)", scale=3,
                                        placeholder="box: 40,30 120,90 · polygon: 3+ points")
                    shape_btn = gr.Button("Add shape", scale=1)
            with gr.Column(scale=1, min_width=260):
                label = gr.Radio(list(LABELS), label="Diagnosis")
                confirmed = gr.Checkbox(label="Pathology-confirmed")
                metadata = [_metadata_input(f) for f in FORM_FIELDS]
                submit = gr.Checkbox(label="Submit for review", value=True)
                note = gr.Textbox(label="Note (Enter saves)", elem_id="annotate-note")
                save_btn = gr.Button("Save", variant="primary", elem_id="annotate-save")
                next_btn = gr.Button("Save and next")
                status = gr.Markdown(elem_id="annotate-status")
        with gr.Accordion("History of my annotation", open=False):
            history_btn = gr.Button("Show history")
            history = gr.Dataframe(interactive=False)
            with gr.Row():
                revision = gr.Number(label="Revision", precision=0, minimum=1,
                                     elem_id="annotate-revision")
                source = gr.Number(label="Annotation id (blank: yours; reviewers: another's)",
                                   precision=0, minimum=1)
                preview_btn = gr.Button("Preview", elem_id="annotate-preview")
                restore_btn = gr.Button("Restore this revision", elem_id="annotate-restore")
            history_status = gr.Markdown(elem_id="annotate-history-status")
            preview = gr.Image(label="Revision (read-only)", type="filepath", interactive=False)
        with gr.Accordion("Review and agreement", open=False):
            review_btn = gr.Button("Compare annotations of this image")
            with gr.Row():
                picture = gr.Image(label="Masks overlaid (one colour per annotator)",
                                   type="numpy", interactive=False)
                with gr.Column():
                    agreement = gr.Dataframe(label="Agreement", interactive=False)
                    annotations = gr.Dataframe(label="Annotations", interactive=False)
                    choice = gr.Dropdown(label="Annotation", choices=[],
                                         allow_custom_value=True)
                    decision = gr.Radio(["accept", "reject"], value="accept", label="Decision")
                    review_note = gr.Textbox(label="Review note")
                    decide_btn = gr.Button("Apply decision (reviewers)")
                    method = gr.Radio(["majority", "union", "intersection"], value="majority",
                                      label="Merge method")
                    merge_btn = gr.Button("Merge into my accepted annotation (reviewers)")
                    review_status = gr.Markdown()
        with gr.Accordion("Export dataset", open=False):
            with gr.Row():
                drafts = gr.Checkbox(label="Include drafts")
                confirmed_only = gr.Checkbox(label="Pathology-confirmed only")
                export_btn = gr.Button("Export ZIP")
            export_log = gr.Markdown()
            archive = gr.File(label="Dataset (manifest.csv, images/, masks/)")

        load_inputs = [image_id, contrast, loaded, name]
        load_outputs = [editor, loaded, description, label, confirmed, *metadata]
        save_inputs = [editor, loaded, name, label, confirmed, *metadata, submit, note]
        # The worklist refresh and review redraw that follow an action are UI plumbing: their
        # public endpoints are annotate_worklist and annotate_review.
        refresh = {"fn": worklist_table, "inputs": [kind, name], "outputs": worklist,
                   "api_visibility": "private"}
        review = {"fn": review_view, "inputs": [image_id, contrast, name],
                  "outputs": [picture, agreement, annotations, choice, seen]}

        upload_btn.click(upload_images, [files, patient, lesion, redact, name], upload_log,
                         api_name="annotate_upload").success(**refresh)
        gr.on([kind.change, name.submit, refresh_btn.click], worklist_table, [kind, name],
              worklist, api_name="annotate_worklist")

        def pick(table: pd.DataFrame, evt: gr.SelectData) -> int:
            return int(table.iloc[evt.index[0]]["image_id"])

        # A row click needs the browser's selection; API clients call annotate_load directly.
        worklist.select(pick, worklist, image_id, api_name="annotate_pick",
                        api_visibility="private").success(
            load_image, load_inputs, load_outputs, api_name="annotate_open",
            api_visibility="private")
        open_btn.click(load_image, load_inputs, load_outputs,
                       api_name="annotate_load")
        contrast.release(change_contrast, [editor, loaded, contrast], editor,
                         api_name="annotate_contrast")
        shape_btn.click(add_shape, [editor, loaded, points, contrast], [editor, loaded],
                        api_name="annotate_shape")
        gr.on([save_btn.click, note.submit], save_annotation, save_inputs, [status, loaded],
              api_name="annotate_save").success(**refresh)
        next_btn.click(save_annotation, save_inputs, [status, loaded],
                       api_name="annotate_save_next").success(
            next_image, [kind, loaded, name], image_id, api_name="annotate_next").success(
            load_image, load_inputs, load_outputs,
            api_name="annotate_load_next", api_visibility="private").success(**refresh)
        history_btn.click(history_table, [loaded, name], history, api_name="annotate_history")
        revision_inputs = [loaded, revision, source, contrast, name]
        preview_btn.click(preview_revision, revision_inputs, [preview, history_status],
                          api_name="annotate_preview_revision")
        restore_btn.click(restore_revision, revision_inputs, [editor, loaded, history_status],
                          api_name="annotate_restore").success(
            history_table, [loaded, name], history, api_visibility="private").success(**refresh)
        review_btn.click(**review, api_name="annotate_review")
        decide_btn.click(decide, [choice, decision, review_note, seen, name], review_status,
                         api_name="annotate_decide").success(**review, api_visibility="private")
        merge_btn.click(merge, [image_id, method, name], review_status,
                        api_name="annotate_merge").success(**review, api_visibility="private")
        export_btn.click(export_zip, [drafts, confirmed_only, name], [export_log, archive],
                         api_name="annotate_export")
