"""The Evaluate tab's API endpoints, driven with gradio_client against the running app."""

from __future__ import annotations

import json
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
    summary, performance, delong, roc, calib, dca, archive, html = result
    assert "positive" in summary and "combined: AUC" in summary
    assert [r[0] for r in performance["data"]] == ["radiomics", "combined"]
    assert len(delong["data"]) == 1
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


def test_evaluate_images_scores_a_zip_with_a_bundle(client: Client, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from scoring_data import BUSI_BUNDLE, busi_examples_zip

    weights = tmp_path / "weights"  # this test's own folder: others expect theirs unchanged
    shutil.copytree(BUSI_BUNDLE, weights / BUSI_BUNDLE.name)
    monkeypatch.setenv("EUSGIST_WEIGHTS_DIR", str(weights))
    assert BUSI_BUNDLE.name in client.predict(api_name="/evaluate_models")["choices"][0]
    archive = busi_examples_zip(tmp_path / "set.zip")
    summary, performance, *_rest, report_zip, _html = client.predict(
        handle_file(str(archive)), [BUSI_BUNDLE.name], "youden", "wilson",
        api_name="/evaluate_images",
    )
    assert summary.startswith("**4 cases, 2 positive.**")
    assert performance["data"][0][0] == BUSI_BUNDLE.name
    with zipfile.ZipFile(report_zip) as zf:
        assert json.loads(zf.read("report.json"))["n_positive"] == 2
    with pytest.raises(Exception, match="choose at least one model"):
        client.predict(handle_file(str(archive)), [], "youden", "wilson",
                       api_name="/evaluate_images")
