"""Score many images with a model bundle (:func:`score_images`, the evaluation path), and a
labelled image set with model bundles, ready for :mod:`eusgist.report`.

Every bundle kind scores through its :class:`~eusgist.inference.predictor.Predictor`:
decoding, cropping and radiomics features run in parallel worker processes, the networks
(backbones, CNNs) batched in this process — the same path for the CLI and the app.
A labelled set is a manifest dataset (docs/design.md), given as a folder or as a ZIP archive
holding ``manifest.csv`` with its images and masks. ZIPs are unpacked safely: entries with
absolute or ``..`` paths, symbolic links, encrypted or oversized entries are skipped, and
the archive's entry count and size are bounded (the limits of :mod:`eusgist.store.importing`).
Volume models score NIfTI/NRRD volumes: the ``image`` column, or a 3D model's
``image_<phase>`` columns, with 3D masks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from eusgist.data import Manifest, read_manifest
from eusgist.errors import EusgistError
from eusgist.inference.catalog import LoadedModel, load_model
from eusgist.inference.inputs import MaskInput, VolumeInput
from eusgist.inference.predictor import torch_on_all_cores
from eusgist.store.importing import ImportLimits, ImportReport, iter_zip

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"
#: ``DataFrame.attrs`` key of :func:`score_manifest`'s out-of-domain counts per model.
OUT_OF_DOMAIN = "out_of_domain"


def _write_entry(target: Path, data: bytes, dest: Path, label: str) -> None:
    """Write one archive entry under ``dest``, naming the entry when that fails."""
    if not target.resolve().is_relative_to(dest.resolve()):
        raise EusgistError(f"{label}: leaves the destination folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise EusgistError(f"{label}: cannot be unpacked ({exc.strerror or exc}); a file and a "
                           "folder of the same name?") from exc


def unpack_dataset_zip(
    path: str | os.PathLike[str], dest: str | os.PathLike[str], *,
    limits: ImportLimits = ImportLimits(),
) -> Path:
    """Unpack a manifest dataset ZIP into ``dest``; return the path of its manifest.

    The manifest may sit at the archive's top level or in one folder. Unsafe entries and
    repeated names (the first is kept) are skipped with a warning and never written outside
    ``dest``.

    Raises
    ------
    ValueError
        Not a ZIP, over the limits, an entry that cannot be written, or no single
        ``manifest.csv`` inside.
    """
    path, dest = Path(path), Path(dest)
    report = ImportReport()
    manifests = []
    written: set[Path] = set()
    for name, data in iter_zip(path, limits, report):
        target = dest.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)
        if target in written:
            report.skipped.append((name, "duplicate name"))
            continue
        _write_entry(target, data, dest, f"{path.name}:{name}")
        written.add(target)
        if target.name == MANIFEST_NAME:
            manifests.append(target)
    if report.skipped:
        log.warning("%s: %d unsafe entries skipped", path.name, len(report.skipped))
    if len(manifests) != 1:
        found = "no" if not manifests else f"{len(manifests)}"
        raise EusgistError(f"{path.name}: {found} {MANIFEST_NAME} inside; exactly one is needed "
                           "(columns image, mask, label, patient_id, lesion_id)")
    return manifests[0]


def score_images(
    model: LoadedModel | str | os.PathLike[str],
    images: Sequence[VolumeInput],
    masks: Sequence[MaskInput] | None = None,
    *,
    spacing_mm: Sequence[float | None] | None = None,
    n_jobs: int = -1,
    batch_size: int = 32,
) -> np.ndarray:
    """Positive-class probabilities of many images (the evaluation path; no explanations).

    Decoding, cropping and the model's radiomics features run in parallel (joblib
    processes); deep features and CNNs then run batched in this process on every core
    (or on the GPU when there is one). `batch_size` is the CNN batch (deep features use
    their extractor's). A volume model (``dims`` ``"3d"``/``"2d-slice"``) takes volumes as
    :func:`~eusgist.inference.predict.predict` does (a mapping phase → volume per item for a
    multi-phase model); its workers return the prepared model inputs.
    """
    from joblib import Parallel, delayed

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    masks = list(masks) if masks is not None else [None] * len(images)
    spacings = list(spacing_mm) if spacing_mm is not None else [None] * len(images)
    if not len(masks) == len(spacings) == len(images):
        raise EusgistError(f"{len(images)} images but {len(masks)} masks, "
                           f"{len(spacings)} spacings")
    if loaded.needs_mask and any(m is None for m in masks):
        raise EusgistError(f"model {loaded.name} was trained on lesion ROIs: every image needs "
                           "a mask")
    if not loaded.needs_mask:
        masks = [None] * len(images)
    predictor = loaded.predictor
    worker = predictor.worker()
    jobs = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(worker)(im, m, s) for im, m, s in zip(images, masks, spacings))
    prepared = list(tqdm(jobs, total=len(images), desc=f"{loaded.name}: preparing",
                         unit="img", disable=None, leave=False))
    with loaded.lock, torch_on_all_cores():
        return predictor.score(prepared, batch_size)


def model_inputs(manifest: Manifest,
                 model: LoadedModel) -> list[Path | dict[str, Path]]:
    """Each row's input for ``model``: the ``image`` file, or for a 3D model with phases a
    mapping phase → file from the ``image_<phase>`` columns (as ``train-cnn --dims 3d``
    reads them, :func:`~eusgist.models.cnn3d.read_phases`)."""
    if not model.phases:
        return [manifest.image_path(i) for i in range(len(manifest))]
    from eusgist.models.cnn3d import phase_paths

    return [dict(zip(model.phases, phase_paths(manifest, i, model.phases).values()))
            for i in range(len(manifest))]


def manifest_spacings(manifest: Manifest) -> list[float | None] | None:
    """Each row's ``spacing_mm`` (None where empty), or None when the manifest has no such
    column."""
    if "spacing_mm" not in manifest.table.columns:
        return None
    values = pd.to_numeric(manifest.table["spacing_mm"], errors="coerce").tolist()
    return [None if pd.isna(v) else float(v) for v in values]


def score_manifest(
    manifest: Manifest,
    models: Sequence[str],
    *,
    progress: Callable[[int, str], None] | None = None,
) -> pd.DataFrame:
    """The manifest's table with one positive-class probability column per model, strictly.

    Every model must score the manifest's positive class and every row must be scored;
    otherwise an error names what is wrong. ``progress(k, name)`` is called before the k-th
    model runs. Evaluations use :func:`eusgist.inference.labelled.score_labelled`, which
    skips such models and rows and records why. Models with an out-of-domain gate also check
    every image: ``table.attrs["out_of_domain"][name]`` is ``{"flagged": int, "n": int,
    "images": [{"image", "score", "reason"}, ...]}`` (:func:`domain_summary`).
    """
    from eusgist.inference.labelled import score_labelled

    scored = score_labelled(manifest, models, progress=progress)
    record = scored.record
    problems = [f"model {s.model!r} {s.reason}" for s in record.skipped_models]
    problems += [f"{e.image}: {e.reason}" for e in record.excluded[:3]]
    if problems:
        more = len(record.excluded) - 3
        raise EusgistError("; ".join(problems) + (f"; and {more} more rows" if more > 0 else ""))
    table = manifest.table.assign(**scored.probabilities)
    table.attrs[OUT_OF_DOMAIN] = {k: v[OUT_OF_DOMAIN] for k, v in record.per_model.items()
                                  if OUT_OF_DOMAIN in v}
    return table


def domain_summary(loaded: LoadedModel, inputs: Sequence[VolumeInput],
                   masks: Sequence[MaskInput], names: Sequence[str]) -> dict | None:
    """How many images the model's out-of-domain gate flags, and which (None without a
    gate)."""
    from eusgist.inference.domain_fit import check_many

    results = check_many(loaded, inputs, masks)
    if results is None:
        return None
    flagged = [{"image": str(name), "score": round(r.score, 3), "reason": r.reason}
               for name, r in zip(names, results, strict=True) if r.out_of_domain]
    log.info("%s: %d of %d images out of domain", loaded.name, len(flagged), len(results))
    return {"flagged": len(flagged), "n": len(results), "images": flagged}


def score_dataset(
    source: str | os.PathLike[str], models: Sequence[str], workdir: str | os.PathLike[str], *,
    positive_label: str | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> tuple[pd.DataFrame, Manifest]:
    """Score a manifest CSV, a dataset folder or a dataset ZIP; see :func:`score_manifest`."""
    source = Path(source)
    if source.is_dir():
        source = source / MANIFEST_NAME
    elif source.suffix.lower() != ".csv":
        source = unpack_dataset_zip(source, workdir)
    manifest = read_manifest(source, positive_label=positive_label)
    return score_manifest(manifest, models, progress=progress), manifest
