"""ROC analysis: AUC with DeLong confidence intervals, DeLong tests, ROC curves.

The DeLong variance is computed with the O(n log n) midrank algorithm of Sun & Xu (2014,
IEEE Signal Processing Letters 21:1389): the structural components ("placements") of each
case come from three midrankings instead of the n1·n0 pairwise kernel, and ties count one
half, exactly as in the Mann-Whitney statistic. The numbers are those of R's pROC
(``ci.auc(method="delong")`` and ``roc.test(method="delong")``) with ``direction="<"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from eusgist.stats._validate import check_both_classes, check_level, check_scores, check_y_true

__all__ = [
    "AUCResult",
    "DeLongTest",
    "RocCurve",
    "delong_placements",
    "delong_test",
    "delong_test_unpaired",
    "roc_auc_ci",
    "roc_curve",
    "youden_threshold",
]


@dataclass(frozen=True)
class AUCResult:
    """An area under the ROC curve with its standard error and confidence interval."""

    auc: float
    lo: float
    hi: float
    se: float


@dataclass(frozen=True)
class DeLongTest:
    """A DeLong comparison of two AUCs.

    ``diff`` is ``auc_a - auc_b``; ``lo``/``hi`` bound it. ``z`` is the test statistic,
    standard normal for the paired test (``df`` is infinite) and Student t with ``df``
    degrees of freedom for the unpaired test.
    """

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p_value: float
    lo: float
    hi: float
    df: float = math.inf


@dataclass(frozen=True)
class RocCurve:
    """Empirical ROC curve: one point per distinct score, from (0, 0) to (1, 1).

    A case is called positive when its score is ``>= thresholds[k]``; the first threshold
    is ``+inf`` (nobody positive).
    """

    fpr: NDArray[np.float64]
    tpr: NDArray[np.float64]
    thresholds: NDArray[np.float64]


def _midranks(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Midranks (1-based, ties averaged) along the last axis."""
    return sps.rankdata(x, method="average", axis=-1)


def delong_placements(
    pos: NDArray[np.float64], neg: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """AUCs and DeLong structural components for one or more score sets.

    Parameters
    ----------
    pos : ndarray of shape (k, m)
        Scores of the m positive cases under each of k models.
    neg : ndarray of shape (k, n)
        Scores of the n negative cases.

    Returns
    -------
    auc : ndarray of shape (k,)
    v10 : ndarray of shape (k, m)
        For each positive case, the fraction of negatives it outranks (ties count 1/2).
    v01 : ndarray of shape (k, n)
        For each negative case, the fraction of positives that outrank it.
    """
    m, n = pos.shape[1], neg.shape[1]
    tx = _midranks(pos)
    ty = _midranks(neg)
    tz = _midranks(np.concatenate([pos, neg], axis=1))
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return v10.mean(axis=1), v10, v01


def _split(y_true: ArrayLike, scores: list[ArrayLike], names: list[str]) -> tuple[
    NDArray[np.float64], NDArray[np.float64]
]:
    y = check_y_true(y_true)
    cols = [check_scores(s, y.size, name=name) for s, name in zip(scores, names, strict=True)]
    check_both_classes(y)
    mat = np.vstack(cols)
    return mat[:, y == 1], mat[:, y == 0]


def _covariance(v10: NDArray[np.float64], v01: NDArray[np.float64]) -> NDArray[np.float64]:
    """DeLong covariance matrix S10/m + S01/n of the k AUCs."""
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return s10 / v10.shape[1] + s01 / v01.shape[1]


def roc_auc_ci(y_true: ArrayLike, y_score: ArrayLike, *, level: float = 0.95) -> AUCResult:
    """AUC with its DeLong standard error and confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_score : array-like of shape (n,)
        Scores; higher means more likely positive.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    AUCResult
        ``auc``, ``lo``, ``hi``, ``se``. The interval is ``auc ± z·se`` clipped to
        [0, 1], as in pROC's ``ci.auc(method="delong")``.

    Raises
    ------
    ValueError
        On one-class input, fewer than 2 cases per class, NaN scores or length mismatch.
    """
    level = check_level(level)
    pos, neg = _split(y_true, [y_score], ["y_score"])
    auc, v10, v01 = delong_placements(pos, neg)
    se = math.sqrt(_covariance(v10, v01)[0, 0])
    half = float(sps.norm.ppf(0.5 + level / 2)) * se
    a = float(auc[0])
    return AUCResult(auc=a, lo=float(max(a - half, 0.0)), hi=float(min(a + half, 1.0)), se=se)


def delong_test(
    y_true: ArrayLike, score_a: ArrayLike, score_b: ArrayLike, *, level: float = 0.95
) -> DeLongTest:
    """Paired DeLong test of two models scored on the same cases.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    score_a, score_b : array-like of shape (n,)
        The two models' scores for the same cases, in the same order.
    level : float, default 0.95
        Confidence level of the interval for ``auc_a - auc_b``.

    Returns
    -------
    DeLongTest
        z-statistic, two-sided p-value and the (unclipped) normal interval of the
        difference, as pROC's ``roc.test(method="delong", paired=TRUE)``. When both AUCs
        are equal with zero variance (e.g. identical scores), ``z`` is 0 and ``p_value`` 1.
    """
    level = check_level(level)
    pos, neg = _split(y_true, [score_a, score_b], ["score_a", "score_b"])
    auc, v10, v01 = delong_placements(pos, neg)
    cov = _covariance(v10, v01)
    var = cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]
    se = math.sqrt(max(var, 0.0))
    diff = float(auc[0] - auc[1])
    z = 0.0 if diff == 0.0 and se == 0.0 else _ratio(diff, se)
    p = float(2.0 * sps.norm.sf(abs(z)))
    half = float(sps.norm.ppf(0.5 + level / 2)) * se
    return DeLongTest(
        auc_a=float(auc[0]), auc_b=float(auc[1]), diff=diff, se=se, z=z, p_value=p,
        lo=diff - half, hi=diff + half,
    )


