"""Overlap of suggested and expert outlines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient ``2|A∩B| / (|A|+|B|)`` of two boolean masks (1.0 when both empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def dice_scores(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> np.ndarray:
    """Dice of each pair, float64."""
    return np.array([dice(p, t) for p, t in zip(preds, truths, strict=True)], dtype=np.float64)
