"""The Gradio app: one module per tab, assembled here.

Nothing in the core package imports this module; it only calls the core.
"""

from __future__ import annotations

import logging
import os

import gradio as gr

from eusgist import __version__
from eusgist.ui import about, annotate, evaluate, predict

log = logging.getLogger(__name__)

TITLE = "eusgist: GIST vs leiomyoma on endoscopic ultrasound"


def build_app() -> gr.Blocks:
    """Build the Blocks app with one tab per workflow."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"# {TITLE}\n*Research software, version {__version__}. Not for clinical use.*")
        with gr.Tabs():
            predict.build()
            annotate.build()
            evaluate.build()
            about.build()
    return app


def default_host() -> str:
    """Loopback locally; all interfaces on a Hugging Face Space (``SPACE_ID`` set)."""
    return os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1")


def default_port() -> int:
    """``GRADIO_SERVER_PORT`` or 7860."""
    return int(os.environ.get("GRADIO_SERVER_PORT", "7860"))


def launch(host: str | None = None, port: int | None = None, **kwargs: object) -> gr.Blocks:
    """Build the app and serve it; extra keyword arguments go to ``Blocks.launch``."""
    app = build_app()
    app.queue(default_concurrency_limit=2)
    app.launch(server_name=host or default_host(), server_port=port or default_port(), **kwargs)
    return app
