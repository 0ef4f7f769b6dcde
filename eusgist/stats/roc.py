"""ROC curves and thresholds; the DeLong AUC analysis lives in :mod:`eusgist.stats.delong`.

The DeLong names are re-exported here, where they used to be defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eusgist.stats._validate import check_both_classes, check_scores, check_y_true
from eusgist.stats.delong import (
    AUCResult,
    DeLongTest,
    delong_placements,
    delong_test,
    delong_test_unpaired,
    roc_auc_ci,
)

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
class RocCurve:
    """Empirical ROC curve: one point per distinct score, from (0, 0) to (1, 1).

    A case is called positive when its score is ``>= thresholds[k]``; the first threshold
    is ``+inf`` (nobody positive).
    """

    fpr: NDArray[np.float64]
    tpr: NDArray[np.float64]
    thresholds: NDArray[np.float64]


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
