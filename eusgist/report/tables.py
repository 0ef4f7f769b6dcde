"""The numbers of an evaluation as data: ``report.json``'s dictionary (the contract in
docs/design.md), the CSV tables (performance, DeLong, calibration, decision curves,
subgroups, excluded rows) and the readable performance table people look at."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from eusgist.report.results import (
    METRICS,
    Evaluation,
    ModelEvaluation,
    ScoringRecord,
    SubgroupResult,
)
from eusgist.report.text import fmt, p_value, threshold_text, with_ci

#: The readable table's metrics, in order, with their headers.
SUMMARY_METRICS = {"sensitivity": "Sensitivity", "specificity": "Specificity", "ppv": "PPV",
                   "npv": "NPV"}
#: Decimals of the readable table (the CSVs and report.json keep full precision).
SUMMARY_DIGITS = 2


def _num(x: float) -> float | None:
    """A JSON number, or null for NaN."""
    return None if x is None or not math.isfinite(x) else float(x)


def _model_dict(m: ModelEvaluation) -> dict[str, Any]:
    """One model's statistics in ``report.json``."""
    return {
        "auc": _num(m.auc.auc),
        "auc_ci": [_num(m.auc.lo), _num(m.auc.hi)],
        "brier": _num(m.brier),
        "threshold": _num(m.threshold),
        "metrics": {k: [_num(v) for v in m.at_threshold.metrics[k]] for k in METRICS},
    }


def scoring_dict(scoring: ScoringRecord) -> dict[str, Any]:
    """What ``report.json`` says about the rows and models left out."""
    return {
        "n_rows": scoring.n_rows,
        "n_excluded": len(scoring.excluded),
        "excluded": [{"image": e.image, "mask": e.mask, "reason": e.reason}
                     for e in scoring.excluded],
        "skipped_models": [{"model": s.model, "reason": s.reason}
                           for s in scoring.skipped_models],
    }


def report_dict(ev: Evaluation, scoring: ScoringRecord | None = None) -> dict:
    """The ``report.json`` contract of docs/design.md ("Evaluation report").

    ``scoring`` adds the rows and models left out, its notes, and its per-model facts
    (merged into each model's entry).
    """
    scoring = scoring or ScoringRecord()
    return {
        "n": ev.n,
        "n_positive": ev.n_positive,
        "threshold_rule": ev.threshold_rule,
        "notes": [*ev.notes, *scoring.notes],
        **scoring_dict(scoring),
        "models": {name: _model_dict(m) | dict(scoring.per_model.get(name, {}))
                   for name, m in ev.models.items()},
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


def summary_table(ev: Evaluation, digits: int = SUMMARY_DIGITS) -> pd.DataFrame:
    """The readable performance table: one row per model, AUC, sensitivity, specificity,
    PPV and NPV each as ``value (lo to hi)``, and the threshold."""
    pct = f"{100 * ev.level:g}% CI"
    rows = []
    for name, m in ev.models.items():
        row = {"Model": name, f"AUC ({pct})": with_ci((m.auc.auc, m.auc.lo, m.auc.hi), digits)}
        row |= {f"{label} ({pct})": with_ci(m.at_threshold.metrics[k], digits)
                for k, label in SUMMARY_METRICS.items()}
        row["Threshold"] = threshold_text(m.threshold)
        rows.append(row)
    return pd.DataFrame(rows)


def delong_summary_table(ev: Evaluation) -> pd.DataFrame:
    """The readable paired DeLong tests: the AUCs, their difference ``d (lo to hi)``, P."""
    pct = f"{100 * ev.level:g}% CI"
    return pd.DataFrame(
        [{"Model A": a, "Model B": b, "AUC A": fmt(t.auc_a), "AUC B": fmt(t.auc_b),
          f"Difference ({pct})": with_ci((t.diff, t.lo, t.hi)), "Z": fmt(t.z, 2),
          "P": p_value(t.p_value)} for a, b, t in ev.delong],
        columns=["Model A", "Model B", "AUC A", "AUC B", f"Difference ({pct})", "Z", "P"])


def excluded_table(scoring: ScoringRecord) -> pd.DataFrame:
    """One row per input row left out: image, mask, reason."""
    return pd.DataFrame([{"image": e.image, "mask": e.mask, "reason": e.reason}
                         for e in scoring.excluded], columns=["image", "mask", "reason"])


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
