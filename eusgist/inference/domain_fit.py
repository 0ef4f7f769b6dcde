"""Fit a bundle's out-of-domain gate (:mod:`.domain`) on its training images, and check many
images at once (the evaluation path).

:func:`fit_domain` reads the bundle's split from its card (the manifest's ``split`` column,
else the grouped lesion split ``train``/``train-cnn`` used, with the card's test size and
seed), measures the training rows (image + ROI: cheap-check values and embeddings), sets the
threshold at :data:`~eusgist.inference.domain.FLAG_QUANTILE` of the out-of-fold distances
(5 folds by lesion within the training rows) and fits the final model on every training
row. The held-out test rows are checked with the final model and their flag rate recorded
in the card (``domain.flag_rate``). Rerunning replaces the file and the card field: the step
is idempotent, so a retrained bundle just runs it again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from eusgist.bundles.card import CARD, ModelCard, file_sha256, read_json_object, update_card
from eusgist.data import Manifest, grouped_kfold, read_manifest, train_test_split
from eusgist.errors import EusgistError
from eusgist.inference.domain import (
    BACKBONE,
    CARD_KEY,
    DOMAIN_FILE,
    FLAG_QUANTILE,
    SPECKLE_MARGIN,
    DomainModel,
    DomainResult,
    Gaussian,
    PixelStats,
    embed,
    embedder,
    embedding_crops,
    pixel_stats,
    save_domain,
)
from eusgist.inference.inputs import MaskInput, VolumeInput, load_input_image

if TYPE_CHECKING:
    from eusgist.inference.catalog import LoadedModel

log = logging.getLogger(__name__)

#: Folds of the out-of-fold distances that set the threshold.
N_FOLDS = 5
#: Principal components of the embedding Gaussian.
N_COMPONENTS = 32
#: Colour modes of a decoded image (raster mode or DICOM photometric) worth a colour check.
_GRAY_MODES = ("L", "LA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N", "1",
               "MONOCHROME1", "MONOCHROME2")


@dataclass(frozen=True)
class Measured:
    """One image and ROI as the gate sees it: cheap-check values, the two pictures to
    embed, and the ROI's kind (for a router)."""

    stats: PixelStats
    crops: tuple[NDArray[np.float32], ...]
    roi_kind: str | None


def colour_pixels(source: VolumeInput, meta: Mapping[str, object]) -> NDArray[Any] | None:
    """The colour pixels of a file or array that may be colour; None when it is gray or
    cannot be re-read (an already decoded image)."""
    if isinstance(source, np.ndarray):
        return source if source.ndim == 3 and source.shape[-1] in (3, 4) else None
    mode = str(meta.get("photometric") or meta.get("mode") or "")
    if mode in _GRAY_MODES or not isinstance(source, str | bytes | os.PathLike):
        return None
    from eusgist.io import read_pixels

    pixels, _ = read_pixels(source)
    return pixels if pixels.shape[-1] >= 3 else None


def measure(image: VolumeInput, mask: MaskInput,
            box: tuple[float, float, float, float] | None = None) -> Measured:
    """Measure one 2D image and its ROI (mask, box, or None for the whole frame).

    Raises
    ------
    ValueError
        Not a 2D image, or an unusable mask or box.
    """
    from eusgist.inference.inputs import resolve_roi
    from eusgist.roi_kinds import roi_kind_of

    img = load_input_image(image)
    if img.is_volume:
        raise EusgistError("the out-of-domain check takes 2D images")
    roi = resolve_roi(img, mask, box)
    kind = None if roi is None else "box" if box is not None else roi_kind_of(roi)
    stats = pixel_stats(img.array, roi, colour_pixels(image, img.meta))
    return Measured(stats, embedding_crops(img.array, roi), kind)


def _measure_job(image: VolumeInput, mask: MaskInput) -> Measured:
    import torch

    torch.set_num_threads(1)  # the workers already fill the cores
    return measure(image, mask)


def measure_many(images: Sequence[VolumeInput], masks: Sequence[MaskInput],
                 n_jobs: int = -1) -> list[Measured]:
    """:func:`measure` of every image with its mask, in parallel worker processes."""
    from joblib import Parallel, delayed

    return list(Parallel(n_jobs=n_jobs)(delayed(_measure_job)(im, m)
                                        for im, m in zip(images, masks, strict=True)))


