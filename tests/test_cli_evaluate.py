"""``eusgist evaluate``: the report from a scores CSV; bad input gives one line and no files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eusgist import cli, stats

EXAMPLE = Path(__file__).parent / "stats" / "data" / "example_scores.csv"


@pytest.fixture(autouse=True)
def only_evaluate(monkeypatch):
    """Build the parser from this command alone: other commands' imports (torch, Gradio)
    are not what these tests are about. The subprocess test runs the full CLI."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("eusgist.commands.evaluate",))


def _run(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["evaluate", *args])
    return code, capsys.readouterr().err


def test_example_report(tmp_path, capsys):
    out = tmp_path / "report"
    code, _ = _run(capsys, "--csv", str(EXAMPLE), "--score-cols", "radiomics,deep,combined",
                   "--lesion-col", "lesion_id", "--subgroup", "size_mm:20", "--ci", "wald",
                   "--bootstrap", "100", "--out", str(out))
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["n"], list(report["models"])) == (160, ["radiomics", "deep", "combined"])
    assert len(report["delong"]) == 3
    subgroups = json.loads((out / "subgroups.json").read_text())
    assert [s["subgroup"] for s in subgroups] == ["< 20", ">= 20"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "160 lesions (mean of 391 image scores)" in html and "GIST" in html


def test_fixed_threshold_and_image_level_cases(tmp_path, capsys):
    out = tmp_path / "r"
    code, _ = _run(capsys, "--csv", str(EXAMPLE), "--score-cols", "deep",
                   "--threshold", "0.5", "--bootstrap", "0", "--out", str(out))
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == len(pd.read_csv(EXAMPLE))
    assert report["models"]["deep"]["threshold"] == 0.5
    assert report["delong"] == []


def _bad_csvs(root: Path) -> dict[str, tuple[Path, list[str], str]]:
    text = root / "text.csv"
    text.write_text("label,a\n1,0.9\n0,low\n1,0.7\n0,0.2\n")
    one = root / "one_class.csv"
    one.write_text("label,a\n1,0.9\n1,0.1\n1,0.7\n")
    return {
        "missing column": (EXAMPLE, ["--score-cols", "deep,nope"], "column(s) 'nope' not found"),
        "text in scores": (text, ["--score-cols", "a"],
                           "score column 'a' has non-numeric values, e.g. 'low' (CSV line 3)"),
        "one class": (one, ["--score-cols", "a"], "label column 'label' has one class only"),
        "no such file": (root / "absent.csv", ["--score-cols", "a"], "No such file"),
        "bad threshold": (EXAMPLE, ["--score-cols", "deep", "--threshold", "high"],
                          "--threshold must be 'bundle', 'youden' or a number"),
        "bundle threshold with csv": (EXAMPLE, ["--score-cols", "deep", "--threshold", "bundle"],
                                      "--threshold bundle goes with --manifest"),
        "manifest without model": (None, ["--manifest", str(root / "m.csv")],
                                   "--manifest needs at least one --model"),
        "model not found": (None, ["--manifest", "m.csv", "--model", str(root / "nope")],
                            "no model bundle"),
        "model with csv": (EXAMPLE, ["--score-cols", "deep", "--model", "weights/x"],
                           "--model and --features go with --manifest"),
        "no score columns": (EXAMPLE, [], "--score-cols is required"),
    }


@pytest.mark.parametrize("case", ["missing column", "text in scores", "one class",
                                  "no such file", "bad threshold", "bundle threshold with csv",
                                  "manifest without model",
                                  "model not found", "model with csv", "no score columns"])
def test_bad_input_gives_one_line_and_writes_nothing(tmp_path, capsys, case):
    csv, extra, message = _bad_csvs(tmp_path)[case]
    work = tmp_path / "work"
    work.mkdir()
    source = ["--csv", str(csv)] if csv is not None else []
    code, err = _run(capsys, *source, *extra, "--out", str(work / "report"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eusgist evaluate: error: ")
    assert message in lines[0]
    assert list(work.iterdir()) == []  # no report folder, no temporary folder


class FakeBundle:
    """Stands in for eusgist.bundles.tabular.Bundle: a logistic function of one feature column."""

    classes = ("leiomyoma", "GIST")
    threshold = 0.5

    def __init__(self, name: str, feature: str):
        self.name, self.required_features = name, (feature,)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-frame[self.required_features[0]].to_numpy()))


@pytest.fixture
def scored_manifest(tmp_path, monkeypatch):
    """A manifest (image files present), its feature table and two fake bundles."""
    example = pd.read_csv(EXAMPLE)
    example["image"] = [f"img{i}.png" for i in range(len(example))]
    for name in example["image"]:
        (tmp_path / name).write_bytes(b"")
    manifest = example.assign(mask="", patient_id=example["lesion_id"])
    manifest[["image", "mask", "label", "patient_id", "lesion_id", "size_mm"]].to_csv(
        tmp_path / "manifest.csv", index=False)
    logit = np.log(example[["radiomics", "deep"]] / (1 - example[["radiomics", "deep"]]))
    features = example[["image", "label", "lesion_id"]].assign(
        patient_id=example["lesion_id"], rad_x=logit["radiomics"], deep_y=logit["deep"])
    features.iloc[:-3].to_parquet(tmp_path / "features.parquet")  # 3 images lack features
    bundles = {"weights/rad": FakeBundle("rad-svm", "rad_x"),
               "weights/deep": FakeBundle("deep-svm", "deep_y"),
               "weights/other": FakeBundle("other", "deep_z")}
    monkeypatch.setattr("eusgist.bundles.tabular.load_bundle", lambda path: bundles[str(path)])
    return tmp_path, example.iloc[:-3]


def test_manifest_scored_by_model_bundles(scored_manifest, capsys):
    root, example = scored_manifest
    out = root / "report"
    code, err = _run(capsys, "--manifest", str(root / "manifest.csv"), "--model", "weights/rad",
                     "--model", "weights/deep", "--features", str(root / "features.parquet"),
                     "--subgroup", "size_mm:20", "--bootstrap", "0", "--out", str(out))
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert list(report["models"]) == ["rad-svm", "deep-svm"]
    lesions = example.groupby("lesion_id").agg(y=("label", "first"), deep=("deep", "mean"))
    assert report["n"] == len(lesions)  # per lesion, from the manifest's lesion_id
    expected = stats.roc_auc_ci(lesions["y"] == "GIST", lesions["deep"]).auc
    assert report["models"]["deep-svm"]["auc"] == pytest.approx(expected, abs=1e-4)
    assert (out / "subgroups.json").is_file()
    assert report["threshold_rule"] == "each model's own (model card)"
    assert report["models"]["deep-svm"]["threshold"] == 0.5  # FakeBundle's
    assert (report["n_rows"], report["n_excluded"]) == (len(example) + 3, 3)  # no features
    assert {e["reason"] for e in report["excluded"]} == {"no features in features.parquet"}


def test_manifest_model_missing_features(scored_manifest, capsys):
    root, _ = scored_manifest
    code, err = _run(capsys, "--manifest", str(root / "manifest.csv"), "--model", "weights/other",
                     "--features", str(root / "features.parquet"), "--out", str(root / "r"))
    assert code == 2
    assert "model 'other' (weights/other) needs 1 feature(s) the table lacks, e.g. 'deep_z'" in err
    assert not (root / "r").exists()


def test_refuses_to_replace_a_folder_unless_asked(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    args = ["--csv", str(EXAMPLE), "--score-cols", "deep", "--bootstrap", "0", "--out", str(out)]
    code, err = _run(capsys, *args)
    assert code == 2 and "exists and is not empty (pass --overwrite" in err
    assert (out / "notes.txt").read_text() == "keep me"
    code, _ = _run(capsys, *args, "--overwrite")
    assert code == 0 and (out / "report.json").is_file() and not (out / "notes.txt").exists()


@pytest.mark.slow
def test_python_dash_m_eusgist_evaluate(tmp_path):
    out = tmp_path / "r"
    proc = subprocess.run(
        [sys.executable, "-m", "eusgist", "evaluate", "--csv", str(EXAMPLE),
         "--score-cols", "radiomics,combined", "--lesion-col", "lesion_id",
         "--positive-label", "GIST", "--bootstrap", "50", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "combined: AUC" in proc.stderr  # progress is logged
    report = json.loads((out / "report.json").read_text())
    assert report["delong"][0]["a"] == "radiomics" and report["delong"][0]["b"] == "combined"


SHIPPED = Path(__file__).resolve().parents[1] / "weights"


@pytest.fixture(scope="module")
def busi_subset(busi_manifest_path, tmp_path_factory) -> Path:
    """12 BUSI test images (6 per class) and their masks, copied beside their manifest."""
    root = tmp_path_factory.mktemp("busi")
    test = pd.read_csv(SHIPPED / "busi-resnet18-cnn" / "test_predictions.csv")
    picked = pd.concat([group.head(6) for _, group in test.groupby("label")])["image"]
    manifest = pd.read_csv(busi_manifest_path)
    rows = manifest[manifest["image"].isin(picked)]
    for rel in [*rows["image"], *rows["mask"]]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(busi_manifest_path.parent / rel, root / rel)
    rows.to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


@pytest.mark.parametrize("bundle", ["busi-radiomics-svm", "busi-resnet18-cnn"])
def test_manifest_scored_by_each_shipped_bundle_kind(busi_subset, bundle, tmp_path, capsys):
    """`evaluate --manifest --model` scores the images with a tabular or a CNN bundle, as
    the app's Evaluate tab does (inference.score_manifest)."""
    from eusgist import inference
    from eusgist.data import read_manifest

    out = tmp_path / "r"
    code, err = _run(capsys, "--manifest", str(busi_subset), "--model", str(SHIPPED / bundle),
                     "--bootstrap", "0", "--out", str(out))
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert list(report["models"]) == [bundle] and report["n"] == 12
    key = str(SHIPPED / bundle)
    app = inference.score_manifest(read_manifest(busi_subset, positive_label="malignant"), [key])
    expected = stats.roc_auc_ci(app["label"] == "malignant", app[key]).auc
    assert report["models"][bundle]["auc"] == pytest.approx(expected, abs=1e-4)


# --- external validation: bundle thresholds, skipped models, rows left out -----------------

def _subset_with_problems(busi_subset: Path, root: Path, boxes: int = 0) -> Path:
    """The BUSI subset plus one row whose mask is empty; the first ``boxes`` masks replaced
    by their bounding boxes (box ROIs)."""
    from PIL import Image

    shutil.copytree(busi_subset.parent, root)
    rows = pd.read_csv(root / "manifest.csv")
    for rel in rows["mask"].iloc[:boxes]:
        mask = np.asarray(Image.open(root / rel).convert("L")) > 0
        ys, xs = np.nonzero(mask)
        box = np.zeros_like(mask, dtype=np.uint8)
        box[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = 255
        Image.fromarray(box).save(root / rel)
    shape = np.asarray(Image.open(root / rows["mask"].iat[0])).shape[:2]
    Image.fromarray(np.zeros(shape, np.uint8)).save(root / "masks" / "empty.png")
    extra = rows.iloc[[0]].assign(mask="masks/empty.png", lesion_id="empty-mask",
                                  patient_id="empty-mask")
    pd.concat([rows, extra]).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def _hand_metrics(y: np.ndarray, decided: np.ndarray) -> dict[str, float]:
    tp, fp = np.sum(decided & y), np.sum(decided & ~y)
    tn, fn = np.sum(~decided & ~y), np.sum(~decided & y)
    return {"sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp), "npv": tn / (tn + fn)}


def test_external_validation_uses_each_bundles_threshold(busi_subset, tmp_path, capsys):
    """Default with --manifest: the card's threshold. A bundle of another class (GIST) is
    skipped with a note and the other still reported; the empty-mask row is listed."""
    from eusgist import inference
    from eusgist.data import read_manifest

    manifest_path = _subset_with_problems(busi_subset, tmp_path / "set")
    out = tmp_path / "r"
    busi, phantom = SHIPPED / "busi-radiomics-svm", SHIPPED / "phantom-demo-combined-svm"
    code, err = _run(capsys, "--manifest", str(manifest_path), "--model", str(phantom),
                     "--model", str(busi), "--bootstrap", "0", "--out", str(out))
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert list(report["models"]) == ["busi-radiomics-svm"] and report["n"] == 12
    assert report["threshold_rule"] == "each model's own (model card)"
    assert report["skipped_models"] == [{
        "model": "phantom-demo-combined-svm",
        "reason": "scores 'GIST', which is not among the data's labels (benign, malignant)"}]
    assert (report["n_rows"], report["n_excluded"]) == (13, 1)
    assert report["excluded"] == [{"image": report["excluded"][0]["image"],
                                   "mask": "masks/empty.png",
                                   "reason": "mask is empty (no lesion pixel)"}]
    model = report["models"]["busi-radiomics-svm"]
    card_threshold = inference.load_model(busi).threshold
    assert model["threshold"] == card_threshold and model["threshold_source"] == "model card"
    # by hand: the same images scored one by one, cut at the card's threshold
    kept = read_manifest(busi_subset, positive_label="malignant")
    scores = inference.score_images(busi, [kept.image_path(i) for i in range(len(kept))],
                                    [kept.mask_path(i) for i in range(len(kept))], n_jobs=1)
    y = kept.y.astype(bool)
    for name, value in _hand_metrics(y, scores >= card_threshold).items():
        assert model["metrics"][name][0] == pytest.approx(value)
    assert pd.read_csv(out / "excluded.csv")["mask"].tolist() == ["masks/empty.png"]
    html = (out / "report.html").read_text(encoding="utf-8")
    for needle in ("Left out: 1 of 13 images, 1 model (phantom-demo-combined-svm)",
                   "masks/empty.png", "mask is empty", "not among the data&#x27;s labels",
                   "locked in its model card", "busi-radiomics-svm 0.239"):
        assert needle in html


def test_a_router_mixing_roi_kinds_decides_as_the_app(busi_subset, tmp_path, capsys):
    """busi-by-roi on outlines and boxes: each row cut at its routed bundle's threshold
    (scores rescaled so that both thresholds are 0.5)."""
    from eusgist import inference
    from eusgist.data import read_manifest
    from eusgist.io import read_mask
    from eusgist.roi_kinds import roi_kind_of

    manifest_path = _subset_with_problems(busi_subset, tmp_path / "set", boxes=4)
    out = tmp_path / "r"
    code, err = _run(capsys, "--manifest", str(manifest_path), "--model",
                     str(SHIPPED / "busi-by-roi"), "--bootstrap", "0", "--out", str(out))
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    model = report["models"]["busi-by-roi"]
    assert model["roi_kinds"] == {"box": 4, "outline": 8} and model["threshold"] == 0.5
    assert model["brier"] is None  # rescaled scores are not probabilities
    manifest = read_manifest(manifest_path, positive_label="malignant").subset(range(12))
    router = inference.load_model(SHIPPED / "busi-by-roi")
    probs = inference.score_images(router, [manifest.image_path(i) for i in range(12)],
                                   [manifest.mask_path(i) for i in range(12)], n_jobs=1)
    cuts = np.array([router.routes[roi_kind_of(read_mask(manifest.mask_path(i)))].threshold
                     for i in range(12)])
    for name, value in _hand_metrics(manifest.y.astype(bool), probs >= cuts).items():
        assert model["metrics"][name][0] == pytest.approx(value)
    assert any("one cut-off cannot express that" in n for n in report["notes"])


def test_intervals_are_written_a_to_b(tmp_path, capsys, caplog):
    import logging

    frame = pd.DataFrame({"label": ["malignant", "benign"] * 6,
                          "a": np.linspace(0.1, 0.9, 12), "b": np.linspace(0.9, 0.1, 12)})
    frame.to_csv(tmp_path / "s.csv", index=False)
    out = tmp_path / "r"
    with caplog.at_level(logging.INFO):
        code, err = _run(capsys, "--csv", str(tmp_path / "s.csv"), "--score-cols", "a,b",
                         "--bootstrap", "0", "--out", str(out))
    assert code == 0, err
    html = (out / "report.html").read_text(encoding="utf-8")
    report = json.loads((out / "report.json").read_text())
    assert report["threshold_rule"] == "youden"  # positive label from the data: malignant
    lo, hi = report["delong"][0]["lo"], report["delong"][0]["hi"]
    assert lo < 0 < hi and f"({lo:.3f} to {hi:.3f})" in html
    assert not re.search(r"\d–-?\d", html)  # no "(-0.189–0.299)"
    assert "Youden: chosen on these same cases (optimistic)" in html
    assert re.search(r"<td class=num>\d\.\d\d \(\d\.\d\d to \d\.\d\d\)</td>", html)
    assert re.search(r"a: AUC \d\.\d{3} \(\d\.\d{3} to \d\.\d{3}\)", caplog.text)
