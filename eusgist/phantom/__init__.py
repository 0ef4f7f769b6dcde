"""Synthetic EUS images of gastric GISTs and leiomyomas, for demos and tests."""

from eusgist.phantom.dataset import MANIFEST_COLUMNS, generate_dataset
from eusgist.phantom.lesion import LesionSpec, PatientSpec, sample_lesion, sample_patient
from eusgist.phantom.priors import GIST, LABELS, LEIOMYOMA, PRIORS, ClassPrior
from eusgist.phantom.render import (
    FrameMeta, FrameParams, PhantomConfig, render_frame, sample_frame_params,
)

__all__ = [
    "GIST", "LABELS", "MANIFEST_COLUMNS", "LEIOMYOMA", "PRIORS", "ClassPrior", "FrameMeta", "FrameParams",
    "LesionSpec", "PatientSpec", "PhantomConfig", "generate_dataset", "render_frame", "sample_frame_params",
    "sample_lesion", "sample_patient",
]
