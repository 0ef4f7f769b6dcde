"""Box → outline suggestions: a box-prompted lesion segmenter (AI-assisted annotation).

The annotator (or a box-annotated dataset) gives a box; the segmenter returns the lesion
outline inside it, which the annotator refines. :mod:`.geometry` turns a box into the model's
crop and the crop's mask back into the image, :mod:`.net` is the network (a small U-Net on
ImageNet EfficientNet-Lite features), :mod:`.bundle` saves and loads it, :mod:`.train` fits
it and :mod:`.predict` applies it.
"""

from eusgist.segment.bundle import DEFAULT_SEGMENTER, Segmenter, load_segmenter
from eusgist.segment.predict import segment, segment_manifest

__all__ = ["DEFAULT_SEGMENTER", "Segmenter", "load_segmenter", "segment", "segment_manifest"]
