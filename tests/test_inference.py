"""eusgist.inference: predictions of tabular and CNN bundles, features as in training, errors."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from eusgist import inference
from eusgist.bundles.cnn import load_cnn_bundle
from eusgist.features.radiomics import RadiomicsExtractor
from eusgist.features.table import read_feature_table
from eusgist.io import ImageReadError, read_image, read_mask


@pytest.fixture(scope="module")
def built(prediction_bundles):
    return prediction_bundles


@pytest.fixture(scope="module")
def row(built) -> pd.Series:
    return built.rows().iloc[0]


@pytest.mark.parametrize("which", ["tabular", "deep", "cnn"])
def test_prediction_has_probabilities_decision_and_card(built, row, which):
    pred = inference.predict(getattr(built, which), row["image"], row["mask"],
                             spacing_mm=row["spacing_mm"])
    assert pred.classes == ("leiomyoma", "GIST")
    assert sum(pred.probabilities.values()) == pytest.approx(1.0)
    assert all(0.0 <= p <= 1.0 for p in pred.probabilities.values())
    positive = pred.positive_probability >= pred.threshold
    assert pred.decision == ("GIST" if positive else "leiomyoma")
    assert "not for clinical use" in pred.intended_use.lower()
    assert pred.synthetic and "SYNTHETIC" in pred.training_data
    assert "test AUC" in pred.test_metrics and "95% CI" in pred.test_metrics
    assert pred.device in ("cpu", "cuda")
    assert {"decode", "classifier", "explain"} <= set(pred.timings_ms)
    json.dumps(pred.to_dict())
    if which == "cnn":
        assert pred.contributions == []
        assert pred.gradcam.dtype == np.uint8 and pred.gradcam.shape[-1] == 3
    else:
        assert pred.gradcam is None
        assert 1 <= len(pred.contributions) <= inference.TOP_CONTRIBUTIONS
        shaps = [abs(c.shap) for c in pred.contributions]
        assert shaps == sorted(shaps, reverse=True)
        assert not any(c.feature.startswith(("rad_", "deep_")) for c in pred.contributions)


@pytest.mark.parametrize("which", ["tabular", "deep"])
def test_features_reproduce_the_training_table(built, which):
    """Inference extracts the bundle's features exactly as `extract` did for training."""
    model = inference.load_model(getattr(built, which))
    table, _ = read_feature_table(built.features)
    rows = built.rows()
    for i in (0, 3):
        image = read_image(rows["image"].iat[i])
        mask = read_mask(rows["mask"].iat[i], like=image)
        got = inference.tabular_features(model, image, mask, rows["spacing_mm"].iat[i])
        want = table.loc[table["image"] == pd.read_csv(built.manifest)["image"].iat[i]].iloc[0]
        assert list(got) == list(model.bundle.required_features)
        np.testing.assert_allclose(list(got.values()), want[list(got)].to_numpy(float),
                                   rtol=1e-5, atol=1e-6)


def test_cnn_probability_matches_the_bundle(built, row):
    pred = inference.predict(built.cnn, row["image"], row["mask"])
    bundle = load_cnn_bundle(built.cnn)
    image = read_image(row["image"])
    want = bundle.predict_proba([image.array], [read_mask(row["mask"], like=image)])[0]
    assert pred.positive_probability == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("which", ["tabular", "cnn"])
def test_same_input_same_output(built, row, which):
    a = inference.predict(getattr(built, which), row["image"], row["mask"])
    data = open(row["image"], "rb").read()
    b = inference.predict(getattr(built, which), data, np.asarray(Image.open(row["mask"])))
    assert a.probabilities == b.probabilities and a.contributions == b.contributions
    if a.gradcam is not None:
        np.testing.assert_array_equal(a.gradcam, b.gradcam)


def test_only_the_required_radiomics_features_are_computed(built, row, monkeypatch):
    calls = []
    original = RadiomicsExtractor.extract

    def spy(self, image, mask, spacing=None, *, only=None):
        out = original(self, image, mask, spacing, only=only)
        calls.append((only, sorted(out)))
        return out

    monkeypatch.setattr(RadiomicsExtractor, "extract", spy)
    inference.FEATURE_CACHE.clear()
    model = inference.load_model(built.tabular)
    first = inference.predict(model, row["image"], row["mask"])
    needed = sorted(f for f in model.bundle.required_features if f.startswith("rad_"))
    assert calls == [(list(model.rad_features), needed)]
    again = inference.predict(model, row["image"], row["mask"])  # features from the cache
    assert len(calls) == 1 and again.probabilities == first.probabilities
    inference.FEATURE_CACHE.clear()
    assert inference.predict(model, row["image"], row["mask"]).probabilities == first.probabilities
    assert len(calls) == 2
    calls.pop()
    deep = inference.load_model(built.deep)
    assert deep.radiomics is None and deep.deep
    inference.predict(deep, row["image"], row["mask"])
    assert len(calls) == 1  # the deep-only model never runs pyradiomics
    uses_deep = any(f.startswith("deep_") for f in model.bundle.required_features)
    assert bool(model.deep) == uses_deep  # no backbone unless deep features are read


