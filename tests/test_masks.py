"""eusgist.masks: painted layers to masks, shapes, contrast and overlays."""

from __future__ import annotations

import numpy as np
import pytest

from eusgist.masks import (
    LAYER_COLOR,
    PALETTE,
    adjust_contrast,
    mask_from_layers,
    mask_layer,
    overlay,
    parse_points,
    shape_mask,
)


def test_any_painted_pixel_of_any_layer_is_lesion() -> None:
    a = np.zeros((4, 5, 4), np.uint8)
    a[1, 1] = (255, 0, 0, 255)
    a[2, 2] = (0, 0, 0, 0)  # erased: transparent
    a[3, 3] = (0, 0, 0, 255)  # opaque black: not paint
    b = np.zeros((4, 5, 4), np.uint8)
    b[0, 4] = (10, 200, 10, 3)  # faint anti-aliased edge still counts
    mask = mask_from_layers([a, b], (4, 5))
    assert mask.dtype == bool
    assert set(zip(*np.nonzero(mask), strict=True)) == {(1, 1), (0, 4)}


def test_plain_mask_image_and_round_trip_of_mask_layer() -> None:
    plain = np.zeros((3, 3), np.uint8)
    plain[1, :] = 255
    assert mask_from_layers([plain], (3, 3)).sum() == 3
    mask = np.eye(3, dtype=bool)
    layer = mask_layer(mask)
    assert layer.shape == (3, 3, 4) and tuple(layer[0, 0, :3]) == LAYER_COLOR
    assert np.array_equal(mask_from_layers([layer], (3, 3)), mask)
    assert not mask_from_layers([], (3, 3)).any()


def test_layer_of_another_size_is_resized_nearest() -> None:
    small = np.zeros((2, 2), np.uint8)
    small[0, 0] = 1
    mask = mask_from_layers([small], (4, 4))
    assert mask[:2, :2].all() and mask.sum() == 4


def test_bad_layer_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="grayscale, RGB or RGBA"):
        mask_from_layers([np.zeros((2, 2, 2), np.uint8)], (2, 2))


def test_contrast_about_mid_grey() -> None:
    image = np.array([[0, 100, 128, 200, 255]], np.uint8)
    assert np.array_equal(adjust_contrast(image, 1.0), image)
    assert adjust_contrast(image, 2.0).tolist() == [[0, 72, 128, 255, 255]]
    assert adjust_contrast(image, 0.5).tolist() == [[64, 114, 128, 164, 192]]
    with pytest.raises(ValueError, match="positive"):
        adjust_contrast(image, 0.0)


def test_overlay_tints_inside_and_outlines_in_distinct_colours() -> None:
    image = np.full((7, 7), 100, np.uint8)
    a = np.zeros((7, 7), bool)
    a[1:6, 1:6] = True
    b = np.zeros((7, 7), bool)
    b[0, 0] = True
    out = overlay(image, [a, b], opacity=0.5)
    assert out.shape == (7, 7, 3) and out.dtype == np.uint8
    assert tuple(out[1, 1]) == PALETTE[0]  # outline: opaque
    expected = np.rint(0.5 * 100 + 0.5 * np.array(PALETTE[0])).astype(np.uint8)
    assert tuple(out[3, 3]) == tuple(expected)  # inside: blended
    assert tuple(out[0, 0]) == PALETTE[1]
    assert tuple(out[6, 6]) == (100, 100, 100)
    with pytest.raises(ValueError, match="shape"):
        overlay(image, [np.ones((2, 2), bool)])


def test_points_and_shapes() -> None:
    assert parse_points("10,20 30, 40") == [(10.0, 20.0), (30.0, 40.0)]
    assert parse_points("(1;2);(3;4)") == [(1.0, 2.0), (3.0, 4.0)]
    with pytest.raises(ValueError, match="pairs"):
        parse_points("1,2,3")
    with pytest.raises(ValueError, match="numbers"):
        parse_points("a,b")
    box = shape_mask([(3, 1), (1, 2)], (4, 5))
    assert box.sum() == 6 and box[1:3, 1:4].all()  # corners inclusive
    triangle = shape_mask([(0, 0), (4, 0), (0, 4)], (5, 5))
    assert triangle[0, 0] and triangle[1, 1] and not triangle[4, 4]
    with pytest.raises(ValueError, match="covers no pixel"):
        shape_mask([(50, 50), (60, 60)], (4, 4))
    with pytest.raises(ValueError, match="two corners"):
        shape_mask([(1, 1)], (4, 4))
