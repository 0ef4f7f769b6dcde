"""Synthetic EUS images of gastric GISTs and leiomyomas, for demos and tests.

Each lesion's attributes are drawn from the class statistics of guo2024 Table 1
(:mod:`eusgist.phantom.priors`); each frame is simulated from physics
(:mod:`eusgist.phantom.physics`): random sub-resolution scatterers whose strength follows
the tissue (water, the five-layer gastric wall, the lesion with its texture, cysts and
calcifications; :mod:`eusgist.phantom.scene`), attenuated along each beam and compensated
by TGC, convolved with an RF point-spread function, envelope-detected, log-compressed and
scan-converted into a convex sector. Frames of one lesion differ in section, angle,
depth, frequency, gain and probe position.

- :func:`sample_lesion` / :func:`sample_patient` — draw a :class:`LesionSpec` / patient.
- :func:`render_frame` — one (image, mask, :class:`FrameMeta`) of a lesion.
- :func:`generate_dataset` — a manifest data set on disk (``python -m eusgist phantom``).
"""

from eusgist.phantom.dataset import MANIFEST_COLUMNS, generate_dataset
from eusgist.phantom.lesion import LesionSpec, PatientSpec, sample_lesion, sample_patient
from eusgist.phantom.priors import GIST, LABELS, LEIOMYOMA, PRIORS, ClassPrior
from eusgist.phantom.render import (
    FrameMeta,
    FrameParams,
    PhantomConfig,
    render_frame,
    sample_frame_params,
)

__all__ = [
    "GIST", "LABELS", "MANIFEST_COLUMNS", "LEIOMYOMA", "PRIORS", "ClassPrior", "FrameMeta",
    "FrameParams", "LesionSpec", "PatientSpec", "PhantomConfig", "generate_dataset",
    "render_frame", "sample_frame_params", "sample_lesion", "sample_patient",
]
