"""Where the segmenter looks: a box grown by a fixed margin, resized to a square.

The crop is the box grown by :data:`MARGIN` of its side on every side and resized (not
padded) to ``size × size``, so the box always sits at the same place in the model input:
the prompt is the crop itself. The crop's mask goes back into the image by the inverse map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from eusgist.errors import EusgistError
from eusgist.preprocess import as_gray

#: Context around the box, as a share of its width/height on each side.
MARGIN = 0.15
#: Smallest box side in pixels that can be segmented.
MIN_SIDE = 4

Box = tuple[int, int, int, int]


def check_box(box: Sequence[float], shape: tuple[int, ...]) -> Box:
    """``box`` as integers ``(x0, y0, x1, y1)``, end exclusive, inside an image of ``shape``.

    Raises
    ------
    EusgistError
        Not four finite numbers, empty, smaller than :data:`MIN_SIDE`, or outside the image.
    """
    if box is None or len(box) != 4:
        raise EusgistError(f"a box is four numbers x0,y0,x1,y1; got {box!r}")
    values = [float(v) for v in box]
    if not all(np.isfinite(values)):
        raise EusgistError(f"a box is four finite numbers x0,y0,x1,y1; got {list(box)}")
    x0, y0, x1, y1 = (int(round(v)) for v in values)
    height, width = shape[:2]
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise EusgistError(f"box ({x0}, {y0}, {x1}, {y1}) is not inside the {width}x{height} "
                           "image (need 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height)")
    if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        raise EusgistError(f"box ({x0}, {y0}, {x1}, {y1}) is smaller than {MIN_SIDE} pixels "
                           "on a side; draw it around the whole lesion")
    return x0, y0, x1, y1


def crop_window(box: Box) -> tuple[float, float, float, float]:
    """The crop's window ``(x0, y0, x1, y1)`` in image coordinates (may leave the image)."""
    x0, y0, x1, y1 = box
    dx, dy = MARGIN * (x1 - x0), MARGIN * (y1 - y0)
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def _grid(window: tuple[float, float, float, float], shape: tuple[int, int],
          size: int) -> torch.Tensor:
    """Sampling grid (1, size, size, 2) of the window, in grid_sample's [-1, 1] units."""
    height, width = shape
    wx0, wy0, wx1, wy1 = window
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    xs = wx0 + centres * (wx1 - wx0)
    ys = wy0 + centres * (wy1 - wy0)
    gx = (xs / width) * 2 - 1
    gy = (ys / height) * 2 - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)
    return grid.unsqueeze(0).float()


def crop(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The model's view of ``box``: ``(size, size)`` float32 gray crop in 8-bit units
    (outside the image is 0, as the black surround of a scan)."""
    gray = torch.from_numpy(np.ascontiguousarray(as_gray(image), dtype=np.float32))
    grid = _grid(crop_window(box), gray.shape, size)
    out = F.grid_sample(gray[None, None], grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out[0, 0].numpy()


def crop_mask(mask: np.ndarray, box: Box, size: int) -> np.ndarray:
    """A full-image mask seen through the crop of ``box``: ``(size, size)`` float32 in [0, 1]."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))
    grid = _grid(crop_window(box), m.shape, size)
    out = F.grid_sample(m[None, None], grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out[0, 0].numpy()


def paste(prob: np.ndarray, box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """The crop's probability map back in the image: ``shape[:2]`` float32, 0 outside the
    crop window."""
    height, width = shape[:2]
    wx0, wy0, wx1, wy1 = crop_window(box)
    out = np.zeros((height, width), dtype=np.float32)
    c0, c1 = max(0, int(np.floor(wx0))), min(width, int(np.ceil(wx1)))
    r0, r1 = max(0, int(np.floor(wy0))), min(height, int(np.ceil(wy1)))
    if c1 <= c0 or r1 <= r0:
        return out
    # pixel centres of the image region in crop grid units [-1, 1]
    xs = ((np.arange(c0, c1) + 0.5 - wx0) / (wx1 - wx0)) * 2 - 1
    ys = ((np.arange(r0, r1) + 0.5 - wy0) / (wy1 - wy0)) * 2 - 1
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    grid = torch.from_numpy(np.stack([gx, gy], axis=-1)[None].astype(np.float32))
    src = torch.from_numpy(np.ascontiguousarray(prob, dtype=np.float32))[None, None]
    sampled = F.grid_sample(src, grid, mode="bilinear", padding_mode="border",
                            align_corners=False)
    out[r0:r1, c0:c1] = sampled[0, 0].numpy()
    return out


def box_region(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """The box itself as a mask (the simplest outline baseline)."""
    x0, y0, x1, y1 = box
    out = np.zeros(shape[:2], dtype=bool)
    out[y0:y1, x0:x1] = True
    return out


def inscribed_ellipse(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """The ellipse inscribed in the box (the usual outline baseline)."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[: shape[0], : shape[1]]
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    rx, ry = (x1 - x0) / 2.0, (y1 - y0) / 2.0
    return ((xs + 0.5 - cx) / rx) ** 2 + ((ys + 0.5 - cy) / ry) ** 2 <= 1.0
