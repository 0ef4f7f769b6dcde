"""Boxes and polygons drawn with the mouse, in a real browser: Predict (a dragged box predicts
as the same box typed) and Annotate (a dragged box and a clicked polygon saved as the mask)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
from browser_shapes import at, drag, overlay_value, stage
from PIL import Image

from eusgist.masks import shapes_mask
from eusgist.store import open_store


def _shot(page, name: str) -> None:
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / name), full_page=True)


def _probability(page) -> str:
    page.wait_for_function(
        "() => document.querySelector('#predict-decision').innerText.includes('Model output')",
        timeout=60_000)
    return re.search(r"P\(GIST\) = [0-9.]+", page.locator("#predict-decision").inner_text())[0]


def test_predict_with_a_dragged_box(browser, app_url: str, model_weights: Path,
                                    prediction_bundles) -> None:
    bundle = prediction_bundles.cnn
    shutil.copytree(bundle, model_weights / bundle.name, dirs_exist_ok=True)
    image = prediction_bundles.rows().iloc[3]["image"]
    size = Image.open(image).size
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    try:
        page.goto(app_url, wait_until="load")
        page.get_by_role("tab", name="Predict").click()
        page.locator("#predict-model input").click()
        page.get_by_role("option").filter(has_text=bundle.name).click()
        page.locator("#predict-image input[type=file]").set_input_files(image)
        root = "#predict-drawing"
        drag(page, root, size, (size[0] * 0.2, size[1] * 0.25), (size[0] * 0.7, size[1] * 0.8))
        page.set_viewport_size({"width": 1100, "height": 900})  # the picture is rescaled
        drag(page, root, size, (size[0] * 0.3, size[1] * 0.2), (size[0] * 0.75, size[1] * 0.7))
        value = overlay_value(page, root)
        assert (value["width"], value["height"]) == size
        [shape] = value["shapes"]  # one ROI in Predict: the second box replaced the first
        (x0, y0), (x1, y1) = shape["points"]
        assert abs(x0 - size[0] * 0.3) <= 1 and abs(y1 - size[1] * 0.7) <= 1
        page.locator("#predict-run").click()
        by_drawing = _probability(page)
        page.locator("#predict-roi img").wait_for(timeout=30_000)
        _shot(page, "predict_drawn_box.png")

        page.locator(root).get_by_role("button", name="Clear").click()
        page.locator("#predict-box textarea, #predict-box input").first.fill(
            f"{x0},{y0},{x1},{y1}")
        page.locator("#predict-run").click()
        page.locator("#predict-roi img").wait_for(state="detached", timeout=30_000)
        page.locator("#predict-roi img").wait_for(timeout=60_000)  # the new result is in
        assert _probability(page) == by_drawing  # same box, same answer
    finally:
        context.close()


def _eus_like(path: Path) -> Path:
    rng = np.random.default_rng(5)
    frame = 90 + 60 * rng.rayleigh(0.6, (240, 320))
    Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)).save(path)
    return path


def test_annotate_with_a_dragged_box_and_a_clicked_polygon(
        browser, app_url: str, tmp_path: Path, annotation_database: str) -> None:
    from eusgist.store.importing import import_paths

    store = open_store(annotation_database)
    [added] = import_paths(store, [_eus_like(tmp_path / "drawn.png")], annotator="gus").added
    image_id = added.id
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    try:
        page.goto(app_url, wait_until="load")
        page.get_by_role("tab", name="Annotate").click()
        tab = page.locator("#annotate")
        tab.locator("#annotate-name input, #annotate-name textarea").first.fill("gus")
        tab.locator("#annotate-image-id input").fill(str(image_id))
        page.locator("#annotate-open").click()
        root = "#annotate-drawing"
        size = (320, 240)
        drag(page, root, size, (30, 40), (110, 100))
        page.locator(f"{root} button[data-mode=polygon]").click()
        box = stage(page, root)
        for x, y in [(180, 60), (290, 80), (250, 200), (210, 210), (170, 170)]:
            page.mouse.click(*at(box, size, x, y))
        page.mouse.click(*at(box, size, 180, 60))  # the first vertex closes it
        page.mouse.click(*at(box, size, 210, 210), button="right")  # deletes that vertex
        page.locator(f"{root} button[data-mode=box]").click()
        drag(page, root, size, (20, 180), (60, 220))  # a third shape...
        assert len(overlay_value(page, root)["shapes"]) == 3
        page.keyboard.press("Delete")  # ...selected as drawn, deleted by the key
        # move a vertex: drag the polygon's third point
        page.mouse.move(*at(box, size, 250, 200))
        page.mouse.down()
        page.mouse.move(*at(box, size, 260, 215), steps=4)
        page.mouse.up()
        value = overlay_value(page, root)
        assert [s["type"] for s in value["shapes"]] == ["box", "polygon"]
        assert len(value["shapes"][1]["points"]) == 4
        _shot(page, "annotate_drawn_shapes.png")
        page.locator("#annotate-add-shapes").click()
        page.wait_for_function(
            f"() => JSON.parse(document.querySelector('{root} .eus-shapes').dataset.value)"
            ".shapes.length === 0", timeout=30_000)
        page.wait_for_timeout(1500)  # the editor draws the new layer
        page.locator("#annotate-save").click()
        page.wait_for_function(
            "() => document.querySelector('#annotate-status').innerText.includes('Saved')",
            timeout=30_000)
        _shot(page, "annotate_shapes_added.png")
        own = next(a for a in store.annotations(image_id) if a.owner == "gus")
        assert np.array_equal(store.mask(own.id), shapes_mask(value, (240, 320)))
    finally:
        context.close()
