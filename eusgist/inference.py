"""Predict one EUS image with a model bundle: probabilities, decision, explanation, card.

:func:`list_models` finds bundles (``weights/*/model_card.json``; folder
``$EUSGIST_WEIGHTS_DIR``), :func:`load_model` loads one (cached read-only, keyed on path and
card modification time) and :func:`predict` runs it. A tabular bundle's features are
extracted exactly as for training (same radiomics parameters, crop margin, backbone and
weights) but only those the classifier reads: the radiomics extraction is reduced to the
needed features and a backbone runs only when deep features are required. A volume CNN
(``dims`` ``"3d"`` or ``"2d-slice"``, from ``train-cnn --dims``) takes NIfTI/NRRD volumes
prepared exactly as in training (:mod:`eusgist.models.cnn3d`); a multi-phase one a mapping
phase → volume. Every :class:`Prediction` carries the model card's intended use, training
data and test metrics, so nobody sees a probability without knowing where it came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from eusgist.config import WEIGHTS_DIR_ENV as WEIGHTS_ENV  # noqa: F401  (re-exported)
from eusgist.config import settings
from eusgist.errors import EusgistError
from eusgist.io import LoadedImage, read_image, read_mask
from eusgist.preprocess import binarise_mask, crop_roi, whole_image

if TYPE_CHECKING:
    from eusgist.bundle import Bundle
    from eusgist.features.deep import DeepFeatureExtractor
    from eusgist.features.radiomics import RadiomicsExtractor
    from eusgist.models.cnn_bundle import CNNBundle

log = logging.getLogger(__name__)

#: Signed SHAP contributions shown per prediction.
TOP_CONTRIBUTIONS = 10
#: Words in a card's name or training source that mark a model trained on synthetic data.
SYNTHETIC_WORDS = ("phantom", "synthetic", "demo")
NOT_CLINICAL = "Research and teaching only; NOT for clinical use."

Kind = Literal["tabular", "cnn"]
#: What a model takes: 2D images, or volumes (one slice of each, or the whole volume).
Dims = Literal["2d", "2d-slice", "3d"]
ImageInput = LoadedImage | np.ndarray | str | os.PathLike[str] | bytes
#: A volume model's input: one volume, or for a multi-phase 3D model a mapping phase → volume.
VolumeInput = ImageInput | Mapping[str, ImageInput]
MaskInput = np.ndarray | str | os.PathLike[str] | bytes | None
Box = tuple[float, float, float, float]


def default_weights_dir() -> Path:
    """``$EUSGIST_WEIGHTS_DIR``, else ``weights/`` beside the package."""
    return settings().weights_dir


# ---------------------------------------------------------------------------- model cards
def card_kind(card: Mapping[str, Any]) -> Kind:
    """``"cnn"`` for an ``eusgist-cnn/*`` card, else ``"tabular"``."""
    fmt = str(card.get("format") or card.get("bundle_format") or "")
    return "cnn" if fmt.startswith("eusgist-cnn/") or card.get("kind") == "cnn" else "tabular"


def card_classes(card: Mapping[str, Any]) -> tuple[str, str]:
    """``(negative, positive)`` class names of either card layout."""
    neg, pos = card.get("class_names") or card.get("classes") or ("negative", "positive")
    return str(neg), str(pos)


def _training_source(card: Mapping[str, Any]) -> str:
    data = card.get("training_data") or {}
    if data.get("source"):
        return str(data["source"])
    training = card.get("training") or {}
    if training.get("source"):
        return str(training["source"])
    manifest = training.get("manifest")
    return Path(str(manifest)).parent.name or str(manifest) if manifest else "unrecorded data"


def is_synthetic(card: Mapping[str, Any]) -> bool:
    """True when the card says (``synthetic``) or its name/source suggests synthetic data."""
    if "synthetic" in card:
        return bool(card["synthetic"])
    text = f"{card.get('name', '')} {_training_source(card)}".lower()
    return any(word in text for word in SYNTHETIC_WORDS)


def _counts(per_class: Mapping[str, Any]) -> str:
    parts = []
    for name, value in per_class.items():
        if isinstance(value, Mapping):
            parts.append(f"{name} {value.get('images', '?')} images/{value.get('lesions', '?')} "
                         "lesions")
        else:
            parts.append(f"{name} {value} images")
    return ", ".join(parts)


def training_statement(card: Mapping[str, Any]) -> str:
    """One sentence on what the model was trained and tested on."""
    prefix = "SYNTHETIC phantom data (demo only): " if is_synthetic(card) else ""
    source = _training_source(card)
    data = card.get("training_data") or {}
    if data:
        split = data.get("split") or {}
        return (f"{prefix}trained on {source} — train: {_counts(data.get('train') or {})}; "
                f"test: {_counts(data.get('test') or {})} (split by {split.get('by', 'lesion')}).")
    images = (card.get("training") or {}).get("images") or {}
    return (f"{prefix}trained on {source} — train: {_counts(images.get('train') or {})}; "
            f"test: {_counts(images.get('test') or {})}.")


def metrics_statement(card: Mapping[str, Any]) -> str:
    """Test AUC and threshold metrics with their 95% CIs, as one line."""
    m = card.get("test_metrics") or {}
    if m.get("auc") is None:
        return "No test metrics recorded."
    lo, hi = m.get("auc_ci") or (float("nan"), float("nan"))
    n = m.get("n_lesions") or m.get("n")
    unit = "lesions" if m.get("n_lesions") else "images"
    parts = [f"test AUC {m['auc']:.3f} (95% CI {lo:.3f}–{hi:.3f}; n={n} {unit})"]
    for name, (value, mlo, mhi) in (m.get("metrics") or {}).items():
        if name in ("sensitivity", "specificity", "accuracy"):
            parts.append(f"{name} {value:.2f} ({mlo:.2f}–{mhi:.2f})")
    return "; ".join(parts) + "."


def intended_use(card: Mapping[str, Any]) -> str:
    """The card's intended-use statement (never empty; always says not for clinical use)."""
    text = str(card.get("intended_use") or "")
    return text if "not for clinical use" in text.lower() else f"{NOT_CLINICAL} {text}".strip()


# ---------------------------------------------------------------------------- listing
@dataclass(frozen=True)
class ModelInfo:
    """A bundle found in the weights folder; ``error`` says why an unavailable one fails."""

    name: str
    path: Path
    kind: Kind | None
    available: bool
    synthetic: bool
    summary: str
    error: str | None = None

    @property
    def label(self) -> str:
        """What a model selector shows."""
        tag = " [SYNTHETIC demo]" if self.synthetic else ""
        state = "" if self.available else " (unavailable)"
        return f"{self.name}{tag}{state}"


def list_models(weights_dir: str | os.PathLike[str] | None = None) -> list[ModelInfo]:
    """Every bundle in the weights folder (sorted by name), each loaded once to check it.

    A corrupt or partial bundle is listed with ``available=False`` and its error; it never
    hides the others.
    """
    from eusgist.bundle import read_json_object

    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    out = []
    for card_path in sorted(root.glob("*/model_card.json")):
        folder = card_path.parent
        try:
            card = read_json_object(card_path)
        except (OSError, ValueError) as exc:
            out.append(ModelInfo(folder.name, folder, None, False, False,
                                 "unreadable model card", str(exc)))
            continue
        info = dict(name=str(card.get("name") or folder.name), path=folder, kind=card_kind(card),
                    synthetic=is_synthetic(card), summary=training_statement(card))
        try:
            load_model(folder)
        except Exception as exc:  # noqa: BLE001 - any failure makes this one unavailable only
            log.warning("model %s unavailable: %s", folder, exc)
            out.append(ModelInfo(**info, available=False, error=str(exc)))
        else:
            out.append(ModelInfo(**info, available=True))
    return out


