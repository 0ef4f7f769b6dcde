"""``python -m eusgist predict``: readable text, JSON, and one-line errors."""

from __future__ import annotations

import json

import pytest

from eusgist.cli import main


@pytest.fixture(scope="module")
def row(prediction_bundles):
    return prediction_bundles.rows().iloc[1]


def test_text_summary(prediction_bundles, row, capsys):
    rc = main(["predict", "--model", str(prediction_bundles.tabular), row["image"],
               "--mask", row["mask"], "--spacing-mm", str(row["spacing_mm"])])
    out = capsys.readouterr().out
    assert rc == 0
    assert "P(GIST) = " in out and "P(leiomyoma) = " in out
    assert "Decision at threshold" in out and "Top SHAP contributions" in out
    assert "NOT for clinical use" in out and "Training data: SYNTHETIC" in out
    assert "SYNTHETIC demo model" in out and "Test performance: test AUC" in out


def test_json_with_a_box_and_gradcam(prediction_bundles, row, capsys, tmp_path):
    rc = main(["predict", "--model", str(prediction_bundles.cnn), row["image"],
               "--box", "10,10,70,80", "--json", "--gradcam", str(tmp_path / "cam.png")])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert sum(report["probabilities"].values()) == pytest.approx(1.0)
    assert report["decision"] in report["classes"] and report["kind"] == "cnn"
    assert "not for clinical use" in report["intended_use"].lower()
    assert (tmp_path / "cam.png").stat().st_size > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--mask", "{mask}", "{missing}"], "image not found"),
    (["{notimage}", "--mask", "{mask}"], "notimage.png"),
    (["{image}"], "give a lesion mask or a box"),
    (["{image}", "--box", "0,0,9999,10"], "inside the"),
    (["{image}", "--mask", "{small}"], "does not match"),
])
def test_bad_input_exits_2_with_one_line(prediction_bundles, row, capsys, tmp_path, argv, message):
    (tmp_path / "notimage.png").write_text("hello")
    from PIL import Image

    Image.new("L", (5, 5), 255).save(tmp_path / "small.png")
    paths = {"image": row["image"], "mask": row["mask"], "missing": str(tmp_path / "none.png"),
             "notimage": str(tmp_path / "notimage.png"), "small": str(tmp_path / "small.png")}
    rc = main(["predict", "--model", str(prediction_bundles.tabular),
               *[a.format(**paths) for a in argv]])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "\n" not in err and err.startswith("eusgist predict: error:")
    assert message in err


def test_unknown_model_exits_2(row, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EUSGIST_WEIGHTS_DIR", str(tmp_path))
    assert main(["predict", "--model", "nope", row["image"]]) == 2
    assert "no model bundle 'nope'" in capsys.readouterr().err
