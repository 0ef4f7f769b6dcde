"""Evaluate tab: a labelled CSV of model scores, or a labelled image set scored by the
weights folder's bundles, in; the paper statistics out.

The work is :func:`eusgist.report.report_from_table`, the same call as
``python -m eusgist evaluate``; image sets are scored by
:func:`eusgist.inference.labelled.score_labelled` (bundles of another class skipped, rows
that cannot be scored left out, both reported). This module only reads the upload, calls
them and shows the report folder's tables and figures.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import pandas as pd

from eusgist import inference, report
from eusgist.data import DEFAULT_POSITIVE_LABELS
from eusgist.errors import EusgistError
from eusgist.report.html import left_out_text
from eusgist.report.text import ci_range
from eusgist.stats import CI_METHODS
from eusgist.ui.errors import user_errors
from eusgist.ui.gpu import EVALUATE_SECONDS, on_gpu

log = logging.getLogger(__name__)

LABEL_GUESSES = ("label", "y", "y_true", "class", "diagnosis", "pathology")
LESION_GUESSES = ("lesion_id", "lesion")
#: Threshold choices (label, value); a number may be typed instead.
YOUDEN_CHOICE = ("Youden: chosen on these same cases (optimistic)", "youden")
BUNDLE_CHOICE = ("Each model's own threshold (its model card): for external validation",
                 "bundle")
#: Rows of the left-out table shown on the page (all are in the report).
MAX_EXCLUDED_SHOWN = 500
#: What every evaluate endpoint returns: summary, readable performance and DeLong tables,
#: ROC, calibration and decision-curve figures, report ZIP, report HTML, the full
#: performance CSV and the rows left out.
Outputs = tuple[str, pd.DataFrame, dict, str, str, str, str, str, str, dict]


@dataclass(frozen=True)
class CsvColumns:
    """What an uploaded CSV offers: all columns, numeric ones, and guessed roles."""

    columns: list[str]
    numeric: list[str]
    probabilities: list[str]
    label: str | None
    lesion: str | None


def inspect_columns(frame: pd.DataFrame) -> CsvColumns:
    """Columns of a scores table and a guess of which is the label and the lesion id."""
    columns = [str(c) for c in frame.columns]
    lower = {c.lower(): c for c in columns}
    label = next((lower[g] for g in LABEL_GUESSES if g in lower), None)
    lesion = next((lower[g] for g in LESION_GUESSES if g in lower), None)
    numeric = [c for c in columns
               if pd.api.types.is_numeric_dtype(frame[c]) and c not in (label, lesion)]
    probabilities = [c for c in numeric if frame[c].between(0.0, 1.0).all()]
    return CsvColumns(columns, numeric, probabilities, label, lesion)


@user_errors
def column_choices(path: str | None) -> tuple[dict, dict, dict]:
    """Dropdown updates after an upload: label, score and lesion columns, with guesses."""
    if not path:
        return (gr.update(choices=[], value=None), gr.update(choices=[], value=[]),
                gr.update(choices=[], value=None))
    cols = inspect_columns(report.read_scores_csv(path))
    return (
        gr.update(choices=cols.columns, value=cols.label),
        gr.update(choices=cols.numeric, value=(cols.probabilities or cols.numeric)[:4]),
        gr.update(choices=["(none)", *cols.columns], value=cols.lesion or "(none)"),
    )


def guess_positive(values: pd.Series) -> str | None:
    """The positive class a label column suggests: None for 0/1 labels (1 is positive),
    else the first of GIST, malignant, positive, 1 present."""
    present = {str(v) for v in values.dropna().unique()}
    if set(values.dropna().unique().tolist()) <= {0, 1}:
        return None
    return next((p for p in DEFAULT_POSITIVE_LABELS if p in present), None)


@user_errors
def positive_choices(path: str | None, label_col: str | None) -> dict:
    """The positive-label dropdown for a label column: its labels, the data's guess chosen."""
    if not path or not label_col:
        return gr.update(choices=[], value=None)
    frame = report.read_scores_csv(path)
    if label_col not in frame.columns:
        return gr.update(choices=[], value=None)
    values = frame[label_col]
    labels = sorted({str(v) for v in values.dropna().unique()})
    return gr.update(choices=labels, value=guess_positive(values))


