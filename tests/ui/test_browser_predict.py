"""The Predict tab in a real browser at 1440×1000: choose a model and see only its examples,
predict and read the SHAP bars or the Grad-CAM with its colour scale, cause an error and see
the old result gone."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

VIEWPORT = {"width": 1440, "height": 1000}


@pytest.fixture(scope="module")
def examples(models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[str]]]:
    """Two examples per test bundle (other images for each), in a throwaway examples folder;
    yields the example image names of each bundle."""
    from eusgist.ui import predict_models

    root = tmp_path_factory.mktemp("examples")
    rows, names = models.rows(), {}
    for i, bundle in enumerate((models.tabular, models.cnn)):
        folder = root / bundle.name
        folder.mkdir()
        lines = ["image,mask,spacing_mm"]
        for j in (2 * i, 2 * i + 1):
            image, mask = f"{bundle.name}-{j}.png", f"{bundle.name}-{j}_mask.png"
            shutil.copy(rows.iloc[j]["image"], folder / image)
            shutil.copy(rows.iloc[j]["mask"], folder / mask)
            lines.append(f"{image},{mask},0.2")
        (folder / "examples.csv").write_text("\n".join(lines) + "\n")
        names[bundle.name] = [f"{bundle.name}-{j}.png" for j in (2 * i, 2 * i + 1)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predict_models, "EXAMPLES_DIR", root)
        yield names


@pytest.fixture
def wide_page(browser, app_url: str) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab").first.wait_for(timeout=60_000)
    try:
        yield page
    finally:
        context.close()


def _text_of(selector: str) -> str:
    return f"(document.querySelector('{selector}') || {{innerText: ''}}).innerText"


def _choose(page, name: str) -> None:
    page.locator("#predict-model input").click()
    page.get_by_role("option").filter(has_text=name).click()
    page.wait_for_function(f"() => {_text_of('#predict-examples')}.includes('Examples for {name}')",
                           timeout=30_000)


def _predict_example(page, index: int, image_name: str) -> None:
    page.locator("#predict-examples tbody tr").nth(index).click()
    stem = Path(image_name).stem  # the file box shows the name and extension apart
    page.wait_for_function(f"() => {_text_of('#predict-image')}.includes('{stem}')",
                           timeout=30_000)
    page.wait_for_timeout(1000)  # the image reaches the ROI editor and overlay
    page.locator("#predict-run").click()
    page.wait_for_function(f"() => {_text_of('#predict-decision')}.includes('Model output')",
                           timeout=60_000)
    page.locator("#predict-roi img").wait_for(timeout=30_000)


def _shot(page, name: str) -> None:
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / name), full_page=True)


def test_examples_shap_gradcam_and_a_cleared_error(models, examples, wide_page) -> None:
    page, tab = wide_page, wide_page.locator("#predict")
    page.wait_for_function(f"() => {_text_of('#predict-notice')}.includes('ships no GIST')",
                           timeout=30_000)
    notice = page.locator("#predict-notice").inner_text()
    assert "No model here is clinically validated" in notice
    assert models.tabular.name in notice and models.cnn.name in notice

    _choose(page, models.tabular.name)
    listed = page.locator("#predict-examples").inner_text()
    assert all(n in listed for n in examples[models.tabular.name])
    assert not any(n in listed for n in examples[models.cnn.name])
    assert "SYNTHETIC demo model" in page.locator("#predict-model-about").inner_text()
    assert not tab.locator("#predict-shap").is_visible()  # no empty panels before a result
    assert not tab.locator("#predict-gradcam").is_visible()

    _predict_example(page, 0, examples[models.tabular.name][0])
    spacing = page.locator("#predict-spacing textarea, #predict-spacing input").first
    assert spacing.input_value() == "0.2"
    shap = tab.locator("#predict-shap")
    shap.wait_for(state="visible", timeout=30_000)
    assert not tab.locator("#predict-gradcam").is_visible()  # no Grad-CAM for tabular
    sizes = page.evaluate("() => Array.from(document.querySelectorAll("
                          "'#predict-shap .row span, #predict-shap .legend'))"
                          ".map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert sizes and min(sizes) >= 11
    names = shap.locator(".row .name").all_inner_texts()
    assert names and not any(n.startswith(("rad_", "deep_")) for n in names)
    assert any(":" in n or n.startswith("CNN feature") for n in names)
    hovers = [r.get_attribute("title") for r in shap.locator(".row").all()]
    assert all(h.startswith(("rad_", "deep_")) for h in hovers)  # technical name on hover
    assert "%" in tab.locator("#predict-probabilities").inner_text()
    _shot(page, "predict_tabular.png")

    # Two ROIs at once (the example's mask and a typed box): refused, the old result gone.
    page.locator("#predict-box textarea, #predict-box input").first.fill("1,1,20,20")
    page.locator("#predict-run").click()
    page.get_by_text("give the lesion ROI one way").first.wait_for(timeout=30_000)
    page.wait_for_function(f"() => !{_text_of('#predict-decision')}.includes('Model output')",
                           timeout=30_000)
    assert not shap.is_visible() and not tab.locator("#predict-gradcam").is_visible()
    assert tab.locator("#predict-roi img").count() == 0
    assert "%" not in tab.locator("#predict-probabilities").inner_text()
    _shot(page, "predict_error.png")
    page.locator("#predict-box textarea, #predict-box input").first.fill("")

    _choose(page, models.cnn.name)
    listed = page.locator("#predict-examples").inner_text()
    assert all(n in listed for n in examples[models.cnn.name])
    assert not any(n in listed for n in examples[models.tabular.name])
    _predict_example(page, 1, examples[models.cnn.name][1])
    gradcam = tab.locator("#predict-gradcam img")
    gradcam.wait_for(state="visible", timeout=30_000)
    assert not shap.is_visible()  # no SHAP panel for a CNN
    size = gradcam.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    assert size[0] >= 600 and size[1] >= 400  # a large picture, its colour bar included
    _shot(page, "predict_cnn.png")
