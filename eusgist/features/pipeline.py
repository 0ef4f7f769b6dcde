"""Feature extraction over a whole manifest: cached, parallel, tolerant of bad images.

:func:`extract_features` computes radiomics (per image, in parallel through joblib: local
processes by default, or a Dask/Ray cluster through joblib's backends) and deep embeddings
(batched in this process, on the GPU when there is one) for every manifest row. Results are
cached on disk keyed by the image and mask file hashes plus everything that changes the
values (settings hash, spacing, backbone and weights, crop), so a re-run computes only what
is new. A row whose image cannot be read or whose features fail is logged, listed in the
provenance under ``"skipped"``, and left out of the table.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm.auto import tqdm

from eusgist import __version__
from eusgist.config import CACHE_ENV, settings  # noqa: F401  (CACHE_ENV re-exported)
from eusgist.errors import EusgistError
from eusgist.features.table import ID_COLUMNS
from eusgist.preprocess import DEFAULT_MARGIN, crop_roi, whole_image

if TYPE_CHECKING:  # keeps radiomics workers from importing scikit-learn
    from eusgist.data import Manifest
    from eusgist.features.deep import DeepFeatureExtractor

log = logging.getLogger(__name__)

Supervision = Literal["strong", "weak"]
#: joblib backends that run on a cluster, and the package each needs.
CLUSTER_BACKENDS = {"dask": "distributed", "ray": "ray"}
#: joblib backends that run tasks in this process (whose global settings must be left alone).
IN_PROCESS_BACKENDS = ("sequential", "threading")


def default_cache_dir() -> Path:
    """``$EUSGIST_CACHE``, else ``$XDG_CACHE_HOME/eusgist/features`` (``~/.cache/...``)."""
    return settings().cache_dir


@dataclass(frozen=True)
class ExtractionSettings:
    """What to extract.

    Attributes
    ----------
    radiomics : str or None
        Radiomics protocol (shipped name or YAML path); None skips radiomics.
    backbones : tuple of str
        timm backbones for deep features; empty skips them.
    pretrained : bool or None
        As :class:`~eusgist.features.deep.DeepFeatureExtractor`.
    checkpoint : str or None
        Fine-tuned weights; needs exactly one backbone.
    margin : float
        ROI crop margin (fraction of the lesion box) for deep features.
    supervision : {"strong", "weak"}
        ``strong``: ROI crops (masks needed); ``weak``: whole frames, no radiomics.
    batch_size : int
        Deep feature batch size.
    input_size : int or None
        Square deep-model input in pixels (None: the backbone's default, usually 224).
    device : str or None
        Torch device (default: CUDA when available).
    context : bool
        With strong supervision, also embed each image's whole frame with every backbone
        (``deep_frame_<backbone>_*`` columns): what surrounds the lesion.
    segmenter : str or None
        A box segmenter (bundle name or folder): adds the ``seg_*`` columns of
        :mod:`eusgist.segment.shape` from each ROI's bounding box (strong supervision).
    """

    radiomics: str | None = "eus_default"
    backbones: tuple[str, ...] = ("resnet18",)
    pretrained: bool | None = None
    checkpoint: str | None = None
    margin: float = DEFAULT_MARGIN
    supervision: Supervision = "strong"
    batch_size: int = 32
    input_size: int | None = None
    device: str | None = None
    context: bool = False
    segmenter: str | None = None

    def __post_init__(self) -> None:
        if self.supervision not in ("strong", "weak"):
            raise EusgistError(f"supervision must be 'strong' or 'weak', got {self.supervision!r}")
        if self.supervision == "weak" and self.radiomics is not None:
            raise EusgistError("radiomics needs lesion masks: use no radiomics with weak supervision")
        if self.checkpoint is not None and len(self.backbones) != 1:
            raise EusgistError("a checkpoint needs exactly one backbone")
        if not self.radiomics and not self.backbones and not self.segmenter:
            raise EusgistError("nothing to extract: no radiomics protocol, backbone or segmenter")
        if self.supervision == "weak" and (self.context or self.segmenter):
            raise EusgistError("frame context and segmenter features need lesion ROIs: "
                               "use them with strong supervision")
        if self.context and not self.backbones:
            raise EusgistError("frame context needs a backbone to embed the frame with")
        if self.margin < 0:
            raise EusgistError(f"margin must be >= 0, got {self.margin}")


@dataclass
class ExtractionResult:
    """Output of :func:`extract_features`.

    Attributes
    ----------
    table : pandas.DataFrame
        Identifier columns then features; rows in manifest order, skipped rows left out.
    provenance : dict
        Settings, versions, skipped rows and work counts (JSON-serialisable).
    stats : dict
        ``{part: {"computed": n, "cached": n, "failed": n}}`` per radiomics/backbone.
    """

    table: pd.DataFrame
    provenance: dict[str, Any]
    stats: dict[str, dict[str, int]] = field(default_factory=dict)


class FeatureCache:
    """Feature vectors on disk under ``root/<part>/<key[:2]>/<key>.npz``; writes are atomic."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = None if root is None else Path(root)

    @staticmethod
    def _path(root: Path, part: str, key: str) -> Path:
        return root / part / key[:2] / f"{key}.npz"

    def get(self, part: str, key: str) -> dict[str, float] | None:
        """The cached ``{name: value}`` or None (also for an unreadable entry)."""
        if self.root is None:
            return None
        path = self._path(self.root, part, key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return dict(zip(data["names"].tolist(), data["values"].tolist()))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
            return None

    def put(self, part: str, key: str, features: Mapping[str, float]) -> None:
        """Store ``{name: value}`` (no-op without a root)."""
        if self.root is None:
            return
        path = self._path(self.root, part, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, names=np.array(list(features), dtype=str),
                 values=np.array(list(features.values()), dtype=np.float64))
        tmp.replace(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class _Row:
    index: int
    image: Path
    mask: Path | None
    spacing: float | None
    image_sha: str | None = None
    mask_sha: str | None = None
    error: str | None = None


def _manifest_spacing(table: pd.DataFrame, i: int) -> float | None:
    if "spacing_mm" not in table.columns:
        return None
    try:
        value = float(table["spacing_mm"].iat[i])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _hash_rows(manifest: Manifest, settings: ExtractionSettings) -> list[_Row]:
    """One :class:`_Row` per manifest row, with file hashes or the reason it cannot be used."""
    rows = []
    for i in range(len(manifest)):
        image, mask = manifest.image_path(i), manifest.mask_path(i)
        spacing = _manifest_spacing(manifest.table, i)
        try:
            if mask is None and settings.supervision == "strong":
                raise EusgistError("no mask (strong supervision needs a lesion mask)")
            image_sha = file_sha256(image)
            mask_sha = file_sha256(mask) if mask is not None else None
        except (OSError, ValueError) as exc:
            rows.append(_Row(i, image, mask, spacing, error=str(exc)))
            continue
        rows.append(_Row(i, image, mask, spacing, image_sha, mask_sha))
    return rows


def _load(
    row: _Row, want_mask: bool, data: tuple[bytes, bytes | None] | None = None
) -> tuple[Any, np.ndarray | None]:
    """Read a row's image (and mask) from its files, or from `data` (their bytes)."""
    from eusgist.io import read_image, read_mask

    image_src, mask_src = (row.image, row.mask) if data is None else data
    image = read_image(image_src, name=row.image.name)
    if not want_mask or mask_src is None or row.mask is None:
        return image, None
    return image, read_mask(mask_src, like=image, name=row.mask.name)


def _with_bytes(row: _Row) -> tuple[bytes, bytes | None] | None:
    """The row's file contents, for cluster workers that may not see this file system."""
    try:
        return row.image.read_bytes(), None if row.mask is None else row.mask.read_bytes()
    except OSError:
        return None  # the worker then reports the unreadable path itself


@functools.lru_cache(maxsize=4)
def _radiomics_extractor(params_json: str) -> Any:
    from eusgist.features.radiomics import RadiomicsExtractor

    return RadiomicsExtractor(json.loads(params_json))


def _radiomics_task(
    row: _Row, params_json: str, one_thread: bool, data: tuple[bytes, bytes | None] | None
) -> tuple[int, dict[str, float] | None, str | None]:
    """Worker: ``(row index, features or None, error or None)``; never raises on bad input.

    With `one_thread` (a worker process among several), SimpleITK's filters run on one
    thread so that the workers do not oversubscribe the cores. `data` carries the files'
    bytes to cluster workers.
    """
    if one_thread:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        image, mask = _load(row, want_mask=True, data=data)
        spacing = image.spacing
        if spacing is None and row.spacing is not None:
            spacing = (row.spacing, row.spacing)
        features = _radiomics_extractor(params_json).extract(image, mask, spacing)
    except (ValueError, OSError) as exc:
        return row.index, None, str(exc)
    return row.index, features, None


@contextlib.contextmanager
def _backend(backend: str, n_jobs: int) -> Iterator[None]:
    """joblib backend context; cluster backends need their package installed."""
    if backend in CLUSTER_BACKENDS:
        package = CLUSTER_BACKENDS[backend]
        try:
            __import__(package)
        except ImportError as exc:
            raise EusgistError(
                f"backend {backend!r} needs the {package!r} package (pip install "
                f"{'dask[distributed]' if backend == 'dask' else 'ray'})"
            ) from exc
        if backend == "ray":
            from ray.util.joblib import register_ray

            register_ray()
    with parallel_config(backend=backend, n_jobs=n_jobs):
        yield


def _count(stats: dict[str, dict[str, int]], part: str, what: str, n: int = 1) -> None:
    stats.setdefault(part, {"computed": 0, "cached": 0, "failed": 0})[what] += n


def _run_radiomics(
    rows: list[_Row],
    protocol: str,
    cache: FeatureCache,
    *,
    n_jobs: int,
    backend: str,
    progress: bool,
    stats: dict[str, dict[str, int]],
    errors: dict[int, str],
) -> tuple[dict[int, dict[str, float]], dict[str, Any]]:
    from eusgist.features.radiomics import RadiomicsExtractor

    extractor = RadiomicsExtractor(protocol)
    params_json = json.dumps(extractor.settings, sort_keys=True)
    out: dict[int, dict[str, float]] = {}
    todo: dict[int, tuple[_Row, str]] = {}
    for row in rows:
        key = _key(image=row.image_sha, mask=row.mask_sha, spacing=row.spacing,
                   settings=extractor.settings_hash)
        hit = cache.get("radiomics", key)
        if hit is not None:
            out[row.index] = hit
            _count(stats, "radiomics", "cached")
        else:
            todo[row.index] = (row, key)
    if todo:
        one_thread = n_jobs != 1 and backend not in IN_PROCESS_BACKENDS
        ship = backend in CLUSTER_BACKENDS
        with _backend(backend, n_jobs):
            results = Parallel(return_as="generator_unordered")(
                delayed(_radiomics_task)(row, params_json, one_thread,
                                         _with_bytes(row) if ship else None)
                for row, _ in todo.values()
            )
            for index, features, error in tqdm(results, total=len(todo), desc="radiomics",
                                               unit="img", disable=not progress):
                if error is not None:
                    errors[index] = f"radiomics: {error}"
                    _count(stats, "radiomics", "failed")
                    continue
                cache.put("radiomics", todo[index][1], features)
                out[index] = features
                _count(stats, "radiomics", "computed")
    return out, extractor.provenance


def _crop(row: _Row, settings: ExtractionSettings) -> np.ndarray:
    image, mask = _load(row, want_mask=settings.supervision == "strong")
    if settings.supervision == "weak":
        return whole_image(image.array)
    return crop_roi(image.array, mask, margin=settings.margin)


def _run_deep(
    rows: list[_Row],
    backbone: str,
    settings: ExtractionSettings,
    cache: FeatureCache,
    *,
    progress: bool,
    stats: dict[str, dict[str, int]],
    errors: dict[int, str],
) -> tuple[dict[int, dict[str, float]], dict[str, Any]]:
    from eusgist.features.deep import DeepFeatureExtractor

    extractor = DeepFeatureExtractor(
        backbone, pretrained=settings.pretrained, checkpoint=settings.checkpoint,
        device=settings.device, batch_size=settings.batch_size, input_size=settings.input_size,
    )
    prov = extractor.provenance
    ident = {k: prov[k] for k in ("backbone", "weights", "pretrained_tag", "checkpoint_sha256",
                                  "input_size", "mean", "std")}
    out = _embed(rows, extractor, f"deep-{backbone}", extractor.feature_names, ident,
                 settings, cache, progress=progress, stats=stats, errors=errors, frame=False)
    if settings.context:
        frames = _embed(rows, extractor, f"deep-frame-{backbone}",
                        extractor.frame_feature_names, ident, settings, cache,
                        progress=progress, stats=stats, errors=errors, frame=True)
        out = {i: {**v, **frames[i]} for i, v in out.items() if i in frames}
    return out, prov


def _embed(
    rows: list[_Row],
    extractor: DeepFeatureExtractor,
    part: str,
    names: list[str],
    ident: dict[str, Any],
    settings: ExtractionSettings,
    cache: FeatureCache,
    *,
    progress: bool,
    stats: dict[str, dict[str, int]],
    errors: dict[int, str],
    frame: bool,
) -> dict[int, dict[str, float]]:
    """One embedding per row: of its model crop, or of its whole frame (``frame``)."""
    out: dict[int, dict[str, float]] = {}
    todo: list[tuple[_Row, str]] = []
    same: dict[str, list[int]] = {}  # rows sharing a computation (one frame, many ROIs)
    for row in rows:
        key = (_key(image=row.image_sha, model=ident, view="frame") if frame else
               _key(image=row.image_sha, mask=row.mask_sha, model=ident,
                    margin=settings.margin, supervision=settings.supervision))
        hit = cache.get(part, key)
        if hit is not None:
            out[row.index] = hit
            _count(stats, part, "cached")
        elif key in same:
            same[key].append(row.index)
        else:
            same[key] = []
            todo.append((row, key))
    bar = tqdm(total=len(todo), desc=part[5:], unit="img", disable=not progress or not todo)
    for start in range(0, len(todo), settings.batch_size):
        crops, keyed = [], []
        for row, key in todo[start : start + settings.batch_size]:
            try:
                crops.append(whole_image(_load(row, want_mask=False)[0].array) if frame
                             else _crop(row, settings))
                keyed.append((row, key))
            except (ValueError, OSError) as exc:
                for index in (row.index, *same[key]):
                    errors[index] = f"{extractor.backbone}: {exc}"
                _count(stats, part, "failed")
        if crops:
            for (row, key), vector in zip(keyed, extractor.extract(crops)):
                features = dict(zip(names, vector.tolist()))
                cache.put(part, key, features)
                for index in (row.index, *same[key]):
                    out[index] = features
                _count(stats, part, "computed")
        bar.update(len(todo[start : start + settings.batch_size]))
    bar.close()
    return out


def _run_segmenter(
    rows: list[_Row],
    name: str,
    cache: FeatureCache,
    *,
    progress: bool,
    stats: dict[str, dict[str, int]],
    errors: dict[int, str],
) -> tuple[dict[int, dict[str, float]], dict[str, Any]]:
    """The ``seg_*`` features of every row's ROI box (:mod:`eusgist.segment.shape`)."""
    from eusgist.roi_kinds import mask_box
    from eusgist.segment import load_segmenter
    from eusgist.segment.shape import outline_features, segmenter_id

    segmenter = load_segmenter(name)
    ident = segmenter_id(segmenter)
    part = "segmenter"
    out: dict[int, dict[str, float]] = {}
    for row in tqdm(rows, desc="segmenter", unit="img", disable=not progress):
        key = _key(image=row.image_sha, mask=row.mask_sha, segmenter=ident)
        hit = cache.get(part, key)
        if hit is not None:
            out[row.index] = hit
            _count(stats, part, "cached")
            continue
        try:
            image, mask = _load(row, want_mask=True)
            if mask is None:
                raise ValueError("no lesion mask to take a box from")
            features = outline_features(segmenter, image.array, mask_box(mask))
        except (ValueError, OSError) as exc:
            errors[row.index] = f"segmenter: {exc}"
            _count(stats, part, "failed")
            continue
        cache.put(part, key, features)
        out[row.index] = features
        _count(stats, part, "computed")
    folder = segmenter.path
    return out, {"name": segmenter.name, "weights_id": ident,
                 "path": None if folder is None else str(folder)}


def extract_features(
    manifest: Manifest,
    settings: ExtractionSettings = ExtractionSettings(),
    *,
    cache_dir: str | Path | None = None,
    n_jobs: int = -1,
    backend: str = "loky",
    progress: bool = False,
) -> ExtractionResult:
    """Radiomics and deep features for every row of `manifest`.

    Parameters
    ----------
    manifest : Manifest
        From :func:`eusgist.data.read_manifest`; a ``spacing_mm`` column supplies the pixel
        spacing of images whose files do not state it.
    settings : ExtractionSettings
        What to extract.
    cache_dir : path, optional
        Cache folder (None: no cache). See :func:`default_cache_dir`.
    n_jobs : int
        Radiomics workers (-1: all cores, or all cluster workers).
    backend : str
        joblib backend: ``"loky"`` (local processes), ``"threading"``, ``"sequential"``,
        or ``"dask"`` (uses the current ``distributed.Client``) / ``"ray"`` (the current
        ``ray.init`` cluster) to spread radiomics over a cluster; cluster workers get the
        files' bytes, so they need no shared file system.
    progress : bool
        Show progress bars.

    Returns
    -------
    ExtractionResult

    Raises
    ------
    ValueError
        If every row failed (the first errors are quoted) or a backend is unavailable.
    """
    cache = FeatureCache(cache_dir)
    stats: dict[str, dict[str, int]] = {}
    errors: dict[int, str] = {}
    rows = _hash_rows(manifest, settings)
    for row in rows:
        if row.error is not None:
            errors[row.index] = row.error
    good = [r for r in rows if r.error is None]
    parts: list[dict[int, dict[str, float]]] = []
    provenance: dict[str, Any] = {
        "eusgist": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "manifest": str(manifest.root),
        "classes": list(manifest.classes),
        "settings": asdict(settings),
        "crop_margin": settings.margin,
        "supervision": settings.supervision,
        "radiomics": None,
        "deep": {},
        "context": settings.context,
        "segmenter": None,
    }
    if settings.radiomics:
        values, provenance["radiomics"] = _run_radiomics(
            good, settings.radiomics, cache, n_jobs=n_jobs, backend=backend,
            progress=progress, stats=stats, errors=errors,
        )
        parts.append(values)
    for backbone in settings.backbones:
        good = [r for r in good if r.index not in errors]  # no second try at a failed image
        values, provenance["deep"][backbone] = _run_deep(
            good, backbone, settings, cache, progress=progress, stats=stats, errors=errors,
        )
        parts.append(values)
    if settings.segmenter:
        good = [r for r in good if r.index not in errors]
        values, provenance["segmenter"] = _run_segmenter(
            good, settings.segmenter, cache, progress=progress, stats=stats, errors=errors,
        )
        parts.append(values)
    keep = [r.index for r in rows if r.index not in errors]
    skipped = [{"row": i, "image": str(manifest.table["image"].iat[i]), "error": errors[i]}
               for i in sorted(errors)]
    for item in skipped:
        log.warning("skipped %s: %s", item["image"], item["error"])
    if not keep:
        shown = "; ".join(f"{s['image']}: {s['error']}" for s in skipped[:3])
        raise EusgistError(f"no image could be processed ({len(skipped)} failed): {shown}")
    ids = manifest.table.iloc[keep][list(ID_COLUMNS)].reset_index(drop=True)
    features = [pd.DataFrame([part[i] for i in keep]) for part in parts]
    table = pd.concat([ids, *features], axis=1)
    provenance.update(skipped=skipped, stats=stats, n_rows=len(table),
                      n_features=table.shape[1] - len(ID_COLUMNS))
    return ExtractionResult(table, provenance, stats)
