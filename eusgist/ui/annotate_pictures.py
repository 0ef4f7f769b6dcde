"""Pictures of the Annotate tab: PNG files for the browser and the ImageEditor's value.

A reopened mask is the editor's filled, editable lesion layer. Gradio 6.31's ImageEditor
draws a layer sent from the server centred in a new layer as large as everything on its
canvas so far (the initial canvas and every image this page showed), not over the image:
:func:`editor_value` therefore pads the layer to that extent, tracked per session in
:class:`~eusgist.ui.annotate_session.Loaded`, with the mask at the top-left corner where the
image is. The browser sends an edited layer back cropped to the image, an unedited one as it
was sent (padded).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from eusgist.io import to_uint8
from eusgist.masks import adjust_contrast, mask_from_layers, mask_layer
from eusgist.store import AnnotationStore
from eusgist.ui.annotate_session import Loaded

#: Pictures handed to the browser, as PNG files named by their content.
PICTURE_DIR = Path(tempfile.gettempdir()) / "eusgist-pictures"
#: Pictures are patient images: those older than this many seconds are deleted (as Gradio's
#: own temporary copies are, see ``eusgist.ui.CACHE_LIFETIME``).
PICTURE_MAX_AGE = 86400
#: How many picture files (backgrounds, empty layers) are remembered for reuse.
_FILES_KEPT = 256
_files: dict[tuple, str] = {}
_files_lock = threading.Lock()


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


def background_image(store: AnnotationStore, image_id: int, contrast: float) -> np.ndarray:
    """The stored image as 8-bit pixels at the display ``contrast``."""
    return adjust_contrast(to_uint8(store.load_image(image_id).array), contrast)


def _remembered(key: tuple, make: Callable[[], str]) -> str:
    """The picture file remembered under ``key`` while it exists, else ``make()``'s."""
    with _files_lock:
        path = _files.get(key)
    if path is not None and os.path.isfile(path):
        return path
    path = make()
    with _files_lock:
        if len(_files) >= _FILES_KEPT:
            _files.pop(next(iter(_files)))
        _files[key] = path
    return path


def background_file(store: AnnotationStore, image_id: int, contrast: float) -> str:
    """:func:`background_image` as a picture file, remembered per database, image and
    contrast (stored images never change): annotators opening the same image skip decoding
    and encoding it again."""
    return _remembered((store.url, image_id, float(contrast)),
                       lambda: picture_file(background_image(store, image_id, contrast)))


def editor_value(
    background: np.ndarray | str, mask: np.ndarray, extent: tuple[int, int]
) -> tuple[dict, tuple[int, int]]:
    """ImageEditor value showing ``mask`` as the filled, editable lesion layer, padded to
    the session's canvas ``extent`` grown to this image (see the module notes); and that
    extent. ``background`` is the picture, or its file (:func:`background_file`)."""
    height, width = mask.shape
    extent = (max(extent[0], height), max(extent[1], width))
    if mask.any():
        layer = np.zeros((*extent, 4), dtype=np.uint8)
        layer[:height, :width] = mask_layer(mask)
        layer_file = picture_file(layer)
    else:  # the same transparent layer for every image of this extent
        layer_file = _remembered(("empty", extent), lambda: picture_file(
            np.zeros((*extent, 4), dtype=np.uint8)))
    picture = background if isinstance(background, str) else picture_file(background)
    return {"background": picture, "layers": [layer_file], "composite": picture}, extent


def drawn_mask(editor: dict | None, loaded: Loaded, shape: tuple[int, int]) -> np.ndarray:
    """The lesion mask painted in the editor value; a layer of the session's padded extent
    (sent by :func:`editor_value`, come back unedited) is cropped to the image first."""
    layers = [np.asarray(x) for x in (editor or {}).get("layers") or [] if x is not None]
    return mask_from_layers(
        [x[: shape[0], : shape[1]] if x.shape[:2] == loaded.extent else x for x in layers],
        shape)
