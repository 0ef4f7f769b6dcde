"""Handlers of the Annotate tab: each reads or writes :mod:`eusgist.store` for one action.

Import, worklists, loading an image, contrast and shapes, saving, the next image, the
history (preview and restore a revision), review (compare, accept or reject, merge) and
export. Every handler shows a user's error as a message (:func:`eusgist.ui.errors.user_errors`).

Blind reading is enforced here and in the store, not by hiding widgets: an annotator who is
not a reviewer gets only the image, their own annotation and reading (the form), never the
case record (pathology, age, sex), anyone else's masks or readings, or who else annotated.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from eusgist.errors import EusgistError
from eusgist.masks import overlay, parse_points
from eusgist.masks import shape_mask as points_mask
from eusgist.store import (
    LABELS,
    READER_FIELDS,
    AnnotationInfo,
    AnnotationStore,
    ConflictError,
    ImageInfo,
    NotAllowedError,
    Redaction,
)
from eusgist.store.export import export_annotations
from eusgist.store.importing import import_paths
from eusgist.store.metadata import validate_metadata
from eusgist.store.readings import blind_image
from eusgist.ui.annotate_pictures import (
    background_file,
    background_image,
    drawn_mask,
    editor_value,
    picture_file,
)
from eusgist.ui.annotate_session import (
    CASE_FORM,
    EDITOR_CANVAS,
    Loaded,
    annotator_name,
    current_store,
    form_value,
    loaded_by_caller,
    parse_image_id,
    require_loaded,
    role_line,
)
from eusgist.ui.errors import user_errors

log = logging.getLogger(__name__)


@user_errors
def upload_images(
    files: list[str] | None,
    patient: str,
    lesion: str,
    redact_top_px: float | None,
    name: str,
    blank_text: bool = True,
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> str:
    """Import image files, ZIP archives or DICOM (de-identified; ``redact_top_px`` blanks a
    band at the top of DICOM frames; with ``blank_text`` (the default) burned-in text found
    in the pixels is blanked too); return a Markdown summary with the new image ids."""
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
        redact="auto" if blank_text in (None, True) else "none",
    )
    lines = [f"**Import: {report.summary()}.**"]
    lines += [f"- image {i.id}: {i.name} ({i.width}×{i.height})" for i in report.added]
    lines += [f"- already stored as image {i.id}: {i.name}" for i in report.duplicates]
    lines += [f"- failed: {Path(n).name}: {why}" for n, why in report.errors + report.skipped]
    return "\n".join(lines)


#: Files previewed at most by "Preview what will be blanked".
MAX_REDACTION_PREVIEWS = 8


@user_errors
def preview_redactions(files: list[str] | None, redact_top_px: float | None,
                       blank_text: bool = True) -> list[tuple[np.ndarray, str]]:
    """What importing each chosen file would blank (outlined in red on its first frame), for
    the annotator to check before uploading (:func:`eusgist.store.deid.preview_redaction`)."""
    from eusgist.store.deid import preview_redaction

    if not files:
        raise EusgistError("choose one or more image files, ZIP archives or DICOM files")
    redaction = Redaction(top=int(redact_top_px or 0), text=blank_text in (None, True))
    out = []
    for path in files[:MAX_REDACTION_PREVIEWS]:
        name = Path(path).name
        if Path(path).suffix.lower() == ".zip":
            out.append((np.zeros((8, 8, 3), np.uint8), f"{name}: a ZIP (its images are "
                                                       "checked when imported)"))
            continue
        preview = preview_redaction(Path(path).read_bytes(), redaction, name=name)
        n = len(preview.boxes)
        out.append((preview.image, f"{name}: {n} region{'s' if n != 1 else ''} to blank"
                    if n else f"{name}: nothing to blank"))
    return out


WORKLIST_COLUMNS = ["id", "file", "patient", "lesion", "status"]


@user_errors
def worklist_table(
    kind: str, name: str, request: gr.Request, profile: gr.OAuthProfile | None = None
) -> pd.DataFrame:
    """Images of a worklist: ``todo`` (not yet annotated by me), ``mine`` (with my status
    and revision), ``needs_review`` (submitted by others; reviewers only, with owner and
    annotation id) or ``all`` (with my status)."""
    store = current_store()
    try:
        who = annotator_name(name, request, profile)
    except EusgistError:
        if kind in ("todo", "all"):  # no name yet: every image is still to do
            return unannotated_table()
        raise
    if kind in ("todo", "all"):
        mine = {w.image_id: w.status for w in store.list_worklist(who, "mine")}
        items = ([(i.id, i.name, i.patient, i.lesion) for i in store.list_images()]
                 if kind == "all" else
                 [(w.image_id, w.image_name, w.patient, w.lesion)
                  for w in store.list_worklist(who, "todo")])
        return pd.DataFrame([(*item, mine.get(item[0], "to do")) for item in items],
                            columns=WORKLIST_COLUMNS)
    rows = [(w.image_id, w.image_name, w.patient, w.lesion, w.status, w.revision, w.owner,
             w.annotation_id) for w in store.list_worklist(who, kind)]  # type: ignore[arg-type]
    return pd.DataFrame(rows, columns=[*WORKLIST_COLUMNS, "revision", "owner", "annotation_id"])


def unannotated_table() -> pd.DataFrame:
    """Every image, each "to do" (shown when the page opens, before a name is known)."""
    return pd.DataFrame([(i.id, i.name, i.patient, i.lesion, "to do")
                         for i in current_store().list_images()], columns=WORKLIST_COLUMNS)


def _own(store: AnnotationStore, image_id: int, who: str) -> AnnotationInfo | None:
    """The caller's own annotation of the image, if any."""
    return next((a for a in store.annotations_for(image_id, who) if a.owner == who), None)


