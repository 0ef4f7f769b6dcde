"""Shared ranks: rank_scores once per model, reused by the AUC interval and paired tests."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from eusgist import stats

RTOL = 1e-9  # as the pROC fixture check in conftest.py


def _kernel_placements(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    diff = pos[:, None] - neg[None, :]
    k = (diff > 0) + 0.5 * (diff == 0)
    return k.mean(axis=1), k.mean(axis=0)


def _three_midrankings(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The previous algorithm: combined midranks minus within-class midranks."""
    m, n = pos.size, neg.size
    tz = rankdata(np.r_[pos, neg])
    return (tz[:m] - rankdata(pos)) / n, 1.0 - (tz[m:] - rankdata(neg)) / m


three_models = st.integers(min_value=4, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(
            lambda y: 2 <= sum(y) <= len(y) - 2),
        st.lists(st.integers(-3, 3), min_size=n, max_size=n),  # small range: many ties
        st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n),  # two values: ties everywhere
    )
)


@settings(max_examples=100, deadline=None)
@given(data=three_models)
def test_shared_ranks_equal_the_per_call_path_and_the_slow_reference(data, reference):
    y, *scores = (np.asarray(v) for v in data)
    ranked = [stats.rank_scores(y, s) for s in scores]
    aucs, cov = reference.delong(y, *scores)
    for k, (r, s) in enumerate(zip(ranked, scores, strict=True)):
        assert stats.auc_ci_from_ranks(r) == stats.roc_auc_ci(y, s)
        assert stats.auc_ci_from_ranks(r, level=0.9) == stats.roc_auc_ci(y, s, level=0.9)
        assert r.auc == pytest.approx(aucs[k], abs=1e-12)
        assert r.var == pytest.approx(cov[k, k], abs=1e-12)
    for i, j in itertools.combinations(range(3), 2):  # each model ranked once for all pairs
        t = stats.delong_test_from_ranks(ranked[i], ranked[j])
        assert t == stats.delong_test(y, scores[i], scores[j])
        var = cov[i, i] + cov[j, j] - 2 * cov[i, j]
        assert t.se == pytest.approx(math.sqrt(max(var, 0.0)), abs=1e-9)
        assert (t.auc_a, t.auc_b) == pytest.approx((aucs[i], aucs[j]), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(data=three_models)
def test_placements_from_one_sort_equal_the_kernel_and_the_three_midrankings(data):
    y, a, _, _ = (np.asarray(v, float) for v in data)
    r = stats.rank_scores(y, a)
    pos, neg = a[y == 1], a[y == 0]
    v10, v01 = _kernel_placements(pos, neg)
    np.testing.assert_allclose(r.v10, v10, rtol=0, atol=1e-15)  # case by case, in order
    np.testing.assert_allclose(r.v01, v01, rtol=0, atol=1e-15)
    old10, old01 = _three_midrankings(pos, neg)
    np.testing.assert_array_equal(r.v10, old10)
    np.testing.assert_array_equal(r.v01, old01)


@pytest.mark.parametrize(("m", "n"), [(1, 5), (5, 1), (1, 1)])
def test_one_case_in_a_class(m, n):
    rng = np.random.default_rng(m * 10 + n)
    pos, neg = np.round(rng.normal(size=(2, m)), 1), np.round(rng.normal(size=(2, n)), 1)
    pos[0, 0] = neg[0, 0]  # a tie across the classes
    auc, v10, v01 = stats.delong_placements(pos, neg)
    for k in range(2):
        ref10, ref01 = _kernel_placements(pos[k], neg[k])
        np.testing.assert_allclose(v10[k], ref10, atol=1e-15)
        np.testing.assert_allclose(v01[k], ref01, atol=1e-15)
        assert auc[k] == pytest.approx(ref10.mean(), abs=1e-15)
    # The variance needs two cases per class: both paths refuse alike.
    y = np.r_[np.ones(m, int), np.zeros(n, int)]
    s = np.r_[pos[0], neg[0]]
    with pytest.raises(ValueError, match="at least 2 cases per class"):
        stats.rank_scores(y, s)
    with pytest.raises(ValueError, match="at least 2 cases per class"):
        stats.roc_auc_ci(y, s)


def test_identical_models_and_all_ties():
    y = [0, 1, 0, 1, 1, 0]
    r = stats.rank_scores(y, [1, 2, 3, 4, 5, 6])
    t = stats.delong_test_from_ranks(r, stats.rank_scores(y, [1, 2, 3, 4, 5, 6]))
    assert (t.diff, t.se, t.z, t.p_value) == (0.0, 0.0, 0.0, 1.0)
    flat = stats.rank_scores(y, [3.0] * 6)
    assert (flat.auc, stats.auc_ci_from_ranks(flat).se) == (0.5, 0.0)
    np.testing.assert_array_equal(flat.v10, 0.5)
    np.testing.assert_array_equal(flat.v01, 0.5)


def test_shared_ranks_match_the_proc_fixture(proc_cases, proc_reference):
    checked = 0
    for case in proc_reference["cases"]:
        d = proc_cases[(proc_cases["case"] == case["case"]) & (proc_cases["sample"] == 1)]
        ranked = {col: stats.rank_scores(d["y"], d[col]) for col in ("a", "b")}
        for level, key in ((0.95, "ci95"), (0.90, "ci90")):
            for col, r in ranked.items():
                got = stats.auc_ci_from_ranks(r, level=level)
                want = case[col]
                assert (got.auc, got.se, got.lo, got.hi) == pytest.approx(
                    (want["auc"], want["se"], *want[key]), rel=RTOL, abs=1e-12)
            t = stats.delong_test_from_ranks(ranked["a"], ranked["b"], level=level)
            want = case["paired"]
            assert (t.z, t.p_value, t.lo, t.hi) == pytest.approx(
                (want["z"], want["p_value"], *want[key]), rel=RTOL, abs=1e-12)
            checked += 1
    assert checked > 10


def test_pairing_needs_the_same_labels():
    a = stats.rank_scores([0, 0, 1, 1], [1, 2, 3, 4])
    b = stats.rank_scores([0, 1, 0, 1], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="ranked on different labels"):
        stats.delong_test_from_ranks(a, b)
    shorter = stats.rank_scores([0, 0, 1, 1, 1], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="ranked on different labels"):
        stats.delong_test_from_ranks(a, shorter)


def test_rank_scores_checks_its_input():
    with pytest.raises(ValueError, match="length mismatch: score_b"):
        stats.rank_scores([0, 0, 1, 1], [1, 2, 3], name="score_b")
    with pytest.raises(ValueError, match="NaN"):
        stats.rank_scores([0, 0, 1, 1], [1, np.nan, 3, 4])
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        stats.auc_ci_from_ranks(stats.rank_scores([0, 0, 1, 1], [1, 2, 3, 4]), level=95)
