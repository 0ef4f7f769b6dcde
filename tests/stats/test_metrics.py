"""Threshold metrics and binomial intervals: guo2024's table, scipy references, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from eusgist import stats


def test_recomputes_guo2024_table_with_clipped_wald():
    # ResNet34 on the validation set: TP 12, FN 2, TN 14, FP 1 (percent, 95% CI).
    expected = {
        "sensitivity": (85.71, 67.38, 100.00),
        "specificity": (93.33, 80.71, 100.00),
        "ppv": (92.31, 77.82, 100.00),
        "npv": (87.50, 71.30, 100.00),
        "accuracy": (89.66, 78.57, 100.00),
    }
    got = stats.binary_metrics(tp=12, fp=1, tn=14, fn=2, ci="wald")
    assert set(got) == set(expected)
    for name, triple in expected.items():
        assert tuple(round(100 * v, 2) for v in got[name]) == triple, name


@pytest.mark.parametrize(("x", "n"), [(0, 5), (1, 7), (12, 14), (14, 15), (26, 29), (40, 40)])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_wilson_and_clopper_pearson_match_scipy(x, n, level):
    ref = binomtest(x, n)
    for ours, theirs in (("wilson", "wilson"), ("clopper-pearson", "exact")):
        value, lo, hi = stats.proportion_ci(x, n, method=ours, level=level)
        ci = ref.proportion_ci(confidence_level=level, method=theirs)
        assert value == x / n
        assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-12), ours


def test_wald_by_hand_and_clipping():
    value, lo, hi = stats.proportion_ci(3, 10, method="wald", level=0.95)
    half = 1.959963984540054 * math.sqrt(0.3 * 0.7 / 10)
    assert (value, lo, hi) == pytest.approx((0.3, 0.3 - half, 0.3 + half))
    assert stats.proportion_ci(0, 10, method="wald") == (0.0, 0.0, 0.0)  # degenerate Wald
    assert stats.proportion_ci(1, 10, method="wald")[1] == 0.0


def test_counts_from_predictions_and_scores():
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.5, 0.2, 0.5, 0.1, 0.3, 0.05])
    counts = stats.confusion_counts(y, (s >= 0.5).astype(int))
    assert counts == stats.ConfusionCounts(tp=2, fp=1, tn=3, fn=1)
    tm = stats.threshold_metrics(y, s, threshold=0.5, ci="clopper-pearson")
    assert tm.counts == counts  # score == threshold is positive
    assert tm.metrics["sensitivity"][0] == pytest.approx(2 / 3)
    assert tm.metrics["ppv"][0] == pytest.approx(2 / 3)
    assert tm.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_zero_denominator_warns_and_gives_nan():
    with pytest.warns(RuntimeWarning, match="ppv is undefined"):
        m = stats.binary_metrics(0, 0, 5, 3)
    assert all(math.isnan(v) for v in m["ppv"])
    assert m["npv"][0] == 5 / 8
    with pytest.warns(RuntimeWarning, match="F1 is undefined"):
        assert math.isnan(stats.f1_score(0, 0, 0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stats.binary_metrics(1, 2, 3, -1), "fn must be a non-negative integer"),
        (lambda: stats.binary_metrics(1.5, 2, 3, 1), "tp must be a non-negative integer"),
        (lambda: stats.binary_metrics(1, 2, 3, 4, ci="exact"), "unknown CI method 'exact'"),
        (lambda: stats.proportion_ci(5, 4), r"successes \(5\) exceed trials \(4\)"),
        (lambda: stats.confusion_counts([0, 1], [0, 1, 1]), "length mismatch: y_pred"),
        (lambda: stats.confusion_counts([0, 1], [0, 0.5]), "y_pred must be 0/1"),
        (lambda: stats.threshold_metrics([0, 1], [0.1, 0.9], threshold=math.nan), "NaN"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
