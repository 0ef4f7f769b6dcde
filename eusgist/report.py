"""Evaluation reports: paper-style statistics of one or more models' scores.

The work is split in three steps so that any source of scores can use it:

1. :func:`prepare_scores` turns a table (one row per image or lesion) into lesion-level
   0/1 labels and scores, checking every column and naming what is wrong;
2. :func:`evaluate_scores` computes everything a paper reports for a mapping
   ``{model name: scores}`` (a model bundle's predicted probabilities can be passed
   straight in), and :func:`evaluate_subgroups` repeats it within subgroups at the same
   thresholds;
3. :func:`write_report` writes ``report.json`` (the contract in DESIGN.md), CSV tables,
   PNG figures and one self-contained HTML page into a folder, all or nothing.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from eusgist import stats
from eusgist.csvsafe import write_csv
from eusgist.data import DEFAULT_POSITIVE_LABELS
from eusgist.errors import EusgistError

log = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("sensitivity", "specificity", "ppv", "npv", "accuracy")
Threshold = Literal["youden"] | float
#: Largest scores CSV read (bytes) and most data rows in it (a paper's test set is far smaller).
MAX_SCORES_BYTES = 100 * 2**20
MAX_SCORES_ROWS = 1_000_000
#: Characters of a cell value quoted in an error message.
MAX_SHOWN_CHARS = 60
_SNIFF_BYTES = 64 * 2**10
_DELIMITERS = (",", ";", "\t")


# --- 1. scores from a table ----------------------------------------------------------------

def _short(text: str) -> str:
    """``text`` cut to :data:`MAX_SHOWN_CHARS` for an error message."""
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."


def _sniff(head: bytes, name: str) -> tuple[str, str]:
    """Encoding and delimiter of a CSV from its first bytes."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise EusgistError(f"{name}: a binary file, not CSV text")
    else:
        encoding = "utf-8-sig"
    first = head.decode(encoding, errors="replace").lstrip("\ufeff").split("\n", 1)[0]
    return encoding, max(_DELIMITERS, key=first.count)


def read_scores_csv(path: str | os.PathLike[str], *, max_rows: int = MAX_SCORES_ROWS,
                    max_bytes: int = MAX_SCORES_BYTES) -> pd.DataFrame:
    """Read a scores CSV (UTF-8 or UTF-16; comma, semicolon or tab separated), bounded.

    Raises
    ------
    ValueError
        Not CSV text, not UTF-8/UTF-16, malformed, no rows, or over ``max_bytes`` /
        ``max_rows``.
    OSError
        The file cannot be read.
    """
    path = Path(path)
    name = path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise EusgistError(f"{name}: {size:,} bytes; the limit for a scores CSV is {max_bytes:,}")
    with path.open("rb") as fh:
        encoding, sep = _sniff(fh.read(_SNIFF_BYTES), name)
    try:
        frame = pd.read_csv(path, sep=sep, encoding=encoding, nrows=max_rows + 1)
    except pd.errors.EmptyDataError:
        raise EusgistError(f"{name}: empty file, not a CSV of scores") from None
    except UnicodeError as exc:
        raise EusgistError(f"{name}: not a readable CSV, not UTF-8 text ({_short(str(exc))}); "
                         "save it as CSV UTF-8") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise EusgistError(f"{name}: not a readable CSV ({_short(str(exc))})") from None
    if len(frame) > max_rows:
        raise EusgistError(f"{name}: more than {max_rows:,} rows (the limit); evaluate a "
                         "smaller table")
    if frame.empty:
        raise EusgistError(f"{name}: the table has no rows")
    return frame


@dataclass(frozen=True)
class ScoreTable:
    """Cases ready for evaluation: one row per lesion (or image, without lesion ids)."""

    y_true: NDArray[np.int8]
    scores: dict[str, NDArray[np.float64]]
    covariates: pd.DataFrame
    unit: Literal["lesion", "image"]
    n_images: int
    positive_label: str


