"""A labelled image set scored by model bundles for an evaluation (external validation).

:func:`score_labelled` scores a manifest with every bundle that fits it and keeps going past
what would stop a strict run, recording it instead:

- a bundle whose positive class is not the data's is skipped (:class:`SkippedModel`);
- a row a bundle cannot score (no mask, an empty or unreadable mask, an unreadable image,
  a failed prediction) is left out of every model's scores, so that all models are compared
  on the same cases (:class:`Excluded`, with its reason).

It also gives each model's own locked threshold (its model card's), on the scale of its
scores. A router bundle decides with the threshold of the bundle each ROI kind goes to: when
the set holds one ROI kind that threshold is used; when it mixes kinds, the router's scores
are rescaled so that every routed bundle's threshold maps to 0.5 (the app's decisions,
one cut-off), and they are then no longer probabilities.

:func:`read_labelled` reads the set with its positive class taken from the data.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eusgist.data import Manifest, read_manifest
from eusgist.errors import EusgistError, ManifestError
from eusgist.inference.batch import (
    MANIFEST_NAME,
    OUT_OF_DOMAIN,
    domain_summary,
    manifest_spacings,
    model_inputs,
    score_images,
    unpack_dataset_zip,
)
from eusgist.inference.catalog import LoadedModel, load_model
from eusgist.report.results import Excluded, ScoringRecord, SkippedModel
from eusgist.report.text import threshold_text

log = logging.getLogger(__name__)

#: A row's mask, checked once for every 2D model: (why it cannot be used, its ROI kind).
MaskCheck = tuple[str | None, str | None]
_NO_MASK = "no mask"


@dataclass(frozen=True)
class LabelledScores:
    """A labelled set scored by bundles, ready for :func:`eusgist.report.report_from_table`.

    Attributes
    ----------
    table : DataFrame
        The manifest rows every remaining model scored, with one score column per model
        (named by the key it was given as).
    models : list of str
        The keys of the models that scored, in the order given.
    names : dict of str to str
        Each scoring key's model name (from its card).
    thresholds : dict of str to float
        Each model's own threshold on the scale of its column.
    probabilities : dict of str to ndarray
        Each model's positive-class probabilities of the table's rows (the columns hold
        them too, except a router's rescaled scores).
    record : ScoringRecord
        Rows and models left out, notes, per-model facts (threshold source, ROI kinds).
    """

    table: pd.DataFrame
    models: list[str]
    names: dict[str, str]
    thresholds: dict[str, float]
    probabilities: dict[str, np.ndarray]
    record: ScoringRecord


def read_labelled(
    source: str | os.PathLike[str], positives: Sequence[str], workdir: str | os.PathLike[str],
    *, positive_label: str | None = None, allow_outside_root: bool = False,
) -> Manifest:
    """Read a labelled set (manifest CSV, dataset folder or ZIP, unpacked into ``workdir``).

    The positive class is ``positive_label`` when given; else the data's own (the first of
    GIST, malignant, positive, 1 present); else the first of ``positives`` (the models'
    positive classes) among the labels.
    """
    path = Path(source)
    if path.is_dir():
        path = path / MANIFEST_NAME
    elif path.suffix.lower() != ".csv":
        path = unpack_dataset_zip(path, workdir)
    candidates = [positive_label] if positive_label is not None \
        else [None, *dict.fromkeys(positives)]
    first: ManifestError | None = None
    for candidate in candidates:
        try:
            return read_manifest(path, positive_label=candidate,
                                 allow_outside_root=allow_outside_root)
        except ManifestError as exc:  # the next candidate may be among the labels
            first = first or exc
    assert first is not None  # noqa: S101 - at least one candidate was tried
    raise first


def _check_masks(manifest: Manifest) -> list[MaskCheck]:
    """Each row's 2D mask: why it cannot be used (or None) and its ROI kind."""
    from eusgist.io import read_mask
    from eusgist.roi_kinds import roi_kind_of

    out: list[MaskCheck] = []
    for i in range(len(manifest)):
        path = manifest.mask_path(i)
        if path is None:
            out.append((_NO_MASK, None))
            continue
        try:
            mask = read_mask(path, allow_empty=True)
        except (ValueError, OSError) as exc:
            out.append((f"mask unreadable: {exc}", None))
            continue
        out.append(("mask is empty (no lesion pixel)", None) if not mask.any()
                   else (None, roi_kind_of(mask)))
    return out


