"""Predict tab: one EUS image and its lesion ROI through a model bundle.

The work is :func:`eusgist.inference.predict.predict`, the same call as ``python -m eusgist
predict``; this module reads the uploads, turns a drawn, uploaded or boxed ROI into a mask
and shows the result. Every prediction comes with the model card: intended use (not for
clinical use), training data and test metrics; synthetic demo models say so everywhere.
A volume model (3D or 2d-slice CNN) takes a NIfTI/NRRD volume with an uploaded mask volume;
the editor then only previews the middle slice. Multi-phase 3D models are for the API/CLI.
"""

from __future__ import annotations

import html
import logging
import math
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from eusgist.errors import EusgistError
from eusgist.inference import catalog
from eusgist.inference.outcomes import outcome_sentence
from eusgist.inference.predict import Prediction, predict
from eusgist.io import read_image
from eusgist.ui.errors import user_errors
from eusgist.ui.gpu import PREDICT_SECONDS, on_gpu
from eusgist.ui.predict_models import (
    describe,
    example_files,
    examples_label,
    model_choices,
    model_examples,
    pick_example,
    shipped_notice,
)
from eusgist.ui.predict_panels import (
    SHAP_CSS,
    clear_result,
    gradcam_figure,
    shap_html,
    show_panels,
    technical_names,
)
from eusgist.ui.predict_roi import display_gray, resolve_roi, roi_view, show_drawing
from eusgist.ui.shape_overlay import shape_overlay

log = logging.getLogger(__name__)

SYNTHETIC_NOTE = ("**SYNTHETIC demo model**: trained on computer-generated phantom images; "
                  "its output says nothing about real patients.")


def list_models() -> list[dict[str, Any]]:
    """The bundles in the weights folder: name, kind, availability, synthetic, data statement."""
    return [{"name": m.path.name, "label": m.label, "kind": m.kind, "available": m.available,
             "synthetic": m.synthetic, "training_data": m.summary, "error": m.error}
            for m in catalog.list_models()]


def refresh_models() -> dict:
    """Selector update with the current bundles (first available one selected)."""
    choices = model_choices()
    available = [name for label, name in choices if not label.endswith("(unavailable)")]
    return gr.update(choices=choices, value=available[0] if available else None)


def _decision_rule(model: catalog.LoadedModel) -> str:
    """The threshold rule; a router's, per ROI kind (each routed bundle keeps its own)."""
    neg, pos = model.classes
    if model.routes:
        rules = [f"{kind} ROIs ({sub.path.name}): {pos} when P({pos}) ≥ {sub.threshold:.3f}"
                 for kind, sub in model.routes.items()]
        return "; ".join(rules) + f"; else {neg}."
    return f"{pos} when P({pos}) ≥ {model.threshold:.3f}, else {neg}."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def input_statement(model: catalog.LoadedModel) -> str | None:
    """What a volume model takes, for the card; None for a 2D model."""
    if model.dims == "2d":
        return None
    if model.dims == "2d-slice":
        return ("2D CNN on one slice of a volume: upload a NIfTI/NRRD volume and its mask "
                "volume; the slice with the largest lesion area is scored, as in training.")
    size = "×".join(map(str, model.expects["volume_size"]))
    text = f"3D model (R3D-18 on volumes resampled to {size} voxels)"
    if len(model.phases) > 1:
        return (f"{text}; expects {len(model.phases)} co-registered phases: "
                f"{', '.join(model.phases)}. This tab takes one volume: predict multi-phase "
                "from the API or the CLI (`python -m eusgist predict --model "
                f"{model.path.name} --phase {model.phases[0]}=FILE ... --mask MASK`).")
    phase = f" (phase {model.phases[0]})" if model.phases else ""
    return (f"{text}: upload one NIfTI/NRRD volume{phase} and its lesion mask volume; "
            "painting is not used.")


