"""CSV cells that a spreadsheet will not run as formulas (OWASP "CSV injection").

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken
as a formula by Excel, LibreOffice and Google Sheets; prefixing ``'`` makes it plain text.
Numbers (``-0.5``, ``+3``, ``1e-3``) are left as they are, so numeric columns stay numeric.
Every CSV eusgist writes that can carry user-supplied text goes through :func:`write_csv`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pandas as pd

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """``value`` with a ``'`` in front when it is text a spreadsheet would run as a formula.

    Non-text values and texts that are plain numbers come back unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) \
            and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame, *, keep: Collection[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and column name neutralised.

    ``keep``: columns left verbatim (file paths other code reads back).
    """
    out = frame.copy()
    for col in out.columns:
        if col not in keep and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [c if c in keep else neutralise(c) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *, keep: Collection[str] = (),
              **kwargs: Any) -> Path:
    """Write ``frame`` as CSV (no index unless asked) with formula-like text neutralised."""
    path = Path(path)
    kwargs.setdefault("index", False)
    neutralise_frame(frame, keep=keep).to_csv(path, **kwargs)
    return path