# ---------------------------------------------------------------------------- loading
@dataclass(eq=False)
class LoadedModel:
    """A bundle ready to predict: the model and the extractors its features need."""

    name: str
    path: Path
    kind: Kind
    card: dict[str, Any]
    device: str
    bundle: Bundle | CNNBundle
    radiomics: RadiomicsExtractor | None = None
    rad_features: tuple[str, ...] = ()
    deep: tuple[DeepFeatureExtractor, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def classes(self) -> tuple[str, str]:
        """``(negative, positive)``."""
        return card_classes(self.card)

    @property
    def threshold(self) -> float:
        """Decision threshold on the positive-class probability."""
        return float(self.card.get("threshold", 0.5))

    @property
    def needs_mask(self) -> bool:
        """Whether a lesion ROI (mask or box) must be given."""
        expects = self.card.get("expects") or {}
        if self.kind == "cnn":
            return expects.get("supervision") == "strong"
        return bool(expects.get("mask_required", True))

    @property
    def synthetic(self) -> bool:
        """Trained on synthetic (phantom) data."""
        return is_synthetic(self.card)

    @property
    def dims(self) -> Dims:
        """``"2d"`` (images), ``"2d-slice"`` (one slice of a volume) or ``"3d"`` (volumes)."""
        if self.kind != "cnn":
            return "2d"
        return (self.card.get("expects") or {}).get("dims", "2d")

    @property
    def phases(self) -> tuple[str, ...]:
        """A 3D model's phases in channel order; empty when it takes one unnamed volume."""
        return tuple((self.card.get("expects") or {}).get("phases") or ())

    @property
    def volume_spec(self) -> VolumeSpec:
        """What a volume model takes, without the network (sent to worker processes)."""
        return VolumeSpec(self.name, self.dims, self.phases, self.needs_mask,
                          dict(self.card["expects"]))


@dataclass(frozen=True)
class VolumeSpec:
    """What a volume model (dims ``"2d-slice"`` or ``"3d"``) takes, from its card."""

    model: str
    dims: Dims
    phases: tuple[str, ...]
    needs_mask: bool
    expects: Mapping[str, Any]


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_model_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A bundle folder: the path itself when it is a folder, else ``default_weights_dir()/name``."""
    path = Path(name_or_path)
    if path.is_dir():
        return path.resolve()
    root = default_weights_dir()
    candidate = root / str(name_or_path)
    if candidate.is_dir():
        return candidate.resolve()
    known = [p.parent.name for p in root.glob("*/model_card.json")]
    raise EusgistError(f"no model bundle {str(name_or_path)!r} (folder or name in "
                     f"{root}: {known or 'none'})")


def load_listed_model(name: str) -> LoadedModel:
    """A bundle of the weights folder by its folder name, as the app's users choose one.

    Unlike :func:`load_model`, no path is accepted, so a web user cannot make the server open
    folders outside ``default_weights_dir()``; errors name the bundle.

    Raises
    ------
    ValueError
        When ``name`` is not a bundle of the weights folder, or the bundle cannot be used.
    """
    root = default_weights_dir()
    listed = sorted(p.parent.name for p in root.glob("*/model_card.json"))
    if name not in listed:
        raise EusgistError(f"no model {name!r} in the weights folder (available: "
                         f"{', '.join(listed) or 'none'})")
    try:
        return load_model(root / name)
    except ValueError as exc:
        raise EusgistError(f"model {name!r} cannot be used: {exc}") from exc


def load_model(name_or_path: str | os.PathLike[str]) -> LoadedModel:
    """Load a tabular or CNN bundle by folder or name; cached until its card changes.

    Raises
    ------
    ValueError
        (:class:`~eusgist.bundle.BundleError` included) when the bundle cannot be used.
    """
    path = resolve_model_path(name_or_path)
    card = path / "model_card.json"
    if not card.is_file():
        raise EusgistError(f"{path}: not a model bundle (no model_card.json)")
    return _load_cached(str(path), card.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, _mtime_ns: int) -> LoadedModel:
    from safetensors import SafetensorError

    from eusgist.bundle import BundleError, read_json_object

    folder = Path(path)
    card = read_json_object(folder / "model_card.json")
    device = _device()
    if card_kind(card) == "cnn":
        from eusgist.models.cnn_bundle import load_cnn_bundle

        try:
            cnn = load_cnn_bundle(folder, device=device)
        except (KeyError, TypeError, AttributeError, SafetensorError) as exc:
            raise BundleError(f"{folder.name}: not a usable CNN bundle "
                              f"({type(exc).__name__}: {exc})") from exc
        return LoadedModel(str(card.get("name") or folder.name), folder, "cnn", cnn.card, device,
                           cnn)
    from eusgist.bundle import load_bundle

    bundle = load_bundle(folder)
    required = bundle.required_features
    rad = tuple(f for f in required if f.startswith("rad_"))
    model = LoadedModel(bundle.name, folder, "tabular", bundle.card, device, bundle,
                        rad_features=rad)
    if rad:
        model.radiomics = _radiomics_extractor(bundle)
    model.deep = tuple(_deep_extractors(bundle, device))
    unknown = [f for f in required if not f.startswith("rad_")
               and not any(f in ex.feature_names for ex in model.deep)]
    if unknown:
        raise EusgistError(f"{folder.name}: cannot compute feature(s) {unknown[:5]} from the "
                         "card's radiomics protocol and backbones")
    return model


def _radiomics_extractor(bundle: Bundle) -> RadiomicsExtractor:
    import yaml

    from eusgist.bundle import RADIOMICS_YAML, BundleError
    from eusgist.features.radiomics import RadiomicsExtractor

    yaml_path = bundle.path / RADIOMICS_YAML
    if not yaml_path.is_file():
        raise BundleError(f"{bundle.path.name}: needs radiomics features but ships no "
                          f"{RADIOMICS_YAML}")
    extractor = RadiomicsExtractor(yaml.safe_load(yaml_path.read_text(encoding="utf-8")))
    recorded = ((bundle.card.get("expects") or {}).get("radiomics_params") or {})
    if recorded.get("settings_hash") and recorded["settings_hash"] != extractor.settings_hash:
        log.warning("%s: %s differs from the settings the training table recorded",
                    bundle.path.name, RADIOMICS_YAML)
    return extractor


def _deep_extractors(bundle: Bundle, device: str) -> Iterator[DeepFeatureExtractor]:
    """One extractor per backbone whose columns the classifier reads, weights as in training."""
    from eusgist.bundle import BACKBONE, BundleError, file_sha256
    from eusgist.features.deep import DeepFeatureExtractor, feature_prefix

    required = bundle.required_features
    for spec in (bundle.card.get("expects") or {}).get("backbones") or []:
        name = spec["backbone"]
        if not any(f.startswith(feature_prefix(name)) for f in required):
            continue
        size = (spec.get("input_size") or [None])[-1]
        weights = spec.get("weights")
        if weights == "checkpoint":
            ckpt = bundle.path / BACKBONE
            if not ckpt.is_file():
                raise BundleError(f"{bundle.path.name}: features came from fine-tuned {name} "
                                  f"weights, but {BACKBONE} is not in the bundle")
            if spec.get("checkpoint_sha256") and file_sha256(ckpt) != spec["checkpoint_sha256"]:
                raise BundleError(f"{BACKBONE}: not the checkpoint the features were made with")
            yield DeepFeatureExtractor(name, checkpoint=ckpt, device=device, input_size=size)
            continue
        extractor = DeepFeatureExtractor(name, pretrained=weights == "pretrained",
                                         device=device, input_size=size)
        if weights == "pretrained" and not extractor.pretrained:
            raise BundleError(f"{bundle.path.name}: needs the pretrained {name} weights, which "
                              "cannot be loaded here (offline and not in the local cache)")
        yield extractor


# ---------------------------------------------------------------------------- inputs
def load_input_image(image: ImageInput, *, name: str | None = None) -> LoadedImage:
    """A :class:`LoadedImage` from a path, bytes, array or LoadedImage.

    A NIfTI/NRRD volume or a ``(Z, H, W)`` array (last axis not 1, 3 or 4, which are colour
    channels) is returned whole as a volume (``is_volume``): the caller accepts or refuses it.

    Raises
    ------
    ValueError
        Not an image, or an array/LoadedImage that is not real numbers, not 2D or 3D,
        smaller than 2×2 or holds NaN/inf (which would make the probability meaningless).
    """
    if isinstance(image, LoadedImage):
        _check_pixels(image.array, str(image.meta.get("source", "<image>")))
        return image
    if isinstance(image, np.ndarray):
        from eusgist.preprocess import as_gray

        source = name or "<array>"
        if image.dtype.kind not in "biuf":
            raise EusgistError(f"{source}: image must be real numbers, got dtype {image.dtype}")
        volume = image.ndim == 3 and image.shape[-1] not in (1, 3, 4)
        gray = image.astype(np.float32, copy=False) if volume else as_gray(image)
        _check_pixels(gray, source)
        return LoadedImage(gray, None, {"source": source})
    return read_image(image, name=name, allow_volume=True)


def _source(image: LoadedImage) -> str:
    return str(image.meta.get("source", "<image>"))


def _dims_error(model: str, dims: Dims, image: LoadedImage) -> ValueError:
    """The refusal of a volume by a 2D model, or of a 2D image by a volume model."""
    shape = "×".join(map(str, image.shape))
    if dims == "2d":
        return ValueError(f"model {model} takes 2D images (dims '2d'), but {_source(image)} is "
                          f"a 3D volume ({shape}): choose a 3D or 2d-slice model, or one slice")
    return ValueError(f"model {model} takes 3D volumes (dims {dims!r}, NIfTI/NRRD), but "
                      f"{_source(image)} is a 2D image ({shape})")


def _check_pixels(array: np.ndarray, source: str) -> None:
    """Refuse an in-memory image read_image would have refused: too small or non-finite."""
    if array.ndim == 2 and (array.shape[0] < 2 or array.shape[1] < 2):
        raise EusgistError(f"{source}: image is too small ({array.shape[1]}×{array.shape[0]} "
                         "pixels; at least 2×2 needed)")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise EusgistError(f"{source}: image contains NaN or infinite values")


def box_mask(box: Sequence[float], shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask of the rectangle ``(x0, y0, x1, y1)`` (pixels, end exclusive)."""
    if len(box) != 4:
        raise EusgistError(f"a box is four numbers x0,y0,x1,y1; got {list(box)}")
    if not all(np.isfinite(float(v)) for v in box):
        raise EusgistError(f"a box is four finite numbers x0,y0,x1,y1; got {list(box)}")
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    height, width = shape[:2]
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise EusgistError(f"box ({x0}, {y0}, {x1}, {y1}) is not a non-empty rectangle inside "
                         f"the {width}x{height} image (x0 < x1 <= width, y0 < y1 <= height)")
    mask = np.zeros(shape[:2], dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def resolve_roi(image: LoadedImage, mask: MaskInput, box: Box | None) -> np.ndarray | None:
    """The lesion mask from a mask (array, path or bytes) or a box; None when neither."""
    if mask is not None and box is not None:
        raise EusgistError("give a mask or a box, not both")
    if box is not None:
        return box_mask(box, image.array.shape)
    if mask is None:
        return None
    if isinstance(mask, np.ndarray):
        return binarise_mask(mask, image.array.shape)
    return read_mask(mask, like=image)


def load_volume_input(spec: VolumeSpec, image: VolumeInput) -> np.ndarray:
    """A volume model's input as ``(C, Z, H, W)`` float32, one channel per phase.

    Parameters
    ----------
    spec : VolumeSpec
        The model (:attr:`LoadedModel.volume_spec`).
    image : volume or mapping
        One volume (path or bytes of a NIfTI/NRRD file, ``(Z, H, W)`` array or LoadedImage)
        for a model of at most one phase; for a multi-phase model a mapping phase → volume
        with exactly the card's phases (in any order; stacked in the card's order).

    Raises
    ------
    ValueError
        Other phases than the card's; a 2D image; phases of different shapes.
    """
    phases = spec.phases
    if isinstance(image, Mapping):
        if set(image) != set(phases):
            raise EusgistError(f"model {spec.model} takes phases {list(phases) or '[] (one volume)'}"
                             f", got {sorted(map(str, image))}")
        items = {phase: image[phase] for phase in phases}
    elif isinstance(image, (list, tuple)):
        raise EusgistError("give a model's phases as a mapping phase → volume, not a list")
    elif len(phases) > 1:
        raise EusgistError(f"model {spec.model} takes {len(phases)} phases ({', '.join(phases)}): "
                         "give a mapping phase → volume, one co-registered volume each")
    else:
        items = {phases[0] if phases else "image": image}
    volumes = {}
    for phase, item in items.items():
        loaded = load_input_image(item)
        if not loaded.is_volume:
            raise _dims_error(spec.model, spec.dims, loaded)
        volumes[phase] = loaded.array
    from eusgist.models.cnn3d import stack_phases

    return stack_phases(volumes, f"model {spec.model}")


def volume_roi(mask: MaskInput, shape: tuple[int, ...]) -> np.ndarray | None:
    """A volume's boolean lesion mask ``(Z, H, W)`` from an array, path or bytes; None when
    none is given.

    Raises
    ------
    ValueError
        Not numeric, NaN/inf, another shape than ``shape``, or no lesion voxel.
    """
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray):
        return read_mask(mask, like=tuple(shape))
    if mask.dtype.kind not in "biuf":
        raise EusgistError(f"mask must be numeric or boolean, got dtype {mask.dtype}")
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise EusgistError("mask contains NaN or infinite values")
    if mask.shape != tuple(shape):
        raise EusgistError(f"mask shape {mask.shape} does not match volume shape {tuple(shape)}")
    if not mask.any():
        raise EusgistError("mask is empty: no lesion voxels")
    return mask != 0


# ---------------------------------------------------------------------------- prediction
@dataclass(frozen=True)
class Contribution:
    """One feature's signed SHAP contribution (towards the positive class when > 0)."""

    feature: str
    value: float
    shap: float


@dataclass(frozen=True)
class Prediction:
    """One image's prediction with its explanation and the model card's context."""

    model: str
    kind: Kind
    classes: tuple[str, str]
    probabilities: dict[str, float]
    threshold: float
    decision: str
    contributions: list[Contribution]
    gradcam: np.ndarray | None
    intended_use: str
    training_data: str
    test_metrics: str
    synthetic: bool
    timings_ms: dict[str, float]
    device: str
    notes: list[str] = field(default_factory=list)

    @property
    def positive_probability(self) -> float:
        """Probability of ``classes[1]``."""
        return self.probabilities[self.classes[1]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the Grad-CAM overlay as its shape only)."""
        return {
            "model": self.model, "kind": self.kind, "classes": list(self.classes),
            "probabilities": self.probabilities, "threshold": self.threshold,
            "decision": self.decision,
            "contributions": [{"feature": c.feature, "value": c.value, "shap": c.shap}
                              for c in self.contributions],
            "gradcam_shape": None if self.gradcam is None else list(self.gradcam.shape),
            "intended_use": self.intended_use, "training_data": self.training_data,
            "test_metrics": self.test_metrics, "synthetic": self.synthetic,
            "timings_ms": self.timings_ms, "device": self.device, "notes": self.notes,
        }


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + 1000 * (time.perf_counter() - start)


def predict(
    model: LoadedModel | str | os.PathLike[str],
    image: VolumeInput,
    mask: MaskInput = None,
    *,
    box: Box | None = None,
    spacing_mm: float | None = None,
    explain: bool = True,
) -> Prediction:
    """Predict one image, or one volume with a volume model (``dims`` ``"3d"``/``"2d-slice"``).

    Parameters
    ----------
    model : LoadedModel, bundle folder or model name
    image : path, bytes, array, LoadedImage, or mapping phase → volume
        A 2D image for a 2D model; a NIfTI/NRRD volume or ``(Z, H, W)`` array for a volume
        model (a ``"2d-slice"`` model scores the slice training would have picked,
        :func:`~eusgist.models.cnn3d.pick_slice`); a mapping phase → volume for a
        multi-phase 3D model (:func:`load_volume_input`).
    mask : bool/0-1/0-255 array, path or bytes, optional
        Lesion mask of the image's (or volume's) size.
    box : (x0, y0, x1, y1), optional
        Rectangular lesion ROI in pixels (end exclusive), instead of a mask; 2D images only.
    spacing_mm : float, optional
        Pixel spacing when the file does not state it (radiomics shape features are in mm).
    explain : bool
        Compute SHAP contributions (tabular) or Grad-CAM (2D CNN; a 3D model says in
        ``notes`` that it has none).

    Raises
    ------
    ValueError
        Not an image; a volume for a 2D model or a 2D image for a volume model; other
        phases than the model's; the model needs a lesion ROI and none was given; an empty
        or wrongly sized mask; a box outside the image; an unusable bundle.
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    timer = _Timer()
    notes: list[str] = []
    contributions: list[Contribution] = []
    if loaded.dims != "2d":
        p, gradcam = _predict_volume(loaded, image, mask, box, timer, explain, notes)
    elif isinstance(image, Mapping):
        raise EusgistError(f"model {loaded.name} takes one 2D image, not phases {sorted(image)}")
    else:
        with timer("decode"):
            img = load_input_image(image)
            if img.is_volume:
                raise _dims_error(loaded.name, "2d", img)
            roi = _use_roi(loaded, resolve_roi(img, mask, box), notes)
        with loaded.lock:
            if loaded.kind == "cnn":
                p, gradcam = _predict_cnn(loaded, img.array, roi, timer, explain)
            else:
                p, contributions = _predict_tabular(loaded, img, roi, spacing_mm, timer,
                                                    explain, notes)
                gradcam = None
    neg, pos = loaded.classes
    card = loaded.card
    return Prediction(
        model=loaded.name, kind=loaded.kind, classes=(neg, pos),
        probabilities={neg: 1.0 - p, pos: p}, threshold=loaded.threshold,
        decision=pos if p >= loaded.threshold else neg, contributions=contributions,
        gradcam=gradcam, intended_use=intended_use(card), training_data=training_statement(card),
        test_metrics=metrics_statement(card), synthetic=loaded.synthetic,
        timings_ms={k: round(v, 2) for k, v in timer.ms.items()}, device=loaded.device,
        notes=notes,
    )


