"""Fixtures for UI tests: a running app on a free port, a gradio_client, headless Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import free_port

gr = pytest.importorskip("gradio")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session", autouse=True)
def annotation_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway SQLite annotation database for the session (never annotations/);
    ``reviewer`` is registered as a reviewer."""
    url = f"sqlite:///{tmp_path_factory.mktemp('annotations') / 'ui.sqlite'}"
    saved = {k: os.environ.get(k) for k in ("EUSGIST_DATABASE_URL", "EUSGIST_REVIEWERS")}
    os.environ.update(EUSGIST_DATABASE_URL=url, EUSGIST_REVIEWERS="reviewer")
    try:
        yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session", autouse=True)
def model_weights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty weights folder for the session (never weights/); prediction tests fill it."""
    folder = tmp_path_factory.mktemp("weights")
    saved = os.environ.get("EUSGIST_WEIGHTS_DIR")
    os.environ["EUSGIST_WEIGHTS_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("EUSGIST_WEIGHTS_DIR", None)
        else:
            os.environ["EUSGIST_WEIGHTS_DIR"] = saved


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The full app, served on loopback for the whole session."""
    from eusgist.ui import build_app, configure_queue

    app = configure_queue(build_app())  # the queue limits of a real launch
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright; skipped when Chromium is absent."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.which(executable):
        pytest.skip("Chromium not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: object, app_url: str) -> Iterator[object]:
    """A fresh page on the app, loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    # Not "networkidle": per-session state (gr.State) keeps a heartbeat connection open.
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab").first.wait_for(timeout=60_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def models(model_weights: Path, prediction_bundles):
    """The tiny tabular and CNN test bundles, copied into the app's weights folder."""
    for bundle in (prediction_bundles.tabular, prediction_bundles.cnn):
        shutil.copytree(bundle, model_weights / bundle.name, dirs_exist_ok=True)
    return prediction_bundles
