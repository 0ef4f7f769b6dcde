"""Mapping class labels to 0/1."""

from __future__ import annotations

import numpy as np
import pytest

from eusgist import stats


def test_zero_one_and_booleans_pass_through():
    np.testing.assert_array_equal(stats.to_binary([0, 1, 1.0, 0.0]), [0, 1, 1, 0])
    np.testing.assert_array_equal(stats.to_binary([True, False]), [1, 0])


def test_named_positive_label_and_text_match():
    y = stats.to_binary(["GIST", "leiomyoma", "GIST"], positive_label="GIST")
    np.testing.assert_array_equal(y, [1, 0, 1])
    np.testing.assert_array_equal(stats.to_binary([2, 1, 1], positive_label="2"), [1, 0, 0])


@pytest.mark.parametrize(
    ("labels", "positive", "message"),
    [
        (["GIST", "leiomyoma"], None, "labels are not 0/1.*name the positive label"),
        (["a", "b", "c"], "a", "3 distinct values"),
        (["a", "b"], "GIST", "positive label 'GIST' not found"),
        (["a", None], "a", "1 missing value"),
        ([0, float("nan")], None, "missing value"),
        ([], None, "labels are empty"),
    ],
)
def test_bad_labels_are_named(labels, positive, message):
    with pytest.raises(ValueError, match=message):
        stats.to_binary(labels, positive_label=positive)
