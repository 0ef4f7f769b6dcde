"""eusgist.report: table checks, statistics, report.json contract, files written all or nothing."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from eusgist import report, stats
from eusgist.errors import EvaluationError
from eusgist.report import figures as report_figures

DATA = Path(__file__).parent / "stats" / "data"
MODELS = ["radiomics", "deep", "combined"]


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return pd.read_csv(DATA / "example_scores.csv")


@pytest.fixture(scope="module")
def table(example) -> report.ScoreTable:
    return report.prepare_scores(example, label_col="label", score_cols=MODELS,
                                 lesion_col="lesion_id", keep_cols=["size_mm"])


@pytest.fixture(scope="module")
def evaluation(table) -> report.Evaluation:
    return report.evaluate_scores(table.y_true, table.scores, n_bootstrap=200, seed=1)


@pytest.fixture(scope="module")
def subgroups(table, evaluation) -> list[report.SubgroupResult]:
    return report.evaluate_subgroups(table, [report.SubgroupSpec.parse("size_mm:20")], evaluation)


# --- prepare_scores ------------------------------------------------------------------------

def test_images_are_combined_per_lesion(example, table):
    assert table.unit == "lesion" and table.n_images == len(example)
    assert table.y_true.size == example["lesion_id"].nunique() == 160
    assert table.positive_label == "GIST"  # picked without being named
    lesion = example[example["lesion_id"] == "L007"]
    k = sorted(example["lesion_id"].unique()).index("L007")
    assert table.scores["deep"][k] == pytest.approx(lesion["deep"].mean())
    assert table.y_true[k] == int(lesion["label"].iloc[0] == "GIST")
    assert table.covariates["size_mm"][k] == lesion["size_mm"].iloc[0]
    high = report.prepare_scores(example, label_col="label", score_cols=["deep"],
                                 lesion_col="lesion_id", aggregate="max")
    assert high.scores["deep"][k] == pytest.approx(lesion["deep"].max())


def test_without_lesion_ids_every_row_is_a_case(example):
    t = report.prepare_scores(example, label_col="label", score_cols=["deep"],
                              positive_label="leiomyoma")
    assert t.unit == "image" and t.y_true.size == len(example)
    np.testing.assert_array_equal(t.y_true, (example["label"] == "leiomyoma").astype(int))


BASE = pd.DataFrame({"label": [0, 1, 0, 1], "a": [0.1, 0.9, 0.3, 0.6],
                     "lesion": ["x", "y", "z", "w"], "size": [5, 25, 8, 30]})


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        ({}, {"score_cols": ["b"]}, r"column\(s\) 'b' not found; the table has 'label', 'a'"),
        ({"a": [0.1, "high", 0.3, 0.6]}, {},
         r"score column 'a' has non-numeric values, e.g. 'high' \(CSV line 3\)"),
        ({"a": [0.1, None, 0.3, 0.6]}, {}, r"score column 'a' has 1 missing value\(s\)"),
        ({"a": [0.1, math.inf, 0.3, 0.6]}, {}, "infinite"),
        ({"label": [1, 1, 1, 1]}, {}, "one class only: all 4 rows are positive"),
        ({"label": ["a", "b", "a", "b"]}, {}, "not 0/1.*name the positive label"),
        ({"label": ["a", "b", "c", "b"]}, {}, "3 distinct values"),
        ({"label": [0, None, 0, 1]}, {}, r"label column 'label' has 1 missing"),
        ({}, {"positive_label": "GIST"}, "positive label 'GIST' not found"),
        ({}, {"score_cols": ["label"]}, "both the label and a score"),
        ({}, {"score_cols": []}, "no score columns"),
        ({"lesion": ["x", None, "z", "w"]}, {"lesion_col": "lesion"}, "lesion column 'lesion'"),
        ({"lesion": ["x", "y", "y", "w"]}, {"lesion_col": "lesion"}, "both labels"),
        ({"lesion": ["x", "y", "y", "w"], "label": [0, 1, 1, 0]},
         {"lesion_col": "lesion", "keep_cols": ["size"]},
         "'size' differs between images of lesion 'y'"),
    ],
)
def test_bad_tables_are_named(change, kwargs, message):
    frame = BASE.assign(**change)
    with pytest.raises(ValueError, match=message):
        report.prepare_scores(frame, **({"label_col": "label", "score_cols": ["a"]} | kwargs))


# --- evaluate_scores -----------------------------------------------------------------------

def test_evaluation_uses_the_stats_functions(table, evaluation):
    y = table.y_true
    for name in MODELS:
        m, s = evaluation.models[name], table.scores[name]
        assert m.auc == stats.roc_auc_ci(y, s)
        assert m.threshold == stats.youden_threshold(y, s)
        assert m.at_threshold == stats.threshold_metrics(y, s, threshold=m.threshold)
        assert m.brier == stats.brier_score(y, s)
        assert m.is_probability and m.band is not None
    assert [(a, b) for a, b, _ in evaluation.delong] == [
        ("radiomics", "deep"), ("radiomics", "combined"), ("deep", "combined")]
    assert evaluation.delong[0][2] == stats.delong_test(y, table.scores["radiomics"],
                                                        table.scores["deep"])
    np.testing.assert_allclose(evaluation.dca.net_benefit["deep"],
                               stats.net_benefit(y, table.scores["deep"],
                                                 stats.default_thresholds()))
    assert any("Youden" in note for note in evaluation.notes)


def test_fixed_threshold_and_scores_that_are_not_probabilities(asah_frame):
    ev = report.evaluate_scores(asah_frame["outcome"], {"s100b": asah_frame["s100b"],
                                                        "wfns": asah_frame["wfns"]},
                                threshold=0.5, ci="wald", n_bootstrap=0)
    assert ev.models["s100b"].threshold == 0.5
    assert ev.models["wfns"].at_threshold.counts.fn == 0  # wfns >= 1 > 0.5: all positive
    assert math.isnan(ev.models["wfns"].brier) and not ev.models["wfns"].is_probability
    assert "wfns" not in ev.dca.net_benefit
    assert any(n.startswith("wfns: scores are not probabilities") for n in ev.notes)
    assert "wfns: npv is undefined (zero denominator); returning NaN" in ev.notes
    d = report.report_dict(ev)
    assert d["models"]["wfns"]["brier"] is None
    json.dumps(d, allow_nan=False)


def test_report_json_matches_proc_on_asah(asah_frame):
    # pROC: s100b AUC 0.7314 (0.6301-0.8326); roc.test vs wfns: CI -0.1742 to -0.0104
    ev = report.evaluate_scores(asah_frame["outcome"], {"s100b": asah_frame["s100b"],
                                                        "wfns": asah_frame["wfns"]},
                                n_bootstrap=0)
    d = report.report_dict(ev)
    assert [round(v, 4) for v in [d["models"]["s100b"]["auc"], *d["models"]["s100b"]["auc_ci"]]
            ] == [0.7314, 0.6301, 0.8326]
    (pair,) = d["delong"]
    assert (pair["a"], pair["b"], round(pair["lo"], 4), round(pair["hi"], 4)) == (
        "s100b", "wfns", -0.1742, -0.0104)


@pytest.mark.parametrize(
    ("scores", "kwargs", "message"),
    [
        ({"m": [0.1, np.nan, 0.3, 0.6]}, {}, "model 'm': y_score contains 1 NaN"),
        ({"m": [0.1, 0.2]}, {}, "model 'm': length mismatch"),
        ({"m": [0.1, 0.9, 0.3, 0.6]}, {"threshold": {"other": 0.5}},
         "no threshold given for model 'm'"),
        ({"m": [0.1, 0.9, 0.3, 0.6]}, {"ci": "exact"}, "unknown CI method"),
        ({}, {}, "no models"),
    ],
)
def test_bad_scores_name_the_model(scores, kwargs, message):
    with pytest.raises(ValueError, match=message):
        report.evaluate_scores([0, 1, 0, 1], scores, n_bootstrap=0, **kwargs)


@pytest.fixture(scope="module")
def asah_frame() -> pd.DataFrame:
    return pd.read_csv(DATA / "asah.csv")


def test_report_dict_follows_the_design_contract_exactly(evaluation):
    d = report.report_dict(evaluation)
    assert set(d) == {"n", "n_positive", "models", "delong", "dca", "threshold_rule", "notes",
                      "n_rows", "n_excluded", "excluded", "skipped_models"}
    assert d["threshold_rule"] == "youden" and "optimistic" in d["notes"][-1]
    assert (d["n_excluded"], d["excluded"], d["skipped_models"]) == (0, [], [])
    assert (d["n"], d["n_positive"]) == (160, int(evaluation.n_positive))
    assert list(d["models"]) == MODELS
    for m in d["models"].values():
        assert set(m) == {"auc", "auc_ci", "brier", "threshold", "metrics"}
        assert set(m["metrics"]) == {"sensitivity", "specificity", "ppv", "npv", "accuracy"}
        assert all(len(v) == 3 and v[1] <= v[0] <= v[2] for v in m["metrics"].values())
        assert m["auc_ci"][0] < m["auc"] < m["auc_ci"][1]
    for row in d["delong"]:
        assert set(row) == {"a", "b", "auc_a", "auc_b", "z", "p_value", "lo", "hi"}
    assert set(d["dca"]) == {"thresholds", "net_benefit"}
    assert set(d["dca"]["net_benefit"]) == {*MODELS, "treat_all", "treat_none"}
    assert all(len(v) == len(d["dca"]["thresholds"]) for v in d["dca"]["net_benefit"].values())
    json.dumps(d, allow_nan=False)


# --- subgroups -----------------------------------------------------------------------------

def test_subgroups_by_size_at_the_overall_thresholds(table, evaluation, subgroups):
    assert [(r.column, r.level) for r in subgroups] == [("size_mm", "< 20"),
                                                        ("size_mm", ">= 20")]
    assert sum(r.n for r in subgroups) == table.y_true.size
    small = table.covariates["size_mm"].to_numpy() < 20
    r = subgroups[0]
    assert r.n == small.sum() and r.n_positive == table.y_true[small].sum()
    for name in MODELS:
        assert r.evaluation.models[name].threshold == evaluation.models[name].threshold
        assert r.evaluation.models[name].auc == stats.roc_auc_ci(table.y_true[small],
                                                                 table.scores[name][small])


def test_tiny_subgroups_get_a_note_and_categorical_levels_are_sorted():
    t = report.prepare_scores(BASE.assign(site=["b", "a", "a", "b"]), label_col="label",
                              score_cols=["a"], keep_cols=["site", "size"])
    ev = report.evaluate_scores(t.y_true, t.scores, n_bootstrap=0)
    res = report.evaluate_subgroups(t, [report.SubgroupSpec("site"),
                                        report.SubgroupSpec.parse("size:10,20")], ev)
    assert [r.level for r in res] == ["a", "b", "< 10", ">= 20"]
    assert all(r.evaluation is None and "fewer than 2" in r.note for r in res)
    assert "note" in report.subgroups_dict(res)[0]


@pytest.mark.parametrize(("text", "message"), [(":20", "no column name"),
                                               ("size:x", "must be numbers"),
                                               ("size:20,10", "must increase")])
def test_bad_subgroup_specs(text, message):
    with pytest.raises(ValueError, match=message):
        report.SubgroupSpec.parse(text)


# --- writing -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def written(tmp_path_factory, evaluation, subgroups) -> Path:
    out = tmp_path_factory.mktemp("reports") / "example"
    report.write_report(out, evaluation, subgroups=subgroups, context={"Scores": "x.csv"})
    return out


def test_report_folder_contents(written, evaluation):
    assert sorted(p.name for p in written.iterdir()) == sorted([
        "report.json", "report.html", "performance.csv", "delong.csv", "calibration.csv",
        "dca.csv", "subgroups.csv", "subgroups.json", "roc.png", "calibration.png",
        "dca.png"])
    assert json.loads((written / "report.json").read_text()) == report.report_dict(evaluation)
    perf = pd.read_csv(written / "performance.csv")
    assert list(perf["model"]) == MODELS
    assert {"auc", "auc_lo", "auc_hi", "accuracy_lo", "sensitivity_hi", "specificity",
            "f1", "tp", "auc_boot_lo"} <= set(perf.columns)
    assert len(pd.read_csv(written / "delong.csv")) == 3
    assert list(pd.read_csv(written / "calibration.csv")["model"]) == MODELS
    assert len(pd.read_csv(written / "dca.csv")) == 99
    assert set(pd.read_csv(written / "subgroups.csv")["subgroup"]) == {"< 20", ">= 20"}
    for name in ("roc", "calibration", "dca"):
        with Image.open(written / f"{name}.png") as im:
            assert im.format == "PNG" and im.width > 300


def test_html_is_self_contained(written):
    text = (written / "report.html").read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 3
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|[\w./-]+\.(png|css|js))""", text)
    assert "<script" not in text
    for needle in ("Diagnostic performance", "DeLong", "Calibration", "Subgroups", "x.csv",
                   "combined"):
        assert needle in text


