""""Suggest outline" as an annotator uses it, in a real browser: drag a box around the lesion,
get the segmenter's outline in the editor with a notice to check it, refine it with the
brush, change the contrast, save; the stored mask is the suggestion plus the stroke and the
revision records that it started from a suggestion."""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from browser_shapes import drag, overlay_value
from PIL import Image

from eusgist.segment import load_segmenter
from eusgist.segment.bundle import DEFAULT_SEGMENTER
from eusgist.store import open_store

SIZE = (320, 240)  # width, height of the uploaded frame
ROOT = "#annotate-drawing"


@pytest.fixture(scope="module")
def segmenter(model_weights: Path, tiny_segmenter: Path) -> Path:
    """The tiny segmenter, shipped as the app's box → outline model."""
    folder = model_weights / "segmenters" / DEFAULT_SEGMENTER
    shutil.copytree(tiny_segmenter, folder, dirs_exist_ok=True)
    return folder


def _frame(path: Path) -> np.ndarray:
    """A speckled frame with a dark oval lesion right of centre, saved to ``path``."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[:SIZE[1], :SIZE[0]]
    frame = 90 + 60 * rng.rayleigh(0.6, SIZE[::-1])
    frame[((xx - 190) / 55) ** 2 + ((yy - 100) / 40) ** 2 < 1] *= 0.35
    pixels = np.clip(frame, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def _stroke_lower_left(page) -> None:
    """Paint a short brush stroke in the lower left of the editor, away from the lesion."""
    canvas = _canvas(page).bounding_box()
    assert canvas is not None
    x = canvas["x"] + canvas["width"] * 0.2
    y = canvas["y"] + canvas["height"] * 0.75
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 5):  # few events: each one re-renders the WebGL canvas in software
        page.mouse.move(x + 12 * step, y + 3 * step)
    page.mouse.up()


def _canvas(page):
    """The editor's drawing canvas: the largest visible canvas in it (the editor may hold
    more than one, in no fixed order)."""
    canvases = page.locator("#annotate #annotate-editor canvas")
    areas = [(b["width"] * b["height"] if (b := canvases.nth(i).bounding_box()) else 0, i)
             for i in range(canvases.count())]
    assert areas, "the editor has no canvas"
    return canvases.nth(max(areas)[1])


def _red(page) -> int:
    """How many pixels of the editor canvas are lesion-red; 0 while the canvas does not show
    the image (blank, or the orange progress icon of a pending update)."""
    shot = _canvas(page).screenshot()
    rgb = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), float)
    h, w, _ = rgb.shape
    if rgb[h // 4: 3 * h // 4, w // 4: 3 * w // 4].std() < 10:  # no speckle: not drawn yet
        return 0
    return int(((rgb[..., 0] - rgb[..., 1] > 60) & (rgb[..., 0] - rgb[..., 2] > 60)).sum())


def _wait_for_red(page, ok, *, timeout_s: float = 60, check: bool = True) -> int:
    """Poll the canvas until ``ok(red pixel count)``; the count (0 when not and not
    ``check``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        n = _red(page)
        if ok(n):
            return n
        page.wait_for_timeout(250)
    if check:
        raise AssertionError("the editor did not show the expected lesion layer")
    return 0


def _shot(page, name: str) -> None:
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / name))


def test_suggest_refine_and_save(browser, app_url: str, segmenter: Path, tmp_path: Path,
                                 annotation_database: str) -> None:
    pixels = _frame(tmp_path / "suggest.png")
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    try:
        page.goto(app_url, wait_until="load")
        page.get_by_role("tab", name="Annotate").click()
        tab = page.locator("#annotate")
        tab.locator("#annotate-name input, #annotate-name textarea").first.fill("suki")
        files = tab.locator("#annotate-files input[type=file]")
        files.set_input_files(str(tmp_path / "suggest.png"))
        tab.get_by_role("button", name="Upload", exact=True).click()
        page.wait_for_function(
            "() => document.querySelector('#annotate').innerText.includes('1 added')",
            timeout=30_000)
        image_id = int(re.search(r"image (\d+): suggest", tab.inner_text()).group(1))
        tab.locator("#annotate-image-id input").fill(str(image_id))
        page.locator("#annotate-open").click()
        page.wait_for_function(
            f"() => document.querySelector('#annotate').innerText.includes('Image {image_id}:')",
            timeout=30_000)

        drag(page, ROOT, SIZE, (125, 50), (255, 150))
        [drawn] = overlay_value(page, ROOT)["shapes"]
        (x0, y0), (x1, y1) = drawn["points"]
        box = (round(min(x0, x1)), round(min(y0, y1)), round(max(x0, x1)), round(max(y0, y1)))
        expected = load_segmenter(segmenter).segment(pixels, box)
        assert expected.sum() > 100

        page.locator("#annotate-suggest").click()
        page.wait_for_function(  # the box leaves the overlay: the outline is in the editor
            f"() => JSON.parse(document.querySelector('{ROOT} .eus-shapes').dataset.value)"
            ".shapes.length === 0", timeout=30_000)
        notice = page.locator(".toast-body").filter(has_text="Suggested outline")
        notice.wait_for(timeout=10_000)
        assert "check it" in notice.inner_text().lower()
        page.wait_for_function(  # the header says where this edit started
            "() => document.querySelector('#annotate').innerText"
            ".includes(\"started from the AI's suggested outline\")", timeout=30_000)
        page.wait_for_function(  # the page brought the editor, with the outline, into view
            "() => { const r = document.getElementById('annotate-editor')"
            ".getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }",
            timeout=10_000)
        shown = _wait_for_red(page, lambda n: n > 50)  # the editor drew the new layer
        _shot(page, "annotate_suggested_outline.png")

        for _ in range(3):  # a stroke made while the editor still settles can be dropped
            _stroke_lower_left(page)
            if _wait_for_red(page, lambda n: n > shown + 20, timeout_s=5, check=False):
                break
            _shot(page, "annotate_stroke_missed.png")
        page.locator("#annotate-contrast input[type=range]").fill("1.8")
        page.wait_for_function("() => getComputedStyle(document.querySelector("
                               "'#annotate-editor canvas')).filter.includes('contrast')")
        page.locator("#annotate-save").click()
        page.wait_for_function(
            "() => document.querySelector('#annotate-status').innerText"
            ".includes('Saved revision 1')", timeout=30_000)
        _shot(page, "annotate_suggestion_refined.png")
    finally:
        context.close()

    store = open_store(annotation_database)
    own = next(a for a in store.annotations(image_id) if a.owner == "suki")
    [revision] = store.history(own.id)
    assert revision.tool == "suggestion"
    mask = store.mask(own.id)
    assert mask.shape == SIZE[::-1] and mask[expected].all()  # the whole suggestion...
    stroke = mask & ~expected  # ...plus the brush stroke, in the lower left only
    assert stroke.sum() > 50
    ys, xs = np.nonzero(stroke)
    assert ys.min() > box[3] and xs.max() < box[0]
