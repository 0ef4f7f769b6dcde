"""Numbers as people read them: fixed decimals, intervals written "a to b" (never a dash,
which reads as a minus sign next to negative bounds), P values. Used by every human-facing
output of an evaluation: the HTML pages, the app's tables and the command's log."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: What a missing or infinite value is written as.
MISSING = "–"


def fmt(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, or an en dash for a missing or infinite value."""
    return MISSING if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def ci_range(lo: float | None, hi: float | None, digits: int = 3) -> str:
    """An interval as ``lo to hi``, e.g. ``-0.19 to 0.30``."""
    return f"{fmt(lo, digits)} to {fmt(hi, digits)}"


def with_ci(triple: Sequence[float], digits: int = 3) -> str:
    """``value (lo to hi)`` from a (value, lo, hi) triple, or an en dash without a value."""
    v, lo, hi = triple
    if v is None or not math.isfinite(v):
        return MISSING
    return f"{fmt(v, digits)} ({ci_range(lo, hi, digits)})"


def p_value(p: float) -> str:
    """A P value to three decimals, ``<0.001`` below that."""
    return MISSING if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def threshold_text(t: float) -> str:
    """A threshold with three significant digits (``0.239``), or an en dash."""
    return MISSING if t is None or not math.isfinite(t) else f"{t:.3g}"
