"""SHAP explanations of tabular models, reported on readable original feature names.

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
from collections.abc import Callable
from dataclasses import dataclass
from math import factorial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shap
from matplotlib.figure import Figure
from numpy.typing import NDArray
from scipy.special import expit

from eusgist.errors import EusgistError
from eusgist.models.portable import PortableModel

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

#: Up to this many selected features, SVM Shapley values enumerate every coalition.
EXACT_MAX_FEATURES = 10
#: Permutations (each run forward and backward) of the SVM estimator above that.
N_PERMUTATIONS = 10
#: Per classifier: how its SHAP values are computed, and the output space they explain.
METHODS: dict[str, tuple[str, str]] = {
    "svm": (
        f"interventional Shapley values against the stored background: exact up to "
        f"{EXACT_MAX_FEATURES} features, else {N_PERMUTATIONS} antithetic permutations",
        "probability",
    ),
    "rf": ("Tree SHAP (exact, path-dependent)", "probability"),
    "xgboost": ("Tree SHAP (exact, path-dependent)", "log-odds"),
}

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
    return column


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
        """``(readable feature, raw value, SHAP)`` of one row, largest |SHAP| first."""
        order = np.argsort(-np.abs(self.values[row]), kind="stable")
        return [
            (readable_name(self.features[j]), float(self.data[row, j]), float(self.values[row, j]))
            for j in order
        ]


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
    """SHAP values of each row of ``frame`` (see the module docstring for the method).

    Parameters
    ----------
    model : PortableModel
    frame : pandas.DataFrame
        Rows to explain; must hold the model's selected feature columns.
    background : ndarray of shape (m, k)
        Raw background rows of the selected features (:func:`background_sample`); used by
        the SVM path only.
    seed : int
        Seed of the SVM permutation estimator.
    """
    raw = model.raw_matrix(frame)
    x = model.standardise(raw)
    if model.classifier == "svm":
        values, base, output = _svm_shap(model, x, model.standardise(background), seed)
    else:
        tree_model: Any = model.tree_model() if model.classifier == "rf" else model.booster
        explainer = shap.TreeExplainer(tree_model)
        values = np.asarray(explainer.shap_values(x), dtype=np.float64)
        base = float(np.ravel(explainer.expected_value)[-1])
        if model.classifier == "rf":
            output = model.output(x)
        else:
            margin = model.booster.predict(x, output_margin=True)  # type: ignore[union-attr]
            output = np.asarray(margin, dtype=np.float64)
    _, space = METHODS[model.classifier]
    return Explanation(model.features, values, base, raw, output, space)


#: A cooperative game: ``value(row, masks)`` is the model's expected output for each
#: coalition (row of ``masks``) with the coalition's features taken from ``row``.
Game = Callable[[NDArray[np.float64], NDArray[np.bool_]], NDArray[np.float64]]
#: Most float64 values one block of SVM coalition kernels may hold (bounds memory).
_BLOCK_VALUES = 4_000_000


def _svm_shap(
    model: PortableModel, x: NDArray[np.float64], background: NDArray[np.float64], seed: int
) -> tuple[NDArray[np.float64], float, NDArray[np.float64]]:
    if background.ndim != 2 or background.shape[1] != x.shape[1] or background.shape[0] == 0:
        raise EusgistError(
            f"SHAP background has shape {background.shape}; expected (m, {x.shape[1]})"
        )
    game = _svm_game(model, background)
    if x.shape[1] <= EXACT_MAX_FEATURES:
        values = _exact_shapley(game, x)
    else:
        values = _permutation_shapley(game, x, np.random.default_rng(seed))
    base = float(np.mean(model.output(background)))
    return values, base, model.output(x)


def masked_game(
    f: Callable[[NDArray[np.float64]], NDArray[np.float64]], background: NDArray[np.float64]
) -> Game:
    """The interventional game of any model ``f``: the mean of ``f`` over background rows
    with the coalition's features set to the explained row's values (the definition)."""

    def value(row: NDArray[np.float64], masks: NDArray[np.bool_]) -> NDArray[np.float64]:
        mixed = np.where(masks[:, None, :], row, background[None, :, :])
        return f(mixed.reshape(-1, row.size)).reshape(masks.shape[0], -1).mean(axis=1)

    return value


def _svm_game(model: PortableModel, background: NDArray[np.float64]) -> Game:
    """:func:`masked_game` of the calibrated RBF SVM, computed fast.

    A squared distance is a sum over features, so the distance of a mixed row to a
    support vector is the background row's distance plus, for each coalition feature,
    the change from swapping in the explained row's value: one matrix product per block
    of coalitions instead of building every mixed row.
    """
    sv = model.arrays["support_vectors"]
    dual = model.arrays["dual_coef"]
    gamma, intercept = model.params["gamma"], model.params["intercept"]
    bg_sq = (background[:, None, :] - sv[None, :, :]) ** 2  # (m, n_sv, k)
    bg_dist = bg_sq.sum(axis=2).reshape(-1)  # (m * n_sv,)
    m, n_sv, k = bg_sq.shape
    block = max(1, _BLOCK_VALUES // (m * n_sv))

    def value(row: NDArray[np.float64], masks: NDArray[np.bool_]) -> NDArray[np.float64]:
        swap = ((row - sv) ** 2)[None, :, :] - bg_sq  # (m, n_sv, k)
        swap = swap.reshape(-1, k).T  # (k, m * n_sv)
        out = np.empty(masks.shape[0])
        for start in range(0, masks.shape[0], block):
            chunk = masks[start:start + block].astype(np.float64)
            dist = bg_dist + chunk @ swap  # (c, m * n_sv)
            kernel = np.exp(-gamma * dist).reshape(-1, m, n_sv)
            decision = kernel @ dual + intercept  # (c, m)
            proba = expit(model.params["platt_a"] * decision + model.params["platt_b"])
            out[start:start + block] = proba.mean(axis=1)
        return out

    return value


def _permutation_shapley(
    game: Game, x: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Shapley values averaged over random feature orders and their reverses.

    Each order adds the features one by one and credits each with the change it makes,
    so every order's contributions sum to ``v(all) - v(none)`` (additive exactly).
    """
    n, k = x.shape
    values = np.zeros((n, k))
    steps = np.arange(k + 1)[:, None]
    for i in range(n):
        for _ in range(N_PERMUTATIONS):
            order = rng.permutation(k)
            for perm in (order, order[::-1]):
                rank = np.empty(k, dtype=np.int64)
                rank[perm] = np.arange(k)
                v = game(x[i], rank[None, :] < steps)
                values[i, perm] += np.diff(v)
    return values / (2 * N_PERMUTATIONS)


def _exact_shapley(game: Game, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shapley values by enumerating all ``2**k`` coalitions."""
    n, k = x.shape
    codes = np.arange(2**k)
    masks = ((codes[:, None] >> np.arange(k)) & 1).astype(bool)  # coalition code -> members
    sizes = masks.sum(axis=1)
    weight = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
    values = np.empty((n, k))
    for i in range(n):
        v = game(x[i], masks)
        for j in range(k):
            without = codes[~masks[:, j]]
            values[i, j] = np.sum(weight[sizes[without]] * (v[without | (1 << j)] - v[without]))
    return values


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
