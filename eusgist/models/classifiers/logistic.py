"""Logistic regression with deep features stacked: many embedding columns, a few others.

An image embedding has thousands of columns, each weak; a handful of hand-made features
(the segmenter's ``seg_*``, radiomics) are each strong. One penalty for all of them either
drowns the few or overfits the many. :class:`StackedLogistic` fits them in two levels: an
L2 logistic regression on the ``deep_*`` columns, whose out-of-fold (lesion-grouped) log-odds
then enter a second logistic regression beside the other columns. Both levels are linear,
so the fitted model is one logistic regression (a weight per column, an intercept): stored as
two arrays, predicted with one dot product, and its SHAP values are exact
(``weight × (value - background mean)`` in log-odds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from eusgist.errors import EusgistError
from eusgist.features.table import DEEP_PREFIX
from eusgist.models.classifiers import (
    ClassifierSpec,
    ClassifierState,
    ShapResult,
    register_classifier,
)

if TYPE_CHECKING:
    from eusgist.models.portable import PortableModel

#: Model-card text of how the contributions are computed.
LINEAR_METHOD = "exact linear SHAP (weight x difference from the background mean, log-odds)"


class StackedLogistic(ClassifierMixin, BaseEstimator):
    """Two-level L2 logistic regression collapsed into one linear model.

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 strength of the top level (the deep log-odds and the other columns).
    C_deep : float, default 0.01
        Inverse L2 strength of the level on the ``deep_*`` columns.
    n_splits : int, default 5
        Folds (grouped by lesion when ``groups`` are given) of the out-of-fold deep log-odds.
    random_state : int or None
        Seed of the fold shuffle.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_,)
        The weight of each input column in the final log-odds.
    intercept_ : float
    """

    def __init__(self, C: float = 1.0, C_deep: float = 0.01, n_splits: int = 5,
                 random_state: int | None = None) -> None:
        self.C = C
        self.C_deep = C_deep
        self.n_splits = n_splits
        self.random_state = random_state

    def _deep_lr(self) -> LogisticRegression:
        return LogisticRegression(C=self.C_deep, max_iter=5000)

    def fit(self, X: ArrayLike, y: ArrayLike, groups: ArrayLike | None = None) -> StackedLogistic:
        """Fit both levels; ``groups`` (lesion ids) keep a lesion inside one fold."""
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        x = frame.to_numpy(dtype=np.float64)
        y_arr = np.asarray(y)
        self.classes_ = np.unique(y_arr)
        if self.classes_.size != 2:
            raise EusgistError(f"logistic needs two classes, got {self.classes_.tolist()}")
        y01 = (y_arr == self.classes_[1]).astype(np.int64)
        self.n_features_in_ = x.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        deep = np.array([str(c).startswith(DEEP_PREFIX) for c in frame.columns])
        if not deep.any() or deep.all():  # one group: a plain L2 logistic regression
            lr = LogisticRegression(C=self.C_deep if deep.all() else self.C, max_iter=5000)
            lr.fit(x, y01)
            self.coef_, self.intercept_ = lr.coef_.ravel(), float(lr.intercept_[0])
            return self
        units = np.arange(len(y01)) if groups is None else np.asarray(groups)
        per_class = min(np.unique(units[y01 == c]).size for c in (0, 1))
        folds = StratifiedGroupKFold(min(self.n_splits, per_class), shuffle=True,
                                     random_state=self.random_state)
        oof = np.empty(len(y01))
        for fit_rows, held in folds.split(x, y01, units):
            oof[held] = self._deep_lr().fit(x[fit_rows][:, deep],
                                            y01[fit_rows]).decision_function(x[held][:, deep])
        top = LogisticRegression(C=self.C, max_iter=5000).fit(np.c_[oof, x[:, ~deep]], y01)
        first = self._deep_lr().fit(x[:, deep], y01)
        w_deep = top.coef_[0, 0]
        self.coef_ = np.empty(x.shape[1])
        self.coef_[deep] = w_deep * first.coef_.ravel()
        self.coef_[~deep] = top.coef_[0, 1:]
        self.intercept_ = float(top.intercept_[0] + w_deep * first.intercept_[0])
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Log-odds of the positive class."""
        x = X.to_numpy(dtype=np.float64) if isinstance(X, pd.DataFrame) else np.asarray(X, float)
        return x @ self.coef_ + self.intercept_

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities, shape (n, 2)."""
        p = expit(self.decision_function(X))
        return np.c_[1.0 - p, p]

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The class with the higher probability."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def _store(clf: StackedLogistic) -> ClassifierState:
    return ClassifierState({"coef": np.asarray(clf.coef_, dtype=np.float64)},
                           {"intercept": float(clf.intercept_)})


def _load(state: ClassifierState, n: int) -> None:
    if state.arrays["coef"].shape != (n,):
        raise EusgistError(f"logistic weights {state.arrays['coef'].shape} do not fit {n} "
                           "features")


def _log_odds(model: PortableModel, x: NDArray[np.float64]) -> NDArray[np.float64]:
    return x @ model.arrays["coef"] + model.params["intercept"]


def _proba(model: PortableModel, x: NDArray[np.float64]) -> NDArray[np.float64]:
    return expit(_log_odds(model, x))


def _shap(
    model: PortableModel, x: NDArray[np.float64], background: NDArray[np.float64], seed: int
) -> ShapResult:
    mean = background.mean(axis=0)
    values = (x - mean) * model.arrays["coef"]
    base = float(mean @ model.arrays["coef"] + model.params["intercept"])
    return values, base, _log_odds(model, x)


SPEC = register_classifier(ClassifierSpec(
    name="logistic",
    build=lambda seed: StackedLogistic(random_state=seed),
    grid={"clf__C_deep": [0.003, 0.01, 0.03]},
    store=_store,
    load=_load,
    proba=_proba,
    shap_method=LINEAR_METHOD,
    shap_space="log-odds",
    shap=_shap,
    required_arrays=("coef",),
    required_params=("intercept",),
    fit_groups=True,
    selects=False,
    column_names=True,
))