#: What a model that ignores the ROI looks at, by its dims.
_WHOLE = {"2d": "whole frame", "2d-slice": "whole middle slice", "3d": "whole volume"}


def _use_roi(loaded: LoadedModel, roi: np.ndarray | None, notes: list[str]) -> np.ndarray | None:
    """The ROI the model uses: refused when missing but needed, dropped (with a note) when
    the model ignores it."""
    if roi is None and loaded.needs_mask:
        what = ("a lesion mask or a box around the lesion" if loaded.dims == "2d"
                else "a lesion mask volume of the image's shape")
        raise EusgistError(f"model {loaded.name} was trained on lesion ROIs: give {what}")
    if roi is not None and not loaded.needs_mask:
        notes.append(f"This model looks at the {_WHOLE[loaded.dims]}; the ROI given was not used.")
        return None
    return roi


def _predict_volume(loaded: LoadedModel, image: VolumeInput, mask: MaskInput, box: Box | None,
                    timer: _Timer, explain: bool,
                    notes: list[str]) -> tuple[float, np.ndarray | None]:
    """A volume model's probability (and Grad-CAM of a 2d-slice model's slice)."""
    from eusgist.models.cnn3d import slice_index

    if box is not None:
        raise EusgistError(f"model {loaded.name} takes volumes: give the lesion ROI as a mask "
                         "volume, not a box")
    with timer("decode"):
        volume = load_volume_input(loaded.volume_spec, image)
        roi = _use_roi(loaded, volume_roi(mask, volume.shape[1:]), notes)
    with loaded.lock:
        if loaded.dims == "2d-slice":
            z = slice_index(volume.shape[1], roi)
            how = "the largest lesion area" if roi is not None else "the middle one"
            notes.append(f"Slice {z + 1} of {volume.shape[1]} was scored ({how}), as in training.")
            return _predict_cnn(loaded, volume[0], roi, timer, explain)
        with timer("preprocess"):
            x = _cnn_bundle(loaded).preprocess(volume, roi)
        with timer("classifier"):
            p = _probability(loaded, x)
    if explain:
        notes.append("Grad-CAM is not available for 3D models: no overlay.")
    return p, None


