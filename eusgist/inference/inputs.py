"""A prediction's inputs: images, volumes and lesion ROIs (mask or box), checked.

A 2D model takes one image (path, bytes, array or :class:`~eusgist.io.LoadedImage`); a
volume model (``dims`` ``"3d"`` or ``"2d-slice"``) a NIfTI/NRRD volume or ``(Z, H, W)``
array, or for a multi-phase 3D model a mapping phase → volume (:func:`load_volume_input`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from eusgist.errors import EusgistError
from eusgist.io import LoadedImage, read_image, read_mask
from eusgist.preprocess import binarise_mask
from eusgist.roi_kinds import box_mask

#: What a model takes: 2D images, or volumes (one slice of each, or the whole volume).
Dims = Literal["2d", "2d-slice", "3d"]
ImageInput = LoadedImage | np.ndarray | str | os.PathLike[str] | bytes
#: A volume model's input: one volume, or for a multi-phase 3D model a mapping phase → volume.
VolumeInput = ImageInput | Mapping[str, ImageInput]
MaskInput = np.ndarray | str | os.PathLike[str] | bytes | None
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class VolumeSpec:
    """What a volume model (dims ``"2d-slice"`` or ``"3d"``) takes, from its card."""

    model: str
    dims: Dims
    phases: tuple[str, ...]
    needs_mask: bool
    expects: Mapping[str, Any]



def load_input_image(image: ImageInput, *, name: str | None = None) -> LoadedImage:
    """A :class:`LoadedImage` from a path, bytes, array or LoadedImage.

    A NIfTI/NRRD volume or a ``(Z, H, W)`` array (last axis not 1, 3 or 4, which are colour
    channels) is returned whole as a volume (``is_volume``): the caller accepts or refuses it.

    Raises
    ------
    ValueError
        Not an image, or an array/LoadedImage that is not real numbers, not 2D or 3D,
        smaller than 2×2 or holds NaN/inf (which would make the probability meaningless).
    """
    if isinstance(image, LoadedImage):
        _check_pixels(image.array, str(image.meta.get("source", "<image>")))
        return image
    if isinstance(image, np.ndarray):
        from eusgist.preprocess import as_gray

        source = name or "<array>"
        if image.dtype.kind not in "biuf":
            raise EusgistError(f"{source}: image must be real numbers, got dtype {image.dtype}")
        volume = image.ndim == 3 and image.shape[-1] not in (1, 3, 4)
        gray = image.astype(np.float32, copy=False) if volume else as_gray(image)
        _check_pixels(gray, source)
        return LoadedImage(gray, None, {"source": source})
    return read_image(image, name=name, allow_volume=True)



def _source(image: LoadedImage) -> str:
    return str(image.meta.get("source", "<image>"))


def dims_error(model: str, dims: Dims, image: LoadedImage) -> ValueError:
    """The refusal of a volume by a 2D model, or of a 2D image by a volume model."""
    shape = "×".join(map(str, image.shape))
    if dims == "2d":
        return ValueError(f"model {model} takes 2D images (dims '2d'), but {_source(image)} is "
                          f"a 3D volume ({shape}): choose a 3D or 2d-slice model, or one slice")
    return ValueError(f"model {model} takes 3D volumes (dims {dims!r}, NIfTI/NRRD), but "
                      f"{_source(image)} is a 2D image ({shape})")


def _check_pixels(array: np.ndarray, source: str) -> None:
    """Refuse an in-memory image read_image would have refused: too small or non-finite."""
    if array.ndim == 2 and (array.shape[0] < 2 or array.shape[1] < 2):
        raise EusgistError(f"{source}: image is too small ({array.shape[1]}×{array.shape[0]} "
                           "pixels; at least 2×2 needed)")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise EusgistError(f"{source}: image contains NaN or infinite values")


def resolve_roi(image: LoadedImage, mask: MaskInput, box: Box | None) -> np.ndarray | None:
    """The lesion mask from a mask (array, path or bytes) or a box; None when neither."""
    if mask is not None and box is not None:
        raise EusgistError("give a mask or a box, not both")
    if box is not None:
        return box_mask(box, image.array.shape)
    if mask is None:
        return None
    if isinstance(mask, np.ndarray):
        return binarise_mask(mask, image.array.shape)
    return read_mask(mask, like=image)


def load_volume_input(spec: VolumeSpec, image: VolumeInput) -> np.ndarray:
    """A volume model's input as ``(C, Z, H, W)`` float32, one channel per phase.

    Parameters
    ----------
    spec : VolumeSpec
        The model (:attr:`LoadedModel.volume_spec`).
    image : volume or mapping
        One volume (path or bytes of a NIfTI/NRRD file, ``(Z, H, W)`` array or LoadedImage)
        for a model of at most one phase; for a multi-phase model a mapping phase → volume
        with exactly the card's phases (in any order; stacked in the card's order).

    Raises
    ------
    ValueError
        Other phases than the card's; a 2D image; phases of different shapes.
    """
    phases = spec.phases
    if isinstance(image, Mapping):
        if set(image) != set(phases):
            raise EusgistError(f"model {spec.model} takes phases {list(phases) or '[] (one volume)'}"
                               f", got {sorted(map(str, image))}")
        items = {phase: image[phase] for phase in phases}
    elif isinstance(image, (list, tuple)):
        raise EusgistError("give a model's phases as a mapping phase → volume, not a list")
    elif len(phases) > 1:
        raise EusgistError(f"model {spec.model} takes {len(phases)} phases ({', '.join(phases)}): "
                           "give a mapping phase → volume, one co-registered volume each")
    else:
        items = {phases[0] if phases else "image": image}
    volumes = {}
    for phase, item in items.items():
        loaded = load_input_image(item)
        if not loaded.is_volume:
            raise dims_error(spec.model, spec.dims, loaded)
        volumes[phase] = loaded.array
    from eusgist.models.cnn3d import stack_phases

    return stack_phases(volumes, f"model {spec.model}")


def volume_roi(mask: MaskInput, shape: tuple[int, ...]) -> np.ndarray | None:
    """A volume's boolean lesion mask ``(Z, H, W)`` from an array, path or bytes; None when
    none is given.

    Raises
    ------
    ValueError
        Not numeric, NaN/inf, another shape than ``shape``, or no lesion voxel.
    """
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray):
        return read_mask(mask, like=tuple(shape))
    if mask.dtype.kind not in "biuf":
        raise EusgistError(f"mask must be numeric or boolean, got dtype {mask.dtype}")
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise EusgistError("mask contains NaN or infinite values")
    if mask.shape != tuple(shape):
        raise EusgistError(f"mask shape {mask.shape} does not match volume shape {tuple(shape)}")
    if not mask.any():
        raise EusgistError("mask is empty: no lesion voxels")
    return mask != 0
