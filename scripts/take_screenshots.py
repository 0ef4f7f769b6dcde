"""Screenshots of the app with the shipped weights, for the README (docs/img/app_*.png).

Usage: python scripts/take_screenshots.py [OUT_DIR]   (needs Debian chromium)
Serves the app on a free loopback port with a throwaway annotation database, runs one
prediction on a shipped example and one evaluation of tests/stats/data/example_scores.csv.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from pathlib import Path

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
    example = ROOT / "examples" / "phantom-demo-combined-svm"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            page.get_by_role("tab", name="Predict").click()
            page.locator("#predict-model input").click()
            page.get_by_role("option").filter(has_text="phantom-demo").click()
            tab = page.locator("#predict")
            tab.locator("#predict-image input[type=file]").set_input_files(
                str(example / "GIST_P0006-L1_0.png"))
            tab.locator("#predict-mask input[type=file]").set_input_files(
                str(example / "GIST_P0006-L1_0_mask.png"))
            tab.get_by_label("Pixel spacing, mm (if not in the file)").fill("0.1591")
            page.wait_for_timeout(1500)
            tab.locator("#predict-run").click()
            page.wait_for_function("() => document.querySelector('#predict-decision')"
                                   ".innerText.includes('Model output')", timeout=120_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(out / "app_predict.png"), full_page=True)
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
            page.screenshot(path=str(out / "app_evaluate.png"), full_page=True)
            browser.close()
    finally:
        app.close()
    log.info("screenshots in %s", out)


if __name__ == "__main__":
    main()