def test_existing_folder_is_kept_unless_overwrite(tmp_path, evaluation):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not empty"):
        report.write_report(out, evaluation)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    report.write_report(out, evaluation, overwrite=True)
    assert (out / "report.json").is_file() and not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary folders left


def test_failure_while_writing_leaves_nothing(tmp_path, evaluation, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(report_figures, "write_figures", boom)
    with pytest.raises(OSError, match="disk full"):
        report.write_report(tmp_path / "r", evaluation)
    assert list(tmp_path.iterdir()) == []


def test_stats_errors_reach_users_as_evaluation_errors():
    """eusgist.stats raises plain ValueError; the report layer re-raises it, same message."""
    with pytest.raises(EvaluationError, match="two classes|one class|binary|0/1") as caught:
        report.evaluate_scores([0, 1, 2, 1], {"a": [0.1, 0.9, 0.5, 0.7]})
    assert isinstance(caught.value.__cause__, ValueError)
    with report.stats_errors():
        pass
    with pytest.raises(EvaluationError, match="^boom$"), report.stats_errors():
        raise ValueError("boom")
    with pytest.raises(TypeError), report.stats_errors():
        raise TypeError("a bug stays a bug")


@pytest.mark.parametrize(("old", "new", "name"), [
    ("eusgist.report_figures", "eusgist.report.figures", "write_figures"),
    ("eusgist.report_html", "eusgist.report.html", "render_html"),
    ("eusgist.paper_report", "eusgist.report.paper", "paper_report"),
])
def test_old_module_paths_warn_and_re_export(old, new, name, monkeypatch):
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        shim = importlib.import_module(old)
    assert getattr(shim, name) is getattr(importlib.import_module(new), name)


def test_importing_the_report_package_leaves_matplotlib_out():
    import subprocess
    import sys

    code = ("import sys, eusgist.report; "
            "print(','.join(m for m in ('matplotlib', 'xgboost', 'eusgist.report.figures', "
            "'eusgist.report.paper') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
