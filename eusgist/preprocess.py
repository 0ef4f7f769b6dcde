"""ROI crops and model input tensors.

Pure functions: each takes arrays and returns new arrays, and each is tested against values
written from its formula. Images are 2D grayscale in original intensity units (what
:func:`eusgist.io.read_image` returns); masks are anything whose non-zero pixels mark the
lesion (bool, 0/1, 0/255, RGB).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from eusgist.errors import EusgistError

if TYPE_CHECKING:  # torch is imported on use: radiomics workers never need it
    import torch

#: Fraction of the lesion's height/width added on each side of its bounding box by default.
DEFAULT_MARGIN = 0.1
#: Full scale of the 8-bit intensities EUS frames are stored in.
DEFAULT_SCALE = 255.0


def as_gray(image: np.ndarray) -> np.ndarray:
    """A 2D float32 view of `image`: RGB(A) frames become ITU-R 601 luma.

    Raises
    ------
    ValueError
        If `image` is neither ``(H, W)`` nor ``(H, W, 1|3|4)``.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[-1] in (3, 4):
        rgb = arr[..., :3].astype(np.float32)
        arr = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if arr.ndim != 2:
        raise EusgistError(f"image must be 2D grayscale or RGB(A), got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def binarise_mask(mask: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A 2D boolean mask: any non-zero value (1, 255, any RGB channel) marks the lesion.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` mask.
    shape : tuple of int, optional
        The image's ``(H, W)``; a mask of another size is an error.

    Raises
    ------
    ValueError
        If the mask is not numeric, holds NaN/inf, is not 2D (after merging channels), does
        not match `shape`, or is empty.
    """
    arr = np.asarray(mask)
    if arr.dtype.kind not in "biuf":
        raise EusgistError(f"mask must be numeric or boolean, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise EusgistError("mask contains NaN or infinite values")
    if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
        arr = (arr[..., :3] != 0).any(axis=-1)
    if arr.ndim != 2:
        raise EusgistError(f"mask must be 2D, got shape {np.asarray(mask).shape}")
    if shape is not None and arr.shape != tuple(shape[:2]):
        raise EusgistError(f"mask shape {arr.shape} does not match image shape {tuple(shape[:2])}")
    out = arr != 0
    if not out.any():
        raise EusgistError("mask is empty: no lesion pixels")
    return out


def roi_box(mask: np.ndarray, margin: float = DEFAULT_MARGIN) -> tuple[int, int, int, int]:
    """Bounding box of the lesion, grown by `margin` and clipped to the image.

    With ``rmin..rmax`` and ``cmin..cmax`` the first/last lesion rows and columns,
    ``h = rmax - rmin + 1`` and ``w = cmax - cmin + 1``, the box is
    ``r0 = max(0, rmin - round(margin*h))``, ``r1 = min(H, rmax + 1 + round(margin*h))`` and
    likewise for columns.

    Returns
    -------
    tuple of int
        ``(r0, r1, c0, c1)``, half-open: ``image[r0:r1, c0:c1]``.
    """
    if margin < 0:
        raise EusgistError(f"margin must be >= 0, got {margin}")
    m = binarise_mask(mask)
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    h = rows[-1] - rows[0] + 1
    w = cols[-1] - cols[0] + 1
    dr, dc = round(margin * h), round(margin * w)
    return (
        int(max(0, rows[0] - dr)),
        int(min(m.shape[0], rows[-1] + 1 + dr)),
        int(max(0, cols[0] - dc)),
        int(min(m.shape[1], cols[-1] + 1 + dc)),
    )


def _square_box(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Grow the shorter side of `box` (centred) so both sides equal the longer one."""
    r0, r1, c0, c1 = box
    side = max(r1 - r0, c1 - c0)
    r0 -= (side - (r1 - r0)) // 2
    c0 -= (side - (c1 - c0)) // 2
    return r0, r0 + side, c0, c0 + side


def _take(image: np.ndarray, box: tuple[int, int, int, int], fill: float) -> np.ndarray:
    """``image[r0:r1, c0:c1]`` where parts outside the image are `fill`."""
    r0, r1, c0, c1 = box
    out = np.full((r1 - r0, c1 - c0), fill, dtype=image.dtype)
    sr0, sr1 = max(r0, 0), min(r1, image.shape[0])
    sc0, sc1 = max(c0, 0), min(c1, image.shape[1])
    out[sr0 - r0 : sr1 - r0, sc0 - c0 : sc1 - c0] = image[sr0:sr1, sc0:sc1]
    return out


def crop_roi(
    image: np.ndarray,
    mask: np.ndarray,
    margin: float = DEFAULT_MARGIN,
    square: bool = True,
    fill: float = 0.0,
) -> np.ndarray:
    """The lesion's region of `image` (strong supervision).

    The box is :func:`roi_box`; with `square`, its shorter side is grown symmetrically to
    the longer one so resizing does not distort the lesion, and any part that falls outside
    the image is `fill` (EUS frames have a black surround).

    Returns
    -------
    numpy.ndarray
        float32 2D crop.
    """
    gray = as_gray(image)
    binarise_mask(mask, gray.shape)
    box = roi_box(mask, margin)
    if square:
        box = _square_box(box)
    return _take(gray, box, fill)


def whole_image(image: np.ndarray, square: bool = True, fill: float = 0.0) -> np.ndarray:
    """The whole frame (weak supervision: image-level label, no ROI), padded to a square.

    Returns
    -------
    numpy.ndarray
        float32 2D array; with `square`, ``(S, S)`` with ``S = max(H, W)`` and the image
        centred.
    """
    gray = as_gray(image)
    box = (0, gray.shape[0], 0, gray.shape[1])
    return _take(gray, _square_box(box) if square else box, fill)


def model_crop(
    image: np.ndarray,
    mask: np.ndarray | None,
    *,
    supervision: str | None = "strong",
    margin: float | None = DEFAULT_MARGIN,
) -> np.ndarray:
    """What a model looks at, the one crop rule of training and inference.

    The whole frame (:func:`whole_image`) for weak supervision or when there is no mask,
    else the lesion ROI grown by ``margin`` (:func:`crop_roi`; :data:`DEFAULT_MARGIN` when
    None).
    """
    if supervision == "weak" or mask is None:
        return whole_image(image)
    return crop_roi(image, mask, margin=DEFAULT_MARGIN if margin is None else float(margin))


def to_model_input(
    crop: np.ndarray, data_config: Mapping[str, Any], *, scale: float = DEFAULT_SCALE
) -> torch.Tensor:
    """A crop as a backbone's input: ``(3, H, W)`` float32 tensor.

    ``x = clip(crop / scale, 0, 1)`` is resized (antialiased, with the config's
    ``interpolation`` when bilinear or bicubic, else bilinear) to
    ``data_config["input_size"][1:]``, repeated to 3 channels, and normalised per channel
    as ``(x - mean[c]) / std[c]`` with the config's ``mean`` and ``std`` (timm's
    :func:`timm.data.resolve_model_data_config` gives the backbone's own).

    Parameters
    ----------
    crop : numpy.ndarray
        2D grayscale (or RGB, converted to gray) in 8-bit units by default.
    data_config : Mapping
        Needs ``input_size`` ``(C, H, W)``, ``mean`` and ``std``.
    scale : float
        Intensity mapped to 1.0 (255 for 8-bit frames).
    """
    import torch
    import torch.nn.functional as F

    gray = as_gray(crop)
    if gray.size == 0:
        raise EusgistError("crop is empty")
    _, height, width = data_config["input_size"]
    x = torch.from_numpy(np.clip(gray / np.float32(scale), 0.0, 1.0).astype(np.float32))
    x = x[None, None]
    if x.shape[-2:] != (height, width):
        mode = data_config.get("interpolation", "bilinear")
        mode = mode if mode in ("bilinear", "bicubic") else "bilinear"
        x = F.interpolate(x, size=(height, width), mode=mode, align_corners=False, antialias=True)
    mean = torch.tensor(data_config["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(data_config["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return ((x.expand(1, 3, height, width) - mean) / std)[0]