def _header(store: AnnotationStore, loaded: Loaded, info: ImageInfo | None = None,
            seen: list[AnnotationInfo] | None = None) -> str:
    """The Markdown line above the editor: the image, its codes and the caller's revision;
    for reviewers also who else annotated it (``seen``: the annotations the caller may
    see, read again when not given)."""
    iid, who = loaded.image_id, loaded.annotator
    info = info or store.get_image(iid)
    seen = store.annotations_for(iid, who) if seen is None else seen
    own = next((a for a in seen if a.owner == who), None)
    text = (f"your revision {own.revision} ({own.status})" if own
            else "no annotation of yours yet")
    others = [a.owner for a in seen if a.owner != who]  # empty for annotators: blind
    started = ("; started from the AI's suggested outline (check it)"
               if loaded.tool == "suggestion" else "")
    return (f"**Image {iid}: {info.name}** ({info.width}×{info.height}, patient {info.patient}, "
            f"lesion {info.lesion}) — {who}"
            f"{' (reviewer)' if loaded.reviewer else ''}: {text}"
            + (f"; also annotated by {', '.join(others)}" if others else "") + started)


def _reading_values(store: AnnotationStore, own: AnnotationInfo | None) -> list[object]:
    """The caller's own reading as the form shows it: diagnosis, then :data:`FORM_FIELDS`."""
    reading = store.reading(own.id) if own and own.revision else {}
    return [reading.get("diagnosis"),
            *(form_value(f, reading.get(f)) for f in READER_FIELDS[1:])]


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
    header, the caller's own reading (diagnosis, then :data:`FORM_FIELDS`), the case record
    (pathology label, pathology-confirmed, age, sex: reviewers only, blank and locked for
    annotators, who read blind) and the caller's latest revision number (None: none yet).
    """
    who = annotator_name(name, request, profile)
    store, iid = current_store(), parse_image_id(image_id)
    reviewer = store.is_reviewer(who)
    info = store.get_image(iid)
    if not reviewer:  # blind: the case record and others' annotations are not shown
        info = blind_image(info)
    seen = [a for a in store.annotations(iid) if reviewer or a.owner == who]
    own = next((a for a in seen if a.owner == who), None)
    mask = store.mask(own.id) if own else np.zeros((info.height, info.width), dtype=bool)
    case = {f: form_value(f, info.metadata.get(f)) for f in CASE_FORM}
    editor, extent = editor_value(background_file(store, iid, contrast), mask,
                                  previous.extent if previous else EDITOR_CANVAS)
    loaded = Loaded(iid, who, own.revision if own else 0, info.label, info.pathology_confirmed,
                    case, extent=extent, reviewer=reviewer)
    locked = [gr.update(value=v, interactive=reviewer)
              for v in (info.label, info.pathology_confirmed, *case.values())]
    return (editor, loaded, _header(store, loaded, info, seen), *_reading_values(store, own),
            *locked, own.revision if own else None)


@user_errors
def header_view(
    loaded: Loaded | None, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> str:
    """The header of the loaded image, as of now (after a save or a restore)."""
    loaded, _ = loaded_by_caller(loaded, name, request, profile)
    return _header(current_store(), loaded)


@user_errors
def reading_view(
    loaded: Loaded | None, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[object, ...]:
    """The header and the caller's own reading of the loaded image (after a restore)."""
    loaded, who = loaded_by_caller(loaded, name, request, profile)
    store = current_store()
    return (_header(store, loaded), *_reading_values(store, _own(store, loaded.image_id, who)))


