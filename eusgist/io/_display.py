"""Map canonical float images to 8-bit for display."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eusgist.errors import EusgistError

#: Percentiles used by the ``"percentile"`` window.
PERCENTILE_WINDOW = (0.5, 99.5)


def to_uint8(array: np.ndarray, *, window: str | Sequence[float] | None = None) -> np.ndarray:
    """Window an image to uint8 for display.

    Parameters
    ----------
    array : numpy.ndarray
        Any shape; non-finite values (NaN, ±inf) show as 0.
    window : {None, "percentile", "minmax"} or (low, high)
        Values mapped linearly to 0 and 255, then clipped. None (auto) keeps an image
        of whole numbers within 0–255 as stored (an 8-bit image looks as exported) and
        otherwise uses ``"percentile"``: the 0.5th–99.5th percentiles of the finite values.
        A constant image becomes 0 unless shown as stored.

    Returns
    -------
    numpy.ndarray
        uint8 of the same shape.
    """
    values = np.asarray(array, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        finite = np.zeros(1)
    if window is None:
        stored = (
            finite.min() >= 0 and finite.max() <= 255 and np.array_equal(finite, np.round(finite))
        )
        window = (0.0, 255.0) if stored else "percentile"
    if window == "percentile":
        low, high = np.percentile(finite, PERCENTILE_WINDOW)
    elif window == "minmax":
        low, high = finite.min(), finite.max()
    elif isinstance(window, str) or len(window) != 2 or not window[0] < window[1]:
        raise EusgistError(
            "window must be None, 'percentile', 'minmax' or (low, high) with low < high, "
            f"got {window!r}"
        )
    else:
        low, high = float(window[0]), float(window[1])
    scale = 255.0 / (high - low) if high > low else 0.0
    with np.errstate(invalid="ignore"):  # inf - inf, inf * 0
        scaled = np.clip((values - low) * scale, 0.0, 255.0)
    return np.rint(np.where(np.isfinite(values), scaled, 0.0)).astype(np.uint8)
