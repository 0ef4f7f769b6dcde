"""The out-of-domain warning in a real browser: a foreign image gets a warning above the
result, which is still shown."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eusgist.inference.domain_fit import fit_domain

NAME = "gated-svm"


@pytest.fixture(scope="module")
def gated(model_weights: Path, prediction_bundles) -> Iterator[Path]:
    """The tiny tabular bundle with a fitted gate in the app's weights folder (removed
    afterwards: other modules list the folder)."""
    folder = model_weights / NAME
    shutil.copytree(prediction_bundles.tabular, folder)
    card = json.loads((folder / "model_card.json").read_text())
    (folder / "model_card.json").write_text(json.dumps({**card, "name": NAME}))  # its label
    fit_domain(folder, prediction_bundles.manifest)
    yield folder
    shutil.rmtree(folder)


def test_a_foreign_image_gets_a_warning_above_the_result(gated: Path, page,
                                                         tmp_path: Path) -> None:
    board, mask = tmp_path / "board.png", tmp_path / "board_mask.png"
    cells = (np.indices((96, 96)).sum(axis=0) // 12) % 2
    Image.fromarray((cells * 200 + 20).astype(np.uint8)).save(board)
    square = np.zeros((96, 96), np.uint8)
    square[20:70, 25:75] = 255
    Image.fromarray(square).save(mask)
    page.reload(wait_until="load")
    tab = page.locator("#predict")
    page.get_by_role("tab", name="Predict").click()
    page.locator("#predict-model input").click()
    page.get_by_role("option").filter(has_text=NAME).click()
    page.wait_for_function(
        "() => document.querySelector('#predict-card').innerText.includes('Out-of-domain check')",
        timeout=30_000)
    tab.locator("#predict-image input[type=file]").set_input_files(str(board))
    tab.locator("#predict-mask input[type=file]").set_input_files(str(mask))
    page.wait_for_timeout(1000)
    tab.locator("#predict-run").click()
    page.wait_for_function(
        "() => document.querySelector('#predict-decision').innerText.includes('Model output')",
        timeout=60_000)
    warning = tab.locator("#predict-domain-warning")
    text = warning.inner_text()
    assert "Out of domain" in text and "graphics or text" in text.lower()
    above = warning.bounding_box()
    result = tab.locator("#predict-probabilities").bounding_box()
    assert above is not None and result is not None and above["y"] < result["y"]
    assert "%" in tab.locator("#predict-probabilities").inner_text()  # still scored
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / "app_predict_out_of_domain.png"), full_page=True)
