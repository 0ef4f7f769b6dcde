"""Domain errors become messages in the browser, never stack traces.

A user's error (:func:`eusgist.errors.is_user_error`) is shown with its message; anything
else is a bug: logged with its traceback and shown as an internal error, so an internal
message (a numpy shape complaint, say) never reads as advice to the user.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import gradio as gr

from eusgist.errors import is_user_error

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

#: What the browser shows for a bug (the traceback goes to the server's log).
INTERNAL_ERROR = "Internal error: this is a bug in eusgist, not a problem with your input."


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap an event handler: a user's error → ``gr.Error`` with its message; any other
    exception → ``gr.Error`` saying it is an internal error (traceback logged)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            if is_user_error(exc):
                log.info("%s refused: %s", fn.__name__, exc)
                raise gr.Error(str(exc)) from exc
            log.exception("%s failed", fn.__name__)
            raise gr.Error(INTERNAL_ERROR) from exc

    return wrapper
