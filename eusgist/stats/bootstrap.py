"""Stratified bootstrap for the AUC and a pointwise ROC confidence band.

Each replicate resamples the positive and the negative cases separately, with
replacement, keeping both class sizes (pROC's ``boot.stratified=TRUE``). Replicates are
drawn as multinomial counts over the distinct scores, so a whole batch of replicates is a
few array operations and costs O(B·T) for T distinct scores, never a Python loop per case.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eusgist.stats._validate import check_both_classes, check_level, check_scores, check_y_true
from eusgist.stats.delong import AUCResult

__all__ = ["RocBand", "bootstrap_auc_ci", "roc_ci_band"]

_CHUNK_CELLS = 1_000_000  # replicates x distinct scores per chunk: 8 MB an array


@dataclass(frozen=True)
class RocBand:
    """Sensitivity with a pointwise bootstrap interval at fixed false-positive rates."""

    fpr: NDArray[np.float64]
    tpr: NDArray[np.float64]
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]


def _replicate_counts(
    y_true: ArrayLike, y_score: ArrayLike, n_boot: int, seed: int
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Yield chunks of (positive counts, negative counts), each (b, T), over the
    ascending distinct scores; the first chunk's first row is the observed sample."""
    y = check_y_true(y_true)
    s = check_scores(y_score, y.size)
    check_both_classes(y)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    values, inverse = np.unique(s, return_inverse=True)
    n_pos_at = np.bincount(inverse[y == 1], minlength=values.size)
    n_neg_at = np.bincount(inverse[y == 0], minlength=values.size)
    m, n = int(n_pos_at.sum()), int(n_neg_at.sum())
    # One stream per class, so chunking does not change the replicates.
    rng_pos, rng_neg = np.random.default_rng(seed).spawn(2)
    chunk = max(1, _CHUNK_CELLS // values.size)
    first = True
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        wp = rng_pos.multinomial(m, n_pos_at / m, size=b)
        wn = rng_neg.multinomial(n, n_neg_at / n, size=b)
        if first:
            wp = np.vstack([n_pos_at, wp])
            wn = np.vstack([n_neg_at, wn])
            first = False
        done += b
        yield wp, wn


def _auc_from_counts(wp: NDArray[np.int64], wn: NDArray[np.int64]) -> NDArray[np.float64]:
    """Mann-Whitney AUC of each row of case counts over the ascending distinct scores."""
    # wins = sum wp * (negatives below + half the tied ones), as exact integer row sums
    wins = np.einsum("ij,ij->i", wp, np.cumsum(wn, axis=1)) - 0.5 * np.einsum("ij,ij->i", wp, wn)
    return wins / (wp.sum(axis=1) * wn.sum(axis=1))


def bootstrap_auc_ci(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> AUCResult:
    """AUC with a stratified-bootstrap percentile interval.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_score : array-like of shape (n,)
        Scores; higher means more likely positive.
    n_boot : int, default 2000
        Number of bootstrap replicates.
    level : float, default 0.95
        Confidence level.
    seed : int, default 0
        Seed of the random generator; the same seed gives the same interval.

    Returns
    -------
    AUCResult
        The observed AUC, the percentile interval and the bootstrap standard deviation
        as ``se``.
    """
    level = check_level(level)
    all_aucs = np.concatenate([_auc_from_counts(wp, wn)
                               for wp, wn in _replicate_counts(y_true, y_score, n_boot, seed)])
    observed, boot = float(all_aucs[0]), all_aucs[1:]
    alpha = 1.0 - level
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    se = float(boot.std(ddof=1)) if boot.size > 1 else math.nan
    return AUCResult(auc=observed, lo=float(lo), hi=float(hi), se=se)


def _sens_at(
    wp: NDArray[np.int64], wn: NDArray[np.int64], fpr_grid: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Highest sensitivity with false-positive rate <= each grid value, per replicate."""
    tp = np.cumsum(wp[:, ::-1], axis=1)
    fp = np.cumsum(wn[:, ::-1], axis=1)
    rows = tp.shape[0]
    n, m = int(fp[0, -1]), int(tp[0, -1])
    tp = np.hstack([np.zeros((rows, 1), np.int64), tp])
    fp = np.hstack([np.zeros((rows, 1), np.int64), fp])
    # Integer false-positive counts, offset per row so one searchsorted serves all rows.
    allowed = np.floor(fpr_grid * n + 1e-9).astype(np.int64)
    offset = (np.arange(rows, dtype=np.int64) * (n + 1))[:, None]
    idx = np.searchsorted((fp + offset).ravel(), (allowed[None, :] + offset).ravel(),
                          side="right") - 1
    return tp.ravel()[idx].reshape(rows, fpr_grid.size) / m


def roc_ci_band(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    fpr_grid: ArrayLike | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> RocBand:
    """Pointwise stratified-bootstrap interval of sensitivity at fixed specificities.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_score : array-like of shape (n,)
        Scores; higher means more likely positive.
    fpr_grid : array-like, optional
        False-positive rates (1 - specificity) at which to evaluate; default 0, 0.01, ..., 1.
    n_boot : int, default 1000
        Number of bootstrap replicates.
    level : float, default 0.95
        Confidence level.
    seed : int, default 0
        Seed of the random generator.

    Returns
    -------
    RocBand
        For each grid value: the observed sensitivity (highest with FPR at most the grid
        value) and the percentile interval, like pROC's ``ci.se``.
    """
    level = check_level(level)
    grid = np.linspace(0.0, 1.0, 101) if fpr_grid is None else np.asarray(fpr_grid, float)
    if grid.ndim != 1 or grid.size == 0 or grid.min() < 0.0 or grid.max() > 1.0:
        raise ValueError("fpr_grid must be a non-empty 1-D array of values in [0, 1]")
    sens = np.vstack([_sens_at(wp, wn, grid)
                      for wp, wn in _replicate_counts(y_true, y_score, n_boot, seed)])
    alpha = 1.0 - level
    lo, hi = np.quantile(sens[1:], [alpha / 2, 1 - alpha / 2], axis=0)
    return RocBand(fpr=grid, tpr=sens[0], lo=lo, hi=hi)

