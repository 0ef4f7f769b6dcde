"""Per-lesion aggregation: image-level scores to one score per lesion.

Images of one lesion are not independent cases; every statistic is computed on lesions
once a lesion id is known (zhao2026 had 4,802 images of 895 lesions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eusgist.stats._validate import check_y_true

__all__ = ["LesionScores", "aggregate_by_lesion"]


@dataclass(frozen=True)
class LesionScores:
    """One row per lesion, in sorted lesion-id order."""

    lesion_id: NDArray[np.generic]
    y_true: NDArray[np.int8]
    y_score: NDArray[np.float64]
    n_images: NDArray[np.int64]


def aggregate_by_lesion(
    lesion_id: ArrayLike,
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    how: Literal["mean", "max"] = "mean",
) -> LesionScores:
    """Combine image-level scores into lesion-level scores.

    Parameters
    ----------
    lesion_id : array-like of shape (n,)
        Lesion of each image.
    y_true : array-like of shape (n,)
        0/1 label of each image; must be the same for all images of a lesion.
    y_score : array-like of shape (n,) or (n, k)
        Scores of one model, or of k models side by side.
    how : {"mean", "max"}, default "mean"
        How to combine a lesion's image scores.

    Returns
    -------
    LesionScores
        ``y_score`` keeps the dimensionality of the input: (lesions,) or (lesions, k).

    Raises
    ------
    ValueError
        On missing lesion ids, NaN scores, mismatched lengths, or a lesion whose images
        carry different labels.
    """
    if how not in ("mean", "max"):
        raise ValueError(f"how must be 'mean' or 'max', got {how!r}")
    y = check_y_true(y_true)
    ids = np.asarray(lesion_id)
    try:
        scores = np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("y_score must be numeric") from None
    if ids.shape != (y.size,) or scores.shape[0] != y.size or scores.ndim not in (1, 2):
        raise ValueError(
            f"length mismatch: lesion_id {ids.shape}, y_true ({y.size},), y_score {scores.shape}"
        )
    if np.isnan(scores).any():
        raise ValueError(f"y_score contains {int(np.isnan(scores).sum())} NaN value(s)")
    if ids.dtype == object:
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in ids):
            raise ValueError("lesion_id has missing values")
        ids = ids.astype(str)
    elif ids.dtype.kind == "f" and np.isnan(ids).any():
        raise ValueError("lesion_id has missing values")
    unique, codes = np.unique(ids, return_inverse=True)
    n_images = np.bincount(codes, minlength=unique.size)
    n_pos = np.bincount(codes, weights=y, minlength=unique.size)
    mixed = (n_pos > 0) & (n_pos < n_images)
    if mixed.any():
        bad = ", ".join(map(repr, unique[mixed][:3].tolist()))
        raise ValueError(f"{int(mixed.sum())} lesion(s) have images with both labels: {bad}")
    cols = scores.reshape(y.size, -1)
    if how == "mean":
        out = np.column_stack([np.bincount(codes, weights=c, minlength=unique.size)
                               for c in cols.T]) / n_images[:, None]
    else:
        out = np.full((unique.size, cols.shape[1]), -np.inf)
        np.maximum.at(out, codes, cols)
    return LesionScores(
        lesion_id=unique,
        y_true=(n_pos > 0).astype(np.int8),
        y_score=out if scores.ndim == 2 else out[:, 0],
        n_images=n_images,
    )