def card_markdown(model: catalog.LoadedModel) -> str:
    """The model card panel: input, intended use, training data, test metrics, threshold."""
    neg, pos = model.classes
    lines = [f"### Model card: {model.name} ({model.kind})"]
    if model.synthetic:
        lines.append(SYNTHETIC_NOTE)
    takes = input_statement(model)
    if takes:
        lines.append(f"**Input.** {takes}")
    lines += [
        f"**Intended use.** {catalog.intended_use(model.model_card)}",
        f"**Training data.** {_sentence(catalog.training_statement(model.card))}",
        f"**Test performance.** {_sentence(catalog.metrics_statement(model.card))}",
        f"**Decision rule.** {_decision_rule(model)}",
    ]
    gate = domain_statement(model)
    if gate:
        lines.append(f"**Out-of-domain check.** {gate}")
    return "\n\n".join(lines)


def domain_statement(model: catalog.LoadedModel) -> str | None:
    """What the bundle's out-of-domain gate does and how often it fired on its own test
    images (a router's, per routed bundle); None without a gate."""
    bundles = list(dict.fromkeys(model.routes.values())) if model.routes else [model]
    parts = []
    for sub in bundles:
        info = sub.card.get("domain")
        if sub.domain is None or not isinstance(info, dict):
            continue
        rate = info.get("flag_rate") or {}
        name = f"{sub.path.name}: " if model.routes else ""
        parts.append(f"{name}images unlike its {info['fitted_on']['n_train']} training images "
                     f"are flagged (flagged {100 * rate.get('test', float('nan')):.0f}% of its "
                     f"{rate.get('n_test', '?')} test images)")
    return "; ".join(parts) + "; flagged images are still scored." if parts else None


@user_errors
def model_card(name: str | None) -> str:
    """The model card panel of the selected model."""
    if not name:
        return "No model selected: put bundles in the weights folder (`$EUSGIST_WEIGHTS_DIR`)."
    return card_markdown(catalog.load_listed_model(name))


@user_errors
def model_description(name: str | None) -> str:
    """The chosen model in two lines (task, method, training data, per-ROI-kind test AUC)."""
    if not name:
        return ""
    return describe(catalog.load_listed_model(name))


@user_errors
def show_image(path: str | None) -> dict | None:
    """An uploaded image as the ROI editor's background (grey, 8-bit display); a volume's
    middle slice."""
    if not path:
        return None
    gray = display_gray(read_image(path, name=Path(path).name, allow_volume=True))
    return {"background": np.stack([gray] * 3, axis=-1), "layers": [], "composite": None}


#: The out-of-domain warning shown above the result.
DOMAIN_WARNING = (
    '<div id="predict-ood-warning" role="alert" style="border:2px solid #b00020;'
    'background:#fdecea;color:#7a0010;padding:.7em 1em;border-radius:6px;font-size:1.05em">'
    "<strong>&#9888; Out of domain: this image does not look like the images this model was "
    "trained on.</strong><br>{reason}.<br>The probability below is not meaningful for it: "
    "do not use it.</div>")


def domain_warning(pred: Prediction) -> str:
    """The prominent warning for a flagged image ("" otherwise)."""
    if pred.domain is None or not pred.domain.out_of_domain:
        return ""
    reason = pred.domain.reason
    return DOMAIN_WARNING.format(reason=html.escape(reason[:1].upper() + reason[1:]))


def domain_json(pred: Prediction) -> dict[str, Any]:
    """The out-of-domain verdict for API clients (``out_of_domain`` None when unchecked)."""
    return {"out_of_domain": pred.out_of_domain,
            **(pred.domain.to_dict() if pred.domain is not None else {})}


def decision_markdown(pred: Prediction) -> str:
    """Decision, threshold, notes and timings of one prediction."""
    pos = pred.classes[1]
    tag = " (SYNTHETIC demo model)" if pred.synthetic else ""
    roi = {"outline": "an outline (mask or painting)", "box": "a box"}.get(pred.roi_kind or "",
                                                                      "the whole image")
    lines = [f"### Model output: **{pred.decision}**{tag}",
             f"P({pos}) = {pred.positive_probability:.3f}; threshold {pred.threshold:.3f}; "
             f"ROI: {roi}. Research output, not a diagnosis."]
    if pred.observed is not None:
        lines.append("Held out: " + outcome_sentence(pred.observed, pos))
    if pred.domain is not None:
        flag = "**Out of domain**" if pred.domain.out_of_domain else "Domain check"
        lines.append(f"{flag}: {pred.domain.reason}.")
    lines += [f"*{note}*" for note in pred.notes]
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in pred.timings_ms.items())
    lines.append(f"<small>{timings} on {pred.device}</small>")
    return "\n\n".join(lines)


