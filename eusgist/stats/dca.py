"""Decision curve analysis (Vickers & Elkin 2006).

At threshold probability pt a patient is treated (here: resected / referred) when the
predicted probability is ``>= pt``. Net benefit = TP/n - FP/n · pt/(1 - pt): true positives
per patient, less false positives weighted by the odds at which one would accept a harm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eusgist.stats._validate import check_probabilities, check_y_true

__all__ = [
    "DecisionCurve",
    "decision_curve",
    "default_thresholds",
    "net_benefit",
    "net_benefit_treat_all",
    "net_interventions_avoided",
]


@dataclass(frozen=True)
class DecisionCurve:
    """Net benefit of each model and of the treat-all / treat-none strategies."""

    thresholds: NDArray[np.float64]
    net_benefit: dict[str, NDArray[np.float64]]
    treat_all: NDArray[np.float64]
    treat_none: NDArray[np.float64]


def default_thresholds() -> NDArray[np.float64]:
    """The threshold grid 0.01, 0.02, ..., 0.99."""
    return np.round(np.arange(1, 100) / 100.0, 2)


def _check_thresholds(thresholds: ArrayLike) -> NDArray[np.float64]:
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError("thresholds must be a non-empty 1-D array")
    if np.isnan(t).any() or t.min() <= 0.0 or t.max() >= 1.0:
        raise ValueError("thresholds must lie strictly between 0 and 1")
    return t


def net_benefit(y_true: ArrayLike, y_prob: ArrayLike, thresholds: ArrayLike) -> NDArray[np.float64]:
    """Net benefit of treating the cases with ``y_prob >= pt``, for each threshold pt.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_prob : array-like of shape (n,)
        Predicted probabilities of the positive class, in [0, 1].
    thresholds : array-like of shape (t,)
        Threshold probabilities, strictly between 0 and 1.

    Returns
    -------
    ndarray of shape (t,)
    """
    y = check_y_true(y_true)
    p = check_probabilities(y_prob, y.size)
    t = _check_thresholds(thresholds)
    pos = np.sort(p[y == 1])
    neg = np.sort(p[y == 0])
    tp = pos.size - np.searchsorted(pos, t, side="left")
    fp = neg.size - np.searchsorted(neg, t, side="left")
    return tp / y.size - fp / y.size * t / (1.0 - t)


def net_benefit_treat_all(y_true: ArrayLike, thresholds: ArrayLike) -> NDArray[np.float64]:
    """Net benefit of treating everybody: prevalence - (1 - prevalence) · pt/(1 - pt)."""
    y = check_y_true(y_true)
    t = _check_thresholds(thresholds)
    prevalence = float(y.mean())
    return prevalence - (1.0 - prevalence) * t / (1.0 - t)


def net_interventions_avoided(
    y_true: ArrayLike, y_prob: ArrayLike, thresholds: ArrayLike, *, per: int = 100
) -> NDArray[np.float64]:
    """Interventions avoided per ``per`` patients compared with treating all.

    ``(NB_model - NB_treat_all) / (pt / (1 - pt)) · per`` at the same net benefit.
    """
    t = _check_thresholds(thresholds)
    gain = net_benefit(y_true, y_prob, t) - net_benefit_treat_all(y_true, t)
    return gain * (1.0 - t) / t * per


def decision_curve(
    y_true: ArrayLike,
    y_prob: Mapping[str, ArrayLike],
    thresholds: ArrayLike | None = None,
) -> DecisionCurve:
    """Net benefit of several models plus treat-all and treat-none on one threshold grid.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    y_prob : mapping of str to array-like of shape (n,)
        Predicted probabilities of each model.
    thresholds : array-like, optional
        Threshold probabilities; default :func:`default_thresholds`.
    """
    t = _check_thresholds(default_thresholds() if thresholds is None else thresholds)
    return DecisionCurve(
        thresholds=t,
        net_benefit={name: net_benefit(y_true, p, t) for name, p in y_prob.items()},
        treat_all=net_benefit_treat_all(y_true, t),
        treat_none=np.zeros_like(t),
    )
