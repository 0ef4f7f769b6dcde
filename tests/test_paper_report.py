"""The ``report`` command: zhao2026's Tables 2-4 and Figures 1-2 from a manifest or a table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eusgist.cli import main
from eusgist.features.table import write_feature_table
from eusgist.models import tabular
from eusgist.models.synthetic import synthetic_feature_table
from eusgist.phantom import PhantomConfig, generate_dataset
from eusgist.report.paper import PaperReportOptions, paper_report

FILES = {"table2_performance.csv", "table3_delong.csv", "table4_brier.csv", "dca.csv",
         "report.json", "settings.json", "report.html", "roc_test.png",
         "figure1_calibration_dca.png",
         *(f"figure2_shap_{m}-svm.{ext}" for m in tabular.MODALITIES for ext in ("png", "csv"))}
MODELS = [f"{m}-{c}" for m in tabular.MODALITIES for c in tabular.CLASSIFIERS]


@pytest.fixture()
def one_point_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """One grid point per classifier: tuning is tested in tests/models; this keeps CI fast."""
    full = tabular.param_grid
    monkeypatch.setattr(tabular, "param_grid",
                        lambda name: {k: v[:1] for k, v in full(name).items()})


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_report_command_on_phantom(tmp_path: Path, one_point_grid: None) -> None:
    manifest = generate_dataset(tmp_path / "phantom", 24, seed=3,
                                config=PhantomConfig(image_size=64), images_per_lesion=(1, 2),
                                lesions_per_patient=(1, 1), overlays=False)
    out = tmp_path / "report"
    code = main(["report", "--manifest", str(manifest), "--out", str(out),
                 "--radiomics-params", "eus_original", "--backbone", "resnet18",
                 "--random-init", "--input-size", "64", "--cv-folds", "2", "--jobs", "1",
                 "--cache", str(tmp_path / "cache"), "--bootstrap", "20", "--shap-rows", "8"])
    assert code == 0
    assert {p.name for p in out.iterdir()} == FILES and _leftovers(tmp_path) == []

    table2 = pd.read_csv(out / "table2_performance.csv")
    assert list(table2["set"].unique()) == ["train (resubstitution)", "test"]
    assert len(table2) == 18
    assert list(table2["modality"] + "-" + table2["classifier"])[::2] == MODELS
    train, test = table2[table2["set"] != "test"], table2[table2["set"] == "test"]
    assert train["cv_auc"].between(0, 1).all() and test["cv_auc"].isna().all()
    for col in ("auc", "accuracy", "sensitivity", "specificity"):
        assert table2[col].between(0, 1).all()
        assert (table2[f"{col}_lo"] <= table2[col] + 1e-12).all()

    report = json.loads((out / "report.json").read_text())
    assert set(report) == {"n", "n_positive", "models", "delong", "dca", "threshold_rule",
                           "notes", "n_rows", "n_excluded", "excluded", "skipped_models"}
    assert list(report["models"]) == MODELS and len(report["delong"]) == 36
    assert report["n"] == test["n_lesions"].iloc[0]
    np.testing.assert_allclose([report["models"][m]["auc"] for m in MODELS], test["auc"])
    # test metrics at the training-derived threshold, as recorded for each model
    settings = json.loads((out / "settings.json").read_text())
    for name in MODELS:
        assert report["models"][name]["threshold"] == pytest.approx(
            settings["models"][name]["threshold"])
    assert len(pd.read_csv(out / "table3_delong.csv")) == 36
    assert list(pd.read_csv(out / "table4_brier.csv")["model"]) == MODELS
    shap = pd.read_csv(out / "figure2_shap_combined-svm.csv")
    assert 1 <= len(shap) <= 20 and list(shap["rank"]) == list(range(1, len(shap) + 1))
    page = (out / "report.html").read_text()
    assert "resubstitution" in page and page.count("data:image/png;base64,") == 5
    assert "eus_original" in page and "resnet18, random weights" in page


def test_function_train_is_resubstitution_and_split_by_lesion(
    tmp_path: Path, one_point_grid: None
) -> None:
    frame = synthetic_feature_table(n_lesions=30, n_rad=10, n_deep=10, signal=2.0, seed=1)
    out = paper_report(frame, tmp_path / "r",
                       PaperReportOptions(cv_folds=2, n_bootstrap=0, shap_rows=5, seed=1),
                       context={"Data": "synthetic"})
    table2 = pd.read_csv(out / "table2_performance.csv")
    train, test = table2[table2["set"] != "test"], table2[table2["set"] == "test"]
    assert (train["n_lesions"] + test["n_lesions"].to_numpy() == 30).all()
    assert test["n_lesions"].iloc[0] == 6  # 8:2 by lesion
    # resubstitution scores the model's own training lesions: at least as optimistic as CV
    assert train["auc"].mean() >= train["cv_auc"].mean()
    assert json.loads((out / "settings.json").read_text())["Data"] == "synthetic"


def _features(tmp_path: Path, frame: pd.DataFrame) -> Path:
    return write_feature_table(frame, {}, tmp_path / "features.parquet")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing manifest", "manifest not found"),
        ("one class", "class"),
        ("too few lesions", "need at least"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    frame = synthetic_feature_table(n_lesions=20, n_rad=6, n_deep=6)
    if case == "missing manifest":
        source = ["--manifest", str(tmp_path / "nope.csv")]
    elif case == "one class":
        source = ["--features", str(_features(tmp_path, frame.assign(label="GIST")))]
    else:
        few = frame[frame["lesion_id"].isin(frame["lesion_id"].unique()[:6])]
        source = ["--features", str(_features(tmp_path, few))]
    out = tmp_path / "out" / "report"
    assert main(["report", *source, "--out", str(out), "--cv-folds", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eusgist report: error:") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_existing_report_folder_is_kept(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    frame = synthetic_feature_table(n_lesions=20, n_rad=6, n_deep=6)
    code = main(["report", "--features", str(_features(tmp_path, frame)), "--out", str(out)])
    assert code == 2 and "not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
