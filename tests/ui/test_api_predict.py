"""The Predict tab's API endpoints, driven with gradio_client against the running app."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gradio_client import Client, handle_file


@pytest.fixture(scope="module")
def models(model_weights: Path, prediction_bundles):
    """The test bundles, copied into the app's weights folder."""
    for bundle in (prediction_bundles.tabular, prediction_bundles.cnn):
        shutil.copytree(bundle, model_weights / bundle.name, dirs_exist_ok=True)
    return prediction_bundles


@pytest.fixture(scope="module")
def client(app_url: str, models) -> Client:
    return Client(app_url, verbose=False)


def test_list_models(client: Client, models) -> None:
    listed = {m["name"]: m for m in client.predict(api_name="/list_models")}
    assert set(listed) == {models.tabular.name, models.cnn.name}
    for m in listed.values():
        assert m["available"] and m["synthetic"] and "SYNTHETIC" in m["label"]
        assert "trained on" in m["training_data"]
    assert listed[models.cnn.name]["kind"] == "cnn"


def test_model_card(client: Client, models) -> None:
    card = client.predict(models.tabular.name, api_name="/model_card")
    assert "SYNTHETIC demo model" in card and "NOT for clinical use" in card
    assert "Training data." in card and "95% CI" in card


@pytest.mark.parametrize("which", ["tabular", "cnn"])
def test_predict_with_uploaded_image_and_mask(client: Client, models, which) -> None:
    row = models.rows().iloc[2]
    label, decision, shap, gradcam, card, *_ = client.predict(
        getattr(models, which).name, handle_file(row["image"]), None, handle_file(row["mask"]),
        "", None, api_name="/predict",
    )
    probs = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(probs) == {"GIST", "leiomyoma"}
    assert sum(probs.values()) == pytest.approx(1.0)
    assert label["label"] in probs and "threshold" in decision
    assert "not for clinical use" in card.lower()
    assert (shap is not None) == (which == "tabular")
    assert (gradcam is not None) == (which == "cnn")


def test_predict_with_a_box(client: Client, models) -> None:
    row = models.rows().iloc[2]
    label, *_ = client.predict(models.cnn.name, handle_file(row["image"]), None, None,
                               "10,10,60,60", None, api_name="/predict")
    assert label["label"] in ("GIST", "leiomyoma")


@pytest.mark.parametrize(("case", "message"), [
    ("not an image", "not.png"),
    ("no roi", "give a lesion mask or a box"),
    ("bad box", "four numbers"),
])
def test_bad_upload_gives_a_clear_error(client: Client, models, tmp_path, case, message) -> None:
    row = models.rows().iloc[2]
    bad = tmp_path / "not.png"
    bad.write_text("hello, not a picture")
    image = str(bad) if case == "not an image" else row["image"]
    mask = handle_file(row["mask"]) if case == "not an image" else None
    box = "1,2,3" if case == "bad box" else ""
    with pytest.raises(Exception, match=message):
        client.predict(models.tabular.name, handle_file(image), None, mask, box, None,
                       api_name="/predict")


def test_examples_pair_images_with_their_masks(tmp_path, monkeypatch) -> None:
    from eusgist.ui import predict

    monkeypatch.setattr(predict, "EXAMPLES_DIR", tmp_path / "missing")
    assert predict.examples() == []
    folder = tmp_path / "examples" / "demo"
    folder.mkdir(parents=True)
    for name in ("a.png", "a_mask.png", "b.png"):
        (folder / name).write_bytes(b"")
    monkeypatch.setattr(predict, "EXAMPLES_DIR", tmp_path / "examples")
    assert predict.examples() == [["demo", str(folder / "a.png"), str(folder / "a_mask.png"), None],
                                  ["demo", str(folder / "b.png"), None, None]]
    listed = tmp_path / "examples" / "listed"
    listed.mkdir()
    (listed / "examples.csv").write_text("image,mask,spacing_mm\nb.png,,0.25\nc.png,c_m.png,\n")
    assert predict.examples()[2:] == [["listed", str(listed / "b.png"), None, 0.25],
                                      ["listed", str(listed / "c.png"), str(listed / "c_m.png"), None]]
