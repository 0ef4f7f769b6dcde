"""The Annotate tab in a real browser: upload, paint with the mouse, save, reload, reopen the
mask as the editable layer and save it unchanged and extended; change the contrast while
painting, undo with the keyboard, save with Ctrl+S; a second annotator sees nothing of it."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

from eusgist.store import open_store


def _eus_like(path: Path) -> Path:
    """A speckled 320×240 frame with a dark oval lesion."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:240, :320]
    frame = 90 + 60 * rng.rayleigh(0.6, (240, 320))
    frame[((xx - 170) / 70) ** 2 + ((yy - 120) / 45) ** 2 < 1] *= 0.35
    Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)).save(path)
    return path


def _open(page, image_id: int, *, painted: bool = False) -> None:
    """Open the image and wait until the editor canvas shows it (it draws asynchronously),
    with the saved mask filled in the lesion layer's red when ``painted``."""
    tab = page.locator("#annotate")
    tab.locator("#annotate-image-id input").fill(str(image_id))
    page.locator("#annotate-open").click()
    page.wait_for_function(
        f"() => document.querySelector('#annotate').innerText.includes('Image {image_id}:')",
        timeout=30_000,
    )
    canvas = tab.locator("#annotate-editor canvas").first
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rgb = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), float)
        h, w, _ = rgb.shape
        speckle = rgb[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].std() > 10  # not blank
        red = ((rgb[..., 0] - rgb[..., 1] > 80) & (rgb[..., 0] - rgb[..., 2] > 80)).sum() > 50
        if speckle and (red or not painted):
            return
        page.wait_for_timeout(250)
    raise AssertionError("the editor did not show the image")


def _stroke(page, dx: float, dy: float) -> None:
    """Paint a short stroke starting ``dx, dy`` pixels from the canvas centre."""
    box = page.locator("#annotate #annotate-editor canvas").first.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy
    page.mouse.move(cx, cy)
    page.mouse.down()
    for step in range(1, 5):  # few events: each one re-renders the WebGL canvas in software
        page.mouse.move(cx + 15 * step, cy + 5 * step)
    page.mouse.up()


def _save(page, revision: int) -> None:
    page.locator("#annotate-save").click()
    page.wait_for_function(
        "() => document.querySelector('#annotate-status').innerText"
        f".includes('Saved revision {revision}')",
        timeout=30_000,
    )


def _red(page) -> int:
    """How many pixels of the editor canvas are lesion-red."""
    shot = page.locator("#annotate #annotate-editor canvas").first.screenshot()
    rgb = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), float)
    return int(((rgb[..., 0] - rgb[..., 1] > 80) & (rgb[..., 0] - rgb[..., 2] > 80)).sum())


def _name(page, who: str) -> None:
    box = page.locator("#annotate-name input, #annotate-name textarea").first
    box.fill(who)
    box.press("Enter")


def _reopen(page, image_id: int) -> None:
    """Reload the page and open the image again: a fresh editor (in headless Chromium the
    editor paints no stroke after a save until it is given a new value)."""
    page.reload(wait_until="load")
    page.get_by_role("tab", name="Annotate").click()
    page.locator("#annotate-name input, #annotate-name textarea").first.fill("dana")
    _open(page, image_id, painted=True)  # the saved mask is the editable layer


def test_paint_save_reload_and_reopen(page, tmp_path: Path, annotation_database: str) -> None:
    page.get_by_role("tab", name="Annotate").click()
    tab = page.locator("#annotate")
    tab.locator("#annotate-files input[type=file]").set_input_files(
        str(_eus_like(tmp_path / "browser_eus.png")))
    tab.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#annotate').innerText.includes('1 added')", timeout=30_000
    )
    image_id = int(re.search(r"image (\d+): browser_eus", tab.inner_text()).group(1))
    tab.locator("#annotate-name input, #annotate-name textarea").first.fill("dana")
    _open(page, image_id)

    _stroke(page, -30, -10)
    _save(page, 1)

    _reopen(page, image_id)
    assert "your revision 1" in tab.inner_text()
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / "app_annotate.png"), full_page=False)

    store = open_store(annotation_database)
    own = next(a for a in store.annotations(image_id) if a.owner == "dana")
    mask = store.mask(own.id)
    assert mask.shape == (240, 320) and 50 < mask.sum() < 240 * 320 // 4

    _save(page, 2)  # unchanged: the same mask
    assert np.array_equal(store.mask(own.id, 2), mask)
    _reopen(page, image_id)
    _stroke(page, -120, 60)  # a stroke elsewhere adds to the reopened mask
    _save(page, 3)
    extended = store.mask(own.id, 3)
    assert extended[mask].all() and extended.sum() > mask.sum() + 50


def test_contrast_keys_save_and_a_blind_second_reader(
    browser, app_url: str, tmp_path: Path, annotation_database: str
) -> None:
    store = open_store(annotation_database)
    image_id = store.add_image(_eus_like(tmp_path / "keys.png").read_bytes(), name="keys.png",
                               patient="P-keys", lesion="L1").image.id
    store.add_annotator("reviewer", "reviewer")
    store.set_label(image_id, "GIST", annotator="reviewer", pathology_confirmed=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab", name="Annotate").click()
    _name(page, "fay")
    _open(page, image_id)
    unpainted = _red(page)  # the toolbar's colour swatch
    _stroke(page, -30, -10)
    painted = _red(page) - unpainted
    assert painted > 200
    # Contrast is applied in the browser: the stroke in progress stays, nothing is reloaded.
    page.locator("#annotate-contrast input[type=range]").fill("2.2")
    page.wait_for_function("() => getComputedStyle(document.querySelector("
                           "'#annotate-editor canvas')).filter.includes('contrast')")
    assert _red(page) - unpainted >= painted * 0.9
    _stroke(page, -30, 110)  # a second stroke, lower down ...
    assert _red(page) - unpainted > painted * 1.5
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Control+z")  # ... undone by the keyboard, not the name box
    page.wait_for_timeout(500)
    name = page.locator("#annotate-name input, #annotate-name textarea").first
    assert name.input_value() == "fay"
    page.locator("#annotate-diagnosis").get_by_text("leiomyoma").click()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => document.querySelector('#annotate-status').innerText"
                           ".includes('Saved revision 1')", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#annotate').innerText"
                           ".includes('fay: your revision 1')", timeout=30_000)  # header
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / "app_annotate_keys.png"))
    own = next(a for a in store.annotations(image_id) if a.owner == "fay")
    mask = store.mask(own.id)
    assert mask[:150].sum() > 50 and mask[165:].sum() == 0  # the undone stroke is not saved
    assert store.reading(own.id)["diagnosis"] == "leiomyoma"
    assert store.reading(own.id)["long_diameter_mm"] is None  # blank stays blank, not 0
    context.close()

    # A second annotator sees the image only: no mask, reading, pathology or other readers.
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab", name="Annotate").click()
    _name(page, "gus")
    _open(page, image_id)
    tab = page.locator("#annotate")
    text = tab.inner_text()
    assert "gus: no annotation of yours yet" in text and "fay" not in text
    assert "gus: annotator" in text
    assert _red(page) < unpainted + painted / 10
    assert page.locator("#annotate input[type=radio]:checked").count() == 1  # the worklist
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / "app_annotate_blind.png"))
    context.close()