def _skip_reason(loaded: LoadedModel, manifest: Manifest) -> str | None:
    positive = loaded.classes[1]
    if positive == manifest.positive_label:
        return None
    if positive not in manifest.classes:
        return (f"scores {positive!r}, which is not among the data's labels "
                f"({', '.join(manifest.classes)})")
    return f"scores {positive!r}, but the data's positive class is {manifest.positive_label!r}"


def _score_rows(loaded: LoadedModel, manifest: Manifest, rows: np.ndarray,
                failures: dict[int, str]) -> np.ndarray:
    """``loaded``'s scores of ``rows`` (NaN elsewhere); a failing batch is retried image by
    image, each failure's message put in ``failures`` by row."""
    out = np.full(len(manifest), np.nan)
    if not rows.size:
        return out
    inputs = model_inputs(manifest, loaded)
    masks = [manifest.mask_path(i) for i in range(len(manifest))]
    spacings = manifest_spacings(manifest) or [None] * len(manifest)
    try:
        out[rows] = score_images(loaded, [inputs[i] for i in rows], [masks[i] for i in rows],
                                 spacing_mm=[spacings[i] for i in rows])
    except (ValueError, OSError) as exc:
        log.warning("%s: scoring the set failed (%s); scoring image by image", loaded.name, exc)
        for i in rows:
            try:
                out[i] = score_images(loaded, [inputs[i]], [masks[i]],
                                      spacing_mm=[spacings[i]], n_jobs=1)[0]
            except (ValueError, OSError) as one:
                failures[int(i)] = str(one)
    for i in rows[~np.isfinite(out[rows])]:
        failures.setdefault(int(i), "no score")
    return out


def score_labelled(
    manifest: Manifest,
    models: Sequence[str],
    *,
    progress: Callable[[int, str], None] | None = None,
) -> LabelledScores:
    """Score ``manifest`` with each model that scores its positive class.

    ``progress(k, name)`` is called before the k-th model runs.

    Raises
    ------
    EusgistError
        No model given, none that fits the data, a model named like a manifest column, or
        no row every remaining model could score.
    """
    if not models:
        raise EusgistError("choose at least one model")
    n = len(manifest)
    reasons: list[dict[str, None]] = [{} for _ in range(n)]  # ordered sets of reasons
    checks: list[MaskCheck] | None = None
    loaded_models: dict[str, LoadedModel] = {}
    scores: dict[str, np.ndarray] = {}
    kinds: dict[str, list[str | None]] = {}
    skipped: list[SkippedModel] = []
    keys = list(dict.fromkeys(str(m) for m in models))
    for k, key in enumerate(keys):
        if progress is not None:
            progress(k, key)
        loaded = load_model(key)
        if (why := _skip_reason(loaded, manifest)) is not None:
            log.warning("model %s left out: %s", loaded.name, why)
            skipped.append(SkippedModel(loaded.name, why))
            continue
        if key in manifest.table.columns:
            raise EusgistError(f"model name {key!r} clashes with a manifest column")
        usable = np.array([not r for r in reasons])
        failures: dict[int, str] = {}
        if loaded.dims == "2d":
            checks = checks if checks is not None else _check_masks(manifest)
            kinds[key] = [kind for _, kind in checks]
            if loaded.needs_mask:
                for i, (problem, _) in enumerate(checks):
                    if problem is not None and usable[i]:
                        failures[i] = (f"no mask ({loaded.name} needs a lesion ROI)"
                                       if problem == _NO_MASK else problem)
                        usable[i] = False
        s = _score_rows(loaded, manifest, np.flatnonzero(usable), failures)
        if not np.isfinite(s).any():
            why = Counter(failures.values()).most_common(1)[0][0] if failures \
                else "no image to score"
            log.warning("model %s left out: it scored no image (%s)", loaded.name, why)
            skipped.append(SkippedModel(loaded.name, f"scored no image: {why}"))
            continue
        for i, why in failures.items():
            reasons[i][why] = None
        loaded_models[key], scores[key] = loaded, s
        log.info("scored %d images with %s", int(np.isfinite(s).sum()), loaded.name)
    if not scores:
        raise EusgistError("no model can be evaluated on these data: "
                           + "; ".join(f"model {s.model!r} {s.reason}" for s in skipped))
    keep = np.array([not r for r in reasons])
    for s in scores.values():
        keep &= np.isfinite(s)
    excluded = tuple(Excluded(str(manifest.table["image"].iat[i]),
                              "; ".join(reasons[i]) or "no score",
                              str(manifest.table["mask"].iat[i]))
                     for i in np.flatnonzero(~keep))
    if not keep.any():
        raise EusgistError(f"no image could be scored by every model; e.g. "
                           f"{excluded[0].image}: {excluded[0].reason}")
    if excluded:
        log.warning("%d of %d image(s) left out (listed in the report): e.g. %s: %s",
                    len(excluded), n, excluded[0].image, excluded[0].reason)
    table = manifest.table.loc[keep].reset_index(drop=True)
    thresholds: dict[str, float] = {}
    notes: list[str] = []
    per_model: dict[str, dict] = {}
    not_probabilities: list[str] = []
    for key, loaded in loaded_models.items():
        kept = scores[key][keep]
        own = _own_threshold(loaded, kept, [kinds[key][i] for i in np.flatnonzero(keep)]
                             if key in kinds else None)
        table[key] = own.scores
        thresholds[key], per_model[key] = own.threshold, dict(own.facts)
        rows = np.flatnonzero(keep)
        inputs = model_inputs(manifest, loaded)
        summary = domain_summary(loaded, [inputs[i] for i in rows],
                                 [manifest.mask_path(int(i)) for i in rows],
                                 manifest.table["image"].astype(str).iloc[rows].tolist())
        if summary is not None:
            per_model[key][OUT_OF_DOMAIN] = summary
        notes.extend(own.notes)
        if not own.probabilities:
            not_probabilities.append(key)
    record = ScoringRecord(n_rows=n, excluded=excluded, skipped_models=tuple(skipped),
                           notes=tuple(notes), per_model=per_model,
                           not_probabilities=tuple(not_probabilities))
    return LabelledScores(table, list(loaded_models),
                          {k: m.name for k, m in loaded_models.items()}, thresholds,
                          {k: s[keep] for k, s in scores.items()}, record)


