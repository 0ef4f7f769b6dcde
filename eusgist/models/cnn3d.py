"""The 3D path (gao2026): a 3D ResNet-18 on volumes, and the 2D single-slice mode.

Volumes are NIfTI/NRRD files read by :func:`eusgist.io.read_image` as ``(Z, H, W)``.
Several co-registered phases or views are the manifest's ``image_<phase>`` columns (e.g.
``image_arterial``, ``image_venous``); they are stacked as input channels and must share
one shape. A single-phase run reads the ``image`` column.

Preprocessing (:func:`prepare_volume`): the lesion's 3D bounding box grown by ``margin`` of
its extent on every axis (strong supervision) or the whole volume (weak); each channel
scaled to ``[0, 1]`` between its own 0.5th and 99.5th percentiles (robust to outliers and
to CT/MR/EUS intensity units); trilinear resampling to a fixed ``(D, H, W)``.

``dims="2d-slice"`` trains the ordinary 2D model on one slice per volume: the slice with
the largest lesion area (strong) or the middle slice (weak), see :func:`pick_slice`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from eusgist.data import Manifest
from eusgist.errors import EusgistError
from eusgist.io import read_image, read_mask
from eusgist.models.cnn_config import CNNConfig, Supervision
from eusgist.preprocess import DEFAULT_MARGIN

log = logging.getLogger(__name__)

#: Percentiles each channel is scaled between.
PERCENTILES = (0.5, 99.5)


def build_resnet3d(in_channels: int, *, pretrained: bool = False) -> tuple[nn.Module, bool]:
    """torchvision's R3D-18 with an ``in_channels`` stem and one output logit.

    With ``pretrained``, Kinetics-400 weights are tried (the stem's RGB filters averaged and
    repeated over the channels); offline, the model is randomly initialised with a warning.

    Returns
    -------
    (model, whether pretrained weights were loaded)
    """
    from eusgist.pretrained import MODEL_BUILD_LOCK

    if in_channels < 1:
        raise EusgistError(f"in_channels must be >= 1, got {in_channels}")
    with MODEL_BUILD_LOCK:
        return _build_resnet3d(in_channels, pretrained=pretrained)


def _build_resnet3d(in_channels: int, *, pretrained: bool) -> tuple[nn.Module, bool]:
    from torchvision.models.video import R3D_18_Weights, r3d_18

    model, loaded = None, False
    if pretrained:
        try:
            model, loaded = r3d_18(weights=R3D_18_Weights.DEFAULT), True
        except Exception as exc:  # noqa: BLE001 - any download failure means "offline"
            log.warning("pretrained R3D-18 weights unavailable (%s); using random init",
                        str(exc).splitlines()[0][:200])
    if model is None:
        model = r3d_18(weights=None)
    old = model.stem[0]
    stem = nn.Conv3d(in_channels, old.out_channels, kernel_size=old.kernel_size,
                     stride=old.stride, padding=old.padding, bias=False)
    if loaded:
        with torch.no_grad():
            stem.weight.copy_(old.weight.mean(1, keepdim=True).repeat(1, in_channels, 1, 1, 1))
    model.stem[0] = stem
    model.fc = nn.Linear(model.fc.in_features, 1)
    return model, loaded


def roi_box_3d(mask: np.ndarray, margin: float = DEFAULT_MARGIN) -> tuple[slice, slice, slice]:
    """The lesion's bounding box, grown by ``round(margin * extent)`` per axis and clipped."""
    idx = np.nonzero(mask)
    if not len(idx[0]):
        raise EusgistError("the mask is empty")
    box = []
    for axis, n in zip(idx, mask.shape):
        lo, hi = int(axis.min()), int(axis.max()) + 1
        pad = round(margin * (hi - lo))
        box.append(slice(max(0, lo - pad), min(n, hi + pad)))
    return box[0], box[1], box[2]


def resample(volume: np.ndarray, size: Sequence[int], *, mode: str = "trilinear") -> np.ndarray:
    """``(C, Z, H, W)`` resampled to ``(C, *size)``: ``"trilinear"`` for images,
    ``"nearest"`` for masks."""
    x = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[None]
    kw = {"align_corners": False} if mode == "trilinear" else {}
    return F.interpolate(x, size=tuple(size), mode=mode, **kw)[0].numpy()


def normalise(volume: np.ndarray) -> np.ndarray:
    """Each channel of ``(C, ...)`` clipped to its :data:`PERCENTILES` and scaled to [0, 1]
    (a constant channel becomes 0)."""
    out = np.empty(volume.shape, np.float32)
    for c, channel in enumerate(volume):
        lo, hi = np.percentile(channel, PERCENTILES)
        out[c] = (np.clip(channel, lo, hi) - lo) / (hi - lo) if hi > lo else 0.0
    return out


