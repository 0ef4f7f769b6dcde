"""Helpers shared by the store tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

SHAPE = (8, 40)  # 32 value bits + a marker pixel fit in the first row and a half


def png_bytes(array: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of ``array``."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def random_png(seed: int, shape: tuple[int, int] = SHAPE) -> bytes:
    """A distinct small noise image per seed."""
    return png_bytes(np.random.default_rng(seed).integers(0, 256, shape))


def value_mask(value: int) -> np.ndarray:
    """A non-empty mask whose first 32 pixels spell ``value`` in binary."""
    flat = np.zeros(SHAPE[0] * SHAPE[1], bool)
    flat[:32] = [(value >> bit) & 1 for bit in range(32)]
    flat[-1] = True
    return flat.reshape(SHAPE)


def mask_value(mask: np.ndarray) -> int:
    """Inverse of :func:`value_mask`."""
    bits = mask.reshape(-1)[:32]
    return int(sum(int(b) << i for i, b in enumerate(bits)))
