"""Predict through the running app, as a clinician's browser does: gradio_client on loopback,
cold images (never seen by the feature cache), a box ROI, each shipped bundle.

Starts the full app in this process (``eusgist.ui.build_app`` with the real queue, the
shipped weights), warms each bundle up with one call, then times ``--calls`` ``/predict``
calls per bundle on different BUSI test images with their masks' boxes, and the no-op
endpoint ``/model_card`` as the anchor (what any round trip costs). Prints p50/p90 and the
ratio to the anchor, and where the time goes inside one prediction (the model's own
``timings_ms``). With ``--browser``, also the page load until a clinician can predict
(headless Chromium: the model list filled and the Predict button shown).

    .venv/bin/python bench/bench_app_predict.py [--calls 20] [--browser]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("bench_app_predict")
BUSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "busi" / "manifest.csv"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cases(n: int) -> list[tuple[str, str]]:
    """``n`` different BUSI images (test split first) with their masks' boxes as
    ``x0,y0,x1,y1``."""
    from eusgist.data import read_manifest, train_test_split
    from eusgist.io import read_mask
    from eusgist.roi_kinds import mask_box

    manifest = read_manifest(BUSI)
    train, test = train_test_split(manifest, test_size=0.2, seed=0)
    out = []
    for i in [*test, *train][: n + 1]:
        box = mask_box(read_mask(manifest.mask_path(int(i))) > 0)
        out.append((str(manifest.image_path(int(i))), ",".join(map(str, box))))
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def _page_load(url: str) -> float:
    """Seconds from navigation until the model list is filled and Predict is shown."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#predict-run", state="visible")
        page.wait_for_function(
            "() => { const i = document.querySelector('#predict-model input');"
            " return i && i.value && i.value.length > 0; }")
        elapsed = time.perf_counter() - start
        browser.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--browser", action="store_true", help="also time the page load")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "eusgist", "gradio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from gradio_client import Client, handle_file

    from eusgist.inference import catalog
    from eusgist.ui import build_app, configure_queue

    app = configure_queue(build_app())
    port = _port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        client = Client(url, verbose=False)
        models = [m.path.name for m in catalog.list_models() if m.available]
        cases = _cases(args.calls * len(models) + len(models))
        noop = []
        for _ in range(args.calls):
            start = time.perf_counter()
            client.predict(models[0], api_name="/model_card")
            noop.append(time.perf_counter() - start)
        anchor = statistics.median(noop)
        log.info("machine: %d cores, load %s", len(os.sched_getaffinity(0)),
                 " ".join(f"{x:.2f}" for x in os.getloadavg()))
        log.info("%-28s %8s %8s %10s", "endpoint", "p50 ms", "p90 ms", "p50/no-op")
        log.info("%-28s %8.0f %8.0f %10.1f", "/model_card (no-op)", _pct(noop, 50),
                 _pct(noop, 90), 1.0)
        k = 0
        for name in models:
            image, box = cases[k]
            k += 1
            client.predict(name, handle_file(image), None, None, box, None, "",
                           api_name="/predict")  # warm-up: load the bundle
            times = []
            for _ in range(args.calls):
                image, box = cases[k]
                k += 1
                start = time.perf_counter()
                client.predict(name, handle_file(image), None, None, box, None, "",
                               api_name="/predict")
                times.append(time.perf_counter() - start)
            log.info("%-28s %8.0f %8.0f %10.1f", f"/predict {name}", _pct(times, 50),
                     _pct(times, 90), statistics.median(times) / anchor)
        from eusgist.inference import predict

        image, box = cases[-1]
        for name in models:
            pred = predict(name, image, box=tuple(int(v) for v in box.split(",")))
            log.info("inside %s: %s", name, ", ".join(f"{s} {v:.0f} ms"
                                                     for s, v in pred.timings_ms.items()))
        if args.browser:
            log.info("page load until a clinician can predict: %.2f s", _page_load(url))
    finally:
        app.close()


if __name__ == "__main__":
    main()