def prepare_volume(volume: np.ndarray, mask: np.ndarray | None = None, *,
                   size: Sequence[int], margin: float = DEFAULT_MARGIN,
                   supervision: Supervision = "strong") -> np.ndarray:
    """``(Z, H, W)`` or ``(C, Z, H, W)`` → model input ``(C, *size)`` in [0, 1].

    Strong supervision crops the lesion box (:func:`roi_box_3d`) and needs ``mask``.
    """
    volume = volume[None] if volume.ndim == 3 else volume
    if volume.ndim != 4:
        raise EusgistError(f"expected a (Z, H, W) or (C, Z, H, W) volume, got {volume.shape}")
    if supervision == "strong":
        if mask is None:
            raise EusgistError("this model was trained on lesion ROIs (strong supervision): "
                               "a mask is needed")
        if mask.shape != volume.shape[1:]:
            raise EusgistError(f"mask {mask.shape} does not match volume {volume.shape[1:]}")
        volume = volume[(slice(None), *roi_box_3d(mask, margin))]
    return resample(normalise(volume), size)


def pick_slice(volume: np.ndarray,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The slice with the largest lesion area (first on ties), or the middle one without a
    mask; returns ``(image slice, mask slice or None)``."""
    if volume.ndim != 3:
        raise EusgistError(f"2d-slice mode needs (Z, H, W) volumes, got shape {volume.shape}")
    z = slice_index(volume.shape[0], mask)
    return volume[z], None if mask is None else mask[z]


def slice_index(depth: int, mask: np.ndarray | None = None) -> int:
    """The slice :func:`pick_slice` takes of a ``depth``-slice volume."""
    if mask is None:
        return depth // 2
    return int(np.argmax(mask.reshape(mask.shape[0], -1).sum(1)))


def phase_columns(phases: Sequence[str]) -> list[str]:
    """Manifest columns holding each phase's volume (``image`` for a single phase)."""
    return [f"image_{p}" for p in phases] if phases else ["image"]


def phase_paths(manifest: Manifest, i: int, phases: Sequence[str]) -> dict[str, Path]:
    """Row ``i``'s volume file of each phase, keyed by its column (:func:`phase_columns`)."""
    columns = phase_columns(phases)
    missing = [c for c in columns if c not in manifest.table.columns]
    if missing:
        raise EusgistError(f"the manifest has no column {', '.join(missing)} (phases {phases})")
    return {c: manifest.root / str(manifest.table[c].iat[i]) for c in columns}


def stack_phases(arrays: Mapping[str, np.ndarray], where: str) -> np.ndarray:
    """Phase volumes stacked as ``(C, Z, H, W)``; they must be 3D and share one shape."""
    shapes = {name: a.shape for name, a in arrays.items()}
    if any(a.ndim != 3 for a in arrays.values()) or len(set(shapes.values())) > 1:
        raise EusgistError(f"{where}: phases must be volumes of one shape (co-registered), "
                           f"got {shapes}")
    return np.stack(list(arrays.values()))


def read_phases(manifest: Manifest, i: int, phases: Sequence[str]) -> np.ndarray:
    """Row ``i``'s phases stacked as ``(C, Z, H, W)``; they must share one shape."""
    arrays = {column: read_image(path, allow_volume=True).array
              for column, path in phase_paths(manifest, i, phases).items()}
    return stack_phases(arrays, f"row {i + 2}")


def load_volumes(manifest: Manifest, rows: np.ndarray, config: CNNConfig) -> np.ndarray:
    """Model inputs ``(N, C, D, H, W)`` (:func:`prepare_volume`) of the given rows."""
    out = np.empty((len(rows), max(len(config.phases), 1), *config.volume_size), np.float32)
    for j, i in enumerate(tqdm(rows, desc="loading volumes", unit="vol", leave=False,
                               disable=None)):
        volume, mask = read_phases(manifest, int(i), config.phases), None
        if config.supervision == "strong":
            mask_path = manifest.mask_path(int(i))
            if mask_path is None:
                raise EusgistError(f"row {int(i) + 2} has no mask; strong supervision needs one "
                                   "for every volume (or use --supervision weak)")
            mask = read_mask(mask_path, like=volume.shape[1:])
        out[j] = prepare_volume(volume, mask, size=config.volume_size, margin=config.margin,
                                supervision=config.supervision)
    return out


class VolumeDataset(Dataset):
    """Prepared volumes with their 0/1 labels; with ``flip``, each spatial axis is flipped
    with probability 1/2, drawn from ``default_rng([seed, epoch, i])``."""

    def __init__(self, volumes: np.ndarray, y: np.ndarray, *, flip: bool = False,
                 seed: int = 0) -> None:
        self.volumes, self.y, self.flip, self.seed = volumes, y.astype(np.float32), flip, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.volumes)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.volumes[i]
        if self.flip:
            axes = np.flatnonzero(np.random.default_rng([self.seed, self.epoch, i]).random(3) < 0.5)
            v = np.flip(v, tuple(int(a) + 1 for a in axes))
        return torch.from_numpy(np.ascontiguousarray(v)), torch.tensor(self.y[i])