def test_box_is_a_rectangular_roi(built, row):
    image = read_image(row["image"])
    box = (10, 20, 60, 70)
    by_box = inference.predict(built.cnn, image, box=box, explain=False)
    mask = np.zeros(image.array.shape, dtype=bool)
    mask[20:70, 10:60] = True
    by_mask = inference.predict(built.cnn, image, mask, explain=False)
    assert by_box.probabilities == by_mask.probabilities
    assert inference.box_mask(box, image.array.shape).sum() == 50 * 50


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("case", "error", "match"), [
    ("no roi", ValueError, "trained on lesion ROIs: give a lesion mask or a box"),
    ("empty mask", ValueError, "empty"),
    ("empty mask file", ImageReadError, "empty"),
    ("mask size", ValueError, "does not match"),
    ("mask file size", ImageReadError, "does not match"),
    ("not an image", ImageReadError, "not|unrecognised|unknown|format"),
    ("box outside", ValueError, "inside the"),
    ("box and mask", ValueError, "not both"),
    ("box numbers", ValueError, "four numbers"),
])
def test_bad_input_gives_a_clear_error(built, row, case, error, match):
    image = read_image(row["image"])
    shape = image.array.shape
    kwargs = {
        "no roi": {},
        "empty mask": {"mask": np.zeros(shape, dtype=bool)},
        "empty mask file": {"mask": _png(np.zeros(shape, dtype=np.uint8))},
        "mask size": {"mask": np.ones((shape[0] + 1, shape[1]), dtype=bool)},
        "mask file size": {"mask": _png(np.full((5, 5), 255, dtype=np.uint8))},
        "not an image": {},
        "box outside": {"box": (0, 0, shape[1] + 5, 10)},
        "box and mask": {"box": (0, 0, 5, 5), "mask": row["mask"]},
        "box numbers": {"box": (1, 2, 3)},
    }[case]
    source = b"this is not an image" if case == "not an image" else image
    if case == "not an image":
        kwargs = {"mask": row["mask"]}
    for model in (built.tabular, built.cnn):
        with pytest.raises(error, match=match):
            inference.predict(model, source, **kwargs)


def test_corrupt_bundle_is_listed_unavailable_and_the_others_still_predict(built, row, tmp_path,
                                                                           monkeypatch):
    weights = tmp_path / "weights"
    shutil.copytree(built.tabular, weights / "good")
    shutil.copytree(built.tabular, weights / "broken")
    (weights / "broken" / "classifier.safetensors").write_bytes(b"garbage")
    shutil.copytree(built.cnn, weights / "broken-cnn")
    (weights / "broken-cnn" / "model.safetensors").write_bytes(b"\x00" * 16)
    (weights / "partial").mkdir()
    (weights / "partial" / "model_card.json").write_text("{not json")
    monkeypatch.setenv(inference.WEIGHTS_ENV, str(weights))
    models = {m.path.name: m for m in inference.list_models()}
    assert set(models) == {"broken", "broken-cnn", "good", "partial"}
    assert models["good"].available and models["good"].error is None
    assert models["good"].kind == "tabular" and models["good"].synthetic
    assert "SYNTHETIC" in models["good"].label and "synthetic EUS phantom" in models["good"].summary
    for name in ("broken", "broken-cnn", "partial"):
        assert not models[name].available and models[name].error
        assert "unavailable" in models[name].label
    assert "classifier.safetensors" in models["broken"].error
    pred = inference.predict("good", row["image"], row["mask"])
    assert pred.model == built.tabular.name


def test_load_model_is_cached_and_names_are_resolved(built, monkeypatch):
    monkeypatch.setenv(inference.WEIGHTS_ENV, str(built.weights))
    assert inference.load_model(built.cnn.name) is inference.load_model(built.cnn)
    with pytest.raises(ValueError, match="no model bundle 'nope'"):
        inference.load_model("nope")


@pytest.mark.parametrize("which", ["tabular", "deep", "cnn"])
def test_batch_scores_equal_single_predictions(built, which):
    rows = built.rows().iloc[:5]
    model = inference.load_model(getattr(built, which))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scores = inference.score_images(model, list(rows["image"]), list(rows["mask"]),
                                        spacing_mm=list(rows["spacing_mm"]), n_jobs=2)
        assert torch.get_num_threads() == 1  # the batched phase's all-core setting is undone
    finally:
        torch.set_num_threads(threads)
    single = [inference.predict(model, r["image"], r["mask"], spacing_mm=r["spacing_mm"],
                                explain=False).positive_probability for _, r in rows.iterrows()]
    np.testing.assert_allclose(scores, single, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="every image needs a mask"):
        inference.score_images(model, list(rows["image"]))
