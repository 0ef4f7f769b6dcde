"""Lesion and patient metadata fields (the guo2024 Table 1 characteristics), as data.

Each field says where it lives (``patient`` or ``lesion``), its type and, for categories,
the allowed values. :func:`validate_metadata` checks a mapping against this table; the
export writes the fields as manifest columns in this order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from eusgist.errors import EusgistError

Level = Literal["patient", "lesion"]
Kind = Literal["category", "number", "integer", "flag"]


@dataclass(frozen=True)
class Field:
    """One metadata field: where it is stored, its kind and its allowed values or range."""

    level: Level
    kind: Kind
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None


METADATA_FIELDS: dict[str, Field] = {
    "age": Field("patient", "integer", low=0, high=120),
    "sex": Field("patient", "category", ("F", "M")),
    "location": Field(
        "lesion", "category", ("cardia", "fundus", "body", "angle", "antrum", "pylorus")
    ),
    "layer_of_origin": Field(
        "lesion", "category", ("muscularis mucosae", "submucosa", "muscularis propria")
    ),
    "echo_pattern": Field("lesion", "category", ("homogeneous", "heterogeneous")),
    "shape": Field("lesion", "category", ("round", "oval", "fusiform", "irregular")),
    "long_diameter_mm": Field("lesion", "number", low=0.0, high=500.0),
    "short_diameter_mm": Field("lesion", "number", low=0.0, high=500.0),
    "lobulation": Field("lesion", "flag"),
    "calcification": Field("lesion", "flag"),
    "cystic_areas": Field("lesion", "flag"),
}

_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


def _coerce(name: str, field: Field, value: object) -> object:
    if field.kind == "category":
        text = str(value).strip()
        match = next((c for c in field.choices if c.lower() == text.lower()), None)
        if match is None:
            raise EusgistError(f"metadata {name}: {value!r} is not one of {list(field.choices)}")
        return match
    if field.kind == "flag":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise EusgistError(f"metadata {name}: {value!r} is not yes/no")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EusgistError(f"metadata {name}: {value!r} is not a number") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise EusgistError(f"metadata {name}: {value!r} is not a number")
    if field.kind == "integer":
        if number != int(number):
            raise EusgistError(f"metadata {name}: {value!r} is not a whole number")
        number = int(number)
    if (field.low is not None and number < field.low) or (
        field.high is not None and number > field.high
    ):
        raise EusgistError(f"metadata {name}: {value!r} is outside [{field.low:g}, {field.high:g}]")
    return number


def validate_metadata(values: Mapping[str, object]) -> dict[str, object]:
    """Check and normalise metadata values; ``None`` clears a field.

    Raises
    ------
    ValueError
        Naming the unknown field or the bad value and what is allowed.
    """
    unknown = sorted(set(values) - set(METADATA_FIELDS))
    if unknown:
        raise EusgistError(f"unknown metadata field(s) {unknown}; known: {list(METADATA_FIELDS)}")
    return {
        name: None if value is None else _coerce(name, METADATA_FIELDS[name], value)
        for name, value in values.items()
    }
