"""Segmenter features of a box (seg_*): the shapes they describe, and a box model end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eusgist.segment.shape import SEG_FEATURES, shape_features


def _disc(size: int = 101, radius: float = 40.0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return ((yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= radius**2).astype(float)


def test_a_sharp_disc_fills_a_quarter_pi_of_its_box_and_is_round_and_solid():
    f = shape_features(_disc(), threshold=0.5)
    assert list(f) == list(SEG_FEATURES)
    assert f["seg_fill"] == pytest.approx(np.pi * 40**2 / 101**2, rel=0.02)
    assert f["seg_solidity"] > 0.97
    assert 0.8 < f["seg_circularity"] <= 1.3  # pixel perimeters overshoot a little
    assert f["seg_eccentricity"] < 0.1
    assert f["seg_margin_uncertainty"] == 0.0 and f["seg_margin_band"] == 0.0
    assert f["seg_box_aspect"] == 1.0


def test_an_irregular_lesion_is_less_solid_and_an_unsure_edge_is_a_wide_band():
    size = 101
    yy, xx = np.mgrid[:size, :size]
    angle = np.arctan2(yy - 50, xx - 50)
    star = (np.hypot(yy - 50, xx - 50) <= 25 + 15 * np.cos(6 * angle)).astype(float)
    blurred = np.clip(1.0 - np.abs(np.hypot(yy - 50, xx - 50) - 30) / 20, 0, 1)
    blurred[np.hypot(yy - 50, xx - 50) < 30] = 1.0
    sharp = shape_features(_disc(), threshold=0.5)
    assert shape_features(star, threshold=0.5)["seg_solidity"] < sharp["seg_solidity"] - 0.15
    fuzzy = shape_features(blurred, threshold=0.5)
    assert fuzzy["seg_margin_band"] > 0.1 and fuzzy["seg_margin_uncertainty"] > 0.1


def test_nothing_found_gives_an_empty_outline_and_a_tall_box_is_taller_than_wide():
    f = shape_features(np.zeros((60, 30)), threshold=0.5)
    assert f["seg_fill"] == 0.0 and f["seg_solidity"] == 0.0
    assert f["seg_box_aspect"] == 2.0


@pytest.fixture(scope="module")
def box_model(lesion_manifest: Path, tiny_segmenter: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deepseg-logistic bundle: crop + frame embeddings and segmenter features."""
    from eusgist.cli import main
    from eusgist.data import read_manifest
    from eusgist.features import extract_features
    from eusgist.features.pipeline import ExtractionSettings
    from eusgist.features.table import write_feature_table

    root = tmp_path_factory.mktemp("boxmodel")
    settings = ExtractionSettings(radiomics=None, backbones=("test_resnet",), pretrained=False,
                                  input_size=32, context=True, segmenter=str(tiny_segmenter))
    result = extract_features(read_manifest(lesion_manifest), settings, n_jobs=1,
                              backend="sequential")
    table = result.table
    assert any(c.startswith("deep_frame_test_resnet_") for c in table.columns)
    assert [c for c in table.columns if c.startswith("seg_")] == list(SEG_FEATURES)
    features = write_feature_table(table, result.provenance, root / "features.parquet")
    out = root / "weights" / "box-model"
    assert main(["train", "--features", str(features), "--out", str(out), "--modalities",
                 "deepseg", "--classifiers", "logistic", "--cv-folds", "2",
                 "--shap-rows", "3", "--source", "synthetic lesions (tests)"]) == 0
    return out


def test_a_box_model_card_says_what_it_reads(box_model: Path):
    card = json.loads((box_model / "model_card.json").read_text())
    expects = card["expects"]
    assert expects["context"] is True
    assert expects["feature_kinds"] == ["deep", "segmenter"]
    assert expects["segmenter"]["weights_id"]
    assert "L1" not in card["model"]["pipeline"]
    selected = card["features"]["selected"]
    assert any(f.startswith("deep_frame_") for f in selected)
    assert any(f.startswith("seg_") for f in selected)


def test_a_box_model_scores_one_image_as_a_batch_does_and_explains_in_groups(
        box_model: Path, lesion_manifest: Path):
    from eusgist.inference import load_model, predict
    from eusgist.inference.batch import score_images
    from eusgist.roi_kinds import mask_box

    rows = pd.read_csv(lesion_manifest).head(4)
    images = [lesion_manifest.parent / r for r in rows["image"]]
    masks = [lesion_manifest.parent / r for r in rows["mask"]]
    model = load_model(box_model)
    positive = model.classes[1]
    one = [predict(model, i, m).probabilities[positive] for i, m in zip(images, masks)]
    batch = score_images(model, images, masks, n_jobs=1)
    np.testing.assert_allclose(batch, one, atol=1e-5)  # batched vs single convolutions
    from eusgist.io import read_image

    mask = read_image(masks[0]).array > 0
    boxed = predict(model, images[0], box=mask_box(mask))
    assert boxed.probabilities[positive] == pytest.approx(one[0], abs=1e-9)  # the model reads the box
    assert boxed.shap_space == "log-odds"  # the stacked logistic regression is exact in log-odds
    names = [c.feature for c in boxed.contributions]
    assert "deep features of the whole frame (test_resnet)" in names
    assert any(n.startswith("outline in the box: ") for n in names)
    assert not any(n.startswith("deep feature ") for n in names)


def test_a_box_model_refuses_another_segmenter(box_model: Path, tmp_path: Path):
    import shutil

    from eusgist.errors import BundleError
    from eusgist.inference import load_model

    copy = tmp_path / "box-model"
    shutil.copytree(box_model, copy)
    card = json.loads((copy / "model_card.json").read_text())
    card["expects"]["segmenter"]["weights_id"] = "0" * 16
    (copy / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="segmenter features were made with"):
        load_model(copy)
