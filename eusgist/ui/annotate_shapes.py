"""Annotate tab: boxes and polygons drawn on the image, added to the painted lesion layer.

The drawing overlay (:mod:`eusgist.ui.shape_overlay`) shows the open image; "Add to the
mask" paints its shapes into the editor's lesion layer (with what the brush painted), where
they are saved like painting. Typed points stay available to API clients
(``annotate_shape``, :func:`eusgist.ui.annotate_actions.add_shape`). "Suggest outline"
turns each drawn box into the shipped segmenter's outline (:mod:`eusgist.segment`) in the
same layer, for the annotator to refine; a notice says that the outline is the model's
guess to check, and the page scrolls back to the editor (:data:`SHOW_EDITOR_JS`).
"""

from __future__ import annotations

import json
from dataclasses import replace

import gradio as gr
import numpy as np

from eusgist.errors import EusgistError
from eusgist.io import to_uint8
from eusgist.masks import parse_shapes, shapes_mask
from eusgist.roi_kinds import parse_box
from eusgist.segment import load_segmenter
from eusgist.ui.annotate_pictures import background_image, drawn_mask, editor_value
from eusgist.ui.annotate_session import Loaded, current_store, require_loaded
from eusgist.ui.errors import user_errors
from eusgist.ui.shape_overlay import overlay_key, overlay_update

#: Run in the browser after a suggestion: the outline is in the editor, above the overlay
#: where the box was drawn, so bring the editor into view.
SHOW_EDITOR_JS = """() => {
  const editor = document.getElementById('annotate-editor');
  if (editor) editor.scrollIntoView({block: 'center'});
}"""


def drawing_key(loaded: Loaded) -> str:
    """The overlay key of the image a session has open."""
    return f"image:{loaded.image_id}"


@user_errors
def add_drawn_shapes(
    editor: dict | None, loaded: Loaded | None, drawing: str | None, contrast: float
) -> tuple[dict, Loaded, dict]:
    """Paint the overlay's boxes and polygons into the lesion layer (kept with the brush
    strokes) and clear the overlay.

    Raises
    ------
    ValueError
        No image open; nothing drawn; shapes drawn on another image.
    """
    loaded = require_loaded(loaded)
    if overlay_key(drawing) not in ("", drawing_key(loaded)):  # API clients send no key
        raise EusgistError("the shapes were drawn on another image: draw them again")
    store = current_store()
    info = store.get_image(loaded.image_id)
    shape = (info.height, info.width)
    drawn = shapes_mask(drawing, shape)
    if not drawn.any():
        raise EusgistError("draw a box or a polygon on the image first")
    background = background_image(store, loaded.image_id, contrast)
    value, _ = editor_value(background, drawn_mask(editor, loaded, shape) | drawn,
                            loaded.extent)
    return value, replace(loaded, tool="polygon"), overlay_update(background, drawing_key(loaded))


def show_drawing(loaded: Loaded | None, contrast: float, drawing: str | None) -> dict:
    """The overlay for the open image, cleared when another image was opened; unchanged
    (shapes kept) for the same image."""
    if loaded is None:
        return overlay_update(None)
    if overlay_key(drawing) == drawing_key(loaded):
        return gr.skip()
    background = background_image(current_store(), loaded.image_id, contrast)
    return overlay_update(background, drawing_key(loaded))


def drawing_contrast(loaded: Loaded | None, contrast: float, drawing: str | None) -> dict:
    """The overlay's picture at another display contrast, its shapes kept."""
    if loaded is None or overlay_key(drawing) != drawing_key(loaded):
        return gr.skip()
    background = background_image(current_store(), loaded.image_id, contrast)
    return overlay_update(background, drawing_key(loaded), keep=drawing)


def _drawn_boxes(drawing: str | None, shape: tuple[int, int]
                 ) -> tuple[list[tuple[int, int, int, int]], list[dict]]:
    """The overlay's boxes as integer ``(x0, y0, x1, y1)`` clipped to the image, and its
    other shapes (polygons) as drawn."""
    shapes_mask(drawing, shape)  # the same checks as adding shapes (size, inside the image)
    height, width = shape
    boxes, others = [], []
    for item in parse_shapes(drawing):
        if item["type"] != "box":
            others.append(item)
            continue
        (ax, ay), (bx, by) = item["points"]
        x0, x1 = sorted((ax, bx))
        y0, y1 = sorted((ay, by))
        boxes.append((max(0, int(round(x0))), max(0, int(round(y0))),
                      min(width, int(round(x1))), min(height, int(round(y1)))))
    return boxes, others


def suggestion_notice(boxes: int, polygons: int) -> str:
    """What the annotator is told once the outline is in the editor."""
    outline = "outline" if boxes == 1 else f"outlines ({boxes} boxes)"
    text = (f"Suggested {outline} added to the lesion layer of the editor: it is the model's "
            "guess, not a reading. Check it, correct it with the brush and eraser, then save.")
    if polygons:
        text += " Your polygon stays on the drawing: add it with \"Add the drawn shapes\"."
    return text


@user_errors
def suggest_outline(
    editor: dict | None, loaded: Loaded | None, drawing: str | None, contrast: float
) -> tuple[dict, Loaded, dict]:
    """Outline the lesion inside each drawn box with the shipped segmenter and add the
    outline to the lesion layer for the annotator to refine; the revision's tool becomes
    ``suggestion`` (it records that the annotation started from a suggestion). The boxes
    leave the overlay, drawn polygons stay there (they are added with "Add the drawn
    shapes"); a notice (:func:`suggestion_notice`) tells the annotator to check the outline.

    Raises
    ------
    ValueError
        No image open; no box drawn; shapes drawn on another image; no segmenter shipped.
    """
    loaded = require_loaded(loaded)
    if overlay_key(drawing) not in ("", drawing_key(loaded)):
        raise EusgistError("the box was drawn on another image: draw it again")
    store = current_store()
    info = store.get_image(loaded.image_id)
    shape = (info.height, info.width)
    boxes, others = _drawn_boxes(drawing, shape)
    if not boxes:
        raise EusgistError("drag a box around the lesion first, then press Suggest outline")
    segmenter = load_segmenter()
    pixels = to_uint8(store.load_image(loaded.image_id).array)
    outline = np.zeros(shape, dtype=bool)
    for box in boxes:
        outline |= segmenter.segment(pixels, box)
    background = background_image(store, loaded.image_id, contrast)
    value, _ = editor_value(background, drawn_mask(editor, loaded, shape) | outline,
                            loaded.extent)
    keep = None
    if others:
        keep = json.dumps({"width": info.width, "height": info.height,
                           "key": drawing_key(loaded), "shapes": others})
    gr.Info(suggestion_notice(len(boxes), len(others)), duration=15)
    return (value, replace(loaded, tool="suggestion"),
            overlay_update(background, drawing_key(loaded), keep=keep))


@user_errors
def segment_box(image: str | None, box: str | None) -> np.ndarray:
    """API: the shipped segmenter's outline inside ``box`` (``x0,y0,x1,y1``, pixels) of an
    uploaded image, as a 0/255 mask of the image's size (:func:`eusgist.segment.segment`)."""
    from eusgist.segment import segment

    if not image:
        raise EusgistError("upload an image first")
    numbers = parse_box(box)
    if numbers is None:
        raise EusgistError("type the box as four numbers x0,y0,x1,y1")
    return segment(load_segmenter(), image, numbers).astype(np.uint8) * 255
