"""Annotate tab: boxes and polygons drawn on the image, added to the painted lesion layer.

The drawing overlay (:mod:`eusgist.ui.shape_overlay`) shows the open image; "Add to the
mask" paints its shapes into the editor's lesion layer (with what the brush painted), where
they are saved like painting. Typed points stay available to API clients
(``annotate_shape``, :func:`eusgist.ui.annotate_actions.add_shape`).
"""

from __future__ import annotations

from dataclasses import replace

import gradio as gr

from eusgist.errors import EusgistError
from eusgist.masks import shapes_mask
from eusgist.ui.annotate_pictures import background_image, drawn_mask, editor_value
from eusgist.ui.annotate_session import Loaded, current_store, require_loaded
from eusgist.ui.errors import user_errors
from eusgist.ui.shape_overlay import overlay_key, overlay_update


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
