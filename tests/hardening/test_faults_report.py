"""A full disk while writing an evaluation report folder: a clear error, no half-written
report, and the previous report at that path kept as it was.

The disk fills up partway: the tables and report.json are written, then a figure file gets
half its bytes before ``ENOSPC``.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd
import pytest

from eusgist import report
from eusgist.cli import main as cli

DATA = Path(__file__).resolve().parents[1] / "stats" / "data" / "example_scores.csv"
MODELS = ["radiomics", "deep", "combined"]


@pytest.fixture(scope="module")
def evaluation() -> report.Evaluation:
    table = report.prepare_scores(pd.read_csv(DATA), label_col="label", score_cols=MODELS,
                                  lesion_col="lesion_id")
    return report.evaluate_scores(table.y_true, table.scores, n_bootstrap=50, seed=1)


def _fill_disk_at_second_figure(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """``Figure.savefig`` writes the first figure, then half a file and raises ENOSPC."""
    from matplotlib.figure import Figure

    written: list[Path] = []
    real = Figure.savefig

    def savefig(self: Figure, fname: object, *args: object, **kwargs: object) -> None:
        path = Path(str(fname))
        if written:
            real(self, path, *args, **kwargs)
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(self, path, *args, **kwargs)
        written.append(path)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return written


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_full_disk_leaves_no_partial_report_and_keeps_the_old_one(
    tmp_path: Path, evaluation: report.Evaluation, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports" / "run1"
    report.write_report(out, evaluation)
    before = _tree(out)
    assert "report.json" in before and "report.html" in before

    written = _fill_disk_at_second_figure(monkeypatch)
    with pytest.raises(OSError, match="No space left on device") as caught:
        report.write_report(out, evaluation, overwrite=True)
    assert caught.value.errno == errno.ENOSPC and written  # it failed partway
    assert _tree(out) == before  # the previous report, byte for byte
    assert sorted(p.name for p in out.parent.iterdir()) == ["run1"]  # no partial folder

    fresh = tmp_path / "reports" / "run2"
    with pytest.raises(OSError, match="No space left on device"):
        report.write_report(fresh, evaluation)
    assert not fresh.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["run1"]


def test_full_disk_in_the_evaluate_command_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill_disk_at_second_figure(monkeypatch)
    out = tmp_path / "report"
    status = cli(["evaluate", "--csv", str(DATA), "--label-col", "label", "--score-cols",
                  ",".join(MODELS), "--out", str(out), "--bootstrap", "50"])
    err = capsys.readouterr().err
    assert status == 2
    assert "No space left on device" in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
