"""StackedLogistic: deep columns through their own L2 level, collapsed into one linear model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from eusgist.models.classifiers.logistic import StackedLogistic


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """300 weak deep columns and one strong segmenter column."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    deep = rng.normal(size=(n, 300)) + 0.15 * y[:, None] * (rng.random(300) < 0.2)
    seg = 1.5 * y + rng.normal(size=n)
    frame = pd.DataFrame(deep, columns=[f"deep_x_{i:03d}" for i in range(300)])
    frame["seg_fill"] = seg
    return frame, y


def test_one_group_is_a_plain_l2_logistic_regression():
    x, y = _data(200, 0)
    deep = x.filter(like="deep_")
    clf = StackedLogistic(C_deep=0.02).fit(deep, y)
    plain = LogisticRegression(C=0.02, max_iter=5000).fit(deep, y)
    np.testing.assert_allclose(clf.coef_, plain.coef_.ravel(), rtol=1e-4, atol=1e-6)
    only_seg = StackedLogistic(C=0.5).fit(x[["seg_fill"]], y)
    ref = LogisticRegression(C=0.5, max_iter=5000).fit(x[["seg_fill"]], y)
    assert only_seg.intercept_ == pytest.approx(float(ref.intercept_[0]), rel=1e-4)


def test_the_deep_weights_are_one_l2_model_scaled_and_the_model_is_linear():
    x, y = _data(240, 1)
    groups = np.arange(240) // 2
    clf = StackedLogistic(C_deep=0.01, random_state=0).fit(x, y, groups=groups)
    first = LogisticRegression(C=0.01, max_iter=5000).fit(x.filter(like="deep_"), y)
    ratio = clf.coef_[:300] / first.coef_.ravel()
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-3)
    assert ratio[0] > 0
    np.testing.assert_allclose(clf.decision_function(x),
                               x.to_numpy() @ clf.coef_ + clf.intercept_)
    p = clf.predict_proba(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_a_strong_feature_is_not_drowned_by_many_weak_ones():
    x, y = _data(300, 2)
    test_x, test_y = _data(2000, 3)
    stacked = StackedLogistic(C_deep=0.01, random_state=0).fit(x, y)
    flat = LogisticRegression(C=0.01, max_iter=5000).fit(x, y)
    auc_stacked = roc_auc_score(test_y, stacked.decision_function(test_x))
    auc_flat = roc_auc_score(test_y, flat.decision_function(test_x))
    assert auc_stacked > auc_flat + 0.03
