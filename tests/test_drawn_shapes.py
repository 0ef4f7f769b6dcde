"""Shapes drawn on the overlay (JSON in image pixels) → masks, and the ROI picture."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eusgist.errors import EusgistError
from eusgist.masks import ROI_COLOR, parse_shapes, roi_picture, shape_mask, shapes_mask

BOX = {"type": "box", "points": [[10, 5], [20, 12]]}
TRIANGLE = {"type": "polygon", "points": [[30, 30], [50, 30], [30, 45]]}


def _value(*shapes: dict, width: int = 64, height: int = 48) -> str:
    return json.dumps({"width": width, "height": height, "key": "k", "shapes": list(shapes)})


def test_no_shapes_is_an_empty_mask() -> None:
    for value in (None, "", "  ", _value()):
        assert parse_shapes(value) == []
        assert not shapes_mask(value, (48, 64)).any()


def test_shapes_union_equals_the_typed_points_masks() -> None:
    mask = shapes_mask(_value(BOX, TRIANGLE), (48, 64))
    box = shape_mask([(10, 5), (20, 12)], (48, 64))
    triangle = shape_mask([(30, 30), (50, 30), (30, 45)], (48, 64))
    assert np.array_equal(mask, box | triangle)
    assert box.sum() == 11 * 8  # corners inclusive, as typed points
    parsed = json.loads(_value(BOX))
    assert np.array_equal(shapes_mask(parsed, (48, 64)), box)  # a parsed object works too


def test_coordinates_are_image_pixels_whatever_the_display() -> None:
    """The size in the value is the image's: shapes drawn on another image are refused,
    never rescaled silently."""
    with pytest.raises(EusgistError, match="drawn on a 128×96 image, this image is 64×48"):
        shapes_mask(_value(BOX, width=128, height=96), (48, 64))
    no_size = json.dumps({"shapes": [BOX]})  # an API client may leave the size out
    assert shapes_mask(no_size, (48, 64)).sum() == 88


@pytest.mark.parametrize(("value", "message"), [
    ("{not json", "must be JSON"),
    ('["box"]', "JSON object"),
    (_value({"type": "circle", "points": [[1, 1], [2, 2]]}), "'box' or 'polygon'"),
    (_value({"type": "box", "points": [[1, 1]]}), "a box takes two corners"),
    (_value({"type": "box", "points": [[1, 1], [2, 2], [3, 3]]}), "a box takes two corners"),
    (_value({"type": "polygon", "points": [[1, 1], [2, 2]]}), "three or more"),
    (_value({"type": "polygon", "points": [[1, "a"], [2, 2], [3, 1]]}), "pairs"),
    ('{"shapes": [{"type": "box", "points": [[1, NaN], [5, 5]]}]}', "finite"),
])
def test_bad_shapes_are_refused_clearly(value: str, message: str) -> None:
    with pytest.raises(EusgistError, match=message):
        shapes_mask(value, (48, 64))


def test_a_shape_outside_the_image_is_refused() -> None:
    outside = {"type": "box", "points": [[100, 100], [120, 110]]}
    with pytest.raises(EusgistError, match="covers no pixel"):
        shapes_mask(_value(outside), (48, 64))


def test_roi_picture_outlines_the_roi_in_colour() -> None:
    image = np.full((48, 64), 100, np.uint8)
    mask = shapes_mask(_value(BOX), (48, 64))
    picture = roi_picture(image, mask)
    assert picture.shape == (48, 64, 3)
    assert tuple(picture[5, 15]) == ROI_COLOR  # the box's top edge
    assert tuple(picture[40, 60]) == (100, 100, 100)  # outside: unchanged
    assert tuple(picture[8, 15]) != (100, 100, 100)  # inside: tinted
