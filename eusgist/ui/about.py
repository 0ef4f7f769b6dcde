"""About tab: what the tool is, what it is not, and where the numbers come from."""

from __future__ import annotations

import gradio as gr

INTENDED_USE = """\
**Intended use.** eusgist is research software for studying how well models tell gastric
gastrointestinal stromal tumours (GIST) from leiomyomas on endoscopic ultrasound (EUS) images,
and for reproducing published methods (ResNet on EUS; radiomics + deep features with SVM,
XGBoost and random forest; ROC/DeLong, calibration and decision-curve evaluation) on your own
data. It is **not a medical device** and is **not validated for clinical use**: no prediction
shown here may guide the care of a patient. Every model states the data it was trained on;
models trained on synthetic or non-EUS data say so.
"""


def build() -> None:
    """Add the About tab to the enclosing Blocks."""
    with gr.Tab("About", id="about", elem_id="about"):
        gr.Markdown(INTENDED_USE)
