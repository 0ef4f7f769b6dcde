"""Image augmentation: the guo2024 recipe and standard on-the-fly transforms.

Every transform is a small callable ``t(image, rng) -> image`` on a float32 array of shape
``(C, H, W)`` (or ``(H, W)``) with values in ``[0, 1]``; deterministic transforms ignore
``rng``. They compose with :class:`Compose`, :class:`RandomApply` and :class:`RandomChoice`.

guo2024 enlarged its training set by rotation, flipping, CLAHE (contrast-limited adaptive
histogram equalisation on tiles), log contrast and sigmoid contrast: each training image
plus one copy per recipe transform (:data:`GUO2024_RECIPE`, :func:`expand_offline`).
The contrast formulas follow scikit-image's ``adjust_log`` and ``adjust_sigmoid``; CLAHE
follows OpenCV's tile layout and bilinear interpolation between tile mappings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import ndimage

from eusgist.errors import EusgistError


class Transform(Protocol):
    """An augmentation step: array in ``[0, 1]`` and a random generator in, array out."""

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def _per_channel(image: np.ndarray, fn) -> np.ndarray:
    """Apply a 2D function to each channel of ``(C, H, W)`` (or to ``(H, W)`` directly)."""
    if image.ndim == 2:
        return fn(image).astype(np.float32)
    if image.ndim == 3:
        return np.stack([fn(c) for c in image]).astype(np.float32)
    raise EusgistError(f"expected an image of shape (H, W) or (C, H, W), got {image.shape}")


@dataclass(frozen=True)
class Rotate:
    """Rotate counter-clockwise by ``angle`` degrees about the centre (bilinear, same size).

    Pixels that come from outside the image are filled by reflection. Multiples of 90°
    are exact (:func:`numpy.rot90` for square images).
    """

    angle: float

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        k, rest = divmod(self.angle, 90.0)
        if rest == 0 and image.shape[-1] == image.shape[-2]:
            turned = np.rot90(image, int(k) % 4, axes=(-2, -1))
            return np.ascontiguousarray(turned, dtype=np.float32)
        return _per_channel(image, lambda c: np.clip(
            ndimage.rotate(c, self.angle, reshape=False, order=1, mode="reflect"), 0.0, 1.0))


@dataclass(frozen=True)
class Flip:
    """Mirror the image: ``axis=-1`` left-right (horizontal), ``axis=-2`` up-down."""

    axis: int = -1

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if self.axis not in (-1, -2):
            raise EusgistError(f"Flip axis must be -1 (horizontal) or -2 (vertical), got {self.axis}")
        return np.ascontiguousarray(np.flip(image, axis=self.axis), dtype=np.float32)


@dataclass(frozen=True)
class LogContrast:
    """Log contrast ``out = clip(gain * log2(1 + x), 0, 1)`` (scikit-image ``adjust_log``)."""

    gain: float = 1.0

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return np.clip(self.gain * np.log2(1.0 + image), 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class SigmoidContrast:
    """Sigmoid contrast ``out = 1 / (1 + exp(gain * (cutoff - x)))`` (``adjust_sigmoid``)."""

    cutoff: float = 0.5
    gain: float = 10.0

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(self.gain * (self.cutoff - image)))).astype(np.float32)


@dataclass(frozen=True)
class CLAHE:
    """Contrast-limited adaptive histogram equalisation.

    The image is cut into ``tiles`` (rows, columns) after reflect-padding to a multiple of
    the tile grid; each tile's ``nbins``-bin histogram is clipped at ``clip_limit`` times
    its mean bin count, the excess is spread evenly over all bins, and its normalised
    cumulative sum is the tile's mapping ``m[bin] = sum(h[:bin + 1]) / n_pixels``. A pixel
    at ``(y, x)`` sits at tile coordinate ``(y / tile_h - 0.5, x / tile_w - 0.5)`` and gets
    the bilinear blend of the four nearest tiles' mappings (clamped at the borders), as in
    OpenCV. ``clip_limit=inf`` with one tile is plain histogram equalisation.
    """

    clip_limit: float = 2.0
    tiles: tuple[int, int] = (8, 8)
    nbins: int = 256

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if self.clip_limit <= 0 or min(self.tiles) < 1 or self.nbins < 2:
            raise EusgistError(f"CLAHE needs clip_limit > 0, tiles >= 1 and nbins >= 2, got {self}")
        return _per_channel(image, self._channel)

    def _channel(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape
        ny, nx = self.tiles
        th, tw = -(-h // ny), -(-w // nx)
        q = np.minimum((np.clip(image, 0.0, 1.0) * self.nbins).astype(np.int64), self.nbins - 1)
        mode = "reflect" if min(h, w) > 1 else "edge"
        padded = np.pad(q, ((0, th * ny - h), (0, tw * nx - w)), mode=mode)
        blocks = padded.reshape(ny, th, nx, tw).transpose(0, 2, 1, 3).reshape(ny * nx, th * tw)
        hist = np.stack([np.bincount(b, minlength=self.nbins) for b in blocks]).astype(np.float64)
        limit = self.clip_limit * th * tw / self.nbins
        excess = np.maximum(hist - limit, 0.0).sum(axis=1, keepdims=True)
        hist = np.minimum(hist, limit) + excess / self.nbins
        maps = (np.cumsum(hist, axis=1) / (th * tw)).reshape(ny, nx, self.nbins)

        def grid(n: int, size: int, tiles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            pos = np.arange(n) / size - 0.5
            lo = np.floor(pos).astype(np.int64)
            frac = pos - lo
            return np.clip(lo, 0, tiles - 1), np.clip(lo + 1, 0, tiles - 1), frac

        y1, y2, fy = grid(h, th, ny)
        x1, x2, fx = grid(w, tw, nx)
        fy, fx = fy[:, None], fx[None, :]
        def row(ty: np.ndarray) -> np.ndarray:
            left, right = maps[ty[:, None], x1[None, :], q], maps[ty[:, None], x2[None, :], q]
            return (1 - fx) * left + fx * right

        return (1 - fy) * row(y1) + fy * row(y2)


@dataclass(frozen=True)
class RandomRotate:
    """Rotate by an angle drawn uniformly from ``[-max_angle, max_angle]`` degrees."""

    max_angle: float = 15.0

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return Rotate(float(rng.uniform(-self.max_angle, self.max_angle)))(image)


@dataclass(frozen=True)
class RandomFlip:
    """Flip left-right with probability ``p_horizontal`` and up-down with ``p_vertical``."""

    p_horizontal: float = 0.5
    p_vertical: float = 0.0

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, v = rng.random(2)
        if h < self.p_horizontal:
            image = Flip(-1)(image)
        if v < self.p_vertical:
            image = Flip(-2)(image)
        return image


@dataclass(frozen=True)
class RandomBrightnessContrast:
    """``out = clip((x - 0.5) * c + 0.5 + b, 0, 1)``.

    ``c ~ U(1 - contrast, 1 + contrast)`` and ``b ~ U(-brightness, brightness)``.
    """

    brightness: float = 0.1
    contrast: float = 0.1

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c = rng.uniform(1.0 - self.contrast, 1.0 + self.contrast)
        b = rng.uniform(-self.brightness, self.brightness)
        return np.clip((image - 0.5) * c + 0.5 + b, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class RandomApply:
    """Apply ``transform`` with probability ``p``."""

    transform: Transform
    p: float = 0.5

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.transform(image, rng) if rng.random() < self.p else image


@dataclass(frozen=True)
class RandomChoice:
    """Apply one of ``transforms``, chosen uniformly."""

    transforms: tuple[Transform, ...]

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.transforms[int(rng.integers(len(self.transforms)))](image, rng)


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order."""

    transforms: tuple[Transform, ...]

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for t in self.transforms:
            image = t(image, rng)
        return image