def _cnn_bundle(loaded: LoadedModel) -> CNNBundle:
    from eusgist.models.cnn_bundle import CNNBundle

    assert isinstance(loaded.bundle, CNNBundle)  # noqa: S101 - narrowing for the type checker
    return loaded.bundle


def _probability(loaded: LoadedModel, x: Any) -> float:
    """The CNN's positive-class probability of one model input."""
    import torch

    bundle = _cnn_bundle(loaded)
    with torch.inference_mode():
        logit = bundle.model(x[None].to(bundle.device))[0, 0].float()
    return float(torch.sigmoid(logit))


def _predict_cnn(loaded: LoadedModel, array: np.ndarray, roi: np.ndarray | None, timer: _Timer,
                 explain: bool) -> tuple[float, np.ndarray | None]:
    bundle = _cnn_bundle(loaded)
    with timer("preprocess"):
        x = bundle.preprocess(array, roi)
    with timer("classifier"):
        p = _probability(loaded, x)
    if not explain:
        return p, None
    with timer("explain"):
        from eusgist.explain_cnn import grad_cam, overlay

        expects = bundle.card["expects"]
        crop = (x[0] * expects["std"][0] + expects["mean"][0]).clamp(0, 1).numpy()
        cam = overlay(crop, grad_cam(bundle.model, x))
    return p, cam


