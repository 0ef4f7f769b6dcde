"""The Predict tab's API endpoints, driven with gradio_client against the running app."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file


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
    assert bool(shap) == (which == "tabular")  # no SHAP panel for a CNN
    assert (gradcam is not None) == (which == "cnn")  # no Grad-CAM for a tabular model
    if which == "tabular":
        assert 'title="rad_' in shap or 'title="deep_' in shap  # the technical name on hover
        assert "CNN feature" in shap or ":" in shap.split('class="name">')[1][:60]


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


def test_the_notice_says_what_is_here_and_that_nothing_is_validated(client: Client,
                                                                     models) -> None:
    notice = client.predict(api_name="/predict_notice")
    assert "ships no GIST vs leiomyoma model" in notice
    assert "No model here is clinically validated" in notice
    for bundle in (models.tabular, models.cnn):
        assert f"**{bundle.name}**" in notice
    assert f"**{models.tabular.name}**: GIST vs leiomyoma; radiomics + CNN features, SVM; " \
        "trained on **synthetic EUS phantom**" in notice
    update = client.predict(api_name="/refresh_models")
    labels = dict((name, label) for label, name in update["choices"])
    assert labels[models.cnn.name].startswith(f"{models.cnn.name} — GIST vs leiomyoma, CNN")
    assert all(len(label) < 100 and "[SYNTHETIC demo]" in label for label in labels.values())


def test_the_description_is_of_the_chosen_model(client: Client, models) -> None:
    text = client.predict(models.tabular.name, api_name="/model_description")
    assert "SYNTHETIC demo model" in text and "GIST vs leiomyoma" in text
    assert "Tested:" in text and models.cnn.name not in text
    assert client.predict(None, api_name="/model_description") == ""


def test_examples_of_the_chosen_model_only(client: Client) -> None:
    from eusgist.ui.predict_models import EXAMPLES_DIR

    folders = sorted(p for p in EXAMPLES_DIR.glob("*") if p.is_dir())
    if not folders:
        pytest.skip("no examples/ folder")
    for folder in folders:
        update = client.predict(folder.name, api_name="/model_examples")
        names = {p.name for p in folder.glob("*.png")}
        assert update["samples"] and update["visible"] and folder.name in update["label"]
        assert all(row[0] in names and (not row[1] or row[1] in names)
                   for row in update["samples"])
    assert not client.predict("no-such-model", api_name="/model_examples")["visible"]
