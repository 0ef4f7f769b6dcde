"""Stratified bootstrap: vectorised replicates against explicit resamples, DeLong agreement."""

from __future__ import annotations

import numpy as np
import pytest

from eusgist import stats
from eusgist.stats import bootstrap


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    return y, np.round(rng.normal(size=400) + 1.2 * y, 1)


def test_replicate_aucs_equal_naive_auc_of_the_expanded_resample(sample, reference):
    y, s = sample
    values = np.unique(s)
    wp, wn = next(bootstrap._replicate_counts(y, s, 20, seed=3))
    fast = bootstrap._auc_from_counts(wp, wn)
    assert fast[0] == pytest.approx(reference.auc(y, s), abs=1e-12)  # row 0: observed
    for k in range(1, wp.shape[0]):
        pos, neg = np.repeat(values, wp[k]), np.repeat(values, wn[k])
        assert pos.size == (y == 1).sum() and neg.size == (y == 0).sum()  # stratified
        yy = np.r_[np.ones(pos.size, int), np.zeros(neg.size, int)]
        assert fast[k] == pytest.approx(reference.auc(yy, np.r_[pos, neg]), abs=1e-12)


def test_bootstrap_agrees_with_delong(sample):
    y, s = sample
    delong = stats.roc_auc_ci(y, s)
    boot = stats.bootstrap_auc_ci(y, s, n_boot=2000, seed=1)
    assert boot.auc == pytest.approx(delong.auc)
    assert boot.se == pytest.approx(delong.se, rel=0.1)
    assert (boot.lo, boot.hi) == pytest.approx((delong.lo, delong.hi), abs=0.015)


def test_seeded_and_independent_of_chunking(sample, monkeypatch):
    y, s = sample
    first = stats.bootstrap_auc_ci(y, s, n_boot=300, seed=5)
    assert stats.bootstrap_auc_ci(y, s, n_boot=300, seed=5) == first
    assert stats.bootstrap_auc_ci(y, s, n_boot=300, seed=6) != first
    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", 1000)  # many small chunks
    assert stats.bootstrap_auc_ci(y, s, n_boot=300, seed=5) == first


def test_roc_band_brackets_the_observed_curve(sample):
    y, s = sample
    band = stats.roc_ci_band(y, s, n_boot=300, seed=2)
    curve = stats.roc_curve(y, s)
    for f, t in zip(band.fpr, band.tpr, strict=True):  # highest sensitivity with FPR <= f
        assert t == curve.tpr[curve.fpr <= f + 1e-12].max()
    assert np.all(band.lo <= band.tpr + 1e-12) and np.all(band.tpr <= band.hi + 1e-12)
    assert (band.lo[-1], band.hi[-1]) == (1.0, 1.0)
    assert np.all(np.diff(band.lo) >= 0) and np.all(np.diff(band.hi) >= 0)


def test_bad_bootstrap_arguments():
    with pytest.raises(ValueError, match="n_boot must be at least 1"):
        stats.bootstrap_auc_ci([0, 0, 1, 1], [1, 2, 3, 4], n_boot=0)
    with pytest.raises(ValueError, match="fpr_grid must be"):
        stats.roc_ci_band([0, 0, 1, 1], [1, 2, 3, 4], fpr_grid=[0.5, 2.0])
