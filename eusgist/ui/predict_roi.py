"""The Predict tab's lesion ROI: one of a mask file, a typed box, a drawn box or outline, or
painting; and the picture of the ROI a prediction used.

:func:`resolve_roi` takes the tab's ROI inputs and returns the one given (two at once are a
user error naming both, never a silent choice); :func:`roi_view` draws it on the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eusgist.errors import EusgistError
from eusgist.inference import catalog
from eusgist.io import LoadedImage, read_image, read_mask, to_uint8
from eusgist.masks import mask_from_layers, parse_shapes, roi_picture, shapes_mask, shapes_size
from eusgist.roi_kinds import parse_box
from eusgist.ui.errors import user_errors
from eusgist.ui.shape_overlay import overlay_update

Box = tuple[float, float, float, float]


def display_gray(image: LoadedImage) -> np.ndarray:
    """8-bit grey display of an image; a volume's middle slice."""
    array = image.array
    return to_uint8(array[len(array) // 2] if array.ndim == 3 else array)


@user_errors
def show_drawing(path: str | None) -> dict:
    """An uploaded 2D image in the box-drawing overlay (no shapes); nothing for a volume."""
    if not path:
        return overlay_update(None)
    image = read_image(path, name=Path(path).name, allow_volume=True)
    return overlay_update(None if image.is_volume else display_gray(image), Path(path).name)


def painted_mask(editor: dict | None, shape: tuple[int, int]) -> np.ndarray | None:
    """What was painted in the ImageEditor value; None when nothing was."""
    layers = [np.asarray(x) for x in (editor or {}).get("layers") or [] if x is not None]
    mask = mask_from_layers(layers, shape) if layers else None
    return mask if mask is not None and mask.any() else None


#: Smallest longer side of the ROI picture (a smaller image is enlarged by a whole factor).
ROI_PICTURE_SIDE = 384
#: How to withdraw each kind of ROI input, for the message when two are given.
_WITHDRAW = {"a mask file": "remove the mask file", "a typed box": "empty the box field",
             "a drawn box": "press Clear on the drawing",
             "a drawn outline": "press Clear on the drawing",
             "painting": "erase the painting"}


def _drawn_roi(value: str | None, shape: tuple[int, int]) -> tuple[str, Box | np.ndarray] | None:
    """The shape drawn on the overlay: ``("a drawn box", box)`` or ``("a drawn outline",
    mask)``; None when nothing is drawn."""
    shapes = parse_shapes(value)
    if not shapes:
        return None
    if len(shapes) > 1:
        raise EusgistError(f"draw one ROI, not {len(shapes)} shapes")
    if shapes[0]["type"] == "polygon":
        return "a drawn outline", shapes_mask(value, shape)
    drawn_on = shapes_size(value)
    if drawn_on is not None and drawn_on != tuple(shape):
        raise EusgistError(f"the box was drawn on a {drawn_on[1]}×{drawn_on[0]} image, this "
                           f"image is {shape[1]}×{shape[0]}: draw it again")
    (x0, y0), (x1, y1) = shapes[0]["points"]
    return "a drawn box", (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def resolve_roi(
    image: LoadedImage, editor: dict | None, mask_path: str | None, box_text: str | None,
    drawing: str | None, *, painting: bool = True,
) -> tuple[str | np.ndarray | None, Box | None]:
    """The one ROI given: ``(mask, box)`` (mask a file path or boolean array), or
    ``(None, None)`` for none.

    The ROI comes from exactly one of: a mask file, a typed box, a box or outline drawn on
    the overlay, painting in the editor (``painting``: read the editor; a 2D model only).

    Raises
    ------
    ValueError
        Two of them at once (the message names both and how to withdraw one); a bad box or
        drawing.
    """
    shape = image.array.shape[-2:]
    given: dict[str, Any] = {}
    if mask_path:
        given["a mask file"] = mask_path
    if (box := parse_box(box_text)) is not None:
        given["a typed box"] = box
    if drawing and not image.is_volume and (drawn := _drawn_roi(drawing, shape)):
        given[drawn[0]] = drawn[1]
    elif drawing and parse_shapes(drawing):
        raise EusgistError("a volume takes its ROI as a mask volume file, not a drawing")
    if painting and (painted := painted_mask(editor, shape)) is not None:
        given["painting"] = painted
    if len(given) > 1:
        names = list(given)
        fixes = "; or ".join(_WITHDRAW[n] for n in names)
        raise EusgistError(f"give the lesion ROI one way, not {' and '.join(names)}: {fixes}")
    if not given:
        return None, None
    (kind, roi), = given.items()
    return (None, roi) if "box" in kind else (roi, None)


@user_errors
def roi_view(
    name: str | None, image_path: str | None, editor: dict | None, mask_path: str | None,
    box_text: str | None, drawing: str | None = None,
) -> np.ndarray | None:
    """The image with the ROI a prediction with these inputs uses drawn on it (tinted and
    outlined; the whole image framed when no ROI is given); None for a volume."""
    if not name or not image_path:
        return None
    model = catalog.load_listed_model(name)
    image = read_image(image_path, name=Path(image_path).name, allow_volume=True)
    if image.is_volume or model.dims != "2d":
        return None
    mask, box = resolve_roi(image, editor, mask_path, box_text, drawing)
    shape = image.array.shape[:2]
    if isinstance(mask, str):
        mask = read_mask(mask, like=image, name=Path(mask).name)
    elif box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        mask = np.zeros(shape, dtype=bool)
        mask[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    elif mask is None:
        mask = np.ones(shape, dtype=bool)
    picture, zoom = display_gray(image), -(-ROI_PICTURE_SIDE // max(shape))
    if zoom > 1:  # a small image is enlarged (pixels kept sharp) so the outline shows
        picture, mask = (np.kron(x, np.ones((zoom, zoom), x.dtype)) for x in (picture, mask))
    return roi_picture(picture, mask)