class _FeatureCache:
    """Thread-safe LRU of features by image content: a re-run of the same image (and mask),
    or the same image under another model with the same extractor settings, reuses them."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, dict[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> dict[str, float]:
        """A copy of the features stored under `key` (empty if none)."""
        with self._lock:
            if key not in self._items:
                return {}
            self._items.move_to_end(key)
            return dict(self._items[key])

    def add(self, key: Hashable, features: Mapping[str, float]) -> None:
        """Store (merge) `features` under `key`, evicting the least recently used."""
        with self._lock:
            self._items.setdefault(key, {}).update(features)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


#: Features of recently predicted images (see :class:`_FeatureCache`).
FEATURE_CACHE = _FeatureCache()


def _digest(array: np.ndarray | None) -> str:
    """Content hash of an array (shape and dtype included)."""
    if array is None:
        return "-"
    a = np.ascontiguousarray(array)
    h = hashlib.blake2b(f"{a.shape}{a.dtype}".encode(), digest_size=16)
    h.update(a.data)
    return h.hexdigest()


def tabular_features(
    loaded: LoadedModel,
    image: LoadedImage,
    roi: np.ndarray | None,
    spacing_mm: float | None = None,
    timer: _Timer | None = None,
) -> dict[str, float]:
    """The features `loaded`'s classifier reads, extracted as for training."""
    timer = timer or _Timer()
    expects = loaded.card.get("expects") or {}
    features: dict[str, float] = {}
    if loaded.deep:
        with timer("preprocess"):
            if expects.get("supervision") == "weak" or roi is None:
                crop = whole_image(image.array)
            else:
                margin = expects.get("crop_margin")
                crop = crop_roi(image.array, roi, margin=0.1 if margin is None else margin)
            crop_id = _digest(crop)
        with timer("deep_features"):
            for extractor in loaded.deep:
                key = ("deep", crop_id, extractor.backbone, str(extractor.checkpoint),
                       extractor.pretrained, tuple(extractor.data_config["input_size"]))
                cached = FEATURE_CACHE.get(key)
                if not cached:
                    cached = dict(zip(extractor.feature_names,
                                      extractor.extract([crop])[0].tolist()))
                    FEATURE_CACHE.add(key, cached)
                features.update(cached)
    if loaded.radiomics is not None:
        if roi is None:
            raise EusgistError(f"model {loaded.name} needs a lesion ROI for its radiomics features")
        spacing = image.spacing or (None if spacing_mm is None else (spacing_mm, spacing_mm))
        with timer("radiomics"):
            key = ("radiomics", _digest(image.array), _digest(roi),
                   None if spacing is None else tuple(map(float, spacing)),
                   loaded.radiomics.settings_hash)
            cached = FEATURE_CACHE.get(key)
            missing = [f for f in loaded.rad_features if f not in cached]
            if missing:
                new = loaded.radiomics.extract(image.array, roi, spacing, only=missing)
                FEATURE_CACHE.add(key, new)
                cached.update(new)
            features.update({f: cached[f] for f in loaded.rad_features})
    required: tuple[str, ...] = loaded.bundle.required_features  # type: ignore[union-attr]
    return {name: features[name] for name in required}


