"""One self-contained HTML page for an evaluation: tables, figures as base64 data URIs,
inline CSS, no scripts and no external requests, so it opens offline and can be mailed.

The building blocks (:data:`CSS`, :func:`fmt`, :func:`with_ci`, :func:`html_table`,
:func:`figure_html`, :func:`delong_html`) are public: the paper report's page uses them too.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eusgist.report.results import Evaluation, SubgroupResult

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 13px; }
th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: .5em 1em .5em 0; } img { max-width: 100%; }
.note { color: #8a4b00; } .small { color: #666; font-size: 12px; }
"""

METRIC_LABELS = {"accuracy": "Accuracy", "sensitivity": "Sensitivity",
                 "specificity": "Specificity", "ppv": "PPV", "npv": "NPV"}


def fmt(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, or an en dash for a missing or infinite value."""
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def with_ci(triple: Sequence[float], digits: int = 3) -> str:
    """``value (lo–hi)`` from a (value, lo, hi) triple, or an en dash without a value."""
    v, lo, hi = triple
    if not math.isfinite(v):
        return "–"
    return f"{fmt(v, digits)} ({fmt(lo, digits)}–{fmt(hi, digits)})"


def p_value(p: float) -> str:
    """A P value to three decimals, ``<0.001`` below that."""
    return "–" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               numeric_from: int = 1) -> str:
    """An HTML table of escaped cells; columns from ``numeric_from`` on are right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td{" class=num" if i >= numeric_from else ""}>{html.escape(str(c))}</td>'
            for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def performance_rows(ev: Evaluation) -> tuple[list[str], list[list[str]]]:
    """Formatted per-model table: AUC, accuracy, sensitivity, ... with CIs."""
    pct = f"{100 * ev.level:g}% CI"
    header = ["Model", f"AUC ({pct})",
              *[f"{label} ({pct})" for label in METRIC_LABELS.values()],
              "Threshold", "TP/FP/TN/FN"]
    rows = []
    for name, m in ev.models.items():
        c = m.at_threshold.counts
        rows.append([name, with_ci((m.auc.auc, m.auc.lo, m.auc.hi)),
                     *[with_ci(m.at_threshold.metrics[k]) for k in METRIC_LABELS],
                     f"{m.threshold:.4g}", f"{c.tp}/{c.fp}/{c.tn}/{c.fn}"])
    return header, rows


def delong_html(ev: Evaluation) -> str:
    """The paired DeLong tests of ``ev`` as a table (or a line saying there are none)."""
    if not ev.delong:
        return "<p>One model only: no comparison.</p>"
    pct = f"{100 * ev.level:g}% CI"
    rows = [[a, b, fmt(t.auc_a), fmt(t.auc_b), with_ci((t.diff, t.lo, t.hi)),
             fmt(t.z, 2), p_value(t.p_value)] for a, b, t in ev.delong]
    return html_table(["Model A", "Model B", "AUC A", "AUC B", f"Difference ({pct})", "Z", "P"],
                      rows, numeric_from=2)


def _calibration_html(ev: Evaluation) -> str:
    rows = [[name, fmt(m.brier), fmt(m.calibration_fit.intercept, 2),
             fmt(m.calibration_fit.slope, 2)]
            for name, m in ev.models.items() if m.calibration_fit is not None]
    if not rows:
        return "<p>No model gives probabilities in [0, 1].</p>"
    return html_table(["Model", "Brier score", "Calibration intercept", "Calibration slope"], rows)


def _subgroups_html(results: Sequence[SubgroupResult]) -> str:
    rows = []
    for r in results:
        if r.evaluation is None:
            rows.append([r.column, r.level, f"{r.n} ({r.n_positive})", "–", "–", "–", "–",
                         r.note])
            continue
        for name, m in r.evaluation.models.items():
            mt = m.at_threshold.metrics
            rows.append([r.column, r.level, f"{r.n} ({r.n_positive})", name,
                         with_ci((m.auc.auc, m.auc.lo, m.auc.hi)),
                         with_ci(mt["sensitivity"]), with_ci(mt["specificity"]), ""])
    return html_table(["Variable", "Subgroup", "n (positive)", "Model", "AUC", "Sensitivity",
                        "Specificity", "Note"], rows, numeric_from=2)


def out_of_domain_html(out_of_domain: Mapping[str, Mapping[str, Any]]) -> str:
    """Each model's out-of-domain count and the images its gate flagged."""
    parts = [html_table(["Model", "Flagged", "Images checked"],
                        [[name, str(c["flagged"]), str(c["n"])]
                         for name, c in out_of_domain.items()])]
    rows = [[name, str(item["image"]), fmt(float(item["score"]), 1), str(item["reason"])]
            for name, c in out_of_domain.items() for item in c.get("images") or []]
    if rows:
        parts.append("<p class=note>These images do not look like the model's training "
                     "images; their scores are included above but are not meaningful.</p>")
        parts.append(html_table(["Model", "Image", "Distance", "Reason"], rows,
                                numeric_from=2))
    return "\n".join(parts)


def figure_html(path: Path, caption: str) -> str:
    """A ``<figure>`` embedding the PNG at ``path`` as a data URI, with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption class=small>{html.escape(caption)}</figcaption></figure>")


def render_html(
    ev: Evaluation,
    *,
    figures: Mapping[str, Path],
    subgroups: Sequence[SubgroupResult] = (),
    context: Mapping[str, str] | None = None,
    out_of_domain: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The report page as one string."""
    captions = {"roc": "ROC curves; dots mark the operating points",
                "calibration": "Reliability curves (quantile bins)",
                "dca": "Decision curves"}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>eusgist evaluation report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Evaluation report</h1>",
    ]
    if context:
        parts.append(html_table(["Setting", "Value"], [[k, v] for k, v in context.items()],
                                numeric_from=99))
    parts.append(f"<p>{ev.n} cases, {ev.n_positive} positive. Thresholds: "
                 f"{html.escape(ev.threshold_rule)}; intervals for proportions: "
                 f"{html.escape(ev.ci)}; AUC intervals: DeLong.</p>")
    parts.extend(f"<p class=note>Note: {html.escape(n)}.</p>" for n in ev.notes)
    header, rows = performance_rows(ev)
    parts += ["<h2>Diagnostic performance</h2>", html_table(header, rows)]
    if out_of_domain:
        parts += ["<h2>Out-of-domain images</h2>", out_of_domain_html(out_of_domain)]
    parts.append("<div>" + "".join(figure_html(figures[k], captions[k])
                                         for k in ("roc", "calibration", "dca") if k in figures)
                 + "</div>")
    parts += ["<h2>DeLong tests (paired)</h2>", delong_html(ev)]
    parts += ["<h2>Calibration</h2>", _calibration_html(ev)]
    if subgroups:
        parts += ["<h2>Subgroups</h2>",
                  "<p class=small>At the overall thresholds; n (positive) per subgroup.</p>",
                  _subgroups_html(subgroups)]
    parts.append("<p class=small>Tables: performance.csv, delong.csv, calibration.csv, "
                 "dca.csv; all numbers: report.json.</p></body></html>")
    return "\n".join(parts)


def write_html(
    path: Path,
    ev: Evaluation,
    *,
    figures: Mapping[str, Path],
    subgroups: Sequence[SubgroupResult] = (),
    context: Mapping[str, str] | None = None,
    out_of_domain: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write :func:`render_html` to ``path`` (UTF-8)."""
    path.write_text(render_html(ev, figures=figures, subgroups=subgroups, context=context,
                                out_of_domain=out_of_domain), encoding="utf-8")
