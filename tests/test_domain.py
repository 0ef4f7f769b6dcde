"""The out-of-domain gate: its model, its cheap checks, fit-domain on a bundle, and the
flag in predictions, ``predict --json`` and evaluation reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from foreign_images import generated

from eusgist.inference.domain import (
    DOMAIN_FILE,
    Gaussian,
    PixelStats,
    image_checks,
    pixel_stats,
)
from eusgist.inference.inputs import box_mask

LIMITS = {"speckle_floor": 0.7, "roi_fraction_min": 0.002, "roi_fraction_max": 0.9}


def _speckle_image(rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """An ultrasound-like frame: multiplicative Rayleigh speckle on a smooth field."""
    yy = np.linspace(0.3, 1.0, size)[:, None]
    return np.clip(120 * yy * rng.rayleigh(1.0, (size, size)), 0, 255).astype(np.float32)


def test_distance_is_small_for_training_like_embeddings_and_large_off_them() -> None:
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(5, 60))
    train = rng.normal(size=(200, 5)) @ basis + 0.1 * rng.normal(size=(200, 60))
    model = Gaussian.fit(train, k=8)
    near = rng.normal(size=(50, 5)) @ basis + 0.1 * rng.normal(size=(50, 60))
    far = near + 3.0 * rng.normal(size=(50, 60))
    assert np.quantile(model.distance(near), 0.9) < np.min(model.distance(far))
    again = Gaussian.from_arrays(model.arrays())
    np.testing.assert_allclose(again.distance(near), model.distance(near), rtol=1e-4)


def test_cheap_checks_pass_speckle_and_flag_every_generated_picture() -> None:
    rng = np.random.default_rng(1)
    frame = _speckle_image(rng)
    roi = box_mask((30, 30, 90, 90), frame.shape)
    assert image_checks(pixel_stats(frame, roi), LIMITS) == []
    missed = []
    for item in generated(n_per_kind=3):
        pixels = item.image
        gray = pixels if pixels.ndim == 2 else pixels @ np.array([0.299, 0.587, 0.114])
        stats = pixel_stats(gray, box_mask(item.box, gray.shape),
                            pixels if pixels.ndim == 3 else None)
        if not image_checks(stats, LIMITS):
            missed.append(item.name)
    assert missed == []


def test_roi_checks_name_a_tiny_or_huge_roi() -> None:
    stats = PixelStats(None, 0.01, 3.0, 9, 9 / 128 ** 2)
    assert "tiny ROI" in image_checks(stats, LIMITS)[0]
    stats = PixelStats(None, 0.01, 3.0, 16000, 0.98)
    assert "larger than any in training" in image_checks(stats, LIMITS)[0]


@pytest.fixture(scope="module")
def gated(prediction_bundles, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny tabular test bundle with a fitted gate (the shared one stays
    ungated)."""
    from eusgist.cli import main

    folder = tmp_path_factory.mktemp("gated") / "gated-svm"
    shutil.copytree(prediction_bundles.tabular, folder)
    assert main(["fit-domain", "--model", str(folder),
                 "--manifest", str(prediction_bundles.manifest)]) == 0
    return folder


def test_fit_domain_writes_the_file_and_card_field_and_is_idempotent(gated: Path,
                                                                    prediction_bundles) -> None:
    from eusgist.cli import main

    card = json.loads((gated / "model_card.json").read_text())
    info = card["domain"]
    assert info["file"] == DOMAIN_FILE and (gated / DOMAIN_FILE).stat().st_size < 4 * 2 ** 20
    assert info["threshold"] > 0 and 0 <= info["flag_rate"]["test"] <= 1
    assert "out-of-fold" in info["threshold_rule"]
    assert main(["fit-domain", "--model", str(gated),
                 "--manifest", str(prediction_bundles.manifest)]) == 0
    again = json.loads((gated / "model_card.json").read_text())["domain"]
    assert again["sha256"] == info["sha256"] and again["threshold"] == info["threshold"]


def test_predict_json_carries_the_flag(gated: Path, prediction_bundles, tmp_path, capsys) -> None:
    from PIL import Image

    from eusgist.cli import main

    row = prediction_bundles.rows().iloc[0]
    assert main(["predict", "--model", str(gated), row["image"], "--mask", row["mask"],
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out["out_of_domain"], bool)
    assert set(out["domain_check"]) >= {"out_of_domain", "score", "threshold", "reason"}
    board = tmp_path / "board.png"
    cells = (np.indices((96, 96)).sum(axis=0) // 12) % 2
    Image.fromarray((cells * 200 + 20).astype(np.uint8)).save(board)
    assert main(["predict", "--model", str(gated), str(board), "--box", "20,20,70,70"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("WARNING: OUT OF DOMAIN")
    assert main(["predict", "--model", str(gated), str(board), "--box", "20,20,70,70",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["out_of_domain"] is True and "graphics" in out["domain_check"]["reason"]


def test_a_bundle_without_a_gate_says_unchecked(prediction_bundles) -> None:
    from eusgist.inference import predict

    row = prediction_bundles.rows().iloc[0]
    pred = predict(prediction_bundles.tabular, row["image"], row["mask"], explain=False)
    assert pred.out_of_domain is None and pred.to_dict()["domain_check"] is None


def test_evaluate_reports_out_of_domain_counts(gated: Path, prediction_bundles,
                                               tmp_path) -> None:
    from eusgist.cli import main

    out = tmp_path / "report"
    assert main(["evaluate", "--manifest", str(prediction_bundles.manifest), "--model",
                 str(gated), "--model", str(prediction_bundles.cnn), "--out", str(out),
                 "--bootstrap", "0"]) == 0
    report = json.loads((out / "report.json").read_text())
    counts = report["models"]["gated-svm"]["out_of_domain"] if "gated-svm" in report["models"] \
        else next(m["out_of_domain"] for m in report["models"].values() if "out_of_domain" in m)
    assert counts["n"] == len(prediction_bundles.rows()) and 0 <= counts["flagged"] <= counts["n"]
    assert len(counts["images"]) == counts["flagged"]
    assert sum("out_of_domain" in m for m in report["models"].values()) == 1  # the CNN: no gate
    assert "Out-of-domain images" in (out / "report.html").read_text()


def test_the_app_path_carries_the_counts_to_the_report(gated: Path, prediction_bundles,
                                                       tmp_path) -> None:
    """The Evaluate tab's path: score_dataset's table → report_from_table (no renaming)."""
    from eusgist import report
    from eusgist.inference import score_dataset

    table, manifest = score_dataset(prediction_bundles.manifest, [str(gated)], tmp_path / "w")
    counts = table.attrs["out_of_domain"][str(gated)]
    options = report.EvaluationOptions(n_bootstrap=0, positive_label=manifest.positive_label,
                                       lesion_col="lesion_id")
    out = report.report_from_table(table, [str(gated)], tmp_path / "r", options)[1]
    written = json.loads((out / "report.json").read_text())["models"][str(gated)]
    assert written["out_of_domain"]["n"] == counts["n"] == len(table)
