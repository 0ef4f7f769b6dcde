"""Domain errors become messages in the browser, never stack traces."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import gradio as gr

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap an event handler: ValueError/OSError → ``gr.Error`` with the same message."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (ValueError, OSError) as exc:
            log.info("%s refused: %s", fn.__name__, exc)
            raise gr.Error(str(exc)) from exc

    return wrapper
