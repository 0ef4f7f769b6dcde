"""The Predict tab's panels and words, without a server: SHAP bars, Grad-CAM with its colour
scale, the cleared result, the spacing box, the model labels and the notice."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from eusgist.errors import EusgistError
from eusgist.inference.predict import Contribution, Prediction
from eusgist.ui import predict_models
from eusgist.ui.predict import parse_spacing
from eusgist.ui.predict_panels import clear_result, gradcam_figure, shap_html, show_panels


def _prediction(contributions: list[Contribution]) -> Prediction:
    return Prediction(
        model="m", kind="tabular", classes=("benign", "malignant"),
        probabilities={"benign": 0.3, "malignant": 0.7}, threshold=0.5, decision="malignant",
        contributions=contributions, gradcam=None, intended_use="", training_data="",
        test_metrics="", synthetic=False, timings_ms={}, device="cpu")


def test_shap_bars_have_readable_names_and_technical_names_on_hover() -> None:
    pred = _prediction([Contribution("shape 2D sphericity (original)", 0.81, 0.12),
                        Contribution("GLCM idmn (original)", 0.5, -0.06)])
    html = shap_html(pred, {"shape 2D sphericity (original)": "rad_original_shape2D_Sphericity",
                            "GLCM idmn (original)": "rad_original_glcm_Idmn"})
    assert "Shape: sphericity" in html
    assert "Texture (GLCM): inverse difference moment normalised" in html
    assert 'title="rad_original_shape2D_Sphericity = 0.81; SHAP +0.1200"' in html
    assert "<code>rad_original_glcm_Idmn</code>" in html  # the table of technical names
    assert "towards malignant" in html and "towards benign" in html
    widths = [float(w) for w in re.findall(r"width:([0-9.]+)%", html)]
    assert widths == [50.0, 25.0]  # the largest fills half the track, from the centre
    assert shap_html(_prediction([]), {}) == ""


def test_gradcam_figure_is_large_with_a_colour_scale() -> None:
    overlay = np.zeros((32, 32, 3), np.uint8)
    picture = gradcam_figure(overlay)
    assert picture is not None and picture.shape[1] >= 600 and picture.shape[2] == 3
    right = picture[:, picture.shape[1] * 3 // 4:].reshape(-1, 3).astype(int)
    red = (right[:, 0] > 200) & (right[:, 1] < 60) & (right[:, 2] < 60)
    blue = (right[:, 2] > 120) & (right[:, 0] < 30) & (right[:, 1] < 30)
    assert red.any() and blue.any()  # the colour bar, high (red) to low (blue)
    assert gradcam_figure(None) is None


def test_a_cleared_result_hides_both_panels() -> None:
    probabilities, decision, shap, gradcam, roi, warning, verdict = clear_result()
    assert probabilities is None and decision == "" and roi is None
    assert warning == "" and verdict is None
    assert shap == {"__type__": "update", "value": "", "visible": False}
    assert gradcam == {"__type__": "update", "value": None, "visible": False}
    assert [u["visible"] for u in show_panels("<div>bars</div>", None)] == [True, False]
    assert [u["visible"] for u in show_panels("", np.zeros((2, 2, 3)))] == [False, True]


@pytest.mark.parametrize(("text", "expected"), [
    (None, None), ("", None), ("  ", None), (0, None), ("0.1591", 0.1591), (0.2, 0.2)])
def test_an_empty_spacing_means_unknown(text, expected) -> None:
    assert parse_spacing(text) == expected


@pytest.mark.parametrize("text", ["-1", "abc", "inf", "nan"])
def test_a_bad_spacing_is_refused(text) -> None:
    with pytest.raises(EusgistError, match="pixel spacing must be a positive number"):
        parse_spacing(text)


def test_examples_pair_images_with_their_masks(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(predict_models, "EXAMPLES_DIR", tmp_path / "missing")
    assert predict_models.examples() == []
    folder = tmp_path / "examples" / "demo"
    folder.mkdir(parents=True)
    for name in ("a.png", "a_mask.png", "b.png"):
        (folder / name).write_bytes(b"")
    monkeypatch.setattr(predict_models, "EXAMPLES_DIR", tmp_path / "examples")
    assert predict_models.examples() == [
        ["demo", str(folder / "a.png"), str(folder / "a_mask.png"), None],
        ["demo", str(folder / "b.png"), None, None]]
    listed = tmp_path / "examples" / "listed"
    listed.mkdir()
    (listed / "examples.csv").write_text("image,mask,spacing_mm\nb.png,,0.25\nc.png,c_m.png,\n")
    assert predict_models.examples()[2:] == [
        ["listed", str(listed / "b.png"), None, 0.25],
        ["listed", str(listed / "c.png"), str(listed / "c_m.png"), None]]
    assert [row[0] for row in predict_models.examples("listed")] == ["listed", "listed"]
    update = predict_models.model_examples("listed")
    assert update.raw_samples == [[str(listed / "b.png"), None, "0.25"],
                                  [str(listed / "c.png"), str(listed / "c_m.png"), ""]]
    assert "listed" in update.label and update.visible
    assert not predict_models.model_examples("nothing").visible
    assert predict_models.pick_example([str(listed / "b.png"), None, None]) == (
        str(listed / "b.png"), None, "")


def test_the_headline_is_the_decision_not_the_likelier_class() -> None:
    import gradio as gr

    from eusgist.ui import predict

    with gr.Blocks() as demo:
        predict.build()
    labels = [b for b in demo.blocks.values() if isinstance(b, gr.Label)]
    assert labels and all(not label.show_heading for label in labels)
    below_half = replace(_prediction([]), probabilities={"benign": 0.64, "malignant": 0.36},
                         threshold=0.24, decision="malignant")
    assert predict.decision_markdown(below_half).startswith("### Model output: **malignant**")
