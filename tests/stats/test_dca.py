"""Decision curve analysis against hand-worked numbers and a per-threshold loop."""

from __future__ import annotations

import numpy as np
import pytest

from eusgist import stats


def test_net_benefit_by_hand():
    y = [1, 1, 0, 0]
    p = [0.9, 0.4, 0.6, 0.1]
    # pt 0.2: treat 0.9, 0.4, 0.6 -> TP 2, FP 1 -> 2/4 - 1/4 * 0.25 = 0.4375
    # pt 0.5: treat 0.9, 0.6 -> TP 1, FP 1 -> 1/4 - 1/4 * 1 = 0
    # pt 0.6: treat 0.9, 0.6 (0.6 >= 0.6) -> 1/4 - 1/4 * 1.5 = -0.125
    np.testing.assert_allclose(stats.net_benefit(y, p, [0.2, 0.5, 0.6]), [0.4375, 0, -0.125])
    np.testing.assert_allclose(stats.net_benefit_treat_all(y, [0.2, 0.5]), [0.375, 0.0])
    # avoided per 100 at pt 0.2: (0.4375 - 0.375) / 0.25 * 100 = 25
    assert stats.net_interventions_avoided(y, p, [0.2])[0] == pytest.approx(25.0)


def test_net_benefit_matches_a_loop_over_thresholds():
    rng = np.random.default_rng(21)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.uniform(size=500), 2)
    t = stats.default_thresholds()
    expected = [np.sum((p >= pt) & (y == 1)) / 500 - np.sum((p >= pt) & (y == 0)) / 500
                * pt / (1 - pt) for pt in t]
    np.testing.assert_allclose(stats.net_benefit(y, p, t), expected, atol=1e-12)


def test_decision_curve_bundles_models_and_reference_strategies():
    y = np.array([0, 1, 0, 1, 1])
    curve = stats.decision_curve(y, {"a": [0.1, 0.8, 0.3, 0.7, 0.6], "b": [0.5] * 5})
    assert curve.thresholds.size == 99 and curve.thresholds[0] == 0.01
    assert set(curve.net_benefit) == {"a", "b"}
    np.testing.assert_array_equal(curve.treat_none, 0.0)
    # a model that treats everyone at every threshold below 0.5 equals treat-all there
    below = curve.thresholds <= 0.5
    np.testing.assert_allclose(curve.net_benefit["b"][below], curve.treat_all[below])


@pytest.mark.parametrize("bad", [[0.0, 0.5], [0.5, 1.0], [], [[0.2]]])
def test_thresholds_must_lie_strictly_inside_the_unit_interval(bad):
    with pytest.raises(ValueError, match="thresholds must"):
        stats.net_benefit([0, 1], [0.2, 0.7], bad)


def test_scores_must_be_probabilities():
    with pytest.raises(ValueError, match="probabilities"):
        stats.net_benefit([0, 1], [-1.0, 2.0], [0.5])