@user_errors
def role_view(name: str, request: gr.Request, profile: gr.OAuthProfile | None = None) -> str:
    """Who the caller is, as what, and how one becomes a reviewer."""
    try:
        who = annotator_name(name, request, profile)
    except EusgistError as exc:
        return f"_{exc}_"
    return role_line(who, current_store().is_reviewer(who))


@user_errors
def change_contrast(editor: dict | None, loaded: Loaded | None, contrast: float) -> dict:
    """Redraw the background at another contrast; the painted layers are kept as they are
    (the stored image never changes)."""
    loaded = require_loaded(loaded)
    background = background_image(current_store(), loaded.image_id, contrast)
    return editor_value(background, drawn_mask(editor, loaded, background.shape),
                         loaded.extent)[0]


@user_errors
def add_shape(
    editor: dict | None, loaded: Loaded | None, points: str, contrast: float
) -> tuple[dict, Loaded]:
    """Paint a box (two corners ``x0,y0 x1,y1``) or a polygon (three or more points) into
    the lesion layer."""
    loaded = require_loaded(loaded)
    info = current_store().get_image(loaded.image_id)
    shape = (info.height, info.width)
    mask = drawn_mask(editor, loaded, shape) | points_mask(parse_points(points), shape)
    value, _ = editor_value(background_image(current_store(), loaded.image_id, contrast), mask,
                             loaded.extent)
    return value, replace(loaded, tool="polygon")


