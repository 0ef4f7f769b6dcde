"""Validation per ROI kind: the card's outline/box metrics, the CLI, and predictions' ROI kind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eusgist import inference
from eusgist.cli import main
from eusgist.data import read_manifest
from eusgist.errors import EusgistError
from eusgist.inference.roi_validation import held_out_rows, record_roi_metrics, validate_roi_kinds
from eusgist.io import read_mask
from eusgist.roi_kinds import mask_box

pytestmark = pytest.mark.slow


def _copy(bundle: Path, tmp_path: Path) -> Path:
    out = tmp_path / bundle.name
    shutil.copytree(bundle, out)
    return out


@pytest.mark.parametrize("kind", ["tabular", "cnn"])
def test_metrics_per_roi_kind_match_scoring_by_hand(prediction_bundles, kind: str) -> None:
    bundle = getattr(prediction_bundles, kind)
    manifest = read_manifest(prediction_bundles.manifest)
    metrics = validate_roi_kinds(bundle, manifest, n_jobs=1)
    assert set(metrics) == {"outline", "box", "rough_outline"}
    if kind == "tabular":  # the app's path reproduces the training's own test AUC (spacing too)
        card = json.loads((bundle / "model_card.json").read_text())
        assert metrics["outline"]["auc"] == pytest.approx(card["test_metrics"]["auc"], abs=1e-9)
    rows = held_out_rows(manifest)
    test = manifest.subset(rows)
    for roi, m in metrics.items():
        assert m["n_images"] == len(rows)
        assert m["n_lesions"] == test.table["lesion_id"].nunique()
        assert 0.0 <= m["auc_ci"][0] <= m["auc"] <= m["auc_ci"][1] <= 1.0
    image, mask = test.image_path(0), read_mask(test.mask_path(0))
    by_mask = inference.predict(bundle, image, mask=mask, explain=False)
    by_box = inference.predict(bundle, image, box=mask_box(mask), explain=False)
    assert by_mask.roi_kind == "outline" and by_box.roi_kind == "box"
    assert by_mask.to_dict()["roi_kind"] == "outline"


def test_the_card_records_them_and_predictions_warn_on_an_unvalidated_kind(
        prediction_bundles, tmp_path: Path) -> None:
    bundle = _copy(prediction_bundles.tabular, tmp_path)
    manifest = read_manifest(prediction_bundles.manifest)
    image, mask = manifest.image_path(0), read_mask(manifest.mask_path(0))
    box = mask_box(mask)

    fresh = inference.predict(bundle, image, box=box, explain=False)
    assert any("validated with expert outlines only" in n for n in fresh.notes)
    assert "Validated with expert outlines only" in fresh.test_metrics

    metrics = validate_roi_kinds(bundle, manifest, n_jobs=1)
    record_roi_metrics(bundle, {"outline": metrics["outline"]})
    card = json.loads((bundle / "model_card.json").read_text())
    assert card["test_metrics_by_roi"]["outline"]["auc"] == metrics["outline"]["auc"]
    loaded = inference.load_model(bundle)  # reloaded: the card changed
    assert inference.roi_metrics(loaded.model_card).keys() == {"outline"}
    on_box = inference.predict(loaded, image, box=box, explain=False)
    assert any("not validated on box ROIs" in n for n in on_box.notes)
    on_mask = inference.predict(loaded, image, mask=mask, explain=False)
    assert not any("validated" in n for n in on_mask.notes)
    assert "Validated per ROI kind: outline AUC" in on_mask.test_metrics
    # the weights were not touched: same probability, and the bundle's checksums still hold
    assert on_box.positive_probability == pytest.approx(fresh.positive_probability, abs=1e-9)


def test_validate_roi_cli_writes_the_card(prediction_bundles, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _copy(prediction_bundles.cnn, tmp_path)
    assert main(["validate-roi", "--model", str(bundle), "--manifest",
                 str(prediction_bundles.manifest), "--write"]) == 0
    printed = json.loads(capsys.readouterr().out)
    card = json.loads((bundle / "model_card.json").read_text())
    assert card["test_metrics_by_roi"] == printed


def test_bad_input_is_refused(prediction_bundles, tmp_path: Path) -> None:
    manifest = read_manifest(prediction_bundles.manifest)
    table = manifest.table.assign(split="train")
    from eusgist.data import validate_manifest

    no_test = validate_manifest(table, manifest.root)
    with pytest.raises(EusgistError, match="no masked test rows"):
        validate_roi_kinds(prediction_bundles.tabular, no_test)
    assert main(["validate-roi", "--model", str(tmp_path / "missing"), "--manifest",
                 str(prediction_bundles.manifest)]) == 2


def test_the_app_offers_the_model_best_on_boxes_first(prediction_bundles, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from eusgist.ui.predict import model_choices

    weights = tmp_path / "weights"
    for name, box_auc in (("a-model", 0.81), ("b-model", 0.93), ("c-model", None)):
        bundle = _copy(prediction_bundles.tabular, weights)
        bundle = bundle.rename(weights / name)
        if box_auc is not None:
            record_roi_metrics(bundle, {"outline": {"auc": 0.9, "auc_ci": [0.8, 1.0]},
                                        "box": {"auc": box_auc, "auc_ci": [0.7, 1.0]}})
    monkeypatch.setenv("EUSGIST_WEIGHTS_DIR", str(weights))
    assert [name for _, name in model_choices()] == ["b-model", "a-model", "c-model"]
