"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
BUSI = SHARED / "data" / "busi"


@pytest.fixture(scope="session")
def busi_manifest_path() -> Path:
    """The real BUSI breast-ultrasound subset shipped beside the checkout."""
    path = BUSI / "manifest.csv"
    if not path.is_file():
        pytest.skip(f"BUSI data not found at {path}")
    return path


@pytest.fixture(scope="session")
def prediction_bundles(tmp_path_factory: pytest.TempPathFactory):
    """Tiny tabular (combined, deep) and CNN bundles on a phantom (tests/inference_fixtures.py)."""
    from inference_fixtures import build_bundles

    return build_bundles(tmp_path_factory.mktemp("prediction"))
