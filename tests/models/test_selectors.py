"""The custom feature filters honour the scikit-learn contract and keep the right columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import check_estimator

from eusgist.models.selectors import CorrelationFilter, L1Selector
from eusgist.models.tabular import CalibratedSVC


@pytest.mark.parametrize("estimator", [CorrelationFilter(), CalibratedSVC(cv=2)], ids=type)
def test_sklearn_estimator_checks(estimator):
    failed = [r for r in check_estimator(estimator, on_fail=None) if r["status"] == "failed"]
    assert failed == []


def test_correlation_filter_drops_later_duplicate_and_names_columns():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    copy = 2 * a + 0.001 * rng.normal(size=50)
    frame = pd.DataFrame({"a": a, "b": b, "a_copy": copy, "neg_b": -b})
    f = CorrelationFilter(0.9).fit(frame)
    assert f.get_feature_names_out().tolist() == ["a", "b"]
    assert f.transform(frame).shape == (50, 2)


def test_correlation_filter_rejects_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        CorrelationFilter(1.5).fit(np.zeros((4, 2)))


def test_l1_selector_keeps_signal_and_respects_bounds():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 60)
    x = rng.normal(size=(120, 40))
    x[:, 7] += 2.0 * y
    sel = L1Selector(C=0.1, max_features=3).fit(x, y)
    assert sel.get_support().sum() <= 3
    assert sel.get_support()[7]
    # a penalty that zeroes everything still keeps min_features, the most relevant first
    strict = L1Selector(C=1e-6, min_features=2).fit(x, y)
    assert strict.get_support().sum() == 2 and strict.get_support()[7]


def test_l1_selector_rejects_inconsistent_bounds():
    with pytest.raises(ValueError, match="min_features"):
        L1Selector(max_features=2, min_features=3).fit(np.zeros((4, 2)), [0, 1, 0, 1])
