"""``python -m eusgist train``: end to end on a small table, one-line errors on bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from eusgist.bundles.tabular import load_bundle
from eusgist.cli import main
from eusgist.models.synthetic import synthetic_feature_table


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    path = tmp_path_factory.mktemp("features") / "features.parquet"
    synthetic_feature_table(n_lesions=30, n_rad=12, n_deep=12, seed=4).to_parquet(path)
    return path


def test_train_writes_bundle_comparison_and_shap(tmp_path, features):
    out = tmp_path / "weights" / "combined-svm"
    rc = main(["train", "--features", str(features), "--out", str(out),
               "--modalities", "radiomics,combined", "--classifiers", "svm",
               "--select", "combined-svm", "--cv-folds", "3", "--shap-rows", "20"])
    assert rc == 0
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["model"].tolist() == ["radiomics-svm", "combined-svm"]
    assert comparison.loc[comparison["chosen"], "model"].tolist() == ["combined-svm"]
    assert (comparison["test_auc"] > 0.5).all()
    report = json.loads((out / "comparison.json").read_text())
    assert report["chosen"] == "combined-svm" and len(report["delong"]) == 1
    assert (out / "shap_summary.png").is_file() and (out / "shap_summary.csv").is_file()
    bundle = load_bundle(out)
    card = bundle.card
    assert card["model"]["modality"] == "combined" and card["classifier"] == "svm"
    train, test = card["training_data"]["train"], card["training_data"]["test"]
    total = sum(c["lesions"] for c in train.values()) + sum(c["lesions"] for c in test.values())
    assert total == 30
    assert len(card["training_data"]["feature_table_sha256"]) == 64
    assert card["test_metrics"]["auc_ci"][0] <= card["test_metrics"]["auc"]
    table = pd.read_parquet(features)
    assert bundle.predict_proba(table).shape == (len(table),)


def _error(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "\n" not in err and err.startswith("eusgist train: error:")
    return err


def test_missing_feature_table(tmp_path, capsys):
    err = _error(capsys, ["train", "--features", str(tmp_path / "nope.parquet"),
                          "--out", str(tmp_path / "o")])
    assert "not found" in err


def test_one_class(tmp_path, capsys):
    table = synthetic_feature_table(n_lesions=10)
    table["label"] = "GIST"
    table.to_parquet(tmp_path / "f.parquet")
    err = _error(capsys, ["train", "--features", str(tmp_path / "f.parquet"),
                          "--out", str(tmp_path / "o")])
    assert "one class" in err


def test_modality_without_columns(tmp_path, capsys):
    synthetic_feature_table(n_lesions=10, n_deep=0).to_parquet(tmp_path / "f.parquet")
    err = _error(capsys, ["train", "--features", str(tmp_path / "f.parquet"),
                          "--out", str(tmp_path / "o"), "--modalities", "deep"])
    assert "deep_*" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--classifiers", "svm,lightgbm"], "unknown ['lightgbm']"),
        (["--modalities", "clinical"], "unknown ['clinical']"),
        (["--classifiers", "svm", "--select", "combined-rf"], "not among the trained models"),
        (["--backbone-weights", "missing.safetensors"], "--backbone-weights: file not found"),
    ],
)
def test_bad_options(tmp_path, capsys, features, extra, message):
    err = _error(capsys, ["train", "--features", str(features),
                          "--out", str(tmp_path / "o"), *extra])
    assert message in err


def test_out_must_be_a_bundle_or_new(tmp_path, capsys, features):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "notes.txt").write_text("mine")
    err = _error(capsys, ["train", "--features", str(features), "--out", str(tmp_path / "o")])
    assert "not a model bundle" in err


def test_manifest_not_found(tmp_path, capsys):
    err = _error(capsys, ["train", "--manifest", str(tmp_path / "m.csv"),
                          "--out", str(tmp_path / "o")])
    assert "manifest not found" in err


def test_manifest_form_extracts_then_trains(tmp_path, monkeypatch):
    from eusgist.features import pipeline

    table = synthetic_feature_table(n_lesions=20, n_rad=8, n_deep=0, seed=6)
    for image in table["image"]:
        (tmp_path / image).parent.mkdir(exist_ok=True)
        (tmp_path / image).touch()
    table.assign(mask="")[["image", "mask", "label", "patient_id", "lesion_id"]].to_csv(
        tmp_path / "manifest.csv", index=False)
    calls = []

    def fake_extract(manifest, *args, **kwargs):
        calls.append(len(manifest))
        return pipeline.ExtractionResult(table, {"radiomics": {"radiomics_params_yaml": "a: 1\n"}})

    monkeypatch.setattr(pipeline, "extract_features", fake_extract)
    out = tmp_path / "bundle"
    rc = main(["train", "--manifest", str(tmp_path / "manifest.csv"), "--out", str(out),
               "--modalities", "radiomics", "--classifiers", "xgboost", "--cv-folds", "3",
               "--select", "BEST"])
    assert rc == 0 and calls == [len(table)]
    bundle = load_bundle(out)
    assert len(bundle.card["training_data"]["manifest_sha256"]) == 64
    assert (out / "radiomics.yaml").read_text() == "a: 1\n"
