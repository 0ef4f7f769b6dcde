"""The mask codec is lossless; metadata validation normalises and refuses clearly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eusgist.store.metadata import validate_metadata
from eusgist.store.records import decode_mask, encode_mask


@given(arrays(bool, st.tuples(st.integers(1, 40), st.integers(1, 40))))
def test_mask_png_round_trip_is_exact(mask: np.ndarray) -> None:
    assert np.array_equal(decode_mask(encode_mask(mask)), mask)


def test_metadata_is_normalised() -> None:
    clean = validate_metadata(
        {
            "age": "58",
            "sex": "f",
            "calcification": "No",
            "cystic_areas": True,
            "layer_of_origin": "Submucosa",
            "shape": None,
        }
    )
    assert clean == {
        "age": 58,
        "sex": "F",
        "calcification": False,
        "cystic_areas": True,
        "layer_of_origin": "submucosa",
        "shape": None,
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"age": 58.5}, "age: 58.5 is not a whole number"),
        ({"age": True}, "age: True is not a number"),
        ({"long_diameter_mm": "nan"}, "not a number"),
        ({"long_diameter_mm": -1}, r"outside \[0, 500\]"),
        ({"lobulation": "maybe"}, "lobulation: 'maybe' is not yes/no"),
        ({"location": "oesophagus"}, "location: 'oesophagus' is not one of"),
    ],
)
def test_bad_metadata_names_field_and_value(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_metadata(values)
