"""The out-of-domain verdict through the running app's /predict endpoint (gradio_client)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from eusgist.inference.domain_fit import fit_domain

NAME = "gated-svm"


@pytest.fixture(scope="module")
def gated(model_weights: Path, prediction_bundles) -> Iterator[Path]:
    """The tiny tabular bundle with a fitted gate in the app's weights folder (removed
    afterwards: other modules list the folder)."""
    folder = model_weights / NAME
    shutil.copytree(prediction_bundles.tabular, folder)
    fit_domain(folder, prediction_bundles.manifest)
    yield folder
    shutil.rmtree(folder)


def test_predict_returns_the_verdict_and_warns_on_a_foreign_image(app_url: str, gated: Path,
                                                                  prediction_bundles,
                                                                  tmp_path: Path) -> None:
    client = Client(app_url, verbose=False)
    row = prediction_bundles.rows().iloc[2]
    *_, warning, verdict = client.predict(NAME, handle_file(row["image"]), None,
                                          handle_file(row["mask"]), "", None,
                                          api_name="/predict")
    assert isinstance(verdict["out_of_domain"], bool)
    assert {"score", "threshold", "reason"} <= set(verdict)
    assert bool(warning) == verdict["out_of_domain"]
    board = tmp_path / "board.png"
    cells = (np.indices((96, 96)).sum(axis=0) // 12) % 2
    Image.fromarray((cells * 200 + 20).astype(np.uint8)).save(board)
    label, decision, *_, warning, verdict = client.predict(
        NAME, handle_file(str(board)), None, None, "20,20,70,70", None, api_name="/predict")
    assert verdict["out_of_domain"] is True and "graphics" in verdict["reason"]
    assert "Out of domain" in warning and "Out of domain" in decision
    assert label["label"]  # still scored
