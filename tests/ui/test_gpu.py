"""ZeroGPU wiring: handlers are wrapped in ``spaces.GPU`` only on a ZeroGPU Space."""

from __future__ import annotations

import sys
import types

import gradio as gr
import pytest

from eusgist.errors import EusgistError
from eusgist.ui import evaluate, gpu, predict
from eusgist.ui.errors import user_errors


def test_identity_off_zero_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setitem(sys.modules, "spaces", None)  # importing it would fail
    assert not gpu.zero_gpu()

    def handler() -> int:
        return 1

    assert gpu.on_gpu(30)(handler) is handler
    # The app's handlers are plain user_errors wrappers around the functions.
    assert predict.predict_image.__wrapped__.__name__ == "predict_image"
    assert evaluate.evaluate_images.__wrapped__.__name__ == "evaluate_images"


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_spaces_gpu_on_zero_gpu(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    calls: list[int] = []

    def fake_gpu(*, duration: int):
        calls.append(duration)

        def decorate(fn):
            def run_in_worker(*args, **kwargs):
                return ("on gpu", fn(*args, **kwargs))
            return run_in_worker
        return decorate

    monkeypatch.setenv("SPACES_ZERO_GPU", value)
    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=fake_gpu))

    @gpu.on_gpu(gpu.PREDICT_SECONDS)
    @user_errors
    def handler(x: int) -> int:
        if x < 0:
            raise EusgistError("x must be non-negative")
        return x

    assert calls == [gpu.PREDICT_SECONDS]
    assert handler(2) == ("on gpu", 2)
    # The message the worker raises is a gr.Error, which spaces passes to the browser.
    with pytest.raises(gr.Error, match="non-negative"):
        handler(-1)