#: The threshold rules of :class:`~eusgist.report.Evaluation` in the tab's words.
_RULES = {"youden": "Youden's, chosen on these same cases (optimistic)"}


def _summary(ev: report.Evaluation, scoring: report.ScoringRecord | None) -> str:
    """The Markdown above the tables: cases, each model's AUC, what was left out, notes."""
    models = "; ".join(f"{n}: AUC {m.auc.auc:.3f} ({ci_range(m.auc.lo, m.auc.hi)})"
                       for n, m in ev.models.items())
    rule = _RULES.get(ev.threshold_rule, ev.threshold_rule)
    text = (f"**{ev.n} cases, {ev.n_positive} positive.** {models}. AUC intervals: "
            f"DeLong {100 * ev.level:g}%. Thresholds: {rule}.")
    if scoring is not None and (left_out := left_out_text(scoring)):
        text += f"\n\n**{left_out}**: listed in the Left out table and the report."
    notes = [*ev.notes, *(scoring.notes if scoring is not None else ())]
    if notes:
        text += "\n\n" + "\n".join(f"- {note}" for note in notes)
    return text


def _excluded_update(scoring: report.ScoringRecord | None) -> dict:
    if scoring is None or not (scoring.excluded or scoring.skipped_models):
        return gr.update(value=None, visible=False)
    rows = [{"Image or model": s.model, "Reason": f"model left out: {s.reason}"}
            for s in scoring.skipped_models]
    rows += [{"Image or model": e.image, "Reason": e.reason}
             for e in scoring.excluded[:MAX_EXCLUDED_SHOWN]]
    return gr.update(value=pd.DataFrame(rows), visible=True)


def _delong_update(ev: report.Evaluation) -> dict:
    """The DeLong table, hidden with one model (nothing to compare)."""
    table = report.delong_summary_table(ev)
    return gr.update(value=table, visible=not table.empty)


def _report_outputs(ev: report.Evaluation, out: Path,
                    scoring: report.ScoringRecord | None = None) -> Outputs:
    """What the tab shows of a written report folder."""
    archive = shutil.make_archive(str(out.parent / "eusgist-report"), "zip", out)
    return (
        _summary(ev, scoring),
        report.summary_table(ev),
        _delong_update(ev),
        str(out / "roc.png"),
        str(out / "calibration.png"),
        str(out / "dca.png"),
        archive,
        str(out / "report.html"),
        str(out / "performance.csv"),
        _excluded_update(scoring),
    )


def _threshold(text: str | None, default: str = "youden") -> report.Threshold:
    text = (text or default).strip()
    by_label = {label.lower(): value for label, value in (YOUDEN_CHOICE, BUNDLE_CHOICE)}
    word = by_label.get(text.lower(), text.lower())
    if word in ("youden", "bundle"):
        return word  # type: ignore[return-value]
    try:
        return float(text)
    except ValueError:
        raise EusgistError(f"threshold must be 'bundle', 'youden' or a number, "
                           f"got {text!r}") from None


def _positive_value(frame: pd.DataFrame, label_col: str, text: str | None) -> object:
    """The chosen positive label as the column holds it (``1`` for ``"1"`` in 0/1 labels)."""
    text = (text or "").strip()
    if not text:
        return None
    if label_col in frame.columns:
        for value in frame[label_col].dropna().unique():
            if str(value) == text:
                return value
    return text