@user_errors
def save_annotation(
    editor: dict | None,
    loaded: Loaded | None,
    name: str,
    diagnosis: str | None,
    location: str | None,
    layer_of_origin: str | None,
    echo_pattern: str | None,
    shape: str | None,
    long_diameter_mm: float | None,
    short_diameter_mm: float | None,
    lobulation: str | None,
    calcification: str | None,
    cystic_areas: str | None,
    pathology: str | None,
    pathology_confirmed: bool,
    age: float | None,
    sex: str | None,
    submit: bool,
    note: str,
    request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[str, Loaded]:
    """Save the drawn mask and the caller's own reading (``diagnosis`` … ``cystic_areas``)
    as a new revision of the caller's annotation; reviewers may also change the case
    record (``pathology``, ``pathology_confirmed``, ``age``, ``sex``; only fields changed
    since loading are written). An annotator who sends a case record is refused and nothing
    is saved.

    ``editor`` is the ImageEditor value. API callers may send a plain mask image as its only
    layer: ``{"background": None, "layers": [handle_file("mask.png")], "composite": None}``
    (non-black, non-transparent pixels are lesion). The save starts from the revision
    loaded in this session (call ``annotate_load`` first); when someone saved a newer one
    meanwhile, nothing is saved and the drawing stays in the editor.
    """
    loaded, who = loaded_by_caller(loaded, name, request, profile)
    store = current_store()
    info = store.get_image(loaded.image_id)
    mask = drawn_mask(editor, loaded, (info.height, info.width))
    if not mask.any():
        raise EusgistError("the mask is empty: paint the lesion first; nothing was saved")
    reading = dict(zip(READER_FIELDS, (
        diagnosis, location, layer_of_origin, echo_pattern, shape, long_diameter_mm,
        short_diameter_mm, lobulation, calcification, cystic_areas), strict=True))
    reading = {k: None if v in (None, "") else v for k, v in reading.items()}
    case = {k: None if v in (None, "") else v for k, v in zip(CASE_FORM, (age, sex), strict=True)}
    changed = {k: v for k, v in case.items() if v != loaded.metadata.get(k)}
    relabel = bool(pathology) and (pathology, bool(pathology_confirmed)) != (
        loaded.label, loaded.confirmed)
    if (changed or relabel) and not loaded.reviewer:
        raise NotAllowedError(
            f"{who} is not a reviewer; only reviewers record the pathology result, age and sex "
            "(annotators read blind). Nothing was saved: clear those fields and save again.")
    validate_metadata(changed)  # refuse bad values before anything is written
    if pathology and pathology not in LABELS:
        raise EusgistError(f"unknown pathology {pathology!r}; expected one of {list(LABELS)}")
    try:
        rev = store.save_annotation(
            loaded.image_id, who, mask, loaded.tool, loaded.revision, submit=submit,
            note=note.strip() or None, reading=reading,
        )
    except ConflictError as exc:
        raise EusgistError(
            f"Not saved: someone saved a newer revision of this annotation ({exc}). "
            "Your drawing is still in the editor."
        ) from exc
    if changed:
        store.set_metadata(loaded.image_id, changed, annotator=who)
    if relabel:
        store.set_label(loaded.image_id, str(pathology), annotator=who,
                        pathology_confirmed=pathology_confirmed)
    log.info("%s saved revision %d of image %d", who, rev.number, loaded.image_id)
    status = "submitted for review" if submit else "draft"
    message = (f"Saved revision {rev.number} of {who}'s annotation of image {loaded.image_id} "
               f"({rev.area} px, {status}).")
    return message, replace(loaded, revision=rev.number, label=pathology or loaded.label,
                            confirmed=bool(pathology_confirmed) if relabel else loaded.confirmed,
                            metadata={**loaded.metadata, **changed})


@user_errors
def next_image(
    kind: str, loaded: Loaded | None, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> int:
    """The next image of the worklist after the one loaded (by id), else its first other
    than the one loaded."""
    table = worklist_table(kind, name, request, profile)
    current = loaded.image_id if loaded else 0
    ids = sorted(int(i) for i in table["id"] if int(i) != current)
    if not ids:
        raise EusgistError(f"the {kind} worklist has no other image")
    return next((i for i in ids if i > current), ids[0])


@user_errors
def step_image(
    kind: str, loaded: Loaded | None, forward: bool, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> int:
    """The image after (``forward``) or before the loaded one in the worklist, by id; the
    first (or last) when none is loaded. Nothing is saved."""
    ids = sorted(int(i) for i in worklist_table(kind, name, request, profile)["id"])
    current = loaded.image_id if loaded else None
    pick = ([i for i in ids if current is None or i > current][:1] if forward
            else [i for i in ids if current is None or i < current][-1:])
    if not pick:
        raise EusgistError(f"no {'next' if forward else 'previous'} image in the {kind} worklist")
    return pick[0]


@user_errors
def history_table(
    loaded: Loaded | None, name: str, request: gr.Request, profile: gr.OAuthProfile | None = None
) -> pd.DataFrame:
    """Revisions of the caller's annotation of the loaded image, oldest first."""
    loaded = require_loaded(loaded)
    who = annotator_name(name, request, profile)
    store = current_store()
    own = _own(store, loaded.image_id, who)
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
    if annotation_id in (None, "", 0):
        own = _own(store, loaded.image_id, who)
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


def _revision_number(revision: float | None, latest: int) -> int:
    """The revision asked for; blank (or 0) is the latest."""
    if revision in (None, "", 0):
        return latest
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
    annotation when ``annotation_id`` is blank; reviewers may give another's. A blank
    ``revision`` is the latest."""
    loaded = require_loaded(loaded)
    who = annotator_name(name, request, profile)
    store = current_store()
    source = _revision_source(store, loaded, annotation_id, who, "preview")
    number = _revision_number(revision, source.revision)
    mask = store.mask(source.id, number)
    rev = next(r for r in store.history(source.id) if r.number == number)
    picture = picture_file(overlay(background_image(store, loaded.image_id, contrast), [mask]))
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
    """Save a copy of a revision (mask and reading) as the newest revision of the caller's
    annotation and load it into the editor. The annotation stays submitted for review
    (accepted or rejected ones go back to review) unless it was a draft; the message says
    which. It starts from the revision loaded in this session: when someone saved a newer
    one meanwhile, nothing is restored. Restoring another annotator's revision (reviewers
    only) forks it into the reviewer's own annotation."""
    loaded, who = loaded_by_caller(loaded, name, request, profile)
    store = current_store()
    source = _revision_source(store, loaded, annotation_id, who, "restore")
    number = _revision_number(revision, source.revision)
    try:
        rev = store.restore(source.id, number, who, expected_revision=loaded.revision)
    except ConflictError as exc:
        raise EusgistError(f"Not restored: someone saved a newer revision of this annotation "
                           f"({exc}).") from exc
    log.info("%s restored revision %d of annotation %d as revision %d", who, number, source.id,
             rev.number)
    background = background_image(store, loaded.image_id, contrast)
    editor, _ = editor_value(background, store.mask(rev.annotation_id, rev.number),
                              loaded.extent)
    status = store.get_annotation(rev.annotation_id).status
    what = ("submitted for review: a reviewer sees it in needs_review and can accept it"
            if status == "submitted" else
            "a draft: tick “Submit for review” and save to send it to review")
    message = (f"Restored revision {number} of {source.owner}'s annotation as revision "
               f"{rev.number} of {who}'s ({rev.area} px, with its reading). It is {what}.")
    return editor, replace(loaded, revision=rev.number, tool=rev.tool), message


@user_errors
def review_view(
    image_id: float | None, contrast: float, name: str, request: gr.Request,
    profile: gr.OAuthProfile | None = None,
) -> tuple[str, pd.DataFrame, pd.DataFrame, dict, dict[int, int]]:
    """Every annotator's latest mask of the image overlaid in its own colour, the pairwise
    Dice/IoU agreement, the annotations, and the revisions seen (guarding the decision).
    Reviewers only: annotators work blind to each other's masks."""
    store, iid = current_store(), parse_image_id(image_id)
    store.require_reviewer(annotator_name(name, request, profile),
                           "compare the annotations of an image")
    annotations = [a for a in store.annotations(iid) if a.revision > 0]
    if not annotations:
        raise EusgistError(f"image {iid} has no annotations to review")
    picture = picture_file(
        overlay(background_image(store, iid, contrast), [store.mask(a.id) for a in annotations]))
    agreement = pd.DataFrame(
        [(g.a, g.b, round(g.dice, 4), round(g.iou, 4)) for g in store.agreement(iid)],
        columns=["annotator_a", "annotator_b", "dice", "iou"],
    )
    colours = ["orange", "sky blue", "green", "yellow", "pink", "vermilion", "blue"]
    readings = [store.reading(a.id) for a in annotations]
    table = pd.DataFrame(
        [(a.id, a.owner, colours[i % len(colours)], a.status, a.revision, a.reviewed_by,
          r["diagnosis"], r["long_diameter_mm"], r["short_diameter_mm"])
         for i, (a, r) in enumerate(zip(annotations, readings, strict=True))],
        columns=["annotation_id", "owner", "colour", "status", "revision", "reviewed_by",
                 "diagnosis", "long_diameter_mm", "short_diameter_mm"],
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
    iid = parse_image_id(image_id)
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