def delong_test_unpaired(
    y_true_a: ArrayLike,
    score_a: ArrayLike,
    y_true_b: ArrayLike,
    score_b: ArrayLike,
    *,
    level: float = 0.95,
) -> DeLongTest:
    """DeLong test of two AUCs from independent samples.

    Parameters
    ----------
    y_true_a, score_a : array-like
        Labels and scores of the first sample.
    y_true_b, score_b : array-like
        Labels and scores of the second, independent sample.
    level : float, default 0.95
        Confidence level of the interval for ``auc_a - auc_b``.

    Returns
    -------
    DeLongTest
        As pROC's ``roc.test(method="delong", paired=FALSE)``: ``z`` is
        ``diff / sqrt(var_a + var_b)`` referred to Student's t with the Welch-Satterthwaite
        degrees of freedom ``df`` (counted on all cases of each sample). pROC gives no
        interval here; ``lo``/``hi`` use the same t quantile, so they agree with the test.
    """
    level = check_level(level)
    res = []
    for y, s, tag in ((y_true_a, score_a, "a"), (y_true_b, score_b, "b")):
        pos, neg = _split(y, [s], [f"score_{tag}"])
        auc, v10, v01 = delong_placements(pos, neg)
        res.append((float(auc[0]), float(_covariance(v10, v01)[0, 0]), pos.size + neg.size))
    (auc_a, var_a, n_a), (auc_b, var_b, n_b) = res
    se = math.sqrt(var_a + var_b)
    diff = auc_a - auc_b
    denom = var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1)
    df = (var_a + var_b) ** 2 / denom if denom > 0 else math.inf
    z = 0.0 if diff == 0.0 and se == 0.0 else _ratio(diff, se)
    p = float(2.0 * sps.t.sf(abs(z), df))
    half = float(sps.t.ppf(0.5 + level / 2, df)) * se
    return DeLongTest(
        auc_a=auc_a, auc_b=auc_b, diff=diff, se=se, z=z, p_value=p,
        lo=diff - half, hi=diff + half, df=df,
    )


def _ratio(num: float, den: float) -> float:
    if den == 0.0:
        return math.copysign(math.inf, num)
    return num / den


def roc_curve(y_true: ArrayLike, y_score: ArrayLike) -> RocCurve:
    """Empirical ROC curve with one point per distinct score.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels with both classes present.
    y_score : array-like of shape (n,)
        Scores; higher means more likely positive.

    Returns
    -------
    RocCurve
        ``fpr``, ``tpr`` and the ``thresholds`` (descending, first ``+inf``).
    """
    y = check_y_true(y_true)
    s = check_scores(y_score, y.size)
    check_both_classes(y, min_per_class=1)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=np.r_[np.inf, s_sorted[last]])


def youden_threshold(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Score threshold maximising Youden's J = sensitivity + specificity - 1.

    Cases with ``score >= threshold`` are called positive. The threshold is an observed
    score; among equally good thresholds the highest (most specific) is returned.
    """
    curve = roc_curve(y_true, y_score)
    j = curve.tpr[1:] - curve.fpr[1:]
    return float(curve.thresholds[1:][int(np.argmax(j))])
