"""SHAP explanations of tabular models, reported on readable original feature names.

How the values are computed is each classifier's own (its ``shap`` in
:mod:`eusgist.models.classifiers`; :data:`METHODS` lists them):

- Random forest: exact Tree SHAP (path-dependent) on the probability.
- XGBoost: exact Tree SHAP on the log-odds margin.
- SVM: interventional Shapley values of the calibrated probability against a small stored
  background sample, exact (all coalitions) up to :data:`EXACT_MAX_FEATURES` selected
  features, else an antithetic permutation estimate (as shap's PermutationExplainer);
  both are additive by construction.

In every case ``base_value + values.sum(axis=1) == output`` in the explained space
(:attr:`Explanation.space`). Values are attributed to the input columns the selector kept,
so a standardised feature and its raw column get the same SHAP value; ``data`` holds raw
values.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import NDArray

from eusgist.models.classifiers import get_classifier, list_classifiers
from eusgist.models.classifiers.shapley import EXACT_MAX_FEATURES
from eusgist.models.portable import PortableModel
from eusgist.segment.shape import SEG_FEATURES

log = logging.getLogger(__name__)

__all__ = [
    "EXACT_MAX_FEATURES",
    "METHODS",
    "Explanation",
    "background_sample",
    "explain",
    "readable_name",
    "shap_summary",
]


class _Methods(Mapping[str, tuple[str, str]]):
    """Per registered classifier: how its SHAP values are computed, and their output space."""

    def __getitem__(self, name: str) -> tuple[str, str]:
        if name not in list_classifiers():
            raise KeyError(name)
        spec = get_classifier(name)
        return spec.shap_method, spec.shap_space

    def __iter__(self) -> Iterator[str]:
        return iter(list_classifiers())

    def __len__(self) -> int:
        return len(list_classifiers())


#: Per classifier: ``(how its SHAP values are computed, the output space they explain)``;
#: a live view of the registry.
METHODS: Mapping[str, tuple[str, str]] = _Methods()

_RADIOMICS_CLASSES = {
    "firstorder": "first-order",
    "glcm": "GLCM",
    "glrlm": "GLRLM",
    "glszm": "GLSZM",
    "gldm": "GLDM",
    "ngtdm": "NGTDM",
    "shape": "shape",
    "shape2D": "shape 2D",
}
_LOG_SIGMA = re.compile(r"log-sigma-(\d+)-(\d+)-mm-3D")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+")


def readable_name(column: str) -> str:
    """A feature column as a person would write it.

    Examples
    --------
    >>> readable_name("rad_original_glcm_Contrast")
    'GLCM contrast (original)'
    >>> readable_name("rad_wavelet-LH_firstorder_10Percentile")
    'first-order 10 percentile (wavelet LH)'
    >>> readable_name("deep_resnet18_007")
    'deep feature 7 (resnet18)'
    """
    if column.startswith("rad_"):
        parts = column[4:].split("_")
        if len(parts) == 3 and parts[1] in _RADIOMICS_CLASSES:
            image_type, cls, name = parts
            words = [w if (w.isupper() and len(w) > 1) else w.lower() for w in _WORDS.findall(name)]
            log_sigma = _LOG_SIGMA.fullmatch(image_type)
            where = (f"LoG sigma {log_sigma[1]}.{log_sigma[2]} mm" if log_sigma
                     else image_type.replace("-", " "))
            return f"{_RADIOMICS_CLASSES[cls]} {' '.join(words) or name} ({where})"
        return column[4:]
    if column.startswith("deep_"):
        backbone, _, index = column[5:].rpartition("_")
        if backbone and index.isdigit():
            return f"deep feature {int(index)} ({backbone})"
        return column[5:]
    if column in SEG_FEATURES:
        return f"outline in the box: {SEG_FEATURES[column]}"
    return column


#: An embedding with more columns than this is explained as one contribution (an L1
#: selection keeps at most 30 columns in all, which stay one by one).
GROUP_OVER = 30


def embedding_group(column: str) -> str | None:
    """The embedding a deep column belongs to, in words (``"deep features of the whole frame
    (tf_efficientnet_lite0)"``); None for any other column."""
    if not column.startswith("deep_"):
        return None
    backbone, _, index = column[5:].rpartition("_")
    if not backbone or not index.isdigit():
        return None
    if backbone.startswith("frame_"):
        return f"deep features of the whole frame ({backbone[6:]})"
    return f"deep features of the lesion crop ({backbone})"


@dataclass(frozen=True)
class Explanation:
    """SHAP values of some rows.

    Attributes
    ----------
    features : tuple of str
        Original column names (the model's selected inputs).
    values : ndarray of shape (n, k)
        SHAP value of each feature for each row.
    base_value : float
        Expected model output (over the background, or the training data for trees).
    data : ndarray of shape (n, k)
        Raw feature values of the rows.
    output : ndarray of shape (n,)
        Model output in the explained space; equals ``base_value + values.sum(1)``.
    space : {"probability", "log-odds"}
    """

    features: tuple[str, ...]
    values: NDArray[np.float64]
    base_value: float
    data: NDArray[np.float64]
    output: NDArray[np.float64]
    space: str

    def contributions(self, row: int = 0) -> list[tuple[str, float, float]]:
        """``(readable feature, raw value, SHAP)`` of one row, largest |SHAP| first.

        A whole embedding the model reads (more than :data:`GROUP_OVER` columns of one
        backbone and view) is one entry, its columns' SHAP summed (SHAP values add up) and
        its value the number of columns: single embedding columns mean nothing to a reader.
        """
        groups: dict[str, list[int]] = {}
        for j, column in enumerate(self.features):
            groups.setdefault(embedding_group(column) or column, []).append(j)
        items = []
        for name, cols in groups.items():
            if len(cols) > GROUP_OVER:
                items.append((name, float(len(cols)), float(self.values[row, cols].sum())))
            else:
                items += [(readable_name(self.features[j]), float(self.data[row, j]),
                           float(self.values[row, j])) for j in cols]
        return sorted(items, key=lambda item: -abs(item[2]))


def background_sample(
    model: PortableModel, frame: pd.DataFrame, *, n: int = 50, seed: int = 0
) -> NDArray[np.float64]:
    """Up to ``n`` random rows of ``frame``'s selected features, raw (the SHAP background)."""
    raw = model.raw_matrix(frame)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(raw.shape[0], size=min(n, raw.shape[0]), replace=False))
    return raw[rows]