#: guo2024's offline expansion: one extra copy of each training image per transform.
GUO2024_RECIPE: tuple[Transform, ...] = (
    Rotate(90.0), Flip(-1), CLAHE(), LogContrast(), SigmoidContrast(),
)


def standard_augmentation() -> Compose:
    """On-the-fly training augmentation: flips, small rotations, brightness/contrast jitter."""
    return Compose((RandomFlip(0.5, 0.5), RandomRotate(15.0), RandomBrightnessContrast(0.1, 0.1)))


def expand_offline(
    images: np.ndarray, recipe: Sequence[Transform] = GUO2024_RECIPE, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Originals followed by one transformed copy of every image per recipe step.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W), values in [0, 1]
    recipe : transforms applied one at a time (default :data:`GUO2024_RECIPE`, giving 6·N)
    seed : seeds the generator handed to random transforms

    Returns
    -------
    expanded : ndarray, shape ((1 + len(recipe)) · N, C, H, W)
    source : ndarray of int, the original index of each expanded image
    """
    rng = np.random.default_rng(seed)
    out = [np.asarray(images, dtype=np.float32)]
    out += [np.stack([t(im, rng) for im in images]) for t in recipe]
    return np.concatenate(out), np.tile(np.arange(len(images)), 1 + len(recipe))
