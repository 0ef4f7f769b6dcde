"""Lesion masks for drawing tools and display: painted layers → mask, shapes, overlays.

Pure NumPy/Pillow functions with no UI dependency. Conventions: masks are boolean
``(H, W)`` arrays; display images are uint8 grayscale ``(H, W)`` or RGB ``(H, W, 3)``;
painted layers are RGBA ``(H, W, 4)`` (or grayscale, for a plain mask file) uint8 arrays;
drawn shapes (boxes, polygons) are JSON in image pixel coordinates (:func:`parse_shapes`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from eusgist.errors import EusgistError

#: Distinct overlay colours (RGB), one per annotator in order (colour-blind safe first).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (204, 121, 167),
    (213, 94, 0),
    (0, 114, 178),
)
#: Colour of the editable lesion layer (RGB) and its opacity (alpha) where painted.
LAYER_COLOR: tuple[int, int, int] = (255, 64, 64)
LAYER_ALPHA = 160


def mask_from_layers(layers: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The lesion mask painted in editor layers: a pixel any layer paints is lesion.

    A pixel is painted when it is not transparent (alpha > 0; the eraser makes pixels
    transparent) and not black, so a plain 0/255 mask image given as a layer works too.
    Layers of another size than ``shape`` (height, width) are resized (nearest neighbour).

    Raises
    ------
    ValueError
        When a layer is not a 2D grayscale or an RGB/RGBA image.
    """
    mask = np.zeros(shape, dtype=bool)
    for layer in layers:
        array = np.asarray(layer)
        if array.ndim == 2:
            painted = array > 0
        elif array.ndim == 3 and array.shape[2] in (3, 4):
            painted = array[..., :3].max(axis=2) > 0
            if array.shape[2] == 4:
                painted &= array[..., 3] > 0
        else:
            raise EusgistError(
                f"a mask layer must be a grayscale, RGB or RGBA image, got shape {array.shape}"
            )
        if painted.shape != shape:
            resized = Image.fromarray(painted).resize((shape[1], shape[0]), Image.NEAREST)
            painted = np.asarray(resized, dtype=bool)
        mask |= painted
    return mask


def mask_layer(
    mask: np.ndarray, color: tuple[int, int, int] = LAYER_COLOR, alpha: int = LAYER_ALPHA
) -> np.ndarray:
    """An RGBA layer painting ``mask`` in ``color`` (transparent elsewhere)."""
    layer = np.zeros((*mask.shape, 4), dtype=np.uint8)
    layer[mask] = (*color, alpha)
    return layer


def adjust_contrast(image: np.ndarray, contrast: float) -> np.ndarray:
    """Stretch (contrast > 1) or flatten (< 1) uint8 grey levels about mid-grey (128)."""
    if not np.isfinite(contrast) or contrast <= 0:
        raise EusgistError(f"contrast must be a positive number, got {contrast!r}")
    out = (np.asarray(image, dtype=np.float32) - 128.0) * float(contrast) + 128.0
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (or on the image border)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = (
        padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & mask
    )
    return mask & ~inner


def overlay(
    image: np.ndarray,
    masks: Sequence[np.ndarray],
    colors: Sequence[tuple[int, int, int]] = PALETTE,
    *,
    opacity: float = 0.3,
) -> np.ndarray:
    """RGB picture of ``image`` with each mask tinted and outlined in its own colour.

    Mask ``i`` gets ``colors[i % len(colors)]``: blended at ``opacity`` inside, opaque on
    its outline, so overlapping masks stay distinguishable.
    """
    base = np.asarray(image, dtype=np.float32)
    rgb = np.repeat(base[..., None], 3, axis=2) if base.ndim == 2 else base[..., :3].copy()
    for i, mask in enumerate(masks):
        if mask.shape != rgb.shape[:2]:
            raise EusgistError(f"mask {i} has shape {mask.shape}, the image {rgb.shape[:2]}")
        color = np.asarray(colors[i % len(colors)], dtype=np.float32)
        rgb[mask] = (1 - opacity) * rgb[mask] + opacity * color
        rgb[_outline(mask)] = color
    return np.rint(np.clip(rgb, 0, 255)).astype(np.uint8)


def parse_points(text: str) -> list[tuple[float, float]]:
    """Points ``x,y`` from text such as ``"10,20 80,60"`` (separators: spaces, ``;``)."""
    numbers = re.split(r"[\s,;()\[\]]+", text.strip())
    values = [n for n in numbers if n]
    try:
        floats = [float(v) for v in values]
    except ValueError:
        raise EusgistError(f"points must be numbers 'x,y x,y ...', got {text!r}") from None
    if len(floats) % 2 or not floats:
        raise EusgistError(f"points must be pairs 'x,y x,y ...', got {text!r}")
    return list(zip(floats[::2], floats[1::2], strict=True))


