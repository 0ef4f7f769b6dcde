"""The Gradio app: one module per tab, assembled here.

Nothing in the core package imports this module; it only calls the core.
"""

from __future__ import annotations

import logging
import os

import gradio as gr

from eusgist import __version__
from eusgist.accounts import AUTH_FILE_ENV, PasswordCheck
from eusgist.ui import about, annotate, evaluate, predict

log = logging.getLogger(__name__)

TITLE = "eusgist: GIST vs leiomyoma on endoscopic ultrasound"
#: Largest upload the server accepts (``EUSGIST_MAX_UPLOAD``, Gradio size syntax).
DEFAULT_MAX_UPLOAD = "512mb"
#: (every, older than) seconds: how often Gradio deletes its temporary files, and their age.
CACHE_LIFETIME = (3600, 86400)
#: Events run at once; the others wait in Gradio's queue.
CONCURRENCY_LIMIT = 2
#: Events that may wait in the queue (``EUSGIST_QUEUE_SIZE``); one more is refused at once
#: with "Queue is full" (HTTP 503; gradio_client raises ``QueueError``) instead of waiting
#: without bound.
DEFAULT_QUEUE_SIZE = 64
QUEUE_SIZE_ENV = "EUSGIST_QUEUE_SIZE"


def build_app() -> gr.Blocks:
    """Build the Blocks app with one tab per workflow."""
    # Uploaded images and results are patient data: Gradio deletes its temporary copies
    # after a day (checked hourly) and whenever the server restarts.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_LIFETIME) as app:
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


def queue_size() -> int:
    """``EUSGIST_QUEUE_SIZE`` (a positive integer), else :data:`DEFAULT_QUEUE_SIZE`."""
    text = os.environ.get(QUEUE_SIZE_ENV, "").strip()
    if not text:
        return DEFAULT_QUEUE_SIZE
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"{QUEUE_SIZE_ENV} must be a positive integer, got {text!r}")
    return size


def configure_queue(app: gr.Blocks, max_size: int | None = None) -> gr.Blocks:
    """At most :data:`CONCURRENCY_LIMIT` events run at once; up to ``max_size`` (default
    :func:`queue_size`) wait, and any more are refused with "Queue is full"."""
    return app.queue(default_concurrency_limit=CONCURRENCY_LIMIT,
                     max_size=max_size or queue_size())


def login() -> PasswordCheck | None:
    """The password check of ``EUSGIST_AUTH_FILE`` (see :mod:`eusgist.accounts`), else None."""
    path = os.environ.get(AUTH_FILE_ENV, "").strip()
    return PasswordCheck(path) if path else None


def launch(host: str | None = None, port: int | None = None, **kwargs: object) -> gr.Blocks:
    """Build the app and serve it; extra keyword arguments go to ``Blocks.launch``.

    Uploads are capped at ``EUSGIST_MAX_UPLOAD`` (default 512 MB); at most two events run at
    once and up to ``EUSGIST_QUEUE_SIZE`` (default 64) wait in Gradio's queue
    (:func:`configure_queue`). With ``EUSGIST_AUTH_FILE`` set, every page and API call needs
    a login, and the signed-in name is the annotator.
    """
    app = configure_queue(build_app())
    kwargs.setdefault("max_file_size", os.environ.get("EUSGIST_MAX_UPLOAD", DEFAULT_MAX_UPLOAD))
    auth = login()
    if auth is not None:
        kwargs.setdefault("auth", auth)
        kwargs.setdefault("auth_message", "eusgist: sign in with your account "
                          f"({len(auth.accounts)} registered). Research use only.")
    app.launch(server_name=host or default_host(), server_port=port or default_port(), **kwargs)
    return app