def domain_of(loaded: LoadedModel, roi_kind: str | None) -> DomainModel | None:
    """The domain model deciding for ``loaded``: its own, or a router's bundle for the ROI
    kind."""
    if loaded.routes:
        target = loaded.routes.get(roi_kind or "outline")
        return None if target is None else target.domain
    return loaded.domain


def check_many(loaded: LoadedModel, images: Sequence[VolumeInput],
               masks: Sequence[MaskInput]) -> list[DomainResult] | None:
    """The gate's verdict on every image (None when the model has no domain model)."""
    if loaded.dims != "2d" or not any(
            m is not None for m in [loaded.domain, *(r.domain for r in loaded.routes.values())]):
        return None
    items = measure_many(images, masks if loaded.needs_mask else [None] * len(images))
    out: list[DomainResult | None] = [None] * len(items)
    extractor = embedder(loaded.device)
    for i, (item, emb) in enumerate(zip(items, embed(extractor, [m.crops for m in items]),
                                        strict=True)):
        model = domain_of(loaded, item.roi_kind)
        if model is not None:
            out[i] = model.verdict(float(model.gaussian.distance(emb)[0]), item.stats)
    return [r if r is not None else DomainResult(False, float("nan"), float("nan"),
                                                 "not checked (no domain model)")
            for r in out]


# ---------------------------------------------------------------------------- fitting
def _split(card: ModelCard) -> tuple[float, int]:
    """The card's test size and seed (tabular ``training_data.split``, CNN
    ``training.config``)."""
    info = card.training_data
    split = info.get("split") if isinstance(info.get("split"), Mapping) else info.get("config")
    split = split if isinstance(split, Mapping) else {}
    return float(split.get("test_size", 0.2)), int(split.get("seed", 0))


def train_test_rows(manifest: Manifest, card: ModelCard) -> tuple[NDArray[np.int64],
                                                                 NDArray[np.int64]]:
    """The bundle's training and test rows of ``manifest`` (its ``split`` column, else the
    grouped lesion split of the card's test size and seed)."""
    table = manifest.table
    if "split" in table.columns:
        test = table["split"].astype(str).str.lower().to_numpy() == "test"
        return np.flatnonzero(~test), np.flatnonzero(test)
    test_size, seed = _split(card)
    train, test = train_test_split(manifest, test_size=test_size, group="lesion", seed=seed)
    return np.asarray(train), np.asarray(test)


def _limits(stats: Sequence[PixelStats]) -> dict[str, float]:
    speckle = np.array([s.speckle for s in stats])
    fractions = np.array([s.roi_fraction for s in stats if s.roi_fraction is not None])
    return {
        "speckle_floor": float(SPECKLE_MARGIN * np.percentile(speckle, 1)),
        "roi_fraction_min": float(0.5 * fractions.min()) if fractions.size else 0.0,
        "roi_fraction_max": float(min(1.0, 1.5 * fractions.max())) if fractions.size else 1.0,
    }


