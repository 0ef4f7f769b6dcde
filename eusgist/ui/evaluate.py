"""Evaluate tab: a labelled CSV of model scores in, the paper statistics out.

The work is :func:`eusgist.report.report_from_table`, the same call as
``python -m eusgist evaluate --csv``; this module only reads the upload, calls it and shows
the report folder's tables and figures.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from eusgist import inference, report
from eusgist.errors import EusgistError
from eusgist.stats import CI_METHODS
from eusgist.ui.errors import user_errors
from eusgist.ui.gpu import EVALUATE_SECONDS, on_gpu

log = logging.getLogger(__name__)

LABEL_GUESSES = ("label", "y", "y_true", "class", "diagnosis", "pathology")
LESION_GUESSES = ("lesion_id", "lesion")
#: Decimals shown in the tables on the page (the report's CSVs keep full precision).
DISPLAY_DECIMALS = 4


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


def _report_outputs(ev: report.Evaluation, out: Path) -> tuple[str, pd.DataFrame, pd.DataFrame,
                                                                str, str, str, str, str]:
    """What the tab shows of a written report folder."""
    archive = shutil.make_archive(str(out.parent / "eusgist-report"), "zip", out)
    models = ", ".join(f"{n}: AUC {m.auc.auc:.3f} ({m.auc.lo:.3f}–{m.auc.hi:.3f})"
                       for n, m in ev.models.items())
    summary = (f"**{ev.n} cases, {ev.n_positive} positive.** {models}. "
               "AUC intervals: DeLong 95%. Thresholds chosen on these same cases are optimistic.")
    return (
        summary,
        pd.read_csv(out / "performance.csv").round(DISPLAY_DECIMALS),
        pd.read_csv(out / "delong.csv").round(DISPLAY_DECIMALS),
        str(out / "roc.png"),
        str(out / "calibration.png"),
        str(out / "dca.png"),
        archive,
        str(out / "report.html"),
    )


def _threshold(text: str) -> report.Threshold:
    text = (text or "youden").strip().lower()
    if text == "youden":
        return "youden"
    try:
        return float(text)
    except ValueError:
        raise EusgistError(f"threshold must be 'youden' or a number, got {text!r}") from None


@user_errors
def evaluate_upload(
    path: str | None,
    label_col: str | None,
    score_cols: list[str] | None,
    lesion_col: str | None,
    positive_label: str,
    threshold: str,
    ci: str,
    subgroups: str,
) -> tuple[str, pd.DataFrame, pd.DataFrame, str, str, str, str, str]:
    """Evaluate an uploaded scores CSV; return what the tab shows.

    Returns the summary (Markdown), the performance and DeLong tables, the ROC,
    calibration and decision-curve figures, and the report as a ZIP and as HTML.
    """
    if not path:
        raise EusgistError("upload a CSV of scores first")
    if not label_col:
        raise EusgistError("choose the label column")
    if not score_cols:
        raise EusgistError("choose at least one score column")
    frame = report.read_scores_csv(path)
    options = report.EvaluationOptions(
        label_col=label_col,
        positive_label=positive_label.strip() or None,
        lesion_col=None if lesion_col in (None, "", "(none)") else lesion_col,
        subgroups=tuple(s.strip() for s in (subgroups or "").split(";") if s.strip()),
        threshold=_threshold(threshold),
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
    threshold: str,
    ci: str,
    progress: gr.Progress = gr.Progress(),
) -> tuple[str, pd.DataFrame, pd.DataFrame, str, str, str, str, str]:
    """Score a labelled image set (ZIP with manifest.csv, images, masks) with the chosen
    bundles, then evaluate them per lesion; return what the tab shows."""
    if not path:
        raise EusgistError("upload a ZIP with manifest.csv, images and masks first")
    if not models:
        raise EusgistError("choose at least one model")
    work = Path(tempfile.mkdtemp(prefix="eusgist-evaluate-images-"))

    def step(k: int, name: str) -> None:
        progress(k / len(models), desc=f"scoring with {name}")

    for name in models:
        inference.load_listed_model(name)  # only the weights folder's bundles, never a path
    table, manifest = inference.score_dataset(path, models, work / "data", progress=step)
    options = report.EvaluationOptions(
        positive_label=manifest.positive_label, lesion_col="lesion_id",
        threshold=_threshold(threshold), ci=ci, n_bootstrap=200,
    )
    progress(1.0, desc="statistics")
    ev, out = report.report_from_table(table, list(models), work / "report", options,
                                       source=f"{Path(path).name} scored by {', '.join(models)}")
    return _report_outputs(ev, out)


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
                positive = gr.Textbox(label="Positive label", placeholder="GIST (default)")
                threshold = gr.Textbox(label="Threshold", value="youden")
                ci = gr.Dropdown(label="Proportion CI", choices=list(CI_METHODS), value="wilson")
                subgroups = gr.Textbox(label="Subgroups", placeholder="size_mm:20; location")
        run = gr.Button("Evaluate", variant="primary")
        with gr.Accordion("Or score a labelled image set with the models", open=False):
            gr.Markdown("A ZIP holding `manifest.csv` (image, mask, label, patient_id, "
                        "lesion_id) with its images and masks, e.g. from Annotate's export. "
                        "Threshold and proportion CI are taken from the options above.")
            with gr.Row():
                images_zip = gr.File(label="Image set (ZIP)", file_types=[".zip"],
                                     type="filepath")
                models = gr.Dropdown(label="Models", choices=[], multiselect=True,
                                     allow_custom_value=True)
            run_images = gr.Button("Score and evaluate")
        summary = gr.Markdown()
        performance = gr.Dataframe(label="Performance at the threshold", interactive=False)
        delong = gr.Dataframe(label="Pairwise DeLong tests", interactive=False)
        with gr.Row():
            roc = gr.Image(label="ROC", type="filepath")
            calibration = gr.Image(label="Calibration", type="filepath")
            dca = gr.Image(label="Decision curves", type="filepath")
        with gr.Row():
            archive = gr.File(label="Report (ZIP: report.json, CSVs, figures, HTML)")
            html = gr.File(label="Report (HTML)")
        upload.change(column_choices, inputs=upload, outputs=[label_col, score_cols, lesion_col],
                      api_name="inspect_scores_csv", show_progress="hidden")
        run.click(
            evaluate_upload,
            inputs=[upload, label_col, score_cols, lesion_col, positive, threshold, ci, subgroups],
            outputs=[summary, performance, delong, roc, calibration, dca, archive, html],
            api_name="evaluate_csv",
        )
        outputs = [summary, performance, delong, roc, calibration, dca, archive, html]
        gr.on(triggers=None, fn=model_choices, inputs=None, outputs=models,
              api_name="evaluate_models", show_progress="hidden")
        run_images.click(evaluate_images, inputs=[images_zip, models, threshold, ci],
                         outputs=outputs, api_name="evaluate_images")