def explain(
    model: PortableModel, frame: pd.DataFrame, background: NDArray[np.float64], *, seed: int = 0
) -> Explanation:
    """SHAP values of each row of ``frame`` by the model's classifier's method.

    Parameters
    ----------
    model : PortableModel
    frame : pandas.DataFrame
        Rows to explain; must hold the model's selected feature columns.
    background : ndarray of shape (m, k)
        Raw background rows of the selected features (:func:`background_sample`); used by
        interventional methods (the SVM) only.
    seed : int
        Seed of the permutation estimator.
    """
    raw = model.raw_matrix(frame)
    x = model.standardise(raw)
    spec = get_classifier(model.classifier)
    values, base, output = spec.shap(model, x, model.standardise(background), seed)
    return Explanation(model.features, values, base, raw, output, spec.shap_space)


def shap_summary(
    explanation: Explanation, out_dir: str | os.PathLike[str], *, top: int = 20, title: str = ""
) -> tuple[Path, Path]:
    """Global summary of the top features by mean |SHAP| (zhao2026 Figure 2).

    Writes ``shap_summary.png`` (one row of dots per feature: SHAP value, coloured by the
    feature's value within its range) and ``shap_summary.csv`` (rank, feature, readable
    name, mean |SHAP|, mean SHAP); returns both paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    importance = np.abs(explanation.values).mean(axis=0)
    order = np.argsort(-importance, kind="stable")[:top]
    csv_path = out / "shap_summary.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "feature", "readable_name", "mean_abs_shap", "mean_shap"])
        for rank, j in enumerate(order, start=1):
            name = explanation.features[j]
            writer.writerow([rank, name, readable_name(name), f"{importance[j]:.6g}",
                             f"{explanation.values[:, j].mean():.6g}"])
    png_path = out / "shap_summary.png"
    fig = Figure(figsize=(7.5, 0.35 * len(order) + 1.6))  # no pyplot: no global state
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for pos, j in enumerate(order[::-1]):
        v, d = explanation.values[:, j], explanation.data[:, j]
        span = np.nanmax(d) - np.nanmin(d)
        colour = (d - np.nanmin(d)) / span if span > 0 else np.full_like(d, 0.5)
        jitter = rng.uniform(-0.25, 0.25, size=v.size)
        points = ax.scatter(v, pos + jitter, c=colour, cmap="coolwarm", vmin=0, vmax=1,
                            s=9, linewidths=0)
    labels = [readable_name(explanation.features[j]) for j in order[::-1]]
    ax.set_yticks(range(len(order)), labels)
    ax.axvline(0.0, color="0.6", linewidth=0.8)
    ax.set_xlabel(f"SHAP value (impact on {explanation.space})")
    if title:
        ax.set_title(title)
    bar = fig.colorbar(points, ax=ax, ticks=[0, 1], aspect=40)
    bar.ax.set_yticklabels(["low", "high"])
    bar.set_label("feature value")
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    log.info("SHAP summary of %d rows written to %s", explanation.values.shape[0], png_path)
    return png_path, csv_path
