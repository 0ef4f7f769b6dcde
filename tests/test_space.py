"""Space start-up: pyradiomics is built without build isolation when it is missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from eusgist import space

ROOT = Path(__file__).resolve().parents[1]


def test_nothing_to_do_when_pyradiomics_imports() -> None:
    assert importlib.util.find_spec("radiomics") is not None
    assert space.ensure_pyradiomics(ROOT / "requirements-radiomics.txt") is False


def test_requirements_files_split_as_the_space_needs() -> None:
    runtime = (ROOT / "requirements.txt").read_text().splitlines()
    assert not [line for line in runtime if line.startswith("pyradiomics")]
    assert "numpy==" in (ROOT / "requirements.txt").read_text()
    pins = [line for line in (ROOT / "requirements-radiomics.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins == ["pyradiomics==3.0.1"]


def test_pip_failure_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "radiomics" else real(name, *a))
    bad = tmp_path / "requirements-radiomics.txt"
    bad.write_text(f"{tmp_path / 'missing-pyradiomics.whl'}\n")
    with pytest.raises(RuntimeError, match="installing pyradiomics failed"):
        space.ensure_pyradiomics(bad)
