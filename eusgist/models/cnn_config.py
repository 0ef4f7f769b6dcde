"""Settings of an end-to-end CNN run: light to import (no torch), so the CLI can use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eusgist.errors import EusgistError
from eusgist.preprocess import DEFAULT_MARGIN

Supervision = Literal["strong", "weak"]
Dims = Literal["2d", "3d", "2d-slice"]


@dataclass(frozen=True)
class CNNConfig:
    """Settings of one training run (stored in the checkpoint and the model card).

    ``balance``: ``"loss"`` weights the positive class by n_neg/n_pos in the BCE loss,
    ``"sampler"`` draws training images with probability inversely proportional to their
    class frequency, ``"none"`` does neither. ``augment``: ``"standard"`` (on-the-fly flips,
    rotation ±15°, brightness/contrast) or ``"none"``; ``expand`` adds guo2024's offline 5×
    expansion of the training set (:func:`eusgist.augment.expand_offline`).

    ``dims`` (gao2026): ``"2d"`` images with a timm backbone; ``"3d"`` volumes resampled to
    ``volume_size`` (D, H, W) for a 3D ResNet-18, the manifest's ``image_<phase>`` columns
    stacked as channels when ``phases`` is given (augmentation: random flips); ``"2d-slice"``
    one slice per volume for the 2D backbone (:mod:`eusgist.models.cnn3d`).
    """

    arch: str = "resnet34"
    supervision: Supervision = "strong"
    input_size: int = 224
    margin: float = DEFAULT_MARGIN
    pretrained: bool = True
    epochs: int = 100
    patience: int = 15
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-4
    val_size: float = 0.2
    test_size: float = 0.2
    balance: Literal["none", "loss", "sampler"] = "loss"
    augment: Literal["none", "standard"] = "standard"
    expand: bool = False
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    dims: Dims = "2d"
    volume_size: tuple[int, int, int] = (16, 64, 64)
    phases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.supervision not in ("strong", "weak"):
            raise EusgistError(f"supervision must be 'strong' or 'weak', got {self.supervision!r}")
        if self.balance not in ("none", "loss", "sampler"):
            raise EusgistError(f"balance must be none, loss or sampler, got {self.balance!r}")
        if self.augment not in ("none", "standard"):
            raise EusgistError(f"augment must be none or standard, got {self.augment!r}")
        if self.dims not in ("2d", "3d", "2d-slice"):
            raise EusgistError(f"dims must be 2d, 3d or 2d-slice, got {self.dims!r}")
        if len(self.volume_size) != 3 or min(self.volume_size) < 1:
            raise EusgistError(f"volume_size must be 3 positive sizes, got {self.volume_size}")
        if self.phases and self.dims != "3d":
            raise EusgistError("phases are stacked as channels of a 3D model: use dims='3d'")
        if self.expand and self.dims == "3d":
            raise EusgistError("offline expansion is for 2D images, not dims='3d'")
        object.__setattr__(self, "volume_size", tuple(int(v) for v in self.volume_size))
        object.__setattr__(self, "phases", tuple(self.phases))
        for name in ("input_size", "epochs", "patience", "batch_size"):
            if getattr(self, name) < 1:
                raise EusgistError(f"{name} must be >= 1, got {getattr(self, name)}")
