"""Who annotates what in the Annotate tab: the store, the annotator and the session state.

The database is ``$EUSGIST_DATABASE_URL`` or the default, opened lazily on first use and
cached per URL; names listed in ``$EUSGIST_REVIEWERS`` (comma-separated) are registered as
reviewers when it is opened (:func:`role_line` says so in the tab). Annotators read blind
(:mod:`eusgist.store.readings`): the form holds the caller's own reading, and the case record
(pathology, age, sex) only for reviewers. The annotator is the signed-in user (``gr.Request.username``
with ``auth=``, the Hugging Face OAuth profile on a Space), else the name typed in the tab
(not on a Space with Hugging Face sign-in, :mod:`eusgist.ui.signin`). Each browser session
keeps the loaded image and the revision it started from in a ``gr.State`` (:class:`Loaded`),
so a save or restore based on a stale revision is refused and nothing is overwritten.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import gradio as gr

from eusgist.config import settings
from eusgist.errors import EusgistError
from eusgist.store import (
    CASE_FIELDS,
    METADATA_FIELDS,
    READER_FIELDS,
    AnnotationStore,
    ReadOnlyDatabaseError,
    default_database_url,
    open_store,
)
from eusgist.ui.signin import oauth_enabled

log = logging.getLogger(__name__)

#: Worklists: images not yet annotated by me, mine, others' submitted (reviewers), all.
WORKLISTS = ("todo", "mine", "needs_review", "all")
#: The editor's initial canvas (height, width): the least extent of a sent layer.
EDITOR_CANVAS = (800, 800)
#: The reader's own description fields in the form, in order (after the diagnosis).
FORM_FIELDS: tuple[str, ...] = READER_FIELDS[1:]
#: The case record's patient fields in the form (after the pathology label and flag).
CASE_FORM: tuple[str, ...] = CASE_FIELDS
YES_NO = ("yes", "no")
LESION_COLOR = "#ff4040"
#: The brush's default opacity: the echo texture shows through a stroke.
BRUSH_OPACITY = 0.55
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
    from (0 = no annotation yet), the tool used, the case record as loaded (label,
    pathology flag, patient metadata: blank for annotators), whether the annotator is a
    reviewer, and the editor canvas extent (height, width) this session has grown to."""

    image_id: int
    annotator: str
    revision: int
    label: str | None = None
    confirmed: bool = False
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    tool: str = "brush"
    extent: tuple[int, int] = EDITOR_CANVAS
    reviewer: bool = False


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


def parse_image_id(value: float | str | None) -> int:
    """The image id typed or picked in the tab; a clear error when there is none."""
    try:
        number = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise EusgistError("choose an image first: click a row of the worklist or type its id")
    return number


def require_loaded(loaded: Loaded | None) -> Loaded:
    """The session's loaded image; a clear error when none is loaded."""
    if loaded is None:
        raise EusgistError("load an image first (pick one from the worklist)")
    return loaded


def loaded_by_caller(
    loaded: Loaded | None, name: str, request: gr.Request, profile: gr.OAuthProfile | None
) -> tuple[Loaded, str]:
    """The session's loaded image and the caller, who must be the one it was loaded for."""
    loaded = require_loaded(loaded)
    who = annotator_name(name, request, profile)
    if who != loaded.annotator:
        raise EusgistError(
            f"image {loaded.image_id} was loaded for {loaded.annotator}, not {who}; load it again"
        )
    return loaded, who


def form_value(name: str, value: object) -> MetadataValue:
    """A stored metadata value as the form shows it (flags as yes/no)."""
    if value is None:
        return None
    if METADATA_FIELDS[name].kind == "flag":
        return YES_NO[0] if value else YES_NO[1]
    return value  # type: ignore[return-value]


def lesion_brush(opacity: float) -> gr.Brush:
    """The editor's brush: the lesion colour at ``opacity`` (translucent, so the echo
    texture stays visible under a stroke)."""
    return gr.Brush(colors=[(LESION_COLOR, float(opacity))], color_mode="fixed")


def brush_opacity(opacity: float) -> dict:
    """An editor update changing only the brush's opacity (the layers are kept)."""
    return gr.update(brush=lesion_brush(opacity))


def role_line(name: str, reviewer: bool) -> str:
    """Markdown saying who the annotator is, as what, and how one becomes a reviewer."""
    listed = ", ".join(settings().reviewers) or "none"
    how = (f"Reviewers (`EUSGIST_REVIEWERS`: {listed}) see everyone's work, enter the "
           "pathology result and accept or merge; the server's administrator adds a name "
           "there and restarts the app")
    if reviewer:
        return f"**{name}: reviewer** — you see everyone's annotations and the case record."
    return (f"**{name}: annotator** — you read blind: you see only the image and your own "
            f"annotation. {how}.")


def metadata_input(name: str, *, interactive: bool = True) -> gr.components.Component:
    """The form input of a metadata field: a number, or a dropdown of its choices."""
    spec, label = METADATA_FIELDS[name], name.replace("_", " ").capitalize()
    if spec.kind in ("number", "integer"):
        return gr.Number(label=label.replace(" mm", " (mm)"), value=None, minimum=0,
                         precision=0 if spec.kind == "integer" else None,
                         placeholder="not given", interactive=interactive)
    choices = list(spec.choices) if spec.kind == "category" else list(YES_NO)
    return gr.Dropdown(label=label, choices=choices, value=None, interactive=interactive)