@user_errors
def evaluate_upload(
    path: str | None,
    label_col: str | None,
    score_cols: list[str] | None,
    lesion_col: str | None,
    positive_label: str | None,
    threshold: str | None,
    ci: str,
    subgroups: str,
) -> Outputs:
    """Evaluate an uploaded scores CSV; return what the tab shows (:data:`Outputs`).

    The positive label defaults from the data; the threshold to Youden's (chosen on these
    same cases, optimistic), or a number.
    """
    if not path:
        raise EusgistError("upload a CSV of scores first")
    if not label_col:
        raise EusgistError("choose the label column")
    if not score_cols:
        raise EusgistError("choose at least one score column")
    rule = _threshold(threshold)
    if rule == "bundle":
        raise EusgistError("a scores table has no bundles' thresholds: choose Youden or type "
                           "a number (score an image set to use each model's own)")
    frame = report.read_scores_csv(path)
    options = report.EvaluationOptions(
        label_col=label_col,
        positive_label=_positive_value(frame, label_col, positive_label),
        lesion_col=None if lesion_col in (None, "", "(none)") else lesion_col,
        subgroups=tuple(s.strip() for s in (subgroups or "").split(";") if s.strip()),
        threshold=rule,
        ci=ci,
        n_bootstrap=200,
    )
    work = Path(tempfile.mkdtemp(prefix="eusgist-evaluate-"))
    ev, out = report.report_from_table(
        frame, score_cols, work / "report", options, source=Path(path).name
    )
    return _report_outputs(ev, out)


def model_choices() -> dict:
    """The loadable bundles in the weights folder, for the image-scoring selector."""
    names = [m.name for m in inference.list_models() if m.available]
    return gr.update(choices=names, value=names[:1])


@on_gpu(EVALUATE_SECONDS)
@user_errors
def evaluate_images(
    path: str | None,
    models: list[str] | None,
    threshold: str | None,
    ci: str,
    progress: gr.Progress = gr.Progress(),
) -> Outputs:
    """Score a labelled image set (ZIP with manifest.csv, images, masks) with the chosen
    bundles, then evaluate them per lesion; return what the tab shows (:data:`Outputs`).

    The threshold defaults to each model's own (its card's); the positive class comes from
    the data. A model scoring another class is skipped and rows no model could score are
    left out, both with their reasons.
    """
    from eusgist.inference.labelled import read_labelled, score_labelled

    if not path:
        raise EusgistError("upload a ZIP with manifest.csv, images and masks first")
    if not models:
        raise EusgistError("choose at least one model")
    rule = _threshold(threshold, default="bundle")
    report.EvaluationOptions(ci=ci)  # a bad option fails before any scoring
    work = Path(tempfile.mkdtemp(prefix="eusgist-evaluate-images-"))

    def step(k: int, name: str) -> None:
        progress(k / len(models), desc=f"scoring with {name}")

    # only the weights folder's bundles, never a path
    loaded = {name: inference.load_listed_model(name) for name in models}
    manifest = read_labelled(path, [m.classes[1] for m in loaded.values()], work / "data")
    scored = score_labelled(manifest, [str(m.path) for m in loaded.values()], progress=step)
    names = {str(m.path): name for name, m in loaded.items()}
    table = scored.table.rename(columns=names)
    record = replace(scored.record,
                     per_model={names[k]: v for k, v in scored.record.per_model.items()},
                     not_probabilities=tuple(names[k] for k in scored.record.not_probabilities))
    options = report.EvaluationOptions(
        positive_label=manifest.positive_label, lesion_col="lesion_id", threshold=rule,
        thresholds={names[k]: t for k, t in scored.thresholds.items()}, ci=ci, n_bootstrap=200,
    )
    progress(1.0, desc="statistics")
    cols = [names[k] for k in scored.models]
    ev, out = report.report_from_table(table, cols, work / "report", options,
                                       source=f"{Path(path).name} scored by {', '.join(models)}",
                                       scoring=record)
    return _report_outputs(ev, out, record)


