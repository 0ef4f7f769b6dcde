"""Annotate tab: worklists, drawing lesion ROIs, labels and metadata, review and export.

This module lays the tab out and wires its events (the public Gradio endpoints
``annotate_*``); the handlers are in :mod:`eusgist.ui.annotate_actions`, the store, the
annotator and the per-session state in :mod:`eusgist.ui.annotate_session`, the pictures
and the ImageEditor's value in :mod:`eusgist.ui.annotate_pictures`, and the keyboard
shortcuts and the in-browser display contrast in :mod:`eusgist.ui.annotate_keys`. The names
other code uses from here are re-exported.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from eusgist.store import LABELS
from eusgist.store.db import storage_notice
from eusgist.ui.annotate_actions import (
    add_shape,
    change_contrast,
    decide,
    export_zip,
    header_view,
    history_table,
    load_image,
    merge,
    next_image,
    preview_redactions,
    preview_revision,
    reading_view,
    restore_revision,
    review_view,
    role_view,
    save_annotation,
    step_image,
    unannotated_table,
    upload_images,
    worklist_table,
)
from eusgist.ui.annotate_keys import CONTRAST_JS, KEYS_HELP, KEYS_JS
from eusgist.ui.annotate_session import (
    BRUSH_OPACITY,
    CASE_FORM,
    EDITOR_CANVAS,
    FORM_FIELDS,
    WORKLISTS,
    Loaded,
    annotator_name,
    brush_opacity,
    current_store,
    lesion_brush,
    metadata_input,
)
from eusgist.ui.annotate_shapes import (
    SHOW_EDITOR_JS,
    add_drawn_shapes,
    drawing_contrast,
    segment_box,
    show_drawing,
    suggest_outline,
)
from eusgist.ui.shape_overlay import shape_overlay

__all__ = [
    "Loaded", "add_shape", "annotator_name", "build", "change_contrast", "current_store",
    "decide", "export_zip", "header_view", "history_table", "load_image", "merge",
    "next_image", "preview_revision", "reading_view", "restore_revision", "review_view",
    "role_view", "save_annotation", "step_image", "unannotated_table", "upload_images",
    "worklist_table",
]


def build() -> None:
    """Add the Annotate tab to the enclosing Blocks."""
    with gr.Tab("Annotate", id="annotate", elem_id="annotate"):
        notice = storage_notice()  # a Space without persistent storage says so
        if notice:
            gr.Markdown(f"⚠️ {notice}", elem_id="annotate-storage-notice")
        loaded = gr.State(None)
        seen = gr.State({})
        # The editor shows the image at contrast 1; the slider's contrast is applied in the
        # browser (CONTRAST_JS) so that moving it never replaces the layers being painted.
        shown_contrast = gr.Number(1.0, visible=False)
        gr.HTML(KEYS_HELP, js_on_load=KEYS_JS, elem_id="annotate-keys")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                name = gr.Textbox(label="Your name", placeholder="used when not signed in",
                                  elem_id="annotate-name")
                role = gr.Markdown(elem_id="annotate-role")
                with gr.Row():
                    kind = gr.Radio(list(WORKLISTS), value="todo", label="Worklist (todo: not "
                                    "yet annotated by me)", scale=3)
                    refresh_btn = gr.Button("Refresh", scale=1, size="sm")
                worklist = gr.Dataframe(unannotated_table, label="Images (click a row to open)",
                                        interactive=False, max_height=260, wrap=True,
                                        column_widths=["12%", "30%", "22%", "20%", "16%"],
                                        elem_id="annotate-worklist")
                with gr.Row():
                    image_id = gr.Number(label="Image id", precision=0, value=None,
                                         placeholder="click a row or type an id",
                                         elem_id="annotate-image-id")
                    open_btn = gr.Button("Open", elem_id="annotate-open")
                with gr.Accordion("Upload images", open=True):
                    files = gr.File(label="Images, ZIP or DICOM", file_count="multiple",
                                    type="filepath", elem_id="annotate-files")
                    patient = gr.Textbox(label="Patient code (optional)")
                    lesion = gr.Textbox(label="Lesion code (optional)")
                    redact = gr.Number(label="DICOM: blank top band (px)", value=0,
                                       precision=0, minimum=0)
                    blank_text = gr.Checkbox(
                        value=True, label="Blank burned-in text (names, IDs, dates) found in "
                        "the pixels (recommended)", elem_id="annotate-blank-text")
                    with gr.Row():
                        preview_btn = gr.Button("Preview what will be blanked", size="sm")
                        upload_btn = gr.Button("Upload")
                    redaction_preview = gr.Gallery(label="Regions blanked on import (red)",
                                                   columns=2, height=260, visible=True)
                    upload_log = gr.Markdown()
            with gr.Column(scale=3):
                description = gr.Markdown("Open an image from the worklist.")
                editor = gr.ImageEditor(
                    label="Lesion ROI: brush paints, eraser removes; undo and zoom in the toolbar",
                    type="numpy", image_mode="RGBA", format="png", sources=[], transforms=(),
                    canvas_size=EDITOR_CANVAS[::-1],
                    brush=lesion_brush(BRUSH_OPACITY),
                    layers=gr.LayerOptions(allow_additional_layers=False, layers=["lesion"]),
                    elem_id="annotate-editor", height=560,
                )
                contrast = gr.Slider(0.5, 3.0, value=1.0, step=0.1, elem_id="annotate-contrast",
                                     label="Display contrast (in the browser; the painting "
                                           "stays)")
                opacity = gr.Slider(0.2, 1.0, value=BRUSH_OPACITY, step=0.05,
                                    label="Brush opacity (new strokes)",
                                    elem_id="annotate-opacity")
                drawing = shape_overlay(
                    "Box or polygon: draw on the image, then add it to the mask",
                    elem_id="annotate-drawing", display_height=480,
                    placeholder="Open an image to draw boxes and polygons on it.")
                with gr.Row():
                    add_btn = gr.Button("Add the drawn shapes to the mask (then save)",
                                        elem_id="annotate-add-shapes")
                    suggest_btn = gr.Button("Suggest outline inside the box (AI, check it)",
                                            elem_id="annotate-suggest")
                # Typed points (x,y pairs) for API clients: the annotate_shape endpoint.
                points = gr.Textbox(visible=False)
                shape_btn = gr.Button(visible=False)
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("**Your reading** (yours alone: other annotators never see it)")
                diagnosis = gr.Radio(list(LABELS), label="Your diagnosis (impression)",
                                     elem_id="annotate-diagnosis")
                metadata = [metadata_input(f) for f in FORM_FIELDS]
                with gr.Group(elem_id="annotate-case"):
                    gr.Markdown("**Case record** (reviewers enter and see it; blank for "
                                "annotators, who read blind)")
                    label = gr.Radio(list(LABELS), label="Pathology result", interactive=False)
                    confirmed = gr.Checkbox(label="Pathology-confirmed", interactive=False)
                    case = [metadata_input(f, interactive=False) for f in CASE_FORM]
                submit = gr.Checkbox(label="Submit for review", value=True)
                note = gr.Textbox(label="Note (Enter saves)", elem_id="annotate-note")
                with gr.Row():
                    save_btn = gr.Button("Save", variant="primary", elem_id="annotate-save")
                    next_btn = gr.Button("Save and next", elem_id="annotate-save-next")
                with gr.Row():
                    prev_img = gr.Button("◀ Previous image", size="sm",
                                         elem_id="annotate-previous-image")
                    next_img = gr.Button("Next image ▶", size="sm", elem_id="annotate-next-image")
                status = gr.Markdown(elem_id="annotate-status")
        with gr.Accordion("History of my annotation", open=False):
            history_btn = gr.Button("Show history")
            history = gr.Dataframe(interactive=False)
            with gr.Row():
                revision = gr.Number(label="Revision", precision=0, value=None,
                                     placeholder="blank: the latest", elem_id="annotate-revision")
                source = gr.Number(label="Annotation id (reviewers: another's)", precision=0,
                                   value=None, placeholder="blank: yours")
                preview_btn = gr.Button("Preview", elem_id="annotate-preview")
                restore_btn = gr.Button("Restore this revision", elem_id="annotate-restore")
            gr.Markdown("Restoring saves the revision (mask and reading) again as your newest "
                        "one: a submitted annotation stays submitted for review (an accepted "
                        "or rejected one goes back to review), a draft stays a draft.")
            history_status = gr.Markdown(elem_id="annotate-history-status")
            preview = gr.Image(label="Revision (read-only)", type="filepath", interactive=False)
        with gr.Accordion("Review and agreement", open=False):
            review_btn = gr.Button("Compare annotations of this image")
            with gr.Row():
                picture = gr.Image(label="Masks overlaid (one colour per annotator)",
                                   type="numpy", interactive=False)
                with gr.Column():
                    agreement = gr.Dataframe(label="Agreement", interactive=False)
                    annotations = gr.Dataframe(label="Annotations", interactive=False)
                    choice = gr.Dropdown(label="Annotation", choices=[],
                                         allow_custom_value=True)
                    decision = gr.Radio(["accept", "reject"], value="accept", label="Decision")
                    review_note = gr.Textbox(label="Review note")
                    decide_btn = gr.Button("Apply decision (reviewers)")
                    method = gr.Radio(["majority", "union", "intersection"], value="majority",
                                      label="Merge method")
                    merge_btn = gr.Button("Merge into my accepted annotation (reviewers)")
                    review_status = gr.Markdown()
        with gr.Accordion("Export dataset", open=False):
            with gr.Row():
                drafts = gr.Checkbox(label="Include drafts")
                confirmed_only = gr.Checkbox(label="Pathology-confirmed only")
                export_btn = gr.Button("Export ZIP")
            export_log = gr.Markdown()
            archive = gr.File(label="Dataset (manifest.csv, images/, masks/)")

        load_inputs = [image_id, shown_contrast, loaded, name]
        form = [diagnosis, *metadata]
        load_outputs = [editor, loaded, description, *form, label, confirmed, *case, revision]
        on_editor = {"show_progress_on": editor}
        save_inputs = [editor, loaded, name, *form, label, confirmed, *case, submit, note]
        header = {"fn": header_view, "inputs": [loaded, name], "outputs": description,
                  "api_visibility": "private"}
        # The worklist refresh and review redraw that follow an action are UI plumbing: their
        # public endpoints are annotate_worklist and annotate_review.
        refresh = {"fn": worklist_table, "inputs": [kind, name], "outputs": worklist,
                   "api_visibility": "private"}
        # Progress, and a refusal's one "Error" badge, show on one output only (not on each).
        review = {"fn": review_view, "inputs": [image_id, contrast, name],
                  "outputs": [picture, agreement, annotations, choice, seen],
                  "show_progress_on": review_status}

        upload_btn.click(upload_images, [files, patient, lesion, redact, name, blank_text],
                         upload_log, api_name="annotate_upload").success(**refresh)
        preview_btn.click(preview_redactions, [files, redact, blank_text], redaction_preview,
                          api_name="annotate_preview_redaction")
        gr.on([kind.change, name.submit, name.blur, refresh_btn.click], worklist_table,
              [kind, name], worklist, api_name="annotate_worklist")
        gr.on([name.submit, name.blur], role_view, name, role, api_name="annotate_role")

        def pick(table: pd.DataFrame, evt: gr.SelectData) -> int:
            return int(table.iloc[evt.index[0]]["id"])

        # A row click needs the browser's selection; API clients call annotate_load directly.
        worklist.select(pick, worklist, image_id, api_name="annotate_pick",
                        api_visibility="private").success(
            load_image, load_inputs, load_outputs, api_name="annotate_open",
            api_visibility="private", **on_editor)
        open_btn.click(load_image, load_inputs, load_outputs, api_name="annotate_load",
                       **on_editor)
        contrast.input(None, contrast, None, js=CONTRAST_JS)
        opacity.release(brush_opacity, opacity, editor, api_visibility="private",
                        show_progress="hidden")
        # The server-side redraw stays an API endpoint (a hidden button): the page itself
        # never sends the editor back for a contrast change.
        gr.Button(visible=False).click(change_contrast, [editor, loaded, contrast], editor,
                                       api_name="annotate_contrast")
        shape_btn.click(add_shape, [editor, loaded, points, shown_contrast], [editor, loaded],
                        api_name="annotate_shape")
        add_btn.click(add_drawn_shapes, [editor, loaded, drawing, shown_contrast],
                      [editor, loaded, drawing], api_name="annotate_add_shapes")
        # The outline lands in the editor, above the overlay: show it (a notice says to check it).
        suggest_btn.click(suggest_outline, [editor, loaded, drawing, shown_contrast],
                          [editor, loaded, drawing], api_name="annotate_suggest_outline",
                          **on_editor).success(None, js=SHOW_EDITOR_JS).success(**header)
        # API only: the segmenter's outline inside a box of an uploaded image.
        seg_image, seg_box = gr.File(visible=False), gr.Textbox(visible=False)
        seg_mask = gr.Image(visible=False, format="png", image_mode="L")
        gr.Button(visible=False).click(segment_box, [seg_image, seg_box], seg_mask,
                                       api_name="segment")
        # Opening an image rewrites the description (loaded, a State, is not hashable).
        description.change(show_drawing, [loaded, contrast, drawing], drawing,
                           api_visibility="private", show_progress="hidden")
        contrast.release(drawing_contrast, [loaded, contrast, drawing], drawing,
                         api_visibility="private", show_progress="hidden")
        gr.on([save_btn.click, note.submit], save_annotation, save_inputs, [status, loaded],
              api_name="annotate_save", show_progress_on=status).success(**header).success(
            **refresh)
        next_btn.click(save_annotation, save_inputs, [status, loaded],
                       api_name="annotate_save_next", show_progress_on=status).success(
            next_image, [kind, loaded, name], image_id, api_name="annotate_next").success(
            load_image, load_inputs, load_outputs,
            api_name="annotate_load_next", api_visibility="private", **on_editor).success(
            **refresh)
        for button, forward in ((prev_img, False), (next_img, True)):
            button.click(step_image, [kind, loaded, gr.State(forward), name], image_id,
                         api_visibility="private").success(
                load_image, load_inputs, load_outputs, api_visibility="private", **on_editor)
        history_btn.click(history_table, [loaded, name], history, api_name="annotate_history")
        revision_inputs = [loaded, revision, source, contrast, name]
        preview_btn.click(preview_revision, revision_inputs, [preview, history_status],
                          api_name="annotate_preview_revision", show_progress_on=history_status)
        restore_btn.click(restore_revision, revision_inputs, [editor, loaded, history_status],
                          api_name="annotate_restore", show_progress_on=history_status).success(
            reading_view, [loaded, name], [description, *form],
            api_visibility="private", show_progress_on=description).success(
            history_table, [loaded, name], history, api_visibility="private").success(**refresh)
        review_btn.click(**review, api_name="annotate_review")
        decide_btn.click(decide, [choice, decision, review_note, seen, name], review_status,
                         api_name="annotate_decide").success(**review, api_visibility="private")
        merge_btn.click(merge, [image_id, method, name], review_status,
                        api_name="annotate_merge").success(**review, api_visibility="private")
        export_btn.click(export_zip, [drafts, confirmed_only, name], [export_log, archive],
                         api_name="annotate_export", show_progress_on=export_log)
