"""DeLong AUC confidence intervals and tests, from one sort per score vector.

Each case's DeLong structural component ("placement", Sun & Xu 2014, IEEE Signal
Processing Letters 21:1389) is read off a single ascending sort of all the scores: a
positive case's placement is the fraction of negatives below it plus half those tied with
it; a negative case's is the fraction of positives above it plus half those tied. This is
the midrank algorithm (combined minus within-class midranks) without sorting each class
again. The numbers are those of R's pROC (``ci.auc(method="delong")`` and
``roc.test(method="delong")``) with ``direction="<"``.

When several models are scored on the same cases, :func:`rank_scores` computes each
model's placements once, and :func:`auc_ci_from_ranks` and :func:`delong_test_from_ranks`
reuse them for every interval and every pair; :func:`roc_auc_ci` and :func:`delong_test`
are the same computations for a single call.
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
    "RankedScores",
    "auc_ci_from_ranks",
    "delong_placements",
    "delong_test",
    "delong_test_from_ranks",
    "delong_test_unpaired",
    "rank_scores",
    "roc_auc_ci",
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


@dataclass(frozen=True, eq=False)
class RankedScores:
    """One model's DeLong placements on a labelled sample, computed once for reuse.

    Build it with :func:`rank_scores`. ``v10`` holds each positive case's fraction of
    negatives ranked below it (ties 1/2) and ``v01`` each negative case's fraction of
    positives ranked above it, in the cases' order in ``y_true``, so two models ranked on
    the same labels pair case by case. ``auc`` is the mean of ``v10`` and ``var`` the
    DeLong variance of the AUC.
    """

    y_true: NDArray[np.int8]
    auc: float
    v10: NDArray[np.float64]
    v01: NDArray[np.float64]
    var: float


def _placements_1d(
    s: NDArray[np.float64], is_pos: NDArray[np.bool_], m: int, n: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(v10, v01) of one score vector from one sort; m positives, n negatives."""
    order = np.argsort(s)
    sorted_s = s[order]
    pos_sorted = is_pos[order]
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    sizes = np.diff(np.r_[starts, s.size])
    pos_upto = np.r_[0, np.cumsum(pos_sorted, dtype=np.int64)]  # positives before index i
    pos_below = pos_upto[starts]
    pos_tied = pos_upto[starts + sizes] - pos_below
    neg_below = starts - pos_below
    neg_tied = sizes - pos_tied
    # Same arithmetic as the midrank formulas: combined minus within-class midrank.
    at_pos = (neg_below + 0.5 * neg_tied) / n
    at_neg = 1.0 - (pos_below + 0.5 * pos_tied) / m
    placed = np.empty(s.size)
    placed[order] = np.where(pos_sorted, np.repeat(at_pos, sizes), np.repeat(at_neg, sizes))
    return placed[is_pos], placed[~is_pos]


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
    pos, neg = np.atleast_2d(pos), np.atleast_2d(neg)
    m, n = pos.shape[1], neg.shape[1]
    is_pos = np.r_[np.ones(m, bool), np.zeros(n, bool)]
    v10, v01 = np.empty(pos.shape), np.empty(neg.shape)
    for k in range(pos.shape[0]):  # one sort per model, never a loop over cases
        v10[k], v01[k] = _placements_1d(np.r_[pos[k], neg[k]], is_pos, m, n)
    return v10.mean(axis=1), v10, v01


def _variance(v10: NDArray[np.float64], v01: NDArray[np.float64]) -> float:
    return float(np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size)


def _rank_checked(y: NDArray[np.int8], s: NDArray[np.float64]) -> RankedScores:
    is_pos = y == 1
    m = int(np.count_nonzero(is_pos))
    v10, v01 = _placements_1d(s, is_pos, m, y.size - m)
    return RankedScores(y_true=y, auc=float(v10.mean()), v10=v10, v01=v01,
                        var=_variance(v10, v01))


