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


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    text = frame.select_dtypes(exclude="number")
    return any(text[c].map(lambda v: isinstance(v, str) and "\r" in v).any() for c in text)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *, keep: Collection[str] = (),
              **kwargs: Any) -> Path:
    """Write ``frame`` as CSV (no index unless asked) with formula-like text neutralised.

    pandas leaves a cell holding a lone carriage return unquoted, which splits its row when
    read back; such a table is written with CRLF line ends (RFC 4180), which quotes it.
    """
    path = Path(path)
    safe = neutralise_frame(frame, keep=keep)
    kwargs.setdefault("index", False)
    if _has_carriage_return(safe):
        kwargs.setdefault("lineterminator", "\r\n")
    safe.to_csv(path, **kwargs)
    return path
