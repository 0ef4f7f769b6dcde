"""Per-lesion aggregation of image scores."""

from __future__ import annotations

import numpy as np
import pytest

from eusgist import stats


def test_mean_and_max_by_hand():
    ids = ["L2", "L1", "L2", "L3", "L1"]
    y = [1, 0, 1, 0, 0]
    s = [0.8, 0.2, 0.4, 0.5, 0.4]
    mean = stats.aggregate_by_lesion(ids, y, s)
    np.testing.assert_array_equal(mean.lesion_id, ["L1", "L2", "L3"])
    np.testing.assert_array_equal(mean.y_true, [0, 1, 0])
    np.testing.assert_allclose(mean.y_score, [0.3, 0.6, 0.5])
    np.testing.assert_array_equal(mean.n_images, [2, 2, 1])
    high = stats.aggregate_by_lesion(ids, y, s, how="max")
    np.testing.assert_allclose(high.y_score, [0.4, 0.8, 0.5])


def test_several_models_at_once_keep_columns():
    ids = np.array([3, 1, 3])
    scores = np.array([[0.1, 0.9], [0.5, 0.5], [0.3, 0.7]])
    agg = stats.aggregate_by_lesion(ids, [1, 0, 1], scores)
    assert agg.y_score.shape == (2, 2)
    np.testing.assert_allclose(agg.y_score, [[0.5, 0.5], [0.2, 0.8]])


@pytest.mark.parametrize(
    ("ids", "y", "s", "how", "message"),
    [
        (["a", "a", "b"], [0, 1, 1], [0.1, 0.2, 0.3], "mean", "1 lesion.* both labels: 'a'"),
        (["a", None, "b"], [0, 0, 1], [0.1, 0.2, 0.3], "mean", "lesion_id has missing"),
        ([1.0, np.nan, 2.0], [0, 0, 1], [0.1, 0.2, 0.3], "mean", "lesion_id has missing"),
        (["a", "b"], [0, 0, 1], [0.1, 0.2, 0.3], "mean", "length mismatch"),
        (["a", "a", "b"], [0, 0, 1], [0.1, np.nan, 0.3], "mean", "NaN"),
        (["a", "a", "b"], [0, 0, 1], [0.1, 0.2, 0.3], "median", "how must be"),
    ],
)
def test_bad_input_is_named(ids, y, s, how, message):
    with pytest.raises(ValueError, match=message):
        stats.aggregate_by_lesion(ids, y, s, how=how)
