"""What an evaluation produces and is configured by: the dataclasses every report module
shares, and :func:`stats_errors`, which turns :mod:`eusgist.stats`'s plain ValueErrors into
:class:`~eusgist.errors.EvaluationError` at the report layer's boundary."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from eusgist import stats
from eusgist.errors import EusgistError, EvaluationError

METRICS: tuple[str, ...] = ("sensitivity", "specificity", "ppv", "npv", "accuracy")
#: An operating point: ``"youden"`` (chosen on the evaluated cases, optimistic), ``"bundle"``
#: (each model's own locked threshold, from its model card) or a fixed number.
Threshold = Literal["youden", "bundle"] | float


@contextmanager
def stats_errors(prefix: str = "") -> Iterator[None]:
    """Re-raise a plain ValueError of :mod:`eusgist.stats` as an EvaluationError.

    The message is kept (after ``prefix``), so users see e.g. "one class only"; errors that
    are already user-facing pass through unchanged.
    """
    try:
        yield
    except EusgistError:
        raise
    except ValueError as exc:
        raise EvaluationError(f"{prefix}{exc}") from exc


@dataclass(frozen=True)
class ScoreTable:
    """Cases ready for evaluation: one row per lesion (or image, without lesion ids)."""

    y_true: NDArray[np.int8]
    scores: dict[str, NDArray[np.float64]]
    covariates: pd.DataFrame
    unit: Literal["lesion", "image"]
    n_images: int
    positive_label: str


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
            raise EvaluationError(f"subgroup {text!r}: no column name")
        try:
            values = tuple(float(c) for c in cuts.split(",")) if cuts else ()
        except ValueError:
            raise EvaluationError(f"subgroup {text!r}: cut points must be numbers") from None
        if list(values) != sorted(set(values)):
            raise EvaluationError(f"subgroup {text!r}: cut points must increase")
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
            raise EvaluationError(f"subgroup column {self.column!r} has non-numeric values, e.g. "
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


@dataclass(frozen=True)
class Excluded:
    """A row of the input left out of the evaluation, and why (e.g. an empty mask)."""

    image: str
    reason: str
    mask: str = ""


@dataclass(frozen=True)
class SkippedModel:
    """A model left out of the evaluation, and why (e.g. it scores another class)."""

    model: str
    reason: str


@dataclass(frozen=True)
class ScoringRecord:
    """How the scores were obtained, reported beside the statistics.

    Attributes
    ----------
    n_rows : int or None
        Rows of the input before any was left out (None when unknown).
    excluded : tuple of Excluded
        Rows left out (no score from every model), each with its reason.
    skipped_models : tuple of SkippedModel
        Models left out, each with its reason.
    notes : tuple of str
        Further sentences for the report (e.g. how a router's threshold was applied).
    per_model : mapping of str to mapping
        Facts about each model merged into its ``report.json`` entry (e.g.
        ``threshold_source``, ``roi_kinds``); other steps may add theirs.
    not_probabilities : tuple of str
        Models whose scores are not probabilities (no calibration, Brier score or decision
        curve), e.g. a router's rescaled scores.
    """

    n_rows: int | None = None
    excluded: tuple[Excluded, ...] = ()
    skipped_models: tuple[SkippedModel, ...] = ()
    notes: tuple[str, ...] = ()
    per_model: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    not_probabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvaluationOptions:
    """How a scores table is evaluated (the ``evaluate`` command's options)."""

    label_col: str = "label"
    positive_label: Hashable | None = None
    lesion_col: str | None = None
    aggregate: Literal["mean", "max"] = "mean"
    subgroups: tuple[str, ...] = ()
    threshold: Threshold = "youden"
    #: Each model's own threshold, used when ``threshold`` is ``"bundle"``.
    thresholds: Mapping[str, float] | None = None
    ci: str = "wilson"
    level: float = 0.95
    n_bootstrap: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.threshold == "bundle" and not self.thresholds:
            raise EvaluationError("the bundles' own thresholds apply when images are scored "
                                  "with bundles; for a scores table choose youden or a number")
        if self.n_bootstrap < 0:
            raise EvaluationError(f"bootstrap replicates must be 0 or more, got {self.n_bootstrap}")
        for text in self.subgroups:
            SubgroupSpec.parse(text)  # a bad subgroup fails before any scoring

    @property
    def subgroup_specs(self) -> list[SubgroupSpec]:
        """The parsed ``subgroups``."""
        return [SubgroupSpec.parse(s) for s in self.subgroups]
