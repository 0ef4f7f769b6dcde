"""Feature filters and selectors that follow the scikit-learn estimator contract.

Both are :class:`~sklearn.feature_selection.SelectorMixin` transformers, so they keep
columns (never transform values), give ``get_feature_names_out`` and live inside a
:class:`~sklearn.pipeline.Pipeline` where they are fitted on training folds only.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from eusgist.errors import EusgistError

log = logging.getLogger(__name__)

__all__ = ["CorrelationFilter", "L1Selector"]


def _abs_corr_with(x: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """|Pearson r| of each column of centred ``x`` with centred ``v`` (0 where undefined)."""
    num = np.abs(x.T @ v)
    den = np.sqrt((x * x).sum(axis=0) * float(v @ v))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    return np.nan_to_num(r, nan=0.0)


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Drop the later column of every highly correlated pair.

    Columns are visited in input order; a column is kept when its absolute Pearson
    correlation with every column already kept is below ``threshold``. Constant columns
    correlate with nothing and are kept (remove them with a variance filter first).

    Parameters
    ----------
    threshold : float, default 0.9
        Absolute correlation at or above which a column counts as a duplicate.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_features_in_,)
        Columns kept.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Set when fitted on a DataFrame.
    """

    def __init__(self, threshold: float = 0.9) -> None:
        self.threshold = threshold

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> CorrelationFilter:
        """Find the columns to keep; ``y`` is ignored."""
        if not 0.0 < self.threshold <= 1.0:
            raise EusgistError(f"threshold must be in (0, 1], not {self.threshold}")
        x = validate_data(self, X, dtype=np.float64, ensure_all_finite=True)
        x = x - x.mean(axis=0)
        norms = np.sqrt((x * x).sum(axis=0))
        z = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
        corr = np.abs(z.T @ z)
        support = np.zeros(x.shape[1], dtype=bool)
        for j in range(x.shape[1]):
            kept = np.flatnonzero(support)
            if kept.size == 0 or corr[j, kept].max() < self.threshold:
                support[j] = True
        self.support_ = support
        log.debug("correlation filter kept %d of %d columns", support.sum(), support.size)
        return self

    def _get_support_mask(self) -> NDArray[np.bool_]:
        check_is_fitted(self, "support_")
        return self.support_


class L1Selector(SelectorMixin, BaseEstimator):
    """Keep the columns an L1-penalised (LASSO) logistic regression uses.

    Expects standardised input (put a scaler before it). Columns are ranked by the
    absolute coefficient, ties (including all-zero coefficients) broken by the absolute
    correlation with the label; the top ``max_features`` of the non-zero ones are kept,
    and never fewer than ``min_features``.

    Parameters
    ----------
    C : float, default 0.1
        Inverse regularisation strength; smaller keeps fewer columns.
    max_features : int, default 30
        Most columns kept (bounds the cost of model-agnostic SHAP on the kept columns).
    min_features : int, default 1
        Fewest columns kept, even when the penalty zeroes every coefficient.
    random_state : int or None, default None
        Seed of the liblinear solver.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_,)
        Coefficients of the fitted L1 logistic regression.
    support_ : ndarray of bool, shape (n_features_in_,)
        Columns kept.
    """

    def __init__(
        self,
        C: float = 0.1,
        max_features: int = 30,
        min_features: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.C = C
        self.max_features = max_features
        self.min_features = min_features
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> L1Selector:
        """Fit the L1 logistic regression and choose the columns."""
        if not 1 <= self.min_features <= self.max_features:
            raise EusgistError(
                "need 1 <= min_features <= max_features, got "
                f"{self.min_features}, {self.max_features}"
            )
        x, y_arr = validate_data(self, X, y, dtype=np.float64)
        lasso = LogisticRegression(
            C=self.C, l1_ratio=1.0, solver="liblinear", random_state=self.random_state
        ).fit(x, y_arr)
        coef = lasso.coef_.ravel()
        yc = (y_arr == lasso.classes_[-1]).astype(np.float64)
        relevance = _abs_corr_with(x - x.mean(axis=0), yc - yc.mean())
        order = np.lexsort((-relevance, -np.abs(coef)))
        n_keep = min(self.max_features, max(self.min_features, int(np.count_nonzero(coef))))
        support = np.zeros(x.shape[1], dtype=bool)
        support[order[: min(n_keep, x.shape[1])]] = True
        self.coef_ = coef
        self.support_ = support
        log.debug("L1 selector kept %d of %d columns", support.sum(), support.size)
        return self

    def _get_support_mask(self) -> NDArray[np.bool_]:
        check_is_fitted(self, "support_")
        return self.support_
