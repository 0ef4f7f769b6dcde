"""Scores from a table: read a scores CSV (bounded, sniffed encoding and delimiter) and
reduce it to lesion-level 0/1 labels and per-model scores (:func:`prepare_scores`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from eusgist import stats
from eusgist.data import DEFAULT_POSITIVE_LABELS
from eusgist.errors import EvaluationError
from eusgist.report.results import ScoreTable, stats_errors

log = logging.getLogger(__name__)

#: Largest scores CSV read (bytes) and most data rows in it (a paper's test set is far smaller).
MAX_SCORES_BYTES = 100 * 2**20
MAX_SCORES_ROWS = 1_000_000
#: Characters of a cell value quoted in an error message.
MAX_SHOWN_CHARS = 60
_SNIFF_BYTES = 64 * 2**10
_DELIMITERS = (",", ";", "\t")


def _short(text: str) -> str:
    """``text`` cut to :data:`MAX_SHOWN_CHARS` for an error message."""
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."


def _sniff(head: bytes, name: str) -> tuple[str, str]:
    """Encoding and delimiter of a CSV from its first bytes."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise EvaluationError(f"{name}: a binary file, not CSV text")
    else:
        encoding = "utf-8-sig"
    first = head.decode(encoding, errors="replace").lstrip("\ufeff").split("\n", 1)[0]
    return encoding, max(_DELIMITERS, key=first.count)


def read_scores_csv(path: str | os.PathLike[str], *, max_rows: int = MAX_SCORES_ROWS,
                    max_bytes: int = MAX_SCORES_BYTES) -> pd.DataFrame:
    """Read a scores CSV (UTF-8 or UTF-16; comma, semicolon or tab separated), bounded.

    Raises
    ------
    EvaluationError
        Not CSV text, not UTF-8/UTF-16, malformed, no rows, or over ``max_bytes`` /
        ``max_rows``.
    OSError
        The file cannot be read.
    """
    path = Path(path)
    name = path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise EvaluationError(f"{name}: {size:,} bytes; the limit for a scores CSV is "
                              f"{max_bytes:,}")
    with path.open("rb") as fh:
        encoding, sep = _sniff(fh.read(_SNIFF_BYTES), name)
    try:
        frame = pd.read_csv(path, sep=sep, encoding=encoding, nrows=max_rows + 1)
    except pd.errors.EmptyDataError:
        raise EvaluationError(f"{name}: empty file, not a CSV of scores") from None
    except UnicodeError as exc:
        raise EvaluationError(f"{name}: not a readable CSV, not UTF-8 text ({_short(str(exc))}); "
                              "save it as CSV UTF-8") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise EvaluationError(f"{name}: not a readable CSV ({_short(str(exc))})") from None
    if len(frame) > max_rows:
        raise EvaluationError(f"{name}: more than {max_rows:,} rows (the limit); evaluate a "
                              "smaller table")
    if frame.empty:
        raise EvaluationError(f"{name}: the table has no rows")
    return frame


def _csv_lines(bad: pd.Series) -> str:
    """CSV line numbers of the first flagged rows (line 1 is the header)."""
    rows = np.flatnonzero(bad.to_numpy()) + 2
    return ", ".join(map(str, rows[:3])) + (", ..." if rows.size > 3 else "")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, frame.columns[:12]))
        raise EvaluationError(f"column(s) {', '.join(map(repr, missing))} not found; the table has "
                              f"{shown}")


def _numeric_column(frame: pd.DataFrame, col: str) -> NDArray[np.float64]:
    raw = frame[col]
    empty = raw.isna()
    if empty.any():
        raise EvaluationError(f"score column {col!r} has {int(empty.sum())} missing value(s) "
                              f"(CSV line {_csv_lines(empty)})")
    values = pd.to_numeric(raw, errors="coerce")
    text = values.isna()
    if text.any():
        first = raw[text].iloc[0]
        raise EvaluationError(f"score column {col!r} has non-numeric values, e.g. "
                              f"{_short(repr(first))} (CSV line {_csv_lines(text)})")
    arr = values.to_numpy(dtype=np.float64)
    if not np.isfinite(arr).all():
        raise EvaluationError(f"score column {col!r} has infinite values")
    return arr


