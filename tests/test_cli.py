"""The command line: help for every command, one-line errors, the split command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from eusgist.cli import COMMAND_MODULES, build_parser, main
from eusgist.data import read_manifest

COMMANDS = [name.rsplit(".", 1)[1].replace("_", "-") for name in COMMAND_MODULES]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: eusgist" in capsys.readouterr().out


def test_parser_lists_all_commands() -> None:
    help_text = build_parser().format_help()
    for command in COMMANDS:
        assert command in help_text


def test_module_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "eusgist", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("eusgist ")


def _tiny_dataset(root: Path, n_lesions: int = 20) -> Path:
    rows = []
    for i in range(n_lesions):
        image = f"img_{i}.png"
        (root / image).write_bytes(b"not read by split")
        rows.append((image, "", "GIST" if i % 2 else "leiomyoma", f"P{i // 2}", f"L{i}"))
    path = root / "manifest.csv"
    pd.DataFrame(rows, columns=["image", "mask", "label", "patient_id", "lesion_id"]).to_csv(path, index=False)
    return path


def test_split_command(tmp_path: Path) -> None:
    src = _tiny_dataset(tmp_path)
    out = tmp_path / "split.csv"
    assert main(["split", "--manifest", str(src), "--out", str(out), "--group", "patient", "--seed", "1"]) == 0
    table = read_manifest(out).table
    assert set(table["split"]) == {"train", "test"}
    sides = table.groupby("patient_id")["split"].nunique()
    assert (sides == 1).all()
    assert main(["split", "--manifest", str(src), "--out", str(out), "--folds", "2"]) == 0
    assert set(read_manifest(out).table["fold"]) == {0, 1}


def test_paths_leaving_the_manifest_folder_need_an_explicit_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    table = pd.read_csv(_tiny_dataset(data))
    table["image"] = "data/" + table["image"]
    (tmp_path / "lists").mkdir()
    src = tmp_path / "lists" / "manifest.csv"
    table.assign(image="../" + table["image"]).to_csv(src, index=False)
    out = tmp_path / "lists" / "split.csv"
    assert main(["split", "--manifest", str(src), "--out", str(out)]) == 2
    assert "--allow-outside-root" in capsys.readouterr().err and not out.exists()
    assert main(["split", "--manifest", str(src), "--out", str(out), "--allow-outside-root"]) == 0
    assert read_manifest(out, allow_outside_root=True).image_path(0).is_file()


def test_split_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["split", "--manifest", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err == f"eusgist split: error: {tmp_path / 'missing.csv'}: manifest not found\n"
    src = _tiny_dataset(tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert main(["split", "--manifest", str(src), "--out", str(other / "o.csv")]) == 2
    assert "--out must be in the manifest's folder" in capsys.readouterr().err
    assert not (other / "o.csv").exists()


def test_building_the_parser_stays_light() -> None:
    """Command modules keep heavy imports inside ``run()``: help and errors answer at once."""
    code = (
        "import sys, eusgist.cli as c; c.build_parser(); "
        "print(','.join(m for m in ('torch', 'timm', 'shap', 'gradio', 'radiomics', 'xgboost', "
        "'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
