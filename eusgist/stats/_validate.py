"""Input checks shared by the statistics modules.

Every check raises :class:`ValueError` with a message that names the problem, so that the
command line and the app can show it as it is.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from numpy.typing import ArrayLike, NDArray


def to_binary(labels: ArrayLike, *, positive_label: Hashable | None = None) -> NDArray[np.int8]:
    """Map class labels to 0/1 with 1 = the positive class.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Class labels: 0/1 (or booleans) when ``positive_label`` is None, otherwise any two
        values, one of which is ``positive_label``.
    positive_label : hashable, optional
        The label of the positive class. Compared as given and, failing that, as text, so
        that ``"1"`` typed on a command line finds an integer column's ``1``.

    Returns
    -------
    ndarray of int8
        1 where the label is the positive class, 0 elsewhere.

    Raises
    ------
    ValueError
        If labels are missing, have more than two values, are not 0/1 without a positive
        label, or do not contain ``positive_label``.
    """
    arr = np.asarray(labels, dtype=object).ravel()
    if arr.size == 0:
        raise ValueError("labels are empty")
    missing = np.array([_is_missing(v) for v in arr])
    if missing.any():
        raise ValueError(f"labels contain {int(missing.sum())} missing value(s)")
    values = set(arr.tolist())
    if positive_label is None:
        if not values <= {0, 1}:
            shown = ", ".join(sorted(map(repr, values))[:5])
            raise ValueError(f"labels are not 0/1 (found {shown}); name the positive label")
        return np.array([int(v) for v in arr], dtype=np.int8)
    if len(values) > 2:
        shown = ", ".join(sorted(map(repr, values))[:5])
        raise ValueError(f"labels have {len(values)} distinct values ({shown}); need two")
    if positive_label in values:
        return np.array([v == positive_label for v in arr], dtype=np.int8)
    text = np.array([str(v) for v in arr])
    if str(positive_label) in set(text.tolist()):
        return (text == str(positive_label)).astype(np.int8)
    shown = ", ".join(sorted(map(repr, values)))
    raise ValueError(f"positive label {positive_label!r} not found among labels ({shown})")


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def check_y_true(y_true: ArrayLike, *, name: str = "y_true") -> NDArray[np.int8]:
    """Return ``y_true`` as a 1-D int8 array of 0/1, or raise naming the problem."""
    arr = np.asarray(y_true)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype == bool:
        return arr.astype(np.int8)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be 0/1, got {arr.dtype} values")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        raise ValueError(f"{name} must be 0/1, found {arr[bad][0]!r}")
    return arr.astype(np.int8)


def check_scores(y_score: ArrayLike, n: int, *, name: str = "y_score") -> NDArray[np.float64]:
    """Return ``y_score`` as a finite 1-D float array of length ``n``, or raise."""
    try:
        arr = np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"length mismatch: {name} has {arr.shape[0]} values, y_true has {n}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains {int(np.isnan(arr).sum())} NaN value(s)")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite value(s)")
    return arr


def check_probabilities(y_prob: ArrayLike, n: int, *, name: str = "y_prob") -> NDArray[np.float64]:
    """Like :func:`check_scores`, and also require every value to lie in [0, 1]."""
    arr = check_scores(y_prob, n, name=name)
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(
            f"{name} must be probabilities in [0, 1], found range "
            f"[{arr.min():.4g}, {arr.max():.4g}]"
        )
    return arr


def check_both_classes(y_true: NDArray[np.int8], *, min_per_class: int = 2) -> tuple[int, int]:
    """Return (n_positive, n_negative); raise if either class has too few cases."""
    n_pos = int(y_true.sum())
    n_neg = int(y_true.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        only = "positive" if n_neg == 0 else "negative"
        raise ValueError(f"only one class present in y_true (all {y_true.size} are {only})")
    if min(n_pos, n_neg) < min_per_class:
        raise ValueError(
            f"need at least {min_per_class} cases per class, got {n_pos} positive and "
            f"{n_neg} negative"
        )
    return n_pos, n_neg


def check_level(level: float) -> float:
    """Return a confidence level strictly between 0 and 1, or raise."""
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    return level
