"""Each augmentation against its formula (expected values written from the definition)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eusgist.augment import (
    CLAHE,
    GUO2024_RECIPE,
    Compose,
    Flip,
    LogContrast,
    RandomApply,
    RandomBrightnessContrast,
    RandomChoice,
    RandomFlip,
    RandomRotate,
    Rotate,
    SigmoidContrast,
    expand_offline,
    standard_augmentation,
)


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).random((1, 16, 16), dtype=np.float32)


def test_rotate_multiples_of_90_are_rot90(image: np.ndarray) -> None:
    assert np.array_equal(Rotate(90)(image), np.rot90(image, 1, axes=(1, 2)))
    assert np.array_equal(Rotate(-90)(image), np.rot90(image, 3, axes=(1, 2)))
    assert np.array_equal(Rotate(360)(image), image)


def test_rotate_moves_a_point_by_the_rotation_matrix() -> None:
    img = np.zeros((41, 41), np.float32)
    img[20, 30] = 1.0  # 10 px right of the centre (20, 20)
    out = Rotate(30.0)(img)
    y, x = np.unravel_index(np.argmax(out), out.shape)
    # counter-clockwise on screen: column = cx + r cos θ, row = cy - r sin θ
    theta = math.radians(30)
    assert (y, x) == (round(20 - 10 * math.sin(theta)), round(20 + 10 * math.cos(theta)))
    assert out.shape == img.shape and out.min() >= 0 and out.max() <= 1


def test_flip(image: np.ndarray) -> None:
    assert np.array_equal(Flip(-1)(image), image[:, :, ::-1])
    assert np.array_equal(Flip(-2)(image), image[:, ::-1, :])
    with pytest.raises(ValueError, match="axis"):
        Flip(0)(image)


def test_log_contrast(image: np.ndarray) -> None:
    assert np.allclose(LogContrast()(image), np.log2(1 + image))
    # 2·log2(1.5) > 1 clips
    assert LogContrast(2.0)(np.array([[0.0, 0.5, 1.0]]))[0] == pytest.approx([0, 1, 1])


def test_sigmoid_contrast(image: np.ndarray) -> None:
    assert np.allclose(SigmoidContrast(0.4, 7.0)(image), 1 / (1 + np.exp(7.0 * (0.4 - image))))
    assert SigmoidContrast()(np.array([[0.5]]))[0, 0] == pytest.approx(0.5)


def _clahe_reference(img: np.ndarray, clip: float, ny: int, nx: int, nbins: int) -> np.ndarray:
    """CLAHE by explicit loops, straight from the docstring."""
    h, w = img.shape
    th, tw = -(-h // ny), -(-w // nx)
    q = np.minimum((img * nbins).astype(int), nbins - 1)
    pad = np.pad(q, ((0, th * ny - h), (0, tw * nx - w)), mode="reflect")
    maps = np.zeros((ny, nx, nbins))
    for i in range(ny):
        for j in range(nx):
            tile = pad[i * th:(i + 1) * th, j * tw:(j + 1) * tw].ravel()
            hist = np.bincount(tile, minlength=nbins).astype(float)
            limit = clip * th * tw / nbins
            excess = np.maximum(hist - limit, 0).sum()
            hist = np.minimum(hist, limit) + excess / nbins
            maps[i, j] = np.cumsum(hist) / (th * tw)
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            ty, tx = y / th - 0.5, x / tw - 0.5
            y0, x0 = math.floor(ty), math.floor(tx)
            a, b = ty - y0, tx - x0
            yy = [min(max(v, 0), ny - 1) for v in (y0, y0 + 1)]
            xx = [min(max(v, 0), nx - 1) for v in (x0, x0 + 1)]
            m = lambda r, c: maps[yy[r], xx[c], q[y, x]]  # noqa: E731
            top = (1 - b) * m(0, 0) + b * m(0, 1)
            bottom = (1 - b) * m(1, 0) + b * m(1, 1)
            out[y, x] = (1 - a) * top + a * bottom
    return out


def test_clahe_matches_loop_reference() -> None:
    img = np.random.default_rng(1).beta(2, 5, size=(19, 23)).astype(np.float32)
    out = CLAHE(clip_limit=1.5, tiles=(3, 4), nbins=16)(img)
    assert np.allclose(out, _clahe_reference(img, 1.5, 3, 4, 16), atol=1e-6)


def test_clahe_one_tile_no_clip_is_histogram_equalisation() -> None:
    img = np.array([[0.0, 0.0, 0.0, 0.5], [0.5, 0.9, 0.9, 0.9]], np.float32)
    out = CLAHE(clip_limit=math.inf, tiles=(1, 1), nbins=4)(img)
    # bins: 0 -> 3 px, 2 -> 2 px, 3 -> 3 px; cdf = 3/8, 5/8, 8/8
    assert np.allclose(out, [[3 / 8, 3 / 8, 3 / 8, 5 / 8], [5 / 8, 1, 1, 1]])


def test_clahe_clipping_redistributes_excess() -> None:
    img = np.zeros((4, 4), np.float32)
    img[0, 0] = 0.99  # 15 px in bin 0, 1 px in bin 1 (nbins=2)
    out = CLAHE(clip_limit=1.0, tiles=(1, 1), nbins=2)(img)
    # limit = 1·16/2 = 8; hist (15, 1) -> (8, 1) + 7/2 each = (11.5, 4.5); cdf = 11.5/16, 1
    assert out[1, 1] == pytest.approx(11.5 / 16) and out[0, 0] == pytest.approx(1.0)


def test_clahe_rejects_bad_settings(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="clip_limit"):
        CLAHE(clip_limit=0)(image)


def test_random_transforms_follow_their_draws(image: np.ndarray) -> None:
    rng, ref = np.random.default_rng(3), np.random.default_rng(3)
    c, b = ref.uniform(0.8, 1.2), ref.uniform(-0.2, 0.2)
    expected = np.clip((image - 0.5) * c + 0.5 + b, 0, 1)
    assert np.allclose(RandomBrightnessContrast(0.2, 0.2)(image, rng), expected)
    h, v = np.random.default_rng(4).random(2)
    expected = image[:, :, ::-1] if h < 0.5 else image
    expected = expected[:, ::-1, :] if v < 0.5 else expected
    assert np.array_equal(RandomFlip(0.5, 0.5)(image, np.random.default_rng(4)), expected)
    angle = np.random.default_rng(5).uniform(-10, 10)
    assert np.allclose(RandomRotate(10)(image, np.random.default_rng(5)), Rotate(angle)(image))
    assert RandomApply(Flip(), p=0.0)(image, rng) is image
    assert np.array_equal(RandomChoice((Flip(-1),))(image, rng), image[:, :, ::-1])
    assert np.array_equal(Compose((Flip(-1), Flip(-1)))(image, rng), image)
    out = standard_augmentation()(image, rng)
    assert out.shape == image.shape and out.dtype == np.float32 and 0 <= out.min() <= out.max() <= 1


def test_expand_offline_is_guo2024_5x() -> None:
    images = np.random.default_rng(2).random((3, 1, 8, 8)).astype(np.float32)
    out, source = expand_offline(images)
    assert out.shape == (18, 1, 8, 8) and len(GUO2024_RECIPE) == 5
    assert np.array_equal(out[:3], images) and list(source) == [0, 1, 2] * 6
    assert np.array_equal(out[3 * 2 + 1], Flip(-1)(images[1]))
    assert np.allclose(out[3 * 4 + 2], np.log2(1 + images[2]))