@dataclass(frozen=True)
class OwnThreshold:
    """A model's own threshold on the scale of its (possibly rescaled) scores."""

    threshold: float
    scores: np.ndarray
    facts: dict
    notes: list[str]
    probabilities: bool = True


def _own_threshold(loaded: LoadedModel, scores: np.ndarray,
                   kinds: list[str | None] | None) -> OwnThreshold:
    """The card's threshold; a router's by the ROI kinds its images had (module docstring)."""
    if loaded.kind != "router":
        notes = [] if "threshold" in loaded.card else [
            f"{loaded.name}: its model card records no threshold; 0.5 is used"]
        return OwnThreshold(loaded.threshold, scores,
                            {"threshold_source": "model card"}, notes)
    counts = Counter(k or "outline" for k in (kinds or ["outline"] * len(scores)))
    routes = {kind: loaded.routes[kind] for kind in counts}
    facts = {"roi_kinds": dict(counts),
             "routed_thresholds": {kind: sub.threshold for kind, sub in routes.items()}}
    if len(routes) == 1:
        (kind, sub), = routes.items()
        note = (f"{loaded.name} sends each ROI kind to its own bundle; all {len(scores)} images "
                f"here have {kind} ROIs, scored by {sub.name}, so its threshold "
                f"{threshold_text(sub.threshold)} is {loaded.name}'s threshold")
        return OwnThreshold(sub.threshold, scores,
                            facts | {"threshold_source": f"model card of {sub.name}"}, [note])
    cut = np.array([routes[k or "outline"].threshold for k in (kinds or [])])
    with np.errstate(divide="ignore", invalid="ignore"):
        rescaled = np.where(scores < cut, 0.5 * scores / cut,
                            0.5 + 0.5 * (scores - cut) / (1.0 - cut))
    parts = ", ".join(f"{n} {kind} ROIs to {routes[kind].name} (threshold "
                      f"{threshold_text(routes[kind].threshold)})" for kind, n in counts.items())
    note = (f"{loaded.name} sends {parts}; one cut-off cannot express that, so its scores are "
            "rescaled (piecewise linearly, each bundle's threshold to 0.5) and cut at 0.5: "
            "its decisions are the app's, its AUC ranks the rescaled scores, and they are not "
            "probabilities (no calibration)")
    return OwnThreshold(0.5, np.clip(rescaled, 0.0, 1.0),
                        facts | {"threshold_source": "routed bundles' model cards, rescaled"},
                        [note], probabilities=False)
