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
#: Largest upload the server accepts (``EUSGIST_MAX_UPLOAD``, Gradio size syntax).
DEFAULT_MAX_UPLOAD = "512mb"


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
    """Build the app and serve it; extra keyword arguments go to ``Blocks.launch``.

    Uploads are capped at ``EUSGIST_MAX_UPLOAD`` (default 512 MB); at most two events run at
    once and the rest wait in Gradio's queue.
    """
    app = build_app()
    app.queue(default_concurrency_limit=2)
    kwargs.setdefault("max_file_size", os.environ.get("EUSGIST_MAX_UPLOAD", DEFAULT_MAX_UPLOAD))
    app.launch(server_name=host or default_host(), server_port=port or default_port(), **kwargs)
    return app