def _out_of_fold(manifest: Manifest, emb: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each training row's distance under the model fitted on the other folds."""
    out = np.zeros(len(emb))
    for fit, held in grouped_kfold(manifest, n_splits=N_FOLDS, group="lesion", seed=0):
        out[held] = Gaussian.fit(emb[fit], N_COMPONENTS).distance(emb[held])
    return out


def fit_domain(bundle: str | os.PathLike[str], manifest_path: str | os.PathLike[str], *,
               allow_outside_root: bool = False) -> dict[str, Any]:
    """Fit the gate of a 2D bundle on its training rows of ``manifest_path``; write
    ``domain.safetensors`` and the card's ``domain`` field. Returns that field.

    Raises
    ------
    ValueError
        Not a 2D tabular or CNN bundle, a manifest without training or test rows, or
        images that cannot be read.
    """
    folder = Path(bundle)
    card_path = folder / CARD
    raw = read_json_object(card_path)
    card = ModelCard.from_dict(raw, folder.name)
    if card.kind not in ("tabular", "cnn"):
        raise EusgistError(f"{folder.name}: fit-domain fits 2D tabular and CNN bundles, not "
                           f"a {card.kind} bundle")
    manifest = read_manifest(manifest_path, positive_label=card.classes[1],
                             allow_outside_root=allow_outside_root)
    train, test = train_test_rows(manifest, card)
    if len(train) < 2 * N_FOLDS or not len(test):
        raise EusgistError(f"{manifest_path}: {len(train)} training and {len(test)} test rows; "
                           f"fit-domain needs at least {2 * N_FOLDS} and 1")
    whole = card.expects.get("supervision") == "weak" or not card.expects.get(
        "mask_required", card.expects.get("supervision", "strong") == "strong")
    masks = [None if whole else manifest.mask_path(i) for i in range(len(manifest))]
    items = measure_many([manifest.image_path(i) for i in range(len(manifest))], masks)
    extractor = embedder("cpu")
    emb = embed(extractor, [m.crops for m in items])
    oof = _out_of_fold(manifest.subset(train), emb[train])
    limits = _limits([items[i].stats for i in train])
    model = DomainModel(Gaussian.fit(emb[train], N_COMPONENTS),
                        float(np.quantile(oof, FLAG_QUANTILE)), limits)
    test_flags = [model.verdict(float(d), items[i].stats).out_of_domain
                  for i, d in zip(test, model.gaussian.distance(emb[test]), strict=True)]
    train_flags = [model.verdict(float(d), items[i].stats).out_of_domain
                   for i, d in zip(train, oof, strict=True)]
    path = save_domain(folder, model)
    from eusgist.pretrained import source_of

    source = source_of(extractor.model)
    info = {
        "file": DOMAIN_FILE, "sha256": file_sha256(path),
        "embedding": f"{BACKBONE} ImageNet (pre-logits) of the ROI crop and of the whole "
                     "frame, concatenated",
        "weights_sha256": None if source is None else source.sha256,
        "score": f"Mahalanobis distance under a probabilistic PCA ({N_COMPONENTS} components, "
                 "Ledoit-Wolf shrinkage) of the training embeddings",
        "threshold": model.threshold,
        "threshold_rule": f"{100 * FLAG_QUANTILE:g}th percentile of the out-of-fold distances "
                          f"of the {len(train)} training images ({N_FOLDS} folds by lesion)",
        "checks": "colour picture, graphics or text, no ultrasound-like speckle, tiny or "
                  "unusually sized ROI",
        "limits": limits,
        "fitted_on": {"manifest": Path(manifest_path).name,
                      "manifest_sha256": file_sha256(manifest_path),
                      "n_train": int(len(train)), "n_test": int(len(test))},
        "flag_rate": {"train_out_of_fold": float(np.mean(train_flags)),
                      "test": float(np.mean(test_flags)), "n_test": int(len(test))},
    }
    update_card(folder, {CARD_KEY: dict(info)})  # atomically; weights untouched
    log.info("%s: domain threshold %.2f; flagged %.1f%% of the training images (out of fold) "
             "and %d of %d test images", folder.name, model.threshold,
             100 * info["flag_rate"]["train_out_of_fold"], sum(test_flags), len(test))
    return info


def fit_bundle(bundle: str | os.PathLike[str], manifest_path: str | os.PathLike[str], *,
               allow_outside_root: bool = False) -> dict[str, dict[str, Any]]:
    """:func:`fit_domain` of a bundle, or of each bundle a router routes to (a router's
    predictions use its routed bundle's gate). Returns the card fields by bundle name."""
    folder = Path(bundle)
    card = ModelCard.from_dict(read_json_object(folder / CARD), folder.name)
    fit = partial(fit_domain, manifest_path=manifest_path,
                  allow_outside_root=allow_outside_root)
    if card.kind == "ensemble":
        from eusgist.bundles.ensemble import read_members

        return {name: fit(folder.parent / name) for name in read_members(folder)[1]}
    if card.kind != "router":
        return {folder.name: fit(folder)}
    from eusgist.bundles.router import read_routes

    names = dict.fromkeys(read_routes(folder)[1].values())
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        out.update(fit_bundle(folder.parent / name, manifest_path,
                              allow_outside_root=allow_outside_root))
    return out
