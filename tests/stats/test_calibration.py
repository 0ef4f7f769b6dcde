"""Brier score, reliability curves and logistic recalibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from eusgist import stats


@pytest.fixture(scope="module")
def miscalibrated():
    """Outcomes drawn from logit P = 0.4 + 0.6·logit(p): predictions too extreme."""
    rng = np.random.default_rng(11)
    p = expit(rng.normal(0, 2, 3000))
    y = rng.binomial(1, expit(0.4 + 0.6 * logit(p)))
    return y, p


def test_brier_by_hand_and_against_sklearn(miscalibrated):
    assert stats.brier_score([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    y, p = miscalibrated
    assert stats.brier_score(y, p) == pytest.approx(brier_score_loss(y, p))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_curve_matches_sklearn(miscalibrated, strategy):
    y, p = miscalibrated
    p = np.round(p, 1)  # values on the bin edges
    ours = stats.calibration_curve(y, p, n_bins=10, strategy=strategy)
    prob_true, prob_pred = sk_calibration_curve(y, p, n_bins=10, strategy=strategy)
    np.testing.assert_allclose(ours.prob_true, prob_true)
    np.testing.assert_allclose(ours.prob_pred, prob_pred)
    assert ours.count.sum() == y.size


def test_reliability_curve_by_hand():
    curve = stats.calibration_curve([0, 1, 1, 0, 1], [0.1, 0.2, 0.8, 0.9, 1.0], n_bins=2)
    np.testing.assert_allclose(curve.prob_pred, [0.15, 0.9])
    np.testing.assert_allclose(curve.prob_true, [0.5, 2 / 3])
    np.testing.assert_array_equal(curve.count, [2, 3])
    np.testing.assert_allclose(curve.bin_edges, [0, 0.5, 1])


def test_slope_matches_unpenalised_logistic_regression(miscalibrated):
    y, p = miscalibrated
    fit = stats.calibration_intercept_slope(y, p)
    lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(logit(p)[:, None], y)
    assert fit.slope == pytest.approx(lr.coef_[0, 0], rel=1e-5)
    assert fit.slope == pytest.approx(0.6, abs=0.1)


def test_intercept_is_calibration_in_the_large_with_slope_one(miscalibrated):
    y, p = miscalibrated
    lp = logit(p)

    def nll(a):
        eta = a[0] + lp
        return np.sum(np.logaddexp(0, eta) - y * eta)

    expected = minimize(nll, [0.0], method="BFGS", options={"gtol": 1e-10}).x[0]
    assert stats.calibration_intercept_slope(y, p).intercept == pytest.approx(expected, abs=1e-6)


def test_perfectly_calibrated_predictions_give_slope_one_intercept_zero():
    rng = np.random.default_rng(12)
    p = rng.uniform(0.02, 0.98, 20000)
    fit = stats.calibration_intercept_slope(rng.binomial(1, p), p)
    assert fit.slope == pytest.approx(1.0, abs=0.08)
    assert fit.intercept == pytest.approx(0.0, abs=0.05)


def test_undefined_fits_warn_and_return_nan():
    with pytest.warns(RuntimeWarning, match="need both classes"):
        fit = stats.calibration_intercept_slope([1, 1, 1], [0.2, 0.5, 0.9])
    assert math.isnan(fit.intercept) and math.isnan(fit.slope)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = stats.calibration_intercept_slope([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert math.isnan(fit.slope)
    with pytest.warns(RuntimeWarning, match="slope is undefined"):
        fit = stats.calibration_intercept_slope([0, 1, 0, 1], [0.3] * 4)
    assert math.isnan(fit.slope) and fit.intercept == pytest.approx(logit(0.5) - logit(0.3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stats.brier_score([0, 1], [0.2, 1.5]), r"probabilities in \[0, 1\]"),
        (lambda: stats.calibration_curve([0, 1], [0.2, 0.5], n_bins=0), "n_bins"),
        (lambda: stats.calibration_curve([0, 1], [0.2, 0.5], strategy="kmeans"), "strategy"),
        (lambda: stats.calibration_intercept_slope([0, 1], [0.2]), "length mismatch"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
