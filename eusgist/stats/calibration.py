"""Calibration: reliability curve, Brier score, calibration intercept and slope."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, logit

from eusgist.stats._validate import check_probabilities, check_y_true

__all__ = [
    "CalibrationCurve",
    "CalibrationFit",
    "brier_score",
    "calibration_curve",
    "calibration_intercept_slope",
]


@dataclass(frozen=True)
class CalibrationCurve:
    """Reliability curve: mean predicted probability and observed frequency per bin.

    Empty bins are dropped, so the arrays can be shorter than the number of bins;
    ``bin_edges`` lists all edges.
    """

    prob_pred: NDArray[np.float64]
    prob_true: NDArray[np.float64]
    count: NDArray[np.int64]
    bin_edges: NDArray[np.float64]


@dataclass(frozen=True)
class CalibrationFit:
    """Logistic recalibration of predicted probabilities.

    ``slope`` is b in ``logit P(y=1) = a + b·logit(p)`` (1 is ideal; below 1 means the
    predictions are too extreme). ``intercept`` is the calibration-in-the-large a of
    ``logit P(y=1) = a + logit(p)``, with the slope fixed at 1 (0 is ideal; negative means
    the predictions are too high on average).
    """

    intercept: float
    slope: float


def brier_score(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Mean squared difference between predicted probability and outcome.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_prob : array-like of shape (n,)
        Predicted probabilities of the positive class, in [0, 1].

    Returns
    -------
    float
        0 is perfect; 0.25 is what always predicting 0.5 scores.
    """
    y = check_y_true(y_true)
    p = check_probabilities(y_prob, y.size)
    return float(np.mean((p - y) ** 2))


def calibration_curve(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> CalibrationCurve:
    """Reliability curve with uniform or quantile bins.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_prob : array-like of shape (n,)
        Predicted probabilities of the positive class, in [0, 1].
    n_bins : int, default 10
        Number of bins.
    strategy : {"uniform", "quantile"}, default "uniform"
        ``"uniform"``: equal-width bins on [0, 1]. ``"quantile"``: bins holding about the
        same number of cases (edges that coincide on tied probabilities are merged).
        A probability on an edge falls in the lower bin, as in scikit-learn.

    Returns
    -------
    CalibrationCurve
    """
    y = check_y_true(y_true)
    p = check_probabilities(y_prob, y.size)
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    which = np.searchsorted(edges[1:-1], p, side="left")  # bins (a, b], first [0, b]
    count = np.bincount(which, minlength=edges.size - 1)
    sum_p = np.bincount(which, weights=p, minlength=edges.size - 1)
    sum_y = np.bincount(which, weights=y.astype(float), minlength=edges.size - 1)
    keep = count > 0
    return CalibrationCurve(
        prob_pred=sum_p[keep] / count[keep],
        prob_true=sum_y[keep] / count[keep],
        count=count[keep],
        bin_edges=edges,
    )


def calibration_intercept_slope(
    y_true: ArrayLike, y_prob: ArrayLike, *, eps: float = 1e-12
) -> CalibrationFit:
    """Calibration intercept and slope by logistic recalibration (maximum likelihood).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_prob : array-like of shape (n,)
        Predicted probabilities of the positive class, in [0, 1].
    eps : float, default 1e-12
        Probabilities are clipped to [eps, 1 - eps] before taking logits.

    Returns
    -------
    CalibrationFit
        Both NaN, with a :class:`RuntimeWarning`, when the fit does not exist (one class,
        all predictions equal for the slope, or perfect separation).
    """
    y = check_y_true(y_true).astype(float)
    p = check_probabilities(y_prob, y.size)
    lp = logit(np.clip(p, eps, 1.0 - eps))
    ones = np.ones((y.size, 1))
    if y.min() == y.max():
        warnings.warn("calibration intercept and slope need both classes; returning NaN",
                      RuntimeWarning, stacklevel=2)
        return CalibrationFit(intercept=math.nan, slope=math.nan)
    intercept = _logistic_mle(ones, y, offset=lp)[0]
    slope = math.nan
    if np.ptp(lp) > 0:
        slope = _logistic_mle(np.hstack([ones, lp[:, None]]), y, offset=np.zeros_like(y))[1]
    else:
        warnings.warn("all predictions are equal; the calibration slope is undefined",
                      RuntimeWarning, stacklevel=2)
    return CalibrationFit(intercept=float(intercept), slope=float(slope))


def _log_lik(eta: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    # log p = -log(1 + e^-eta); log(1 - p) = -log(1 + e^eta)
    return float(-np.sum(y * np.logaddexp(0.0, -eta) + (1 - y) * np.logaddexp(0.0, eta)))


def _logistic_mle(
    x: NDArray[np.float64], y: NDArray[np.float64], *, offset: NDArray[np.float64],
    max_iter: int = 100, tol: float = 1e-10,
) -> NDArray[np.float64]:
    """Newton-Raphson with step halving for a logistic GLM; NaN if it does not converge."""
    beta = np.zeros(x.shape[1])
    ll = _log_lik(x @ beta + offset, y)
    for _ in range(max_iter):
        prob = expit(x @ beta + offset)
        grad = x.T @ (y - prob)
        hess = x.T @ (x * (prob * (1 - prob))[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        for _ in range(30):
            new_ll = _log_lik(x @ (beta + step) + offset, y)
            if new_ll >= ll - 1e-12:
                break
            step = step / 2
        beta, ll = beta + step, new_ll
        if np.max(np.abs(step)) < tol:
            return beta
    warnings.warn("logistic recalibration did not converge (separated data?); returning NaN",
                  RuntimeWarning, stacklevel=3)
    return np.full(x.shape[1], np.nan)