def _csv_lines(bad: pd.Series) -> str:
    """CSV line numbers of the first flagged rows (line 1 is the header)."""
    rows = np.flatnonzero(bad.to_numpy()) + 2
    return ", ".join(map(str, rows[:3])) + (", ..." if rows.size > 3 else "")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, frame.columns[:12]))
        raise EusgistError(f"column(s) {', '.join(map(repr, missing))} not found; the table has "
                         f"{shown}")


def _numeric_column(frame: pd.DataFrame, col: str) -> NDArray[np.float64]:
    raw = frame[col]
    empty = raw.isna()
    if empty.any():
        raise EusgistError(f"score column {col!r} has {int(empty.sum())} missing value(s) "
                         f"(CSV line {_csv_lines(empty)})")
    values = pd.to_numeric(raw, errors="coerce")
    text = values.isna()
    if text.any():
        first = raw[text].iloc[0]
        raise EusgistError(f"score column {col!r} has non-numeric values, e.g. {_short(repr(first))} "
                         f"(CSV line {_csv_lines(text)})")
    arr = values.to_numpy(dtype=np.float64)
    if not np.isfinite(arr).all():
        raise EusgistError(f"score column {col!r} has infinite values")
    return arr


def _labels(raw: pd.Series, positive_label: Hashable | None, col: str) -> tuple[
    NDArray[np.int8], str
]:
    if raw.isna().any():
        raise EusgistError(f"label column {col!r} has {int(raw.isna().sum())} missing value(s) "
                         f"(CSV line {_csv_lines(raw.isna())})")
    present = sorted({str(v) for v in raw.unique()})
    if len(present) > 2:
        shown = ", ".join(map(_short, present[:5])) + (", ..." if len(present) > 5 else "")
        raise EusgistError(f"label column {col!r} has {len(present)} distinct values ({shown}); "
                         "need two classes")
    if positive_label is None and not set(raw.unique().tolist()) <= {0, 1}:
        positive_label = next((p for p in DEFAULT_POSITIVE_LABELS if p in present), None)
        if positive_label is None:
            raise EusgistError(f"label column {col!r} is not 0/1 (values: "
                             f"{', '.join(map(_short, present))}); name the positive label")
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
    ValueError
        Naming the column and CSV line of a missing column, missing or non-numeric score,
        unknown label, or a lesion whose images disagree.
    """
    score_cols = list(dict.fromkeys(score_cols))
    if not score_cols:
        raise EusgistError("no score columns given")
    keep = list(dict.fromkeys(keep_cols))
    _require_columns(frame, [label_col, *score_cols, *keep, *([lesion_col] if lesion_col else [])])
    if frame.empty:
        raise EusgistError("the table has no rows")
    if label_col in score_cols:
        raise EusgistError(f"column {label_col!r} is both the label and a score")
    y, positive = _labels(frame[label_col], positive_label, label_col)
    if y.min() == y.max():
        kind = f"positive ({positive})" if y[0] == 1 else f"negative (not {positive})"
        raise EusgistError(f"label column {label_col!r} has one class only: all {y.size} rows "
                         f"are {kind}")
    matrix = np.column_stack([_numeric_column(frame, c) for c in score_cols])
    covariates = frame[keep].reset_index(drop=True)
    unit: Literal["lesion", "image"] = "image"
    if lesion_col is not None:
        ids = frame[lesion_col]
        if ids.isna().any():
            raise EusgistError(f"lesion column {lesion_col!r} has {int(ids.isna().sum())} missing "
                             f"value(s) (CSV line {_csv_lines(ids.isna())})")
        key = ids.astype(str).to_numpy()
        agg = stats.aggregate_by_lesion(key, y, matrix, how=aggregate)
        grouped = frame[keep].groupby(key, sort=True)
        varying = grouped.nunique(dropna=False) > 1
        for col in keep:
            if varying[col].any():
                first = varying.index[varying[col]][0]
                raise EusgistError(f"column {col!r} differs between images of lesion {first!r}")
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


# --- 2. statistics -------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelEvaluation:
    """Everything reported for one model."""

    auc: stats.AUCResult
    auc_bootstrap: stats.AUCResult | None
    threshold: float
    at_threshold: stats.ThresholdMetrics
    roc: stats.RocCurve
    band: stats.RocBand | None
    brier: float
    calibration_fit: stats.CalibrationFit | None
    reliability: stats.CalibrationCurve | None

    @property
    def is_probability(self) -> bool:
        """Whether the scores are probabilities (so calibration and DCA apply)."""
        return self.reliability is not None


@dataclass(frozen=True)
class Evaluation:
    """Statistics of several models on the same cases."""

    n: int
    n_positive: int
    models: dict[str, ModelEvaluation]
    delong: list[tuple[str, str, stats.DeLongTest]]
    dca: stats.DecisionCurve
    ci: str
    level: float
    threshold_rule: str
    n_bootstrap: int
    notes: list[str] = field(default_factory=list)


def _threshold_for(rule: Threshold | Mapping[str, float], name: str, y: NDArray[np.int8],
                   s: NDArray[np.float64]) -> float:
    if isinstance(rule, Mapping):
        if name not in rule:
            raise EusgistError(f"no threshold given for model {name!r}")
        return float(rule[name])
    if rule == "youden":
        return stats.youden_threshold(y, s)
    return float(rule)


def _is_probability(s: NDArray[np.float64]) -> bool:
    return bool(s.min() >= 0.0 and s.max() <= 1.0)


def evaluate_scores(
    y_true: ArrayLike,
    scores: Mapping[str, ArrayLike],
    *,
    threshold: Threshold | Mapping[str, float] = "youden",
    ci: str = "wilson",
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    calibration_bins: int = 10,
    probabilities: Collection[str] | None = None,
) -> Evaluation:
    """Paper statistics of each model and DeLong tests between every pair.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = positive class.
    scores : mapping of str to array-like of shape (n,)
        Each model's scores for the same cases (e.g. predicted probabilities).
    threshold : "youden", float or mapping of model name to float
        Operating point: ``score >= threshold`` is positive. ``"youden"`` picks each
        model's Youden-optimal threshold on these same cases (optimistic).
    ci : {"wald", "wilson", "clopper-pearson"}
        Interval for sensitivity, specificity, PPV, NPV and accuracy.
    level : float
        Confidence level of every interval.
    n_bootstrap : int
        Stratified bootstrap replicates for the ROC band and a bootstrap AUC interval;
        0 skips both.
    seed : int
        Bootstrap seed.
    calibration_bins : int
        Quantile bins of the reliability curve.
    probabilities : collection of str, optional
        Models whose scores are probabilities; default: those with all scores in [0, 1].

    Returns
    -------
    Evaluation
        Calibration, Brier score and decision curves only for models whose scores are
        probabilities in [0, 1]; for the others a note says so.
    """
    if not scores:
        raise EusgistError("no models to evaluate")
    if ci not in stats.CI_METHODS:
        raise EusgistError(f"unknown CI method {ci!r}; choose one of {', '.join(stats.CI_METHODS)}")
    y = stats.to_binary(y_true)
    models: dict[str, ModelEvaluation] = {}
    notes: list[str] = []
    arrays = {}
    for name, raw in scores.items():
        try:
            s = arrays[name] = np.asarray(raw, dtype=np.float64)
            is_prob = _is_probability(s) if probabilities is None else name in probabilities
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                models[name] = _evaluate_model(
                    y, s, threshold=threshold, name=name, ci=ci, level=level,
                    n_bootstrap=n_bootstrap, seed=seed, calibration_bins=calibration_bins,
                    is_probability=is_prob)
        except (TypeError, ValueError) as exc:
            raise EusgistError(f"model {name!r}: {exc}") from None
        notes.extend(f"{name}: {w.message}" for w in caught)
        if not is_prob:
            notes.append(f"{name}: scores are not probabilities in [0, 1]; no calibration, "
                         "Brier score or decision curve")
    probs = {name: arrays[name] for name, m in models.items() if m.is_probability}
    delong = [(a, b, stats.delong_test(y, arrays[a], arrays[b], level=level))
              for a, b in itertools.combinations(arrays, 2)]
    rule = "youden" if threshold == "youden" else (
        "per model" if isinstance(threshold, Mapping) else f"fixed {float(threshold):g}")
    for note in notes:
        log.warning(note)
    if threshold == "youden":
        notes.append("thresholds maximise Youden's J on these same cases, which flatters "
                     "sensitivity and specificity; fix one (--threshold) for a fair test")
    return Evaluation(
        n=int(y.size), n_positive=int(np.sum(y)), models=models, delong=delong,
        dca=stats.decision_curve(y, probs), ci=ci, level=level, threshold_rule=rule,
        n_bootstrap=n_bootstrap, notes=notes,
    )


def _evaluate_model(
    y: NDArray[np.int8], s: NDArray[np.float64], *, threshold: Threshold | Mapping[str, float],
    name: str, ci: str, level: float, n_bootstrap: int, seed: int, calibration_bins: int,
    is_probability: bool,
) -> ModelEvaluation:
    auc = stats.roc_auc_ci(y, s, level=level)  # checks the scores first
    cut = _threshold_for(threshold, name, y, s)
    boot = band = None
    if n_bootstrap > 0:
        boot = stats.bootstrap_auc_ci(y, s, n_boot=n_bootstrap, level=level, seed=seed)
        band = stats.roc_ci_band(y, s, n_boot=n_bootstrap, level=level, seed=seed)
    brier, fit, reliability = math.nan, None, None
    if is_probability:
        brier = stats.brier_score(y, s)
        fit = stats.calibration_intercept_slope(y, s)
        reliability = stats.calibration_curve(y, s, n_bins=calibration_bins, strategy="quantile")
    return ModelEvaluation(
        auc=auc, auc_bootstrap=boot, threshold=cut,
        at_threshold=stats.threshold_metrics(y, s, threshold=cut, ci=ci, level=level),
        roc=stats.roc_curve(y, s), band=band, brier=brier, calibration_fit=fit,
        reliability=reliability,
    )


@dataclass(frozen=True)
class SubgroupSpec:
    """A subgroup variable: categorical, or numeric cut at ``cuts`` (e.g. size at 20 mm)."""

    column: str
    cuts: tuple[float, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SubgroupSpec:
        """``"location"`` or ``"size_mm:20"`` or ``"size_mm:10,20"``."""
        column, _, cuts = text.partition(":")
        if not column:
            raise EusgistError(f"subgroup {text!r}: no column name")
        try:
            values = tuple(float(c) for c in cuts.split(",")) if cuts else ()
        except ValueError:
            raise EusgistError(f"subgroup {text!r}: cut points must be numbers") from None
        if list(values) != sorted(set(values)):
            raise EusgistError(f"subgroup {text!r}: cut points must increase")
        return cls(column=column, cuts=values)

    def level_names(self) -> list[str]:
        """Names of the numeric bins, in order: ``< 20``, ``>= 20``."""
        c = self.cuts
        inner = [f"{lo:g} to < {hi:g}" for lo, hi in itertools.pairwise(c)]
        return [f"< {c[0]:g}", *inner, f">= {c[-1]:g}"]

    def levels(self, values: pd.Series) -> list[str | None]:
        """The subgroup of each case (None where the value is missing)."""
        if not self.cuts:
            return [None if pd.isna(v) else str(v) for v in values]
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() & values.notna()
        if bad.any():
            raise EusgistError(f"subgroup column {self.column!r} has non-numeric values, e.g. "
                             f"{values[bad].iloc[0]!r}")
        names = self.level_names()
        index = np.searchsorted(np.asarray(self.cuts), numeric.to_numpy(), side="right")
        return [None if math.isnan(v) else names[i] for v, i in zip(numeric, index, strict=True)]


@dataclass(frozen=True)
class SubgroupResult:
    """The statistics of one subgroup, or why there are none."""

    column: str
    level: str
    n: int
    n_positive: int
    evaluation: Evaluation | None
    note: str = ""


def evaluate_subgroups(
    table: ScoreTable, specs: Sequence[SubgroupSpec], overall: Evaluation
) -> list[SubgroupResult]:
    """Evaluate every subgroup at the overall thresholds, CI method and level.

    Subgroups with fewer than two cases of a class get a note instead of statistics.
    """
    thresholds = {name: m.threshold for name, m in overall.models.items()}
    probabilities = {name for name, m in overall.models.items() if m.is_probability}
    out = []
    for spec in specs:
        levels = np.array(spec.levels(table.covariates[spec.column]), dtype=object)
        missing = int(sum(v is None for v in levels))
        if missing:
            log.warning("subgroup %s: %d case(s) with no value left out", spec.column, missing)
        present = {v for v in levels if v is not None}
        order = [v for v in spec.level_names() if v in present] if spec.cuts else sorted(present)
        for level in order:
            rows = levels == level
            y = table.y_true[rows]
            n_pos = int(y.sum())
            if min(n_pos, y.size - n_pos) < 2:
                out.append(SubgroupResult(spec.column, level, int(y.size), n_pos, None,
                                          "fewer than 2 cases of a class"))
                continue
            ev = evaluate_scores(y, {k: v[rows] for k, v in table.scores.items()},
                                 threshold=thresholds, ci=overall.ci, level=overall.level,
                                 n_bootstrap=0, probabilities=probabilities)
            out.append(SubgroupResult(spec.column, level, int(y.size), n_pos, ev))
    return out


# --- 3. report.json and tables -------------------------------------------------------------

def _num(x: float) -> float | None:
    """A JSON number, or null for NaN."""
    return None if x is None or not math.isfinite(x) else float(x)


def report_dict(ev: Evaluation) -> dict:
    """The ``report.json`` contract of DESIGN.md ("Evaluation report")."""
    return {
        "n": ev.n,
        "n_positive": ev.n_positive,
        "models": {
            name: {
                "auc": _num(m.auc.auc),
                "auc_ci": [_num(m.auc.lo), _num(m.auc.hi)],
                "brier": _num(m.brier),
                "threshold": _num(m.threshold),
                "metrics": {k: [_num(v) for v in m.at_threshold.metrics[k]] for k in METRICS},
            }
            for name, m in ev.models.items()
        },
        "delong": [
            {"a": a, "b": b, "auc_a": _num(t.auc_a), "auc_b": _num(t.auc_b), "z": _num(t.z),
             "p_value": _num(t.p_value), "lo": _num(t.lo), "hi": _num(t.hi)}
            for a, b, t in ev.delong
        ],
        "dca": {
            "thresholds": [float(t) for t in ev.dca.thresholds],
            "net_benefit": {
                **{name: [_num(v) for v in nb] for name, nb in ev.dca.net_benefit.items()},
                "treat_all": [_num(v) for v in ev.dca.treat_all],
                "treat_none": [_num(v) for v in ev.dca.treat_none],
            },
        },
    }


def performance_table(ev: Evaluation) -> pd.DataFrame:
    """One row per model: AUC, accuracy, sensitivity, specificity, PPV, NPV with CIs."""
    rows = []
    for name, m in ev.models.items():
        c = m.at_threshold.counts
        row = {"model": name, "n": ev.n, "n_positive": ev.n_positive, "auc": m.auc.auc,
               "auc_lo": m.auc.lo, "auc_hi": m.auc.hi, "auc_se": m.auc.se}
        for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv"):
            row[k], row[f"{k}_lo"], row[f"{k}_hi"] = m.at_threshold.metrics[k]
        row |= {"f1": m.at_threshold.f1, "threshold": m.threshold,
                "tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn}
        if m.auc_bootstrap is not None:
            row |= {"auc_boot_lo": m.auc_bootstrap.lo, "auc_boot_hi": m.auc_bootstrap.hi}
        rows.append(row)
    return pd.DataFrame(rows)


def delong_table(ev: Evaluation) -> pd.DataFrame:
    """One row per pair of models: the paired DeLong test."""
    return pd.DataFrame(
        [{"model_a": a, "model_b": b, "auc_a": t.auc_a, "auc_b": t.auc_b, "diff": t.diff,
          "diff_lo": t.lo, "diff_hi": t.hi, "se": t.se, "z": t.z, "p_value": t.p_value}
         for a, b, t in ev.delong],
        columns=["model_a", "model_b", "auc_a", "auc_b", "diff", "diff_lo", "diff_hi", "se",
                 "z", "p_value"],
    )


def calibration_table(ev: Evaluation) -> pd.DataFrame:
    """Brier score, calibration intercept and slope of each probabilistic model."""
    return pd.DataFrame(
        [{"model": name, "brier": m.brier, "calibration_intercept": m.calibration_fit.intercept,
          "calibration_slope": m.calibration_fit.slope}
         for name, m in ev.models.items() if m.calibration_fit is not None],
        columns=["model", "brier", "calibration_intercept", "calibration_slope"],
    )


def dca_table(ev: Evaluation) -> pd.DataFrame:
    """Net benefit per threshold, with net interventions avoided per 100 patients."""
    t = ev.dca.thresholds
    table = {"threshold": t, "treat_all": ev.dca.treat_all, "treat_none": ev.dca.treat_none}
    odds = t / (1.0 - t)
    for name, nb in ev.dca.net_benefit.items():
        table[f"net_benefit_{name}"] = nb
        table[f"interventions_avoided_per_100_{name}"] = (nb - ev.dca.treat_all) / odds * 100
    return pd.DataFrame(table)


def subgroup_table(results: Sequence[SubgroupResult]) -> pd.DataFrame:
    """One row per subgroup and model."""
    rows = []
    for r in results:
        base = {"variable": r.column, "subgroup": r.level, "n": r.n, "n_positive": r.n_positive}
        if r.evaluation is None:
            rows.append(base | {"note": r.note})
            continue
        perf = performance_table(r.evaluation).drop(columns=["n", "n_positive"])
        rows.extend(base | rec | {"note": ""} for rec in perf.to_dict("records"))
    return pd.DataFrame(rows)


def subgroups_dict(results: Sequence[SubgroupResult]) -> list[dict]:
    """Subgroup results in the ``report.json`` schema, one object per subgroup."""
    out = []
    for r in results:
        item = {"variable": r.column, "subgroup": r.level, "n": r.n, "n_positive": r.n_positive}
        if r.evaluation is None:
            item["note"] = r.note
        else:
            full = report_dict(r.evaluation)
            item |= {"models": full["models"], "delong": full["delong"]}
        out.append(item)
    return out


# --- one call: table in, report folder out ------------------------------------------------

@dataclass(frozen=True)
class EvaluationOptions:
    """How a scores table is evaluated (the ``evaluate`` command's options)."""

    label_col: str = "label"
    positive_label: Hashable | None = None
    lesion_col: str | None = None
    aggregate: Literal["mean", "max"] = "mean"
    subgroups: tuple[str, ...] = ()
    threshold: Threshold = "youden"
    ci: str = "wilson"
    level: float = 0.95
    n_bootstrap: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_bootstrap < 0:
            raise EusgistError(f"bootstrap replicates must be 0 or more, got {self.n_bootstrap}")
        for text in self.subgroups:
            SubgroupSpec.parse(text)  # a bad subgroup fails before any scoring

    @property
    def subgroup_specs(self) -> list[SubgroupSpec]:
        """The parsed ``subgroups``."""
        return [SubgroupSpec.parse(s) for s in self.subgroups]


def report_from_table(
    frame: pd.DataFrame,
    score_cols: Sequence[str],
    out_dir: str | os.PathLike[str],
    options: EvaluationOptions = EvaluationOptions(),
    *,
    source: str = "scores table",
    overwrite: bool = False,
) -> tuple[Evaluation, Path]:
    """Evaluate a scores table and write its report folder (all or nothing).

    This is what the ``evaluate`` command and the app's Evaluate tab both run: see
    :func:`prepare_scores`, :func:`evaluate_scores`, :func:`evaluate_subgroups` and
    :func:`write_report`. ``options.subgroups`` holds ``"COL"`` or ``"COL:CUTS"`` texts.
    """
    from eusgist import __version__

    specs = options.subgroup_specs
    table = prepare_scores(
        frame, label_col=options.label_col, score_cols=score_cols,
        positive_label=options.positive_label, lesion_col=options.lesion_col,
        aggregate=options.aggregate, keep_cols=[s.column for s in specs],
    )
    unit = (f"{table.y_true.size} lesions ({options.aggregate} of {table.n_images} image scores)"
            if table.unit == "lesion" else f"{table.y_true.size} images (no lesion column)")
    log.info("evaluating %d model(s) on %s", len(table.scores), unit)
    ev = evaluate_scores(table.y_true, table.scores, threshold=options.threshold, ci=options.ci,
                         level=options.level, n_bootstrap=options.n_bootstrap, seed=options.seed)
    subgroups = evaluate_subgroups(table, specs, ev)
    context = {
        "Scores": source,
        "Cases": unit,
        "Label": f"{options.label_col} (positive: {table.positive_label})",
        "Threshold": str(options.threshold),
        "Intervals": f"{100 * options.level:g}%, proportions: {options.ci}, AUC: DeLong"
                     + (f", bootstrap {options.n_bootstrap} (seed {options.seed})"
                        if options.n_bootstrap else ""),
        "eusgist": __version__,
    }
    out = write_report(out_dir, ev, subgroups=subgroups, context=context, overwrite=overwrite)
    for name, m in ev.models.items():
        log.info("%s: AUC %.3f (%.3f-%.3f)", name, m.auc.auc, m.auc.lo, m.auc.hi)
    return ev, out


# --- writing, all or nothing ---------------------------------------------------------------

def write_report(
    out_dir: str | os.PathLike[str],
    ev: Evaluation,
    *,
    subgroups: Sequence[SubgroupResult] = (),
    context: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the report folder: report.json, CSV tables, PNG figures, report.html.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into
    place at the end, so an error leaves nothing behind.

    Parameters
    ----------
    out_dir : path
        The folder to create.
    ev : Evaluation
        The statistics to report.
    subgroups : sequence of SubgroupResult
        Written to ``subgroups.json`` / ``subgroups.csv`` when given.
    context : mapping of str to str, optional
        Lines describing the run (source, options), shown at the top of the HTML page.
    overwrite : bool, default False
        Replace an existing non-empty ``out_dir``; otherwise that is an error.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from eusgist import report_figures, report_html  # matplotlib only when writing

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise EusgistError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise EusgistError(f"{out} exists and is not empty (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        tables = {
            "performance.csv": performance_table(ev),
            "delong.csv": delong_table(ev),
            "calibration.csv": calibration_table(ev),
            "dca.csv": dca_table(ev),
        }
        if subgroups:
            tables["subgroups.csv"] = subgroup_table(subgroups)
            _write_json(tmp / "subgroups.json", subgroups_dict(subgroups))
        for name, table in tables.items():
            write_csv(table, tmp / name)
        _write_json(tmp / "report.json", report_dict(ev))
        figures = report_figures.write_figures(ev, tmp)
        report_html.write_html(tmp / "report.html", ev, figures=figures, subgroups=subgroups,
                               context=dict(context or {}))
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s", out)
    return out


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _replace_dir(new: Path, out: Path) -> None:
    if out.is_dir():
        old = new.with_name(new.name.replace(".partial", ".old"))
        out.rename(old)
        new.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(out)
