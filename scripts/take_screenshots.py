"""Screenshots of the app with the shipped weights, for the README (docs/img/app_*.png).

Usage: python scripts/take_screenshots.py [OUT_DIR [TAB ...]]   (needs Debian chromium)
Serves the app on a free loopback port with a throwaway annotation database and, for each TAB
(default: predict annotate evaluate), takes one page: predict runs the default model on its
first example (1440×1000 window); annotate uploads a BUSI test image, drags a box around its
lesion and asks for the suggested outline; evaluate evaluates
tests/stats/data/example_scores.csv.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
log = logging.getLogger("screenshots")


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img"
    os.environ["EUSGIST_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/shots.sqlite"
    from playwright.sync_api import sync_playwright

    from eusgist.ui import build_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app()
    app.queue()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    tabs = sys.argv[2:] or ["predict", "annotate", "evaluate"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            if "predict" in tabs:
                shoot_predict(page, out)
            if "annotate" in tabs:
                shoot_annotate(page, out)
            if "evaluate" in tabs:
                shoot_evaluate(page, out)
            browser.close()
    finally:
        app.close()
    log.info("screenshots in %s", out)


def _close_toasts(page: Any) -> None:
    """Close the notices left on the page (they would cover the result)."""
    for button in page.locator(".toast-close").all():
        button.click()


def shoot_predict(page: Any, out: Path) -> None:
    """The default model's first example, predicted."""
    page.get_by_role("tab", name="Predict").click()
    page.wait_for_function("() => (document.querySelector('#predict-examples') || "
                           "{innerText: ''}).innerText.includes('Examples for')", timeout=120_000)
    page.locator("#predict-examples tbody tr").first.click()
    page.wait_for_timeout(2500)
    page.locator("#predict-run").click()
    page.wait_for_function("() => document.querySelector('#predict-decision')"
                           ".innerText.includes('Model output')", timeout=120_000)
    page.wait_for_timeout(1500)
    _close_toasts(page)
    page.screenshot(path=str(out / "app_predict.png"), full_page=True)


def shoot_annotate(page: Any, out: Path) -> None:
    """A BUSI test image opened, a box dragged around its lesion, the outline suggested."""
    import numpy as np

    from eusgist.io import read_mask
    from eusgist.roi_kinds import mask_box

    image = ROOT.parent / "shared" / "data" / "busi" / "images" / "malignant_010.png"
    truth = read_mask(image.parents[1] / "masks" / "malignant_010.png") > 0
    height, width = truth.shape
    x0, y0, x1, y1 = mask_box(truth)
    page.get_by_role("tab", name="Annotate").click()
    tab = page.locator("#annotate")
    tab.locator("#annotate-name input, #annotate-name textarea").first.fill("demo")
    tab.locator("#annotate-files input[type=file]").set_input_files(str(image))
    tab.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_function("() => /image \\d+/.test(document.querySelector('#annotate')"
                           ".innerText)", timeout=60_000)
    image_id = re.search(r"image (\d+)", tab.inner_text()).group(1)
    tab.locator("#annotate-image-id input").fill(image_id)
    page.locator("#annotate-open").click()
    page.wait_for_function("() => document.querySelector('#annotate .eus-stage img')"
                           ".naturalWidth > 0", timeout=60_000)
    svg = page.locator("#annotate-drawing .eus-stage svg")
    svg.evaluate("e => e.scrollIntoView({block: 'center'})")
    box = svg.bounding_box()
    margin = 0.06 * np.array([x1 - x0, y1 - y0])
    corners = [(x0 - margin[0], y0 - margin[1]), (x1 + margin[0], y1 + margin[1])]
    points = [(box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height)
              for x, y in corners]
    page.mouse.move(*points[0])
    page.mouse.down()
    page.mouse.move(*points[1], steps=8)
    page.mouse.up()
    page.locator("#annotate-suggest").click()
    page.locator(".toast-body").filter(has_text="Suggested outline").wait_for(timeout=60_000)
    page.wait_for_timeout(2500)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "app_annotate.png"), full_page=True)


def shoot_evaluate(page: Any, out: Path) -> None:
    """An evaluation of the example scores."""
    page.get_by_role("tab", name="Evaluate").click()
    ev = page.locator("#evaluate")
    ev.locator("input[type=file]").first.set_input_files(
        str(ROOT / "tests" / "stats" / "data" / "example_scores.csv"))
    page.wait_for_function("() => document.querySelector('#evaluate')"
                           ".innerText.includes('combined')", timeout=30_000)
    ev.get_by_role("button", name="Evaluate").click()
    page.wait_for_function("() => document.querySelector('#evaluate')"
                           ".innerText.includes('cases,')", timeout=120_000)
    page.wait_for_timeout(1000)
    _close_toasts(page)
    page.screenshot(path=str(out / "app_evaluate.png"), full_page=True)


if __name__ == "__main__":
    main()
