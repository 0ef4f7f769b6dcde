"""Box → outline suggestions: a box-prompted lesion segmenter (AI-assisted annotation).

The annotator (or a box-annotated dataset) gives a box; the segmenter returns the lesion
outline inside it, which the annotator refines. :mod:`.geometry` turns a box into the model's
crop and the crop's mask back into the image, :mod:`.net` is the network (a small U-Net on
ImageNet EfficientNet-Lite features), :mod:`.bundle` saves and loads it, :mod:`.train` fits
it and :mod:`.predict` applies it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eusgist.segment.bundle import DEFAULT_SEGMENTER, Segmenter, load_segmenter
    from eusgist.segment.predict import segment, segment_manifest

__all__ = ["DEFAULT_SEGMENTER", "Segmenter", "load_segmenter", "segment", "segment_manifest"]
_WHERE = {"DEFAULT_SEGMENTER": "bundle", "Segmenter": "bundle", "load_segmenter": "bundle",
          "segment": "predict", "segment_manifest": "predict"}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (torch loads only when a segmenter does)."""
    if name in _WHERE:
        return getattr(import_module(f"eusgist.segment.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
