"""Threshold metrics (sensitivity, specificity, PPV, NPV, accuracy, F1) with binomial CIs."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from eusgist.stats._validate import check_level, check_scores, check_y_true

__all__ = [
    "CI_METHODS",
    "ConfusionCounts",
    "ThresholdMetrics",
    "binary_metrics",
    "confusion_counts",
    "f1_score",
    "proportion_ci",
    "threshold_metrics",
]

CIMethod = Literal["wald", "wilson", "clopper-pearson"]
CI_METHODS: tuple[str, ...] = ("wald", "wilson", "clopper-pearson")
Estimate = tuple[float, float, float]


@dataclass(frozen=True)
class ConfusionCounts:
    """Cells of a 2x2 table: true/false positives and negatives."""

    tp: int
    fp: int
    tn: int
    fn: int


@dataclass(frozen=True)
class ThresholdMetrics:
    """Metrics of one model at one threshold (``score >= threshold`` is positive)."""

    threshold: float
    counts: ConfusionCounts
    metrics: dict[str, Estimate]
    f1: float


def proportion_ci(
    successes: int, n: int, *, method: CIMethod = "wilson", level: float = 0.95
) -> Estimate:
    """A proportion with its confidence interval.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= n``.
    n : int
        Number of trials.
    method : {"wald", "wilson", "clopper-pearson"}, default "wilson"
        ``"wald"`` is p ± z·sqrt(p(1-p)/n) clipped to [0, 1] (the intervals guo2024
        reports); ``"wilson"`` is the score interval without continuity correction;
        ``"clopper-pearson"`` is the exact beta interval.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    (value, lo, hi) : tuple of float
        All NaN, with a :class:`RuntimeWarning`, when ``n == 0``.
    """
    level = check_level(level)
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; choose one of {', '.join(CI_METHODS)}")
    x, n = _count(successes, "successes"), _count(n, "n")
    if x > n:
        raise ValueError(f"successes ({x}) exceed trials ({n})")
    if n == 0:
        warnings.warn("proportion of zero cases is undefined; returning NaN",
                      RuntimeWarning, stacklevel=2)
        return (math.nan, math.nan, math.nan)
    p = x / n
    alpha = 1.0 - level
    z = float(sps.norm.ppf(1.0 - alpha / 2))
    if method == "wald":
        half = z * math.sqrt(p * (1.0 - p) / n)
        return (p, max(p - half, 0.0), min(p + half, 1.0))
    if method == "wilson":
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n))
        return (p, max(centre - half, 0.0), min(centre + half, 1.0))
    lo = float(sps.beta.ppf(alpha / 2, x, n - x + 1)) if x > 0 else 0.0
    hi = float(sps.beta.ppf(1.0 - alpha / 2, x + 1, n - x)) if x < n else 1.0
    return (p, lo, hi)


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def binary_metrics(
    tp: int, fp: int, tn: int, fn: int, *, ci: CIMethod = "wilson", level: float = 0.95
) -> dict[str, Estimate]:
    """Sensitivity, specificity, PPV, NPV and accuracy with confidence intervals.

    Parameters
    ----------
    tp, fp, tn, fn : int
        Cells of the 2x2 table.
    ci : {"wald", "wilson", "clopper-pearson"}, default "wilson"
        Interval method, see :func:`proportion_ci`.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    dict
        ``{"sensitivity", "specificity", "ppv", "npv", "accuracy"}`` → ``(value, lo, hi)``.
        A metric whose denominator is zero is NaN (with a warning).

    Examples
    --------
    guo2024's ResNet34 on the validation set (12/14 GISTs and 14/15 leiomyomas right):

    >>> m = binary_metrics(12, 1, 14, 2, ci="wald")
    >>> [round(100 * v, 2) for v in m["sensitivity"]]
    [85.71, 67.38, 100.0]
    """
    tp, fp, tn, fn = (_count(v, k) for v, k in ((tp, "tp"), (fp, "fp"), (tn, "tn"), (fn, "fn")))
    parts = {
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
        "accuracy": (tp + tn, tp + fp + tn + fn),
    }
    out = {}
    for name, (x, n) in parts.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[name] = proportion_ci(x, n, method=ci, level=level)
        if n == 0:
            warnings.warn(f"{name} is undefined (zero denominator); returning NaN",
                          RuntimeWarning, stacklevel=2)
    return out


def f1_score(tp: int, fp: int, fn: int) -> float:
    """F1 = 2·TP / (2·TP + FP + FN); NaN with a warning when there is nothing to score."""
    tp, fp, fn = _count(tp, "tp"), _count(fp, "fp"), _count(fn, "fn")
    denom = 2 * tp + fp + fn
    if denom == 0:
        warnings.warn("F1 is undefined with no positives; returning NaN", RuntimeWarning,
                      stacklevel=2)
        return math.nan
    return 2 * tp / denom


def confusion_counts(y_true: ArrayLike, y_pred: ArrayLike) -> ConfusionCounts:
    """Count the 2x2 table from 0/1 labels and 0/1 predictions of the same length."""
    y = check_y_true(y_true)
    p = check_y_true(y_pred, name="y_pred")
    if p.size != y.size:
        raise ValueError(f"length mismatch: y_pred has {p.size} values, y_true has {y.size}")
    tp = int(np.sum((y == 1) & (p == 1)))
    fp = int(np.sum((y == 0) & (p == 1)))
    fn = int(np.sum((y == 1) & (p == 0)))
    return ConfusionCounts(tp=tp, fp=fp, tn=int(y.size - tp - fp - fn), fn=fn)


def threshold_metrics(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    threshold: float,
    ci: CIMethod = "wilson",
    level: float = 0.95,
) -> ThresholdMetrics:
    """Counts, :func:`binary_metrics` and F1 of scores cut at ``threshold``.

    A case is called positive when ``score >= threshold``.
    """
    y = check_y_true(y_true)
    s = check_scores(y_score, y.size)
    threshold = float(threshold)
    if math.isnan(threshold):
        raise ValueError("threshold is NaN")
    counts = confusion_counts(y, (s >= threshold).astype(np.int8))
    return ThresholdMetrics(
        threshold=threshold,
        counts=counts,
        metrics=binary_metrics(counts.tp, counts.fp, counts.tn, counts.fn, ci=ci, level=level),
        f1=f1_score(counts.tp, counts.fp, counts.fn),
    )
