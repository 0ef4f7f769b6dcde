"""A CNN's probability calibrated on its validation lesions: Platt fit, the card, the same
decisions, refitting from the uncalibrated threshold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, logit

from eusgist import inference
from eusgist.cli import main
from eusgist.data import read_manifest
from eusgist.errors import EusgistError
from eusgist.inference.calibration import calibrated, fit_platt


def test_platt_recovers_a_known_map_and_needs_both_classes() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, 20_000)
    y = (rng.random(z.size) < expit(0.5 * z - 1.0)).astype(int)
    a, b = fit_platt(z, y)
    assert a == pytest.approx(0.5, abs=0.03) and b == pytest.approx(-1.0, abs=0.05)
    with pytest.raises(EusgistError, match="both classes"):
        fit_platt(z[:5], np.zeros(5))
    card = {"calibration": {"method": "platt", "a": a, "b": b}}
    assert calibrated(card, np.array([0.0]))[0] == pytest.approx(expit(b))
    assert calibrated({}, np.array([0.0]))[0] == 0.5


@pytest.mark.slow
def test_calibrating_a_cnn_keeps_its_decisions(prediction_bundles, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    bundle = tmp_path / "cnn"
    shutil.copytree(prediction_bundles.cnn, bundle)
    manifest = read_manifest(prediction_bundles.manifest)
    images = [manifest.image_path(i) for i in range(6)]
    masks = [manifest.mask_path(i) for i in range(6)]
    before = [inference.predict(bundle, im, mk, explain=False) for im, mk in zip(images, masks)]
    assert main(["calibrate", "--model", str(bundle), "--manifest",
                 str(prediction_bundles.manifest)]) == 0
    cal = json.loads(capsys.readouterr().out)
    card = json.loads((bundle / "model_card.json").read_text())
    assert card["calibration"] == cal and cal["method"] == "platt"
    assert card["threshold_uncalibrated"] == before[0].threshold
    after = [inference.predict(bundle, im, mk, explain=False) for im, mk in zip(images, masks)]
    for old, new in zip(before, after, strict=True):
        z = logit(old.positive_probability)
        assert new.positive_probability == pytest.approx(expit(cal["a"] * z + cal["b"]),
                                                         abs=1e-6)
        assert new.decision == old.decision  # the threshold went through the same map
    # refitting starts again from the uncalibrated threshold
    assert main(["calibrate", "--model", str(bundle), "--manifest",
                 str(prediction_bundles.manifest)]) == 0
    again = json.loads((bundle / "model_card.json").read_text())
    assert again["threshold"] == pytest.approx(card["threshold"])
    assert main(["calibrate", "--model", str(prediction_bundles.tabular), "--manifest",
                 str(prediction_bundles.manifest)]) == 2
    assert "2D CNN" in capsys.readouterr().err
