"""Synthetic lesions for the segmenter tests."""

from __future__ import annotations

import numpy as np


def lesion_image(rng: np.random.Generator, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Speckled background with one dark elliptical lesion, and its mask."""
    ys, xs = np.mgrid[:size, :size]
    cx, cy = rng.uniform(30, 66, 2)
    rx, ry = rng.uniform(10, 22, 2)
    mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
    image = rng.gamma(2.0, 40.0, (size, size))
    image[mask] *= 0.3
    return np.clip(image, 0, 255).astype(np.uint8), mask
