"""What the segmenter sees inside a box, as features: how the lesion fills it, how sure its edge is.

A clinician's box says nothing about the lesion's margin, which decides most readings
(circumscribed vs ill-defined, irregular). The box-prompted segmenter does: its outline
gives the fill, solidity and roundness of the lesion in the box, and its probability map
gives how sharp the margin is (an ill-defined edge leaves a wide band of uncertain pixels).
These ``seg_*`` columns let a box model read the margin without an expert outline.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from eusgist.features.table import SEG_PREFIX

if TYPE_CHECKING:
    from eusgist.segment.bundle import Segmenter
    from eusgist.segment.geometry import Box

__all__ = ["SEG_FEATURES", "SEG_PREFIX", "outline_features", "segmenter_id", "shape_features"]

#: The features, in column order, with what each says (the model card's glossary).
SEG_FEATURES: dict[str, str] = {
    "seg_fill": "share of the box the lesion fills",
    "seg_margin_uncertainty": "how unsure the lesion's margin is (segmenter, mean over the box)",
    "seg_margin_band": "width of the unsure margin band (share of the box, 0.2 < p < 0.8)",
    "seg_solidity": "solidity, area over convex hull (low: lobulated, irregular)",
    "seg_circularity": "roundness, 4*pi*area/perimeter^2 (1: a disc)",
    "seg_eccentricity": "elongation (0: round, 1: a line)",
    "seg_box_aspect": "box height over width (taller than wide: > 1)",
}
#: Probability band counted as an unsure margin.
_BAND = (0.2, 0.8)


def segmenter_id(segmenter: Segmenter) -> str:
    """A short hash of the segmenter's weights (cache keys, provenance)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(segmenter.net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def outline_features(segmenter: Segmenter, image: np.ndarray, box: Box) -> dict[str, float]:
    """The :data:`SEG_FEATURES` of the lesion the segmenter finds inside ``box``."""
    from eusgist.segment import geometry  # torch: only when segmenting

    x0, y0, x1, y1 = geometry.check_box(box, image.shape)
    prob = segmenter.probabilities(image, (x0, y0, x1, y1))[y0:y1, x0:x1].astype(np.float64)
    return shape_features(prob, threshold=0.5)


def shape_features(prob: np.ndarray, *, threshold: float) -> dict[str, float]:
    """:data:`SEG_FEATURES` of a probability map covering exactly the box."""
    height, width = prob.shape
    region = prob > threshold
    labels, n = ndimage.label(region)
    out = {
        "seg_margin_uncertainty": float((4.0 * prob * (1.0 - prob)).mean()),
        "seg_margin_band": float(((prob > _BAND[0]) & (prob < _BAND[1])).mean()),
        "seg_box_aspect": height / width,
    }
    if n == 0:  # nothing found: an empty outline (the classifier imputes nothing here)
        out.update(seg_fill=0.0, seg_solidity=0.0, seg_circularity=0.0, seg_eccentricity=0.0)
        return {name: out[name] for name in SEG_FEATURES}
    sizes = ndimage.sum(region, labels, index=range(1, n + 1))
    largest = labels == int(np.argmax(sizes)) + 1
    area = float(largest.sum())
    ys, xs = np.nonzero(largest)
    perimeter = float((largest & ~ndimage.binary_erosion(largest)).sum())
    try:  # hull of pixel centres, grown by half a pixel around its edge
        hull = ConvexHull(np.c_[xs, ys]).volume + perimeter / 2.0
    except (QhullError, ValueError):  # a line or a few pixels
        hull = area
    eig = np.sort(np.linalg.eigvalsh(np.cov(np.c_[xs, ys].T))) if area > 2 else np.ones(2)
    out.update(
        seg_fill=area / (height * width),
        seg_solidity=min(1.0, area / max(hull, 1.0)),
        seg_circularity=4.0 * np.pi * area / max(perimeter, 1.0) ** 2,
        seg_eccentricity=float(np.sqrt(max(0.0, 1.0 - eig[0] / max(eig[1], 1e-9)))),
    )
    return {name: float(out[name]) for name in SEG_FEATURES}