def parse_spacing(value: float | str | None) -> float | None:
    """Pixel spacing in mm from the spacing box: None (unknown) when empty, or 0 as API
    clients sent for unknown before the box took text.

    Raises
    ------
    ValueError
        Not a positive number.
    """
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        spacing = float(text)
    except ValueError:
        spacing = math.nan
    if spacing == 0:
        return None
    if not (math.isfinite(spacing) and spacing > 0):
        raise EusgistError(f"pixel spacing must be a positive number of mm (or empty for "
                           f"unknown), got {text!r}")
    return spacing


@on_gpu(PREDICT_SECONDS)
@user_errors
def predict_image(
    name: str | None,
    image_path: str | None,
    editor: dict | None,
    mask_path: str | None,
    box_text: str | None,
    spacing_mm: float | str | None,
    drawing: str | None = None,
) -> tuple[dict[str, float], str, str, np.ndarray | None, str, str, dict[str, Any]]:
    """Predict an upload; return probabilities, decision, SHAP bars (HTML; empty for a CNN),
    Grad-CAM with its colour scale (None for a tabular model), the card, the out-of-domain
    warning ("" unless flagged) and verdict (for API clients).

    The ROI is given one way (:func:`resolve_roi`): an uploaded mask, a typed box
    ``x0,y0,x1,y1``, a box or outline drawn on the overlay (its JSON value), or painting.
    ``spacing_mm`` (the tab's text box): empty or None means unknown.
    """
    if not name:
        raise EusgistError("choose a model first")
    if not image_path:
        raise EusgistError("upload an image first")
    model = catalog.load_listed_model(name)
    if len(model.phases) > 1:
        raise EusgistError(input_statement(model))
    image = read_image(image_path, name=Path(image_path).name, allow_volume=True)
    mask, box = resolve_roi(image, editor, mask_path, box_text, drawing,
                            painting=not image.is_volume and model.dims == "2d")
    pred = predict(model, image_path if model.dims == "2d" else image, mask, box=box,
                   spacing_mm=parse_spacing(spacing_mm))
    return (pred.probabilities, decision_markdown(pred),
            shap_html(pred, technical_names(model)), gradcam_figure(pred.gradcam),
            card_markdown(model), domain_warning(pred), domain_json(pred))


