"""One self-contained HTML page for an evaluation: tables, figures as base64 data URIs,
inline CSS, no scripts and no external requests, so it opens offline and can be mailed.

The building blocks (:data:`CSS`, :func:`fmt`, :func:`with_ci`, :func:`html_table`,
:func:`figure_html`, :func:`delong_html`) are public: the paper report's page uses them too.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eusgist.report.tables import delong_summary_table, summary_table
from eusgist.report.text import fmt, p_value, with_ci

if TYPE_CHECKING:
    from eusgist.report.results import Evaluation, ScoringRecord, SubgroupResult

__all__ = ["CSS", "METRIC_LABELS", "delong_html", "figure_html", "fmt", "html_table",
           "p_value", "performance_rows", "render_html", "scoring_html", "with_ci",
           "write_html"]

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
#: Excluded rows listed on the page (all of them are in report.json and excluded.csv).
MAX_EXCLUDED_SHOWN = 200


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
    """The readable per-model table (:func:`~eusgist.report.tables.summary_table`): AUC,
    sensitivity, specificity, PPV, NPV as ``value (lo to hi)``, and the threshold."""
    table = summary_table(ev)
    return [str(c) for c in table.columns], table.astype(str).to_numpy().tolist()


def delong_html(ev: Evaluation) -> str:
    """The paired DeLong tests of ``ev`` as a table (or a line saying there are none)."""
    if not ev.delong:
        return "<p>One model only: no comparison.</p>"
    table = delong_summary_table(ev)
    return html_table([str(c) for c in table.columns], table.to_numpy().tolist(),
                      numeric_from=2)


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


def left_out_text(scoring: ScoringRecord) -> str:
    """One line on what was left out (``""`` when nothing was), e.g. "Left out: 7 of 456
    images, 1 model"."""
    parts = []
    if scoring.excluded:
        of = f" of {scoring.n_rows}" if scoring.n_rows is not None else ""
        parts.append(f"{len(scoring.excluded)}{of} images")
    if scoring.skipped_models:
        n = len(scoring.skipped_models)
        names = ", ".join(s.model for s in scoring.skipped_models)
        parts.append(f"{n} model{'s' if n > 1 else ''} ({names})")
    return "Left out: " + ", ".join(parts) if parts else ""


def scoring_html(scoring: ScoringRecord) -> str:
    """The models and input rows left out of the evaluation, with their reasons."""
    parts = []
    if scoring.skipped_models:
        parts += ["<h2>Models left out</h2>",
                  html_table(["Model", "Reason"],
                             [[s.model, s.reason] for s in scoring.skipped_models],
                             numeric_from=99)]
    if scoring.excluded:
        n = len(scoring.excluded)
        of = f" of {scoring.n_rows}" if scoring.n_rows is not None else ""
        parts += [f"<h2>Images left out ({n}{of})</h2>",
                  "<p class=small>Not scored by every model, so not in any statistic; the "
                  "other images were evaluated. Also in excluded.csv and report.json.</p>",
                  html_table(["Image", "Mask", "Reason"],
                             [[e.image, e.mask, e.reason]
                              for e in scoring.excluded[:MAX_EXCLUDED_SHOWN]], numeric_from=99)]
        if n > MAX_EXCLUDED_SHOWN:
            parts.append(f"<p class=small>... and {n - MAX_EXCLUDED_SHOWN} more.</p>")
    return "\n".join(parts)


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
    scoring: ScoringRecord | None = None,
    out_of_domain: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The report page as one string."""
    captions = {"roc": "ROC curves; dots mark the operating points",
                "calibration": "Reliability curves (quantile bins)",
                "dca": "Decision curves"}
    notes = [*ev.notes, *(scoring.notes if scoring is not None else ())]
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
    parts.extend(f"<p class=note>Note: {html.escape(n)}.</p>" for n in notes)
    if scoring is not None and (left_out := left_out_text(scoring)):
        parts.append(f"<p class=note><b>{html.escape(left_out)}</b> (listed at the end).</p>")
    header, rows = performance_rows(ev)
    parts += ["<h2>Diagnostic performance</h2>", html_table(header, rows),
              "<p class=small>All numbers (accuracy, counts, bootstrap AUC intervals, full "
              "precision): performance.csv.</p>"]
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
    if scoring is not None:
        parts.append(scoring_html(scoring))
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
    scoring: ScoringRecord | None = None,
    out_of_domain: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write :func:`render_html` to ``path`` (UTF-8)."""
    path.write_text(render_html(ev, figures=figures, subgroups=subgroups, context=context,
                                scoring=scoring, out_of_domain=out_of_domain),
                    encoding="utf-8")