def build() -> None:
    """Add the Evaluate tab to the enclosing Blocks."""
    with gr.Tab("Evaluate", id="evaluate", elem_id="evaluate"):
        gr.Markdown(
            "Upload a CSV with a label column and one score column per model (higher = more "
            "likely positive). With a lesion column, image scores are averaged per lesion first."
        )
        with gr.Row():
            upload = gr.File(label="Scores CSV", file_types=[".csv"], type="filepath")
            with gr.Column():
                # Custom values: API callers name columns without the upload's change event.
                label_col = gr.Dropdown(label="Label column", choices=[], allow_custom_value=True)
                score_cols = gr.Dropdown(label="Score columns", choices=[], multiselect=True,
                                         allow_custom_value=True)
                lesion_col = gr.Dropdown(label="Lesion column", choices=[], allow_custom_value=True)
            with gr.Column():
                positive = gr.Dropdown(label="Positive label", choices=[], allow_custom_value=True,
                                       info="From the data (e.g. malignant, GIST); 0/1 labels: 1")
                threshold = gr.Dropdown(label="Threshold", choices=[YOUDEN_CHOICE],
                                        value="youden", allow_custom_value=True,
                                        info="Or type a fixed number, e.g. 0.5")
                ci = gr.Dropdown(label="Proportion CI", choices=list(CI_METHODS), value="wilson")
                subgroups = gr.Textbox(label="Subgroups", placeholder="size_mm:20; location")
        run = gr.Button("Evaluate", variant="primary")
        with gr.Accordion("Or score a labelled image set with the models (external validation)",
                          open=False):
            gr.Markdown("A ZIP holding `manifest.csv` (image, mask, label, patient_id, "
                        "lesion_id) with its images and masks, e.g. from Annotate's export. "
                        "The positive class comes from the labels; a model of another class "
                        "is left out, and so is an image a model cannot score (e.g. an empty "
                        "mask), each with its reason. The proportion CI is taken from above.")
            with gr.Row():
                images_zip = gr.File(label="Image set (ZIP)", file_types=[".zip"],
                                     type="filepath")
                with gr.Column():
                    models = gr.Dropdown(label="Models", choices=[], multiselect=True,
                                         allow_custom_value=True)
                    images_threshold = gr.Dropdown(
                        label="Threshold", choices=[BUNDLE_CHOICE, YOUDEN_CHOICE],
                        value="bundle", allow_custom_value=True,
                        info="Or type a fixed number, e.g. 0.5")
            run_images = gr.Button("Score and evaluate")
        summary = gr.Markdown()
        performance = gr.Dataframe(label="Performance at the threshold", interactive=False,
                                   wrap=True, column_widths=["14%", *["15%"] * 5, "11%"])
        left_out = gr.Dataframe(label="Left out", interactive=False, visible=False, wrap=True)
        delong = gr.Dataframe(label="Pairwise DeLong tests", interactive=False, wrap=True,
                              visible=False)
        with gr.Row():
            roc = gr.Image(label="ROC", type="filepath")
            calibration = gr.Image(label="Calibration", type="filepath")
            dca = gr.Image(label="Decision curves", type="filepath")
        with gr.Row():
            archive = gr.File(label="Report (ZIP: report.json, CSVs, figures, HTML)")
            html = gr.File(label="Report (HTML)")
            full_table = gr.File(label="Full performance table (CSV)")
        outputs = [summary, performance, delong, roc, calibration, dca, archive, html,
                   full_table, left_out]
        upload.change(column_choices, inputs=upload, outputs=[label_col, score_cols, lesion_col],
                      api_name="inspect_scores_csv", show_progress="hidden")
        label_col.change(positive_choices, inputs=[upload, label_col], outputs=positive,
                         api_name="positive_labels", show_progress="hidden")
        run.click(
            evaluate_upload,
            inputs=[upload, label_col, score_cols, lesion_col, positive, threshold, ci, subgroups],
            outputs=outputs,
            api_name="evaluate_csv",
        )
        gr.on(triggers=None, fn=model_choices, inputs=None, outputs=models,
              api_name="evaluate_models", show_progress="hidden")
        run_images.click(evaluate_images, inputs=[images_zip, models, images_threshold, ci],
                         outputs=outputs, api_name="evaluate_images")