def shape_mask(points: Sequence[tuple[float, float]], shape: tuple[int, int]) -> np.ndarray:
    """Filled box (two corner points) or polygon (three or more) in pixel coordinates.

    Raises
    ------
    ValueError
        For fewer than two points, or a shape that covers no pixel of the image.
    """
    if len(points) < 2:
        raise EusgistError("a box needs two corners, a polygon at least three points")
    canvas = Image.new("1", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    if len(points) == 2:
        (x0, y0), (x1, y1) = points
        draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=1)
    else:
        draw.polygon(list(points), fill=1)
    mask = np.asarray(canvas, dtype=bool)
    if not mask.any():
        raise EusgistError(
            f"the shape {list(points)} covers no pixel of the {shape[1]}×{shape[0]} image"
        )
    return mask


#: Kinds of a drawn shape and the fewest points each takes.
SHAPE_POINTS: dict[str, int] = {"box": 2, "polygon": 3}


def parse_shapes(value: str | Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The shapes of a drawing overlay's JSON value, checked, in image pixel coordinates.

    The value is ``{"width": W, "height": H, "shapes": [{"type": "box", "points": [[x0, y0],
    [x1, y1]]}, {"type": "polygon", "points": [[x, y], ...]}]}`` (``width``/``height``, the
    size of the image the shapes were drawn on, are optional), as text or parsed; empty text
    or None means no shapes. Returned shapes are ``{"type", "points"}`` with float points.

    Raises
    ------
    ValueError
        Not JSON; an unknown shape type; too few points; a point that is not two finite
        numbers.
    """
    value = _shapes_object(value)
    shapes = []
    for i, item in enumerate(value.get("shapes", [])):
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind not in SHAPE_POINTS:
            raise EusgistError(f"shape {i + 1}: type must be 'box' or 'polygon', got {kind!r}")
        points = item.get("points")
        try:
            points = [(float(x), float(y)) for x, y in points]
        except (TypeError, ValueError):
            raise EusgistError(f"shape {i + 1}: points must be [x, y] pairs") from None
        if not all(np.isfinite(points).flat) or len(points) < SHAPE_POINTS[kind] or (
                kind == "box" and len(points) != 2):
            raise EusgistError(
                f"shape {i + 1}: a box takes two corners, a polygon three or more points, "
                f"all finite; got {len(points)} for a {kind}")
        shapes.append({"type": kind, "points": points})
    return shapes


def shapes_size(value: str | Mapping[str, Any] | None) -> tuple[int, int] | None:
    """``(height, width)`` of the image a drawing overlay's value says it was drawn on."""
    value = _shapes_object(value)
    try:
        return int(value["height"]), int(value["width"])
    except (KeyError, TypeError, ValueError):
        return None


def _shapes_object(value: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A drawing overlay's value as a mapping (``{}`` for None or empty text)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise EusgistError(f"shapes must be JSON, got {value[:80]!r} ({exc.msg})") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("shapes", []), list):
        raise EusgistError('shapes must be a JSON object {"shapes": [...]}')
    return value


def shapes_mask(value: str | Mapping[str, Any] | None, shape: tuple[int, int]) -> np.ndarray:
    """The union of a drawing overlay's shapes as a boolean mask of ``shape`` (height, width).

    Raises
    ------
    ValueError
        Bad shapes (:func:`parse_shapes`); shapes drawn on an image of another size; a shape
        covering no pixel of the image.
    """
    drawn_on = shapes_size(value)
    if drawn_on is not None and drawn_on != tuple(shape):
        raise EusgistError(
            f"the shapes were drawn on a {drawn_on[1]}×{drawn_on[0]} image, this image is "
            f"{shape[1]}×{shape[0]}: draw them again on this image")
    mask = np.zeros(shape, dtype=bool)
    for item in parse_shapes(value):
        mask |= shape_mask(item["points"], shape)
    return mask


def roi_picture(image: np.ndarray, mask: np.ndarray, *, opacity: float = 0.25) -> np.ndarray:
    """RGB picture of ``image`` with the ROI ``mask`` tinted and outlined thickly (about
    0.4% of the image's larger side, at least 2 px) so it shows at any display size."""
    thick = max(2, round(max(mask.shape) / 250))
    edge = _outline(mask)
    for _ in range(thick - 1):
        grown = edge.copy()
        grown[1:] |= edge[:-1]
        grown[:-1] |= edge[1:]
        grown[:, 1:] |= edge[:, :-1]
        grown[:, :-1] |= edge[:, 1:]
        edge = grown
    picture = overlay(image, [mask], [ROI_COLOR], opacity=opacity)
    picture[edge] = ROI_COLOR
    return picture


#: Colour of the ROI the model used, in the Predict tab's picture (RGB).
ROI_COLOR: tuple[int, int, int] = (255, 210, 0)
