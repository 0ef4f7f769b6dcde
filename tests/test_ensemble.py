"""Ensemble bundles: the mean log-odds of sibling bundles, through predict and batch scoring."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, logit

from eusgist import inference
from eusgist.bundles.ensemble import save_ensemble
from eusgist.cli import main
from eusgist.data import read_manifest
from eusgist.errors import BundleError
from eusgist.io import read_mask

pytestmark = pytest.mark.slow


@pytest.fixture()
def weights(prediction_bundles, tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(prediction_bundles.tabular, folder / "tabular")
    shutil.copytree(prediction_bundles.cnn, folder / "cnn")
    assert main(["ensemble", "--out", str(folder / "both"), "--members", "tabular,cnn"]) == 0
    return folder


def test_an_ensemble_averages_its_members_log_odds(weights: Path, prediction_bundles) -> None:
    manifest = read_manifest(prediction_bundles.manifest)
    images = [manifest.image_path(i) for i in range(3)]
    masks = [read_mask(manifest.mask_path(i)) for i in range(3)]
    both = inference.load_model(weights / "both")
    members = [inference.load_model(weights / n) for n in ("tabular", "cnn")]
    pred = inference.predict(both, images[0], mask=masks[0])
    alone = [inference.predict(m, images[0], mask=masks[0]).positive_probability
             for m in members]
    assert pred.kind == "ensemble"
    assert pred.positive_probability == pytest.approx(expit(np.mean(logit(alone))), abs=1e-6)
    assert pred.threshold == pytest.approx(expit(np.mean([logit(m.threshold) for m in members])))
    assert any("their log-odds averaged" in n for n in pred.notes)
    assert pred.contributions and all(c.feature.startswith("tabular: ")
                                      for c in pred.contributions)
    assert pred.shap_space == "log-odds"  # members' contributions in the ensemble's scale
    shap = [abs(c.shap) for c in pred.contributions]
    assert shap == sorted(shap, reverse=True)
    batch = inference.score_images(both, images, masks, n_jobs=1)
    assert batch[0] == pytest.approx(pred.positive_probability, abs=1e-4)
    singles = [inference.predict(both, i, mask=m, explain=False).positive_probability
               for i, m in zip(images, masks)]
    np.testing.assert_allclose(batch, singles, atol=1e-4)


def test_an_ensemble_can_be_routed_to_and_fits_its_members_domain_gates(weights: Path) -> None:
    assert main(["route", "--out", str(weights / "router"), "--outline", "both",
                 "--box", "cnn"]) == 0
    router = inference.load_model(weights / "router")
    assert router.routes["outline"].kind == "ensemble"


def test_bad_ensembles_are_refused(weights: Path) -> None:
    with pytest.raises(BundleError, match="two or more different members"):
        save_ensemble(weights / "one", ["tabular"])
    with pytest.raises(BundleError, match="two or more different members"):
        save_ensemble(weights / "same", ["tabular", "tabular"])
    other = weights / "other"
    shutil.copytree(weights / "cnn", other)
    card = json.loads((other / "model_card.json").read_text())
    card["classes"], card["positive_class"] = ["a", "b"], "b"
    (other / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="different classes"):
        save_ensemble(weights / "mixed", ["tabular", "other"])
    with pytest.raises(BundleError, match="is a ensemble bundle|members are 2D"):
        save_ensemble(weights / "nested", ["tabular", "both"])
