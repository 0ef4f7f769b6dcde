"""AUC, DeLong tests and ROC curves against hand-worked cases, slow references and pROC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from eusgist import stats

# --- hand-worked toy cases ---------------------------------------------------------------

def test_toy_auc_and_placements_by_hand():
    # positives 0.4, 0.8; negatives 0.1, 0.4, 0.6. Pairs: 0.4 beats 0.1, ties 0.4, loses
    # to 0.6 -> 1.5/3; 0.8 beats all -> 3/3. AUC = 4.5/6 = 0.75.
    y = [1, 1, 0, 0, 0]
    s = [0.4, 0.8, 0.1, 0.4, 0.6]
    auc, v10, v01 = stats.delong_placements(np.array([[0.4, 0.8]]), np.array([[0.1, 0.4, 0.6]]))
    assert auc[0] == 0.75
    np.testing.assert_allclose(v10[0], [0.5, 1.0])
    np.testing.assert_allclose(v01[0], [1.0, 0.75, 0.5])
    # var = var(v10)/m + var(v01)/n = 0.125/2 + 0.0625/3
    res = stats.roc_auc_ci(y, s)
    assert res.auc == 0.75
    assert res.se == pytest.approx(math.sqrt(0.125 / 2 + 0.0625 / 3))
    assert res.hi == 1.0  # 0.75 + 1.96 * 0.289 > 1: clipped like pROC


def test_all_ties_give_half_and_zero_test():
    y = [0, 1, 0, 1, 1, 0]
    res = stats.roc_auc_ci(y, [3.0] * 6)
    assert (res.auc, res.se) == (0.5, 0.0)
    t = stats.delong_test(y, [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])
    assert (t.diff, t.z, t.p_value) == (0.0, 0.0, 1.0)


def test_auc_is_invariant_to_monotone_transforms():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    s = rng.normal(size=60) + y
    a, b = stats.roc_auc_ci(y, s), stats.roc_auc_ci(y, np.exp(3 * s))
    assert (a.auc, a.se) == pytest.approx((b.auc, b.se), rel=1e-12)


def test_swapping_models_flips_the_paired_test():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 50)
    a, b = rng.normal(size=50) + y, rng.normal(size=50)
    ab, ba = stats.delong_test(y, a, b), stats.delong_test(y, b, a)
    assert ab.diff == -ba.diff and ab.z == -ba.z and ab.p_value == ba.p_value
    assert (ab.lo, ab.hi) == pytest.approx((-ba.hi, -ba.lo))


# --- slow references -----------------------------------------------------------------------

labels_and_scores = st.integers(min_value=4, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(
            lambda y: 2 <= sum(y) <= len(y) - 2),
        st.lists(st.integers(-3, 3), min_size=n, max_size=n),  # small range: many ties
        st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n),
    )
)


@settings(max_examples=100, deadline=None)
@given(data=labels_and_scores)
def test_fast_delong_matches_explicit_structural_components(data, reference):
    y, a, b = (np.asarray(v) for v in data)
    aucs, cov = reference.delong(y, a, b)
    res = stats.roc_auc_ci(y, a)
    assert res.auc == pytest.approx(reference.auc(y, a), abs=1e-12)
    assert res.se == pytest.approx(math.sqrt(cov[0, 0]), abs=1e-12)
    t = stats.delong_test(y, a, b)
    assert (t.auc_a, t.auc_b) == pytest.approx(tuple(aucs), abs=1e-12)
    assert t.se == pytest.approx(math.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0)),
                                 abs=1e-9)


def test_auc_matches_sklearn_on_large_tied_input():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 5000)
    s = np.round(rng.normal(size=5000) + y, 1)
    assert stats.roc_auc_ci(y, s).auc == pytest.approx(roc_auc_score(y, s), rel=1e-12)


def test_unpaired_variance_is_the_sum_of_both(reference):
    rng = np.random.default_rng(4)
    ya, yb = rng.integers(0, 2, 40), rng.integers(0, 2, 30)
    sa, sb = rng.normal(size=40) + ya, rng.normal(size=30)
    u = stats.delong_test_unpaired(ya, sa, yb, sb)
    var = reference.delong(ya, sa)[1][0, 0] + reference.delong(yb, sb)[1][0, 0]
    assert u.se == pytest.approx(math.sqrt(var))
    assert u.z == pytest.approx(u.diff / u.se)
    assert u.lo < u.diff < u.hi


# --- pROC ----------------------------------------------------------------------------------

def test_asah_paired_delong_matches_proc_documentation(asah):
    # pROC's own example: roc.test(roc(outcome, s100b), roc(outcome, wfns)) -> 95% CI of
    # the AUC difference -0.1742 to -0.0104, AUCs 0.7314 and 0.8237.
    t = stats.delong_test(asah["outcome"], asah["s100b"], asah["wfns"])
    assert (round(t.lo, 4), round(t.hi, 4)) == (-0.1742, -0.0104)
    assert (round(t.auc_a, 4), round(t.auc_b, 4)) == (0.7314, 0.8237)
    assert round(t.p_value, 4) == 0.0272
    assert t.df == math.inf


def test_matches_proc_reference_fixture(proc_cases, proc_reference, proc_check):
    assert proc_check(proc_cases, proc_reference) > 100


# --- ROC curve and thresholds --------------------------------------------------------------

def test_roc_curve_matches_sklearn_without_dropping_points():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)
    ours = stats.roc_curve(y, s)
    fpr, tpr, thr = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(ours.fpr, fpr)
    np.testing.assert_allclose(ours.tpr, tpr)
    np.testing.assert_allclose(ours.thresholds[1:], thr[1:])
    assert ours.thresholds[0] == np.inf
    assert np.trapezoid(ours.tpr, ours.fpr) == pytest.approx(roc_auc_score(y, s))


def test_youden_threshold_by_hand():
    # At 0.6: sens 3/4, spec 4/4 (J = 0.75); at 0.3: sens 4/4, spec 3/4 (J = 0.75); the tie
    # goes to the higher threshold; anything else is worse.
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.2, 0.5, 0.3, 0.6, 0.7, 0.9]
    assert stats.youden_threshold(y, s) == 0.6


# --- degenerate input ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], "only one class"),
        ([0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], "at least 2 cases per class"),
        ([0, 0, 1, 1], [0.1, np.nan, 0.3, 0.4], "NaN"),
        ([0, 0, 1, 1], [0.1, 0.2, 0.3], "length mismatch"),
        ([0, 2, 1, 1], [0.1, 0.2, 0.3, 0.4], "must be 0/1"),
        (["a", "b", "a", "b"], [0.1, 0.2, 0.3, 0.4], "must be 0/1"),
        ([0, 0, 1, 1], ["x", "y", "z", "w"], "must be numeric"),
    ],
)
def test_degenerate_input_raises_naming_the_problem(y, s, message):
    with pytest.raises(ValueError, match=message):
        stats.roc_auc_ci(y, s)


def test_bad_level_and_paired_length_mismatch():
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        stats.roc_auc_ci([0, 0, 1, 1], [1, 2, 3, 4], level=95)
    with pytest.raises(ValueError, match="length mismatch: score_b"):
        stats.delong_test([0, 0, 1, 1], [1, 2, 3, 4], [1, 2, 3])
    with pytest.raises(ValueError, match="only one class"):
        stats.delong_test_unpaired([0, 0, 1, 1], [1, 2, 3, 4], [1, 1, 1], [1, 2, 3])