def build() -> None:
    """Add the Predict tab to the enclosing Blocks."""
    with gr.Tab("Predict", id="predict", elem_id="predict"):
        notice = gr.Markdown(elem_id="predict-notice")
        gr.Markdown(
            "Score one image with a model. Give the lesion ROI one way: drag a box on the "
            "image, click an outline, paint it, type a box or upload a mask file. A 3D (or "
            "2d-slice) model takes a NIfTI/NRRD volume and its mask volume as a file; the "
            "editor then shows the middle slice only."
        )
        with gr.Row():
            with gr.Column(scale=3):
                model = gr.Dropdown(label="Model", choices=[], allow_custom_value=True,
                                    elem_id="predict-model")
                about_model = gr.Markdown(elem_id="predict-model-about")
                examples_at = gr.Column()  # the chosen model's examples, filled below
                image = gr.File(label="Image (PNG, JPEG, DICOM, ...; NIfTI/NRRD volume "
                                      "for a 3D model)", type="filepath",
                                elem_id="predict-image")
                drawing = shape_overlay(
                    "Lesion ROI: drag a box on the image (or click the points of an outline)",
                    elem_id="predict-drawing", single=True, display_height=400,
                    placeholder="Upload an image above to draw the lesion ROI on it.")
                editor = gr.ImageEditor(
                    label="… or paint the lesion (or give a mask file or type a box below)",
                    type="numpy", image_mode="RGBA", format="png", sources=[], transforms=(),
                    brush=gr.Brush(colors=["#ff4040"], color_mode="fixed"),
                    layers=gr.LayerOptions(allow_additional_layers=False, layers=["lesion"]),
                    elem_id="predict-editor", height=420,
                )
                with gr.Row():
                    mask = gr.File(label="Lesion mask (optional)", type="filepath",
                                   elem_id="predict-mask")
                    with gr.Column():
                        box = gr.Textbox(label="Box x0,y0,x1,y1 (pixels, optional)",
                                         elem_id="predict-box")
                        spacing = gr.Textbox(
                            label="Pixel spacing, mm (if not in the file)",
                            placeholder="unknown (empty)", elem_id="predict-spacing")
                run = gr.Button("Predict", variant="primary", elem_id="predict-run")
                with examples_at:
                    gr.set_static_paths(example_files())  # served as they are, never copied
                    shown = gr.Dataset(
                        components=[image, mask, spacing], samples=[], type="values",
                        headers=["Image", "Mask", "Spacing (mm)"], label=examples_label(None),
                        visible=False, elem_id="predict-examples")
            with gr.Column(scale=2):
                roi = gr.Image(label="ROI the model used (yellow)", type="numpy", format="png",
                               interactive=False, height=300, elem_id="predict-roi")
                warning = gr.Markdown(elem_id="predict-domain-warning")
                # The decision at the bundle's threshold is the headline; the probability
                # bars carry no heading of their own (their argmax can differ from it).
                decision = gr.Markdown(elem_id="predict-decision")
                probabilities = gr.Label(label="Class probabilities", num_top_classes=2,
                                         show_heading=False, elem_id="predict-probabilities")
                shap = gr.HTML(css_template=SHAP_CSS, visible=False, elem_id="predict-shap",
                               js_on_load=None, padding=True)
                gradcam = gr.Image(label="Grad-CAM on the model input (CNN models)",
                                   type="numpy", format="jpeg", interactive=False, height=540,
                                   visible=False, elem_id="predict-gradcam")
                card = gr.Markdown(elem_id="predict-card")
                domain = gr.JSON(visible=False, elem_id="predict-domain")
        result = [probabilities, decision, shap, gradcam, roi, warning, domain]
        gr.api(list_models, api_name="list_models")
        gr.on(triggers=None, fn=refresh_models, inputs=None, outputs=model,
              api_name="refresh_models", show_progress="hidden")
        gr.on(triggers=None, fn=shipped_notice, inputs=None, outputs=notice,
              api_name="predict_notice", show_progress="hidden")
        model.change(model_card, inputs=model, outputs=card, api_name="model_card",
                     show_progress="hidden")
        model.change(model_description, inputs=model, outputs=about_model,
                     api_name="model_description", show_progress="hidden")
        model.change(model_examples, inputs=model, outputs=shown, api_name="model_examples",
                     show_progress="hidden")
        shown.click(pick_example, inputs=shown, outputs=[image, mask, spacing],
                    api_visibility="private", queue=False, show_progress="hidden")
        for source in (model, image):  # a result never outlives its model or image
            source.change(clear_result, None, result, api_visibility="private", queue=False,
                          show_progress="hidden")
        image.change(show_image, inputs=image, outputs=editor, api_name="predict_show_image",
                     show_progress="hidden")
        image.change(show_drawing, inputs=image, outputs=drawing, api_visibility="private",
                     show_progress="hidden")
        run.click(clear_result, None, result, api_visibility="private", queue=False,
                  show_progress="hidden"
                  ).then(predict_image, inputs=[model, image, editor, mask, box, spacing, drawing],
                         outputs=[probabilities, decision, shap, gradcam, card, warning, domain],
                         api_name="predict"
                  ).success(show_panels, [shap, gradcam], [shap, gradcam],
                            api_visibility="private", queue=False, show_progress="hidden"
                  ).success(roi_view, [model, image, editor, mask, box, drawing], roi,
                            api_name="predict_roi", show_progress="hidden")
