"""``serve``: start the web app (same as ``python app.py``)."""

from __future__ import annotations

import argparse

NAME = "serve"
HELP = "Start the Gradio web app."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Host and port options (defaults: GRADIO_SERVER_NAME/PORT, else 127.0.0.1:7860)."""
    parser.add_argument("--host", default=None, help="interface to listen on")
    parser.add_argument("--port", type=int, default=None, help="TCP port")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from eusgist.ui import launch  # Gradio is imported only when serving.

    launch(args.host, args.port)
    return 0
