"""Hostile CSVs: scores tables for evaluation and dataset manifests are refused with a clear
message within bounds, and every CSV eusgist writes is safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd
import pytest
from bounds import refused

from eusgist import cli, report
from eusgist.csvsafe import neutralise, neutralise_frame
from eusgist.data import ManifestError, read_manifest, write_manifest
from eusgist.report import EvaluationOptions, read_scores_csv, report_from_table

FORMULAS = ["=cmd|' /C calc'!A0", "+1+cmd", "-2-cmd", "@SUM(A1)", "\t=1+1", "\r=1+1"]
GOOD = "label,score,lesion_id\n" + "".join(
    f"{k % 2},{0.2 + 0.6 * (k % 2) + 0.01 * k},L{k}\n" for k in range(12))


def _csv(tmp_path, data: bytes | str, name: str = "scores.csv"):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _evaluate(path, out, **options):
    frame = read_scores_csv(path)
    opts = EvaluationOptions(n_bootstrap=0, **options)
    return report_from_table(frame, ["score"], out, opts)


# --- scores CSV ----------------------------------------------------------------------------

SCORES_CASES = {
    "empty": (b"", ["empty"]),
    "header-only": ("label,score\n", ["no rows"]),
    "single-class": ("label,score\n1,0.2\n1,0.9\n", ["one class"]),
    "labels-0-2": ("label,score\n0,0.2\n2,0.9\n", ["not 0/1"]),
    "three-labels": ("label,score\na,0.1\nb,0.2\nc,0.3\n", ["3 distinct"]),
    "missing-label": ("label,score\n1,0.2\n,0.9\n0,0.5\n", ["label", "missing"]),
    "nan-score": ("label,score\n1,0.2\n0,nan\n", ["missing value", "line 3"]),
    "inf-score": ("label,score\n1,0.2\n0,inf\n", ["infinite"]),
    "minus-inf-score": ("label,score\n1,-inf\n0,0.1\n", ["infinite"]),
    "text-score": ("label,score\n1,0.2\n0,high\n", ["non-numeric", "high"]),
    "formula-score": ("label,score\n1,0.2\n0,=1+1\n", ["non-numeric"]),
    "latin-1": ("label,score,note\n1,0.2,caf\xe9\n0,0.1,x\n".encode("latin-1"), ["UTF-8"]),
    "binary": (bytes(range(256)) * 64, ["binary"]),
    "ragged": ("label,score\n1,0.2\n0,0.1,7,8\n", ["not a readable CSV"]),
    "unclosed-quote": ('label,score\n1,"0.2\n0,0.1\n', ["not a readable CSV"]),
    "missing-column": ("y,s\n1,0.2\n0,0.1\n", ["'label'", "not found"]),
    "lesion-two-labels": ("label,score,lesion_id\n1,0.2,L1\n0,0.1,L1\n1,0.3,L2\n",
                          ["lesion"]),
}


@pytest.mark.parametrize("case", list(SCORES_CASES))
def test_bad_scores_csv_is_refused(tmp_path, case):
    data, match = SCORES_CASES[case]
    path = _csv(tmp_path, data)
    lesion = "lesion_id" if "lesion" in case else None
    refused(_evaluate, path, tmp_path / "report", lesion_col=lesion, match=match,
            watch=[tmp_path])
    assert not (tmp_path / "report").exists()


def test_huge_row_count_is_refused_at_the_row_limit(tmp_path):
    path = _csv(tmp_path, b"label,score\n" + b"0,0.5\n1,0.7\n" * (report.MAX_SCORES_ROWS // 2 + 1))
    refused(read_scores_csv, path, match=["1,000,000 rows", "limit"])


def test_huge_file_is_refused_by_size_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:  # 200 MB, sparse: nothing to read before the refusal
        fh.write(b"label,score\n")
        fh.truncate(200 * 2**20)
    refused(read_scores_csv, path, match=["bytes", "limit"], traced_mb=4)


def test_extremely_long_cell_gives_a_short_message(tmp_path):
    path = _csv(tmp_path, "label,score\n1,0.2\n0," + "x" * 5_000_000 + "\n")
    error = refused(_evaluate, path, tmp_path / "report", match=["non-numeric"]).error
    assert len(str(error)) < 300


@pytest.mark.parametrize(("encoding", "sep"), [("utf-16", ","), ("utf-8-sig", ","),
                                               ("utf-8", ";"), ("utf-16", "\t")])
def test_other_encodings_and_delimiters_are_read(tmp_path, encoding, sep):
    path = _csv(tmp_path, GOOD.replace(",", sep).encode(encoding))
    frame = read_scores_csv(path)
    assert list(frame.columns) == ["label", "score", "lesion_id"]
    assert len(frame) == 12


def test_formula_cells_are_evaluated_and_neutralised_in_every_output(tmp_path):
    model = "=cmd|' /C calc'!A0"
    table = pd.DataFrame({"label": [k % 2 for k in range(18)],
                          model: [0.3 + 0.4 * (k % 2) + 0.01 * k for k in range(18)],
                          "lesion_id": [f"{FORMULAS[k % len(FORMULAS)]}{k}" for k in range(18)],
                          "site": [FORMULAS[k % 3] for k in range(18)]})
    path = _csv(tmp_path, table.to_csv(index=False, lineterminator="\r\n"))  # quotes \r
    frame = read_scores_csv(path)
    opts = EvaluationOptions(n_bootstrap=0, lesion_col="lesion_id", subgroups=("site",))
    out = report_from_table(frame, [model], tmp_path / "report", opts)[1]
    for csv in out.glob("*.csv"):
        text = csv.read_text()
        for line in text.splitlines():
            for cell in line.split(","):
                assert not cell.lstrip('"').startswith(("=", "+", "@", "\t", "\r")), (csv, cell)
    perf = pd.read_csv(out / "performance.csv")
    assert perf["model"].iloc[0] == "'" + model
    assert pd.api.types.is_float_dtype(perf["auc"])
    sub = pd.read_csv(out / "subgroups.csv")
    assert set(sub["subgroup"]) == {"'" + f for f in FORMULAS[:3]}


def test_neutraliser_keeps_numbers_numeric():
    assert [neutralise(v) for v in ("-0.5", "+3", "1e-3", "-.5", -0.5, "-", "-x", "safe")] == \
        ["-0.5", "+3", "1e-3", "-.5", -0.5, "'-", "'-x", "safe"]
    frame = neutralise_frame(pd.DataFrame({"x": [-0.5, 1.0], "t": ["=1", "a"], "=c": [1, 2]}))
    assert frame["x"].tolist() == [-0.5, 1.0]
    assert frame["t"].tolist() == ["'=1", "a"]
    assert list(frame.columns) == ["x", "t", "'=c"]


def test_cli_evaluate_refuses_a_bad_csv_with_one_line(tmp_path, capsys):
    path = _csv(tmp_path, "label;score\n1;0.2\n1;0.9\n")
    code = cli.main(["evaluate", "--csv", str(path), "--score-cols", "score",
                     "--out", str(tmp_path / "report")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "one class" in err[-1]
    assert not (tmp_path / "report").exists()


# --- manifests -----------------------------------------------------------------------------

HEADER = "image,mask,label,patient_id,lesion_id"


def _manifest_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


OK_ROWS = ("a.png,,GIST,p1,l1", "b.png,,leiomyoma,p2,l2")
MANIFEST_CASES = {
    "empty": (b"", ["empty"]),
    "header-only": (_manifest_text(), ["no rows"]),
    "missing-columns": (_manifest_text("a.png,GIST", header="image,label"), ["missing column"]),
    "dotdot": (_manifest_text("../outside.png,,GIST,p1,l1", OK_ROWS[1]),
               ["outside the manifest's folder", "row 2"]),
    "dotdot-mask": (_manifest_text("a.png,masks/../../m.png,GIST,p1,l1", OK_ROWS[1]),
                    ["outside"]),
    "backslash-dotdot": (_manifest_text("..\\..\\outside.png,,GIST,p1,l1", OK_ROWS[1]),
                         ["outside"]),
    "absolute": (_manifest_text("/etc/passwd,,GIST,p1,l1", OK_ROWS[1]), ["absolute path"]),
    "duplicate-rows": (_manifest_text(*OK_ROWS, OK_ROWS[0]), ["duplicate image", "row 4"]),
    "nan-spacing": (_manifest_text(*(r + ",nan" for r in OK_ROWS),
                                   header=HEADER + ",spacing_mm"), ["spacing_mm", "positive"]),
    "negative-spacing": (_manifest_text(OK_ROWS[0] + ",-0.1", OK_ROWS[1] + ",0.1",
                                        header=HEADER + ",spacing_mm"), ["spacing_mm", "row 2"]),
    "inf-spacing": (_manifest_text(OK_ROWS[0] + ",inf", OK_ROWS[1] + ",",
                                   header=HEADER + ",spacing_x_mm"), ["spacing_x_mm"]),
    "text-spacing": (_manifest_text(OK_ROWS[0] + ",=1+1", OK_ROWS[1] + ",0.1",
                                    header=HEADER + ",spacing_mm"), ["spacing_mm"]),
    "latin-1": (_manifest_text("caf\xe9.png,,GIST,p1,l1", OK_ROWS[1]).encode("latin-1"),
                ["UTF-8"]),
    "utf-16": (_manifest_text(*OK_ROWS).encode("utf-16"), ["not a readable CSV"]),
    "ragged": (_manifest_text(*OK_ROWS, "c.png,,GIST,p3,l3,x,y"), ["not a readable CSV"]),
    "formula-label": (_manifest_text("a.png,,=cmd|' /C calc'!A0,p1,l1", OK_ROWS[1]),
                      ["positive class"]),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_bad_manifest_is_refused(tmp_path, case):
    data, match = MANIFEST_CASES[case]
    (tmp_path / "a.png").write_bytes(b"a")
    (tmp_path / "b.png").write_bytes(b"b")
    path = _csv(tmp_path, data, "manifest.csv")
    error = refused(read_manifest, path, match=match, watch=[tmp_path]).error
    assert isinstance(error, ManifestError)


def test_paths_outside_are_read_only_when_allowed(tmp_path):
    (tmp_path / "outside.png").write_bytes(b"o")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/b.png").write_bytes(b"b")
    path = _csv(tmp_path / "data", _manifest_text("../outside.png,,GIST,p1,l1", OK_ROWS[1]),
                "manifest.csv")
    manifest = read_manifest(path, allow_outside_root=True)
    assert manifest.image_path(0).read_bytes() == b"o"


def test_manifest_with_bom_and_formula_ids_round_trips(tmp_path):
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"x")
    rows = ("a.png,,GIST,=HYPERLINK(1),@l1,+cmd,-0.5", "b.png,,leiomyoma,p2,l2,ok,1.5")
    path = _csv(tmp_path, ("\ufeff" + _manifest_text(*rows, header=HEADER + ",note,size"))
                .encode("utf-8"), "manifest.csv")
    manifest = read_manifest(path)
    assert list(manifest.table.columns[:2]) == ["image", "mask"]
    out = write_manifest(manifest.table, tmp_path / "copy.csv")
    text = out.read_text()
    assert "'=HYPERLINK(1)" in text and "'@l1" in text and "'+cmd" in text
    again = read_manifest(out)
    assert again.table["image"].tolist() == ["a.png", "b.png"]
    assert again.table["size"].tolist() == [-0.5, 1.5]
    assert again.table["patient_id"].iat[0] == "'=HYPERLINK(1)"
    write_manifest(again.table, tmp_path / "copy2.csv")  # idempotent
    assert (tmp_path / "copy2.csv").read_text() == text
