"""Lesion masks for drawing tools and display: painted layers → mask, shapes, overlays.

Pure NumPy/Pillow functions with no UI dependency. Conventions: masks are boolean
``(H, W)`` arrays; display images are uint8 grayscale ``(H, W)`` or RGB ``(H, W, 3)``;
painted layers are RGBA ``(H, W, 4)`` (or grayscale, for a plain mask file) uint8 arrays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