def _predict_tabular(loaded: LoadedModel, image: LoadedImage, roi: np.ndarray | None,
                     spacing_mm: float | None, timer: _Timer, explain: bool,
                     notes: list[str]) -> tuple[float, list[Contribution]]:
    import pandas as pd

    if (loaded.radiomics is not None and image.spacing is None and spacing_mm is None
            and any("_shape2D_" in f for f in loaded.rad_features)):
        notes.append("Pixel spacing unknown (not in the file, none given): 1 mm per pixel "
                     "assumed for shape features.")
    features = tabular_features(loaded, image, roi, spacing_mm, timer)
    frame = pd.DataFrame([features])
    with timer("classifier"):
        p = float(loaded.bundle.predict_proba(frame)[0])
    contributions: list[Contribution] = []
    if explain:
        with timer("explain"):
            top = loaded.bundle.explain(frame)[:TOP_CONTRIBUTIONS]  # type: ignore[union-attr]
            contributions = [Contribution(f, v, s) for f, v, s in top]
    return p, contributions


# ---------------------------------------------------------------------------- batches
@lru_cache(maxsize=4)
def _worker_radiomics(params_json: str) -> RadiomicsExtractor:
    from eusgist.features.radiomics import RadiomicsExtractor

    return RadiomicsExtractor(json.loads(params_json))


