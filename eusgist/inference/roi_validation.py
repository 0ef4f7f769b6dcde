"""Validate a bundle per ROI kind: the same test lesions scored with expert outlines and with
boxes, through the app's scoring path.

A model that is excellent on expert outlines can be poor on the box a clinician drags, so a
bundle's card reports its test metrics per ROI kind (``test_metrics_by_roi``) and every
prediction says which kind it used. :func:`validate_roi_kinds` scores the test split of a
manifest (its ``split`` column, else the grouped split the trainers use) once with the
expert masks and once with their bounding boxes; :func:`record_roi_metrics` writes the
result into the bundle's card.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eusgist import stats
from eusgist.bundles.card import update_card
from eusgist.data import Manifest, read_manifest, train_test_split
from eusgist.errors import EusgistError
from eusgist.inference.batch import manifest_spacings, model_inputs, score_images
from eusgist.inference.catalog import LoadedModel, load_model
from eusgist.io import read_mask
from eusgist.roi_kinds import ROI_KINDS, box_mask, mask_box, rough_outline

log = logging.getLogger(__name__)

#: The card key holding the per-ROI-kind test metrics.
CARD_KEY = "test_metrics_by_roi"
#: An extra entry: hand-drawn-like outlines (:func:`eusgist.roi_kinds.rough_outline`), an
#: outline kind, reported to show how much a painted outline costs.
ROUGH = "rough_outline"
#: Equal-count bins of held-out lesion probabilities (each with its observed outcomes): what a
#: prediction's probability meant on the test lesions.
OUTCOME_BINS = 5
ROI_TEXT = {"outline": "expert mask", "box": "the mask's bounding box",
            ROUGH: "the expert mask dilated or eroded by up to 6% of the lesion's diameter, its "
                   "edge made uneven (seeded)"}


def held_out_rows(manifest: Manifest, *, test_size: float = 0.2, seed: int = 0) -> np.ndarray:
    """The test rows: the manifest's ``split`` column when it has one, else the grouped
    lesion split of :func:`eusgist.data.train_test_split` (as ``train`` and ``train-cnn``)."""
    table = manifest.table
    if "split" in table.columns:
        rows = np.flatnonzero(table["split"].astype(str).str.lower() == "test")
    else:
        rows = train_test_split(manifest, test_size=test_size, group="lesion", seed=seed)[1]
    if "roi_variant" in table.columns:  # ROI variants: the expert outline stands for the row
        rows = rows[table["roi_variant"].iloc[rows].astype(str).isin(["expert", ""]).to_numpy()]
    rows = rows[(table["mask"].iloc[rows].astype(str).str.strip() != "").to_numpy()]
    if len(rows) == 0:
        raise EusgistError("no masked test rows to validate on")
    return rows


def _metrics(y: np.ndarray, p: np.ndarray, lesions: np.ndarray) -> dict[str, Any]:
    """Lesion-level (mean of image probabilities) AUC with its DeLong CI and Brier score."""
    per_lesion = stats.aggregate_by_lesion(lesions, y, p, how="mean")
    yl, pl = per_lesion.y_true, per_lesion.y_score
    auc = stats.roc_auc_ci(yl, pl)
    return {"auc": auc.auc, "auc_ci": [auc.lo, auc.hi], "auc_ci_method": "DeLong, 95%",
            "brier": stats.brier_score(yl, pl), "n_lesions": int(len(yl)),
            "n_positive_lesions": int(yl.sum()), "n_images": int(len(y)),
            "outcome_bins": outcome_bins(yl, pl)}


def outcome_bins(y: np.ndarray, p: np.ndarray, n_bins: int = OUTCOME_BINS
                 ) -> list[dict[str, float | int]]:
    """Held-out lesions sorted by probability and cut into ``n_bins`` bins of (nearly) equal
    count: each bin's probability range ``lo``-``hi``, lesions ``n`` and positives
    ``positive`` (ties never split across bins)."""
    order = np.argsort(p, kind="stable")
    ps, ys = np.asarray(p, float)[order], np.asarray(y, int)[order]
    cuts = [round(k * len(ps) / n_bins) for k in range(n_bins + 1)]
    bins: list[dict[str, float | int]] = []
    start = 0
    for end in cuts[1:]:
        while 0 < end < len(ps) and ps[end] == ps[end - 1]:
            end += 1
        if end <= start:
            continue
        bins.append({"lo": float(ps[start]), "hi": float(ps[end - 1]), "n": int(end - start),
                     "positive": int(ys[start:end].sum())})
        start = end
    return bins


def validate_roi_kinds(
    model: LoadedModel | str | os.PathLike[str],
    manifest: str | os.PathLike[str] | Manifest,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    n_jobs: int = -1,
) -> dict[str, dict[str, Any]]:
    """Test metrics of ``model`` per ROI kind on ``manifest``'s test lesions.

    Returns ``{"outline": {...}, "box": {...}, "rough_outline": {...}}`` with ``auc``,
    ``auc_ci``, ``brier``, ``n_lesions``, ``n_positive_lesions``, ``n_images``, the ``roi``
    and the ``split`` used.
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    data = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
    if loaded.classes[1] != data.positive_label:
        raise EusgistError(f"model {loaded.name!r} scores {loaded.classes[1]!r}, but the data's "
                           f"positive class is {data.positive_label!r}")
    rows = held_out_rows(data, test_size=test_size, seed=seed)
    test = data.subset(rows)
    inputs = model_inputs(test, loaded)
    outlines = [read_mask(test.mask_path(i)) for i in range(len(test))]
    boxes = [box_mask(mask_box(m), m.shape) for m in outlines]
    rng = np.random.default_rng(seed)  # the same rough outlines for every model
    rough = [rough_outline(m, rng) for m in outlines]
    spacing = manifest_spacings(test)
    y, lesions = test.y, test.table["lesion_id"].astype(str).to_numpy()
    split = ("manifest 'split' column" if "split" in data.table.columns
             else f"by lesion, test_size {test_size}, seed {seed}")
    out: dict[str, dict[str, Any]] = {}
    for kind, masks in zip((*ROI_KINDS, ROUGH), (outlines, boxes, rough), strict=True):
        p = score_images(loaded, inputs, masks, spacing_mm=spacing, n_jobs=n_jobs)
        out[kind] = {**_metrics(y, p, lesions), "split": split, "roi": ROI_TEXT[kind]}
        log.info("%s, %s ROIs: test AUC %.3f (%.3f-%.3f), Brier %.3f, %d lesions", loaded.name,
                 kind, out[kind]["auc"], *out[kind]["auc_ci"], out[kind]["brier"],
                 out[kind]["n_lesions"])
    return out


def record_roi_metrics(bundle: str | os.PathLike[str],
                       metrics: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write ``metrics`` into the bundle's card as ``test_metrics_by_roi`` (atomically; the
    weight files and their checksums are untouched). Returns the card's path."""
    return update_card(bundle, {CARD_KEY: {kind: dict(m) for kind, m in metrics.items()}})
