"""The segmenter's training settings (light: the CLI's parser reads the defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmenterConfig:
    """Training settings (recorded in the card)."""

    arch: str = "tf_efficientnet_lite0"
    input_size: int = 192
    epochs: int = 40
    patience: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    encoder_lr: float = 3e-4
    box_jitter: float = 0.08
    val_share: float = 0.15
    test_size: float = 0.2
    seed: int = 0
    pretrained: bool = True