def _prepare_one(
    model: str, image: ImageInput, mask: MaskInput, spacing_mm: float | None,
    params_json: str | None, only: tuple[str, ...], crop: Literal["roi", "whole"] | None,
    margin: float,
) -> tuple[dict[str, float], np.ndarray | None]:
    """Worker: one image's radiomics features and deep-model crop (either may be empty)."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # workers already fill the cores
    if isinstance(image, Mapping):
        raise EusgistError(f"model {model} takes one 2D image, not phases {sorted(image)}")
    img = load_input_image(image)
    if img.is_volume:
        raise _dims_error(model, "2d", img)
    roi = resolve_roi(img, mask, None)
    features: dict[str, float] = {}
    if params_json is not None:
        if roi is None:
            raise EusgistError("radiomics features need a lesion mask")
        spacing = img.spacing or (None if spacing_mm is None else (spacing_mm, spacing_mm))
        features = _worker_radiomics(params_json).extract(img.array, roi, spacing, only=only)
    if crop is None:
        return features, None
    if crop == "whole" or roi is None:
        return features, whole_image(img.array)
    return features, crop_roi(img.array, roi, margin=margin)


def _prepare_volume_one(spec: VolumeSpec, image: VolumeInput, mask: MaskInput) -> np.ndarray:
    """Worker: one volume's model input, as :meth:`CNNBundle.preprocess` makes it."""
    import SimpleITK as sitk

    from eusgist.models.cnn_bundle import preprocess_input

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # workers already fill the cores
    volume = load_volume_input(spec, image)
    roi = volume_roi(mask, volume.shape[1:])
    x = preprocess_input(spec.expects, volume if spec.dims == "3d" else volume[0], roi)
    return x.numpy()


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
    their extractor's). A volume model (``dims`` ``"3d"``/``"2d-slice"``) takes volumes as :func:`predict` does
    (a mapping phase → volume per item for a multi-phase model); its workers return the
    prepared model inputs.
    """
    from joblib import Parallel, delayed

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    masks = list(masks) if masks is not None else [None] * len(images)
    spacings = list(spacing_mm) if spacing_mm is not None else [None] * len(images)
    if not len(masks) == len(spacings) == len(images):
        raise EusgistError(f"{len(images)} images but {len(masks)} masks, {len(spacings)} spacings")
    if loaded.needs_mask and any(m is None for m in masks):
        raise EusgistError(f"model {loaded.name} was trained on lesion ROIs: every image needs "
                         "a mask")
    if not loaded.needs_mask:
        masks = [None] * len(images)
    if loaded.dims != "2d":
        spec = loaded.volume_spec
        inputs = Parallel(n_jobs=n_jobs)(delayed(_prepare_volume_one)(spec, im, m)
                                         for im, m in zip(images, masks))
        with loaded.lock, _torch_on_all_cores():
            return _score_batches(loaded, inputs, batch_size, _from_numpy)
    expects = loaded.card.get("expects") or {}
    if loaded.kind == "cnn":
        weak = expects.get("supervision") == "weak"
        crop: Literal["roi", "whole"] | None = "whole" if weak else "roi"
    else:
        crop = None if not loaded.deep else ("whole" if expects.get("supervision") == "weak"
                                             else "roi")
    margin = expects.get("crop_margin")
    margin = 0.1 if margin is None else float(margin)
    params_json = (None if loaded.radiomics is None
                   else json.dumps(loaded.radiomics.settings, sort_keys=True))
    prepared = Parallel(n_jobs=n_jobs)(
        delayed(_prepare_one)(loaded.name, im, m, s, params_json, loaded.rad_features, crop,
                              margin)
        for im, m, s in zip(images, masks, spacings)
    )
    crops = [c for _, c in prepared]
    with loaded.lock, _torch_on_all_cores():
        if loaded.kind == "cnn":
            return _score_cnn(loaded, crops, batch_size)
        return _score_tabular(loaded, prepared)


@contextmanager
def _torch_on_all_cores() -> Iterator[None]:
    """Torch intra-op threads on every usable core for a batched phase (joblib's workers
    have finished by then), restored afterwards."""
    import torch

    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    before = torch.get_num_threads()
    torch.set_num_threads(max(before, cores))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _score_cnn(loaded: LoadedModel, crops: list[np.ndarray | None], batch_size: int) -> np.ndarray:
    from eusgist.preprocess import to_model_input

    bundle = _cnn_bundle(loaded)
    scale = bundle.card["expects"]["intensity_scale"]
    return _score_batches(loaded, crops, batch_size,
                          lambda c: to_model_input(c, bundle.data_config, scale=scale))


def _from_numpy(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(x)


def _score_batches(loaded: LoadedModel, items: Sequence[Any], batch_size: int,
                   to_tensor: Callable[[Any], Any]) -> np.ndarray:
    """The CNN's probabilities of ``items``, ``batch_size`` model inputs (``to_tensor``) at
    a time."""
    import torch

    bundle = _cnn_bundle(loaded)
    out = [np.zeros(0)]
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            x = torch.stack([to_tensor(c) for c in items[start:start + batch_size]])
            logits = bundle.model(x.to(bundle.device))[:, 0].float()
            out.append(torch.sigmoid(logits).cpu().numpy().astype(np.float64))
    return np.concatenate(out)


def _score_tabular(
    loaded: LoadedModel, prepared: list[tuple[dict[str, float], np.ndarray | None]]
) -> np.ndarray:
    import pandas as pd

    columns: dict[str, np.ndarray] = {}
    for extractor in loaded.deep:
        embedding = extractor.extract([c for _, c in prepared])
        columns.update(zip(extractor.feature_names, embedding.T))
    frame = pd.DataFrame([features for features, _ in prepared])
    required = loaded.bundle.required_features  # type: ignore[union-attr]
    frame = frame.assign(**{k: v for k, v in columns.items() if k in required})
    return loaded.bundle.predict_proba(frame)  # type: ignore[union-attr]
