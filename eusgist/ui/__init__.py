"""The Gradio app: one module per tab, assembled here.

Nothing in the core package imports this module; it only calls the core.
"""

from __future__ import annotations

import logging
import os

import gradio as gr

from eusgist import __version__
from eusgist.accounts import PasswordCheck
from eusgist.config import DEFAULT_MAX_UPLOAD, DEFAULT_QUEUE_SIZE, QUEUE_SIZE_ENV, settings  # noqa: F401
from eusgist.ui import about, annotate, evaluate, predict, signin

log = logging.getLogger(__name__)

TITLE = "eusgist: GIST vs leiomyoma on endoscopic ultrasound"
#: (every, older than) seconds: how often Gradio deletes its temporary files, and their age.
CACHE_LIFETIME = (3600, 86400)
#: Events run at once; the others wait in Gradio's queue.
CONCURRENCY_LIMIT = 2
#: Events that may wait in the queue (``EUSGIST_QUEUE_SIZE``); one more is refused at once
#: with "Queue is full" (HTTP 503; gradio_client raises ``QueueError``) instead of waiting
#: without bound.


def build_app() -> gr.Blocks:
    """Build the Blocks app with one tab per workflow."""
    # Uploaded images and results are patient data: Gradio deletes its temporary copies
    # after a day (checked hourly) and whenever the server restarts.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_LIFETIME) as app:
        gr.Markdown(f"# {TITLE}\n*Research software, version {__version__}. Not for clinical use.*")
        signin.build(app)  # "Sign in with Hugging Face" on a Space with hf_oauth: true
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
    return settings().queue_size


def configure_queue(app: gr.Blocks, max_size: int | None = None) -> gr.Blocks:
    """At most :data:`CONCURRENCY_LIMIT` events run at once; up to ``max_size`` (default
    :func:`queue_size`) wait, and any more are refused with "Queue is full"."""
    return app.queue(default_concurrency_limit=CONCURRENCY_LIMIT,
                     max_size=max_size or queue_size())


def login() -> PasswordCheck | None:
    """The password check of ``EUSGIST_AUTH_FILE`` (see :mod:`eusgist.accounts`), else None."""
    path = settings().auth_file
    return PasswordCheck(path) if path else None


def launch(host: str | None = None, port: int | None = None, **kwargs: object) -> gr.Blocks:
    """Build the app and serve it; extra keyword arguments go to ``Blocks.launch``.

    Uploads are capped at ``EUSGIST_MAX_UPLOAD`` (default 512 MB); at most two events run at
    once and up to ``EUSGIST_QUEUE_SIZE`` (default 64) wait in Gradio's queue
    (:func:`configure_queue`). With ``EUSGIST_AUTH_FILE`` set, every page and API call needs
    a login, and the signed-in name is the annotator.
    """
    app = configure_queue(build_app())
    kwargs.setdefault("max_file_size", settings().max_upload)
    auth = login()
    if auth is not None:
        kwargs.setdefault("auth", auth)
        kwargs.setdefault("auth_message", "eusgist: sign in with your account "
                          f"({len(auth.accounts)} registered). Research use only.")
    app.launch(server_name=host or default_host(), server_port=port or default_port(), **kwargs)
    return app
