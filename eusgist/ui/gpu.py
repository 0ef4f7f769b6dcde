"""ZeroGPU support: on a Hugging Face ZeroGPU Space, GPU work runs inside ``spaces.GPU``.

A ZeroGPU Space (``SPACES_ZERO_GPU`` set) lends a GPU only while a function decorated with
``spaces.GPU`` runs. Elsewhere (a local run, a CPU Space, a dedicated-GPU Space) the handlers
are returned unchanged and :mod:`eusgist.inference` picks CUDA whenever it is available.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

#: Seconds of GPU a single Predict call may hold (model load, features, SHAP/Grad-CAM).
PREDICT_SECONDS = 60
#: Seconds of GPU one image-set evaluation may hold (ZeroGPU's per-call ceiling).
EVALUATE_SECONDS = 120


def zero_gpu() -> bool:
    """Whether this process runs on a ZeroGPU Space."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in {"1", "true", "yes"}


def on_gpu(duration: int) -> Callable[[F], F]:
    """Decorator: ``spaces.GPU(duration=...)`` on ZeroGPU, the identity elsewhere.

    Put it outside :func:`eusgist.ui.errors.user_errors`, so the ``gr.Error`` raised in the
    GPU worker reaches the browser with its message.
    """
    if not zero_gpu():
        return lambda fn: fn
    import spaces  # preinstalled on ZeroGPU Spaces

    return spaces.GPU(duration=duration)
