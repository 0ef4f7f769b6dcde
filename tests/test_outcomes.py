"""What a probability meant on held-out lesions: equal-count bins in the card, the bin of a
prediction, its observed rate and Wilson interval, in the JSON and the text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eusgist import inference, stats
from eusgist.cli import main
from eusgist.data import read_manifest
from eusgist.inference.outcomes import observed_outcome, outcome_sentence
from eusgist.inference.roi_validation import outcome_bins, record_roi_metrics


def test_bins_have_equal_counts_and_never_split_ties() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(75)
    y = (rng.random(75) < p).astype(int)
    bins = outcome_bins(y, p)
    assert [b["n"] for b in bins] == [15] * 5
    assert sum(b["positive"] for b in bins) == y.sum()
    assert all(a["hi"] < b["lo"] for a, b in zip(bins, bins[1:]))
    tied = outcome_bins(np.array([0, 1, 0, 1, 1, 0]), np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9]),
                        n_bins=3)
    assert [(b["lo"], b["hi"], b["n"], b["positive"]) for b in tied] == [
        (0.1, 0.1, 4, 2), (0.9, 0.9, 2, 1)]


def test_a_probability_gets_its_bin_rate_and_wilson_interval() -> None:
    bins = [{"lo": 0.0, "hi": 0.2, "n": 20, "positive": 1},
            {"lo": 0.3, "hi": 0.9, "n": 10, "positive": 8}]
    card = {"box": {"outcome_bins": bins}}
    assert observed_outcome(card, "box", 0.24)["n"] == 20  # nearer the first bin
    got = observed_outcome(card, "box", 0.95)
    rate, lo, hi = stats.proportion_ci(8, 10, method="wilson")
    assert (got["positive"], got["n"], got["rate"]) == (8, 10, rate)
    assert got["ci"] == [pytest.approx(lo), pytest.approx(hi)]
    assert observed_outcome(card, "outline", 0.5) is None
    assert observed_outcome({}, None, 0.5) is None
    text = outcome_sentence(got, "malignant")
    assert text.startswith("Of the 10 held-out test lesions (box ROIs) with P between 0.30 "
                           "and 0.90, 8 were malignant: 80% (95% CI")
    assert " to " in text


@pytest.mark.slow
def test_prediction_json_and_text_carry_the_observed_outcome(prediction_bundles, tmp_path: Path,
                                                             capsys) -> None:
    bundle = tmp_path / "model"
    shutil.copytree(prediction_bundles.tabular, bundle)
    bins = [{"lo": 0.0, "hi": 0.5, "n": 12, "positive": 3},
            {"lo": 0.5, "hi": 1.0, "n": 12, "positive": 9}]
    record_roi_metrics(bundle, {"outline": {"auc": 0.9, "auc_ci": [0.8, 1.0],
                                            "outcome_bins": bins}})
    manifest = read_manifest(prediction_bundles.manifest)
    image, mask = manifest.image_path(0), manifest.mask_path(0)
    pred = inference.predict(bundle, image, mask)
    assert pred.observed is not None and pred.observed["n"] == 12
    assert main(["predict", "--model", str(bundle), str(image), "--mask", str(mask),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["observed_outcome"] == pred.observed
    assert main(["predict", "--model", str(bundle), str(image), "--mask", str(mask)]) == 0
    assert "Held out: Of the 12 held-out test lesions (outline ROIs)" in capsys.readouterr().out
