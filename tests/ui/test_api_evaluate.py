"""The Evaluate tab's API endpoints, driven with gradio_client against the running app."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from gradio_client import Client, handle_file

EXAMPLE = Path(__file__).resolve().parents[1] / "stats" / "data" / "example_scores.csv"


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def test_inspect_guesses_columns(client: Client) -> None:
    label, scores, lesion = client.predict(handle_file(str(EXAMPLE)), api_name="/inspect_scores_csv")
    assert label["value"] == "label"
    assert scores["value"] == ["radiomics", "deep", "combined"]  # probabilities, not size_mm
    assert [c[0] for c in scores["choices"]] == ["size_mm", "radiomics", "deep", "combined"]
    assert lesion["value"] == "lesion_id"


def test_evaluate_csv_returns_the_report(client: Client) -> None:
    result = client.predict(
        handle_file(str(EXAMPLE)), "label", ["radiomics", "combined"], "lesion_id", "GIST",
        "youden", "wald", "size_mm:20", api_name="/evaluate_csv",
    )
    summary, performance, delong, roc, calib, dca, archive, html, full, left_out = result
    assert "positive" in summary and "combined: AUC" in summary and " to " in summary
    assert [r[0] for r in performance["data"]] == ["radiomics", "combined"]
    assert performance["headers"] == ["Model", "AUC (95% CI)", "Sensitivity (95% CI)",
                                      "Specificity (95% CI)", "PPV (95% CI)", "NPV (95% CI)",
                                      "Threshold"]
    assert re.fullmatch(r"0\.\d\d \(0\.\d\d to (0\.\d\d|1\.00)\)", performance["data"][0][1])
    assert len(delong["value"]["data"]) == 1 and " to " in delong["value"]["data"][0][4]
    assert "auc_lo" in pd.read_csv(full).columns  # the full table, as a download
    assert left_out["value"] is None or not left_out["value"]["data"]
    for figure in (roc, calib, dca):
        assert Path(figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        report = json.loads(zf.read("report.json"))
    assert {"report.json", "performance.csv", "delong.csv", "report.html", "subgroups.csv"} <= names
    assert set(report["models"]) == {"radiomics", "combined"}
    frame = pd.read_csv(EXAMPLE)
    assert report["n"] == frame["lesion_id"].nunique()
    assert "<html" in Path(html).read_text().lower()


def test_positive_label_defaults_from_the_data(client: Client, tmp_path: Path) -> None:
    scores = tmp_path / "busi.csv"
    pd.DataFrame({"diagnosis": ["benign", "malignant"] * 4,
                  "p": [0.1, 0.8, 0.3, 0.6, 0.2, 0.9, 0.4, 0.7]}).to_csv(scores, index=False)
    positive = client.predict(handle_file(str(scores)), "diagnosis", api_name="/positive_labels")
    assert positive["value"] == "malignant"
    assert [c[0] for c in positive["choices"]] == ["benign", "malignant"]
    summary, *_ = client.predict(handle_file(str(scores)), "diagnosis", ["p"], "(none)", None,
                                 "youden", "wilson", "", api_name="/evaluate_csv")
    assert summary.startswith("**8 cases, 4 positive.**")
    with pytest.raises(Exception, match="no bundles' thresholds"):
        client.predict(handle_file(str(scores)), "diagnosis", ["p"], "(none)", None, "bundle",
                       "wilson", "", api_name="/evaluate_csv")


def test_bad_csv_gives_a_clear_error(client: Client, tmp_path: Path) -> None:
    bad = tmp_path / "one_class.csv"
    pd.DataFrame({"label": ["GIST"] * 5, "score": [0.1, 0.2, 0.3, 0.4, 0.5]}).to_csv(bad, index=False)
    with pytest.raises(Exception, match="has one class only"):
        client.predict(handle_file(str(bad)), "label", ["score"], "(none)", "", "youden", "wilson",
                       "", api_name="/evaluate_csv")
    text = tmp_path / "text.csv"
    pd.DataFrame({"label": [0, 1, 0, 1], "score": ["a", "0.2", "0.1", "0.9"]}).to_csv(text, index=False)
    with pytest.raises(Exception, match="score"):
        client.predict(handle_file(str(text)), "label", ["score"], "(none)", "", "youden", "wilson",
                       "", api_name="/evaluate_csv")
    with pytest.raises(Exception, match="choose at least one score column"):
        client.predict(handle_file(str(EXAMPLE)), "label", [], "(none)", "", "youden", "wilson",
                       "", api_name="/evaluate_csv")


def _set_with_an_empty_mask(path: Path) -> Path:
    """The BUSI examples ZIP plus one row whose mask has no lesion pixel."""
    import io

    import numpy as np
    from PIL import Image
    from scoring_data import busi_examples_zip

    busi_examples_zip(path)
    with zipfile.ZipFile(path) as zf:
        manifest = pd.read_csv(io.BytesIO(zf.read("set/manifest.csv")))
        with Image.open(io.BytesIO(zf.read(f"set/{manifest['image'].iat[0]}"))) as im:
            size = im.size
    empty = io.BytesIO()
    Image.fromarray(np.zeros(size[::-1], np.uint8)).save(empty, format="PNG")
    extra = manifest.iloc[[0]].assign(mask="masks/empty.png", lesion_id="empty")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("set/masks/empty.png", empty.getvalue())
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    entries["set/manifest.csv"] = pd.concat([manifest, extra]).to_csv(index=False).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_evaluate_images_scores_a_zip_with_a_bundle(client: Client, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Default: each bundle's own threshold; a bundle of another class is left out with a
    note while the other is reported; the empty-mask row is listed."""
    import shutil

    from scoring_data import BUSI_BUNDLE

    weights = tmp_path / "weights"  # this test's own folder: others expect theirs unchanged
    shutil.copytree(BUSI_BUNDLE, weights / BUSI_BUNDLE.name)
    phantom = BUSI_BUNDLE.parent / "phantom-demo-combined-svm"
    shutil.copytree(phantom, weights / phantom.name)
    monkeypatch.setenv("EUSGIST_WEIGHTS_DIR", str(weights))
    assert BUSI_BUNDLE.name in client.predict(api_name="/evaluate_models")["choices"][0]
    archive = _set_with_an_empty_mask(tmp_path / "set.zip")
    summary, performance, *_rest, report_zip, _html, _full, left_out = client.predict(
        handle_file(str(archive)), [phantom.name, BUSI_BUNDLE.name], None, "wilson",
        api_name="/evaluate_images",
    )
    assert summary.startswith("**4 cases, 2 positive.**")
    assert "Thresholds: each model's own (model card)" in summary
    assert "Left out: 1 of 5 images, 1 model (phantom-demo-combined-svm)" in summary
    assert [r[0] for r in performance["data"]] == [BUSI_BUNDLE.name]
    assert performance["data"][0][-1] == "0.239"
    assert [r[1] for r in left_out["value"]["data"]] == [
        "model left out: scores 'GIST', which is not among the data's labels (benign, "
        "malignant)", "mask is empty (no lesion pixel)"]
    with zipfile.ZipFile(report_zip) as zf:
        report = json.loads(zf.read("report.json"))
    assert report["n_positive"] == 2 and report["n_excluded"] == 1
    assert report["models"][BUSI_BUNDLE.name]["threshold"] == pytest.approx(0.23896922700954587)
    assert report["skipped_models"][0]["model"] == "phantom-demo-combined-svm"
    with pytest.raises(Exception, match="choose at least one model"):
        client.predict(handle_file(str(archive)), [], "bundle", "wilson",
                       api_name="/evaluate_images")
