"""The Predict tab in a real browser: pick a model, upload an image and mask, read the page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def models(model_weights: Path, prediction_bundles):
    """The test bundles, copied into the app's weights folder."""
    for bundle in (prediction_bundles.tabular, prediction_bundles.cnn):
        shutil.copytree(bundle, model_weights / bundle.name, dirs_exist_ok=True)
    return prediction_bundles


def test_predict_an_upload(models, page) -> None:
    page.reload(wait_until="load")  # the model list is read when the page loads
    tab = page.locator("#predict")
    page.get_by_role("tab", name="Predict").click()
    page.locator("#predict-model input").click()
    page.get_by_role("option").filter(has_text=models.tabular.name).click()
    page.wait_for_function(
        "() => document.querySelector('#predict-card').innerText.includes('Model card')",
        timeout=30_000,
    )
    row = models.rows().iloc[4]
    tab.locator("#predict-image input[type=file]").set_input_files(row["image"])
    tab.locator("#predict-mask input[type=file]").set_input_files(row["mask"])
    page.wait_for_timeout(1000)  # the image is shown in the ROI editor
    tab.locator("#predict-run").click()
    page.wait_for_function(
        "() => document.querySelector('#predict-decision').innerText.includes('Model output')",
        timeout=60_000,
    )
    text = tab.inner_text()
    assert "GIST" in text and "leiomyoma" in text
    assert "%" in tab.locator("#predict-probabilities").inner_text()
    assert "P(GIST) = " in text and "threshold" in text
    assert "not for clinical use" in text.lower()  # intended use
    assert "Training data." in text and "synthetic EUS phantom" in text
    assert "SYNTHETIC demo model" in text and "95% CI" in text
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / "app_predict.png"), full_page=True)