def rank_scores(y_true: ArrayLike, y_score: ArrayLike, *, name: str = "y_score") -> RankedScores:
    """Check one model's scores and compute its DeLong placements once.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_score : array-like of shape (n,)
        Scores; higher means more likely positive.
    name : str, default "y_score"
        How error messages call the scores.

    Returns
    -------
    RankedScores
        For :func:`auc_ci_from_ranks` and :func:`delong_test_from_ranks`.

    Raises
    ------
    ValueError
        On one-class input, fewer than 2 cases per class, NaN scores or length mismatch.
    """
    y = check_y_true(y_true)
    s = check_scores(y_score, y.size, name=name)
    check_both_classes(y)
    return _rank_checked(y, s)


def auc_ci_from_ranks(ranked: RankedScores, *, level: float = 0.95) -> AUCResult:
    """:func:`roc_auc_ci` of already ranked scores (the same numbers, no new sort)."""
    level = check_level(level)
    se = math.sqrt(ranked.var)
    half = float(sps.norm.ppf(0.5 + level / 2)) * se
    a = ranked.auc
    return AUCResult(auc=a, lo=float(max(a - half, 0.0)), hi=float(min(a + half, 1.0)), se=se)


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
    return auc_ci_from_ranks(rank_scores(y_true, y_score), level=level)


def delong_test_from_ranks(
    ranked_a: RankedScores, ranked_b: RankedScores, *, level: float = 0.95
) -> DeLongTest:
    """:func:`delong_test` of two models already ranked on the same labels.

    Raises
    ------
    ValueError
        If the two were ranked on different labels.
    """
    level = check_level(level)
    ya, yb = ranked_a.y_true, ranked_b.y_true
    if ya is not yb and not np.array_equal(ya, yb):
        raise ValueError("the two models were ranked on different labels; a paired test "
                         "needs the same cases in the same order")
    # var(a) + var(b) - 2 cov(a, b), computed as the variance of the case-wise
    # differences: the same number without the cancellation (0 for identical models).
    se = math.sqrt(_variance(ranked_a.v10 - ranked_b.v10, ranked_a.v01 - ranked_b.v01))
    diff = ranked_a.auc - ranked_b.auc
    z = 0.0 if diff == 0.0 and se == 0.0 else _ratio(diff, se)
    p = float(2.0 * sps.norm.sf(abs(z)))
    half = float(sps.norm.ppf(0.5 + level / 2)) * se
    return DeLongTest(
        auc_a=ranked_a.auc, auc_b=ranked_b.auc, diff=diff, se=se, z=z, p_value=p,
        lo=diff - half, hi=diff + half,
    )


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
    y = check_y_true(y_true)
    a = check_scores(score_a, y.size, name="score_a")
    b = check_scores(score_b, y.size, name="score_b")
    check_both_classes(y)
    return delong_test_from_ranks(_rank_checked(y, a), _rank_checked(y, b), level=level)


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
    ra = rank_scores(y_true_a, score_a, name="score_a")
    rb = rank_scores(y_true_b, score_b, name="score_b")
    var_a, var_b = ra.var, rb.var
    n_a, n_b = ra.y_true.size, rb.y_true.size
    se = math.sqrt(var_a + var_b)
    diff = ra.auc - rb.auc
    denom = var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1)
    df = (var_a + var_b) ** 2 / denom if denom > 0 else math.inf
    z = 0.0 if diff == 0.0 and se == 0.0 else _ratio(diff, se)
    p = float(2.0 * sps.t.sf(abs(z), df))
    half = float(sps.t.ppf(0.5 + level / 2, df)) * se
    return DeLongTest(
        auc_a=ra.auc, auc_b=rb.auc, diff=diff, se=se, z=z, p_value=p,
        lo=diff - half, hi=diff + half, df=df,
    )


def _ratio(num: float, den: float) -> float:
    if den == 0.0:
        return math.copysign(math.inf, num)
    return num / den