def _labels(raw: pd.Series, positive_label: Hashable | None, col: str) -> tuple[
    NDArray[np.int8], str
]:
    if raw.isna().any():
        raise EvaluationError(f"label column {col!r} has {int(raw.isna().sum())} missing value(s) "
                              f"(CSV line {_csv_lines(raw.isna())})")
    present = sorted({str(v) for v in raw.unique()})
    if len(present) > 2:
        shown = ", ".join(map(_short, present[:5])) + (", ..." if len(present) > 5 else "")
        raise EvaluationError(f"label column {col!r} has {len(present)} distinct values ({shown}); "
                              "need two classes")
    if positive_label is None and not set(raw.unique().tolist()) <= {0, 1}:
        positive_label = next((p for p in DEFAULT_POSITIVE_LABELS if p in present), None)
        if positive_label is None:
            raise EvaluationError(f"label column {col!r} is not 0/1 (values: "
                                  f"{', '.join(map(_short, present))}); name the positive label")
    with stats_errors():
        y = stats.to_binary(raw.to_numpy(), positive_label=positive_label)
    return y, "1" if positive_label is None else str(positive_label)


def prepare_scores(
    frame: pd.DataFrame,
    *,
    label_col: str,
    score_cols: Sequence[str],
    positive_label: Hashable | None = None,
    lesion_col: str | None = None,
    aggregate: Literal["mean", "max"] = "mean",
    keep_cols: Sequence[str] = (),
) -> ScoreTable:
    """Check a scores table and reduce it to one row per lesion.

    Parameters
    ----------
    frame : DataFrame
        One row per image (or per case), as read from a CSV.
    label_col : str
        Class label column: 0/1, or two labels of which ``positive_label`` is the positive
        one (default: the first of ``GIST``, ``malignant``, ``positive``, ``1`` present).
    score_cols : sequence of str
        One column per model; higher means more likely positive.
    positive_label : hashable, optional
        The positive class's label.
    lesion_col : str, optional
        Lesion id column; scores of a lesion's images are combined by ``aggregate``.
    aggregate : {"mean", "max"}, default "mean"
        How image scores become a lesion score.
    keep_cols : sequence of str
        Further columns to carry along (subgroup variables); each must be constant within
        a lesion.

    Raises
    ------
    EvaluationError
        Naming the column and CSV line of a missing column, missing or non-numeric score,
        unknown label, or a lesion whose images disagree.
    """
    score_cols = list(dict.fromkeys(score_cols))
    if not score_cols:
        raise EvaluationError("no score columns given")
    keep = list(dict.fromkeys(keep_cols))
    _require_columns(frame, [label_col, *score_cols, *keep, *([lesion_col] if lesion_col else [])])
    if frame.empty:
        raise EvaluationError("the table has no rows")
    if label_col in score_cols:
        raise EvaluationError(f"column {label_col!r} is both the label and a score")
    y, positive = _labels(frame[label_col], positive_label, label_col)
    if y.min() == y.max():
        kind = f"positive ({positive})" if y[0] == 1 else f"negative (not {positive})"
        raise EvaluationError(f"label column {label_col!r} has one class only: all {y.size} rows "
                              f"are {kind}")
    matrix = np.column_stack([_numeric_column(frame, c) for c in score_cols])
    covariates = frame[keep].reset_index(drop=True)
    unit: Literal["lesion", "image"] = "image"
    if lesion_col is not None:
        ids = frame[lesion_col]
        if ids.isna().any():
            raise EvaluationError(f"lesion column {lesion_col!r} has {int(ids.isna().sum())} "
                                  f"missing value(s) (CSV line {_csv_lines(ids.isna())})")
        key = ids.astype(str).to_numpy()
        with stats_errors():
            agg = stats.aggregate_by_lesion(key, y, matrix, how=aggregate)
        grouped = frame[keep].groupby(key, sort=True)
        varying = grouped.nunique(dropna=False) > 1
        for col in keep:
            if varying[col].any():
                first = varying.index[varying[col]][0]
                raise EvaluationError(f"column {col!r} differs between images of lesion {first!r}")
        covariates = grouped.first().reindex(agg.lesion_id).reset_index(drop=True)
        y, matrix, unit = agg.y_true, agg.y_score, "lesion"
        log.info("aggregated %d images into %d lesions (%s)", len(frame), y.size, aggregate)
    return ScoreTable(
        y_true=y,
        scores={c: matrix[:, k] for k, c in enumerate(score_cols)},
        covariates=covariates,
        unit=unit,
        n_images=len(frame),
        positive_label=positive,
    )


