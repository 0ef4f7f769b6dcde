"""Find, describe and load model bundles.

:func:`list_models` finds bundles (``weights/*/model_card.json``; folder
``$EUSGIST_WEIGHTS_DIR``), :func:`load_model` loads one of any kind (cached read-only, keyed
on path and card modification time) with the extractors its features need. The card text
helpers (:func:`training_statement`, :func:`metrics_statement`, :func:`intended_use`) make
sure nobody sees a probability without knowing where it came from; they take a card of
either dialect (:class:`~eusgist.bundles.card.ModelCard`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eusgist.bundles.card import CARD, CardFacts, ModelCard, read_json_object
from eusgist.errors import BundleError, EusgistError
from eusgist.features.table import SEG_PREFIX
from eusgist.hub import resolve_weights_dir
from eusgist.inference.inputs import Dims, VolumeSpec
from eusgist.report.text import ci_range

if TYPE_CHECKING:
    from eusgist.bundles.cnn import CNNBundle
    from eusgist.bundles.tabular import Bundle
    from eusgist.features.deep import DeepFeatureExtractor
    from eusgist.features.radiomics import RadiomicsExtractor
    from eusgist.inference.domain import DomainModel
    from eusgist.inference.predictor import Predictor
    from eusgist.segment import Segmenter

log = logging.getLogger(__name__)

#: Words in a card's name or training source that mark a model trained on synthetic data.
SYNTHETIC_WORDS = ("phantom", "synthetic", "demo")
NOT_CLINICAL = "Research and teaching only; NOT for clinical use."

#: A prediction's model kind (a volume model is a ``"cnn"``; see :attr:`LoadedModel.dims`).
Kind = Literal["tabular", "cnn", "router", "ensemble"]


def default_weights_dir() -> Path:
    """``$EUSGIST_WEIGHTS_DIR`` (default ``weights/`` beside the package) when present, else
    the preloaded Hub snapshot of the model repo (:func:`eusgist.hub.resolve_weights_dir`)."""
    return resolve_weights_dir()


def _card(card: Mapping[str, Any] | ModelCard) -> ModelCard:
    return card if isinstance(card, ModelCard) else ModelCard.from_dict(card)


# ---------------------------------------------------------------------------- model cards
def card_kind(card: Mapping[str, Any] | ModelCard) -> Kind:
    """``"cnn"`` for a CNN card (2D or volume), ``"router"`` for a bundle routing each ROI
    kind to another bundle, ``"ensemble"`` for one averaging others, else ``"tabular"``."""
    kind = _card(card).kind
    return kind if kind in ("tabular", "router", "ensemble") else "cnn"


def card_classes(card: Mapping[str, Any] | ModelCard) -> tuple[str, str]:
    """``(negative, positive)`` class names of either card dialect."""
    return _card(card).classes


def _training_source(card: ModelCard) -> str:
    data = card.training_data
    if data.get("source"):
        return str(data["source"])
    manifest = data.get("manifest")
    return Path(str(manifest)).parent.name or str(manifest) if manifest else "unrecorded data"


def is_synthetic(card: Mapping[str, Any] | ModelCard) -> bool:
    """True when the card says (``synthetic``) or its name/source suggests synthetic data."""
    info = _card(card)
    if "synthetic" in info.raw:
        return bool(info.raw["synthetic"])
    text = f"{info.name} {_training_source(info)}".lower()
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



def training_statement(card: Mapping[str, Any] | ModelCard) -> str:
    """One sentence on what the model was trained and tested on."""
    info = _card(card)
    prefix = "SYNTHETIC phantom data (demo only): " if is_synthetic(info) else ""
    source = _training_source(info)
    data = info.training_data
    if info.kind in ("router", "ensemble"):
        return f"{prefix}{source}."
    if info.raw.get("training_data"):
        split = data.get("split") or {}
        return (f"{prefix}trained on {source} — train: {_counts(data.get('train') or {})}; "
                f"test: {_counts(data.get('test') or {})} (split by {split.get('by', 'lesion')}).")
    images = data.get("images") or {}
    return (f"{prefix}trained on {source} — train: {_counts(images.get('train') or {})}; "
            f"test: {_counts(images.get('test') or {})}.")


def metrics_statement(card: Mapping[str, Any] | ModelCard) -> str:
    """Test AUC and threshold metrics with their 95% CIs (written "a to b"), as one line."""
    m = _card(card).test_metrics
    if m.get("auc") is None:
        return roi_statement(card) or "No test metrics recorded."
    lo, hi = m.get("auc_ci") or (float("nan"), float("nan"))
    n = m.get("n_lesions") or m.get("n")
    unit = "lesions" if m.get("n_lesions") else "images"
    parts = [f"test AUC {m['auc']:.3f} (95% CI {ci_range(lo, hi)}; n={n} {unit})"]
    for name, (value, mlo, mhi) in (m.get("metrics") or {}).items():
        if name in ("sensitivity", "specificity", "accuracy"):
            parts.append(f"{name} {value:.2f} ({ci_range(mlo, mhi, 2)})")
    return "; ".join(parts) + ". " + roi_statement(card)


def roi_metrics(card: Mapping[str, Any] | ModelCard) -> dict[str, dict[str, Any]]:
    """The card's test metrics per ROI kind (``outline``, ``box``); empty when unrecorded."""
    value = _card(card).raw.get("test_metrics_by_roi")
    return {k: v for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) \
        else {}


def roi_statement(card: Mapping[str, Any] | ModelCard) -> str:
    """Which ROI kinds the model was validated on, with the test AUC (95% CI "a to b") of
    each."""
    by_kind = roi_metrics(card)
    if not by_kind:
        return ("Validated with expert outlines only; not validated on boxes."
                if _card(card).expects.get("supervision", "strong") == "strong" else "")
    parts = [f"{kind.replace('_', ' ')} AUC {m['auc']:.3f} ({ci_range(*m['auc_ci'])})"
             for kind, m in by_kind.items() if "auc" in m and "auc_ci" in m]
    return "Validated per ROI kind: " + ", ".join(parts) + "."



def intended_use(card: Mapping[str, Any] | ModelCard) -> str:
    """The card's intended-use statement (never empty; always says not for clinical use)."""
    text = _card(card).intended_use
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
    box_auc: float | None = None
    outline_auc: float | None = None

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
    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    out = []
    for card_path in sorted(root.glob(f"*/{CARD}")):
        folder = card_path.parent
        try:
            card = read_json_object(card_path)
        except (OSError, ValueError) as exc:
            out.append(ModelInfo(folder.name, folder, None, False, False,
                                 "unreadable model card", str(exc)))
            continue
        by_kind = roi_metrics(card)
        box, outline = (by_kind.get(k, {}).get("auc") for k in ("box", "outline"))
        info = dict(name=str(card.get("name") or folder.name), path=folder, kind=card_kind(card),
                    synthetic=is_synthetic(card), summary=training_statement(card),
                    box_auc=float(box) if isinstance(box, int | float) else None,
                    outline_auc=float(outline) if isinstance(outline, int | float) else None)
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
class LoadedModel(CardFacts):
    """A bundle ready to predict: the model and the extractors its features need."""

    name: str
    path: Path
    kind: Kind
    card: dict[str, Any]
    device: str
    bundle: Bundle | CNNBundle | None
    radiomics: RadiomicsExtractor | None = None
    rad_features: tuple[str, ...] = ()
    deep: tuple[DeepFeatureExtractor, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: A router's bundles by ROI kind (``outline``, ``box``).
    routes: dict[str, LoadedModel] = field(default_factory=dict)
    #: A router's box segmenter: boxes are outlined by it before scoring.
    segmenter: Segmenter | None = None
    #: The segmenter whose ``seg_*`` features a tabular model reads (the ROI's box → outline).
    shape_segmenter: Segmenter | None = None
    #: An ensemble's member models (their log-odds are averaged).
    members: tuple[LoadedModel, ...] = ()
    #: The out-of-domain gate (``fit-domain``); None when the bundle has none (a router
    #: uses its routed bundle's).
    domain: DomainModel | None = None

    @cached_property
    def model_card(self) -> ModelCard:
        """The card, normalised."""
        return ModelCard.from_dict(self.card, self.path.name)

    @cached_property
    def predictor(self) -> Predictor:
        """How this model prepares, scores and explains inputs (by its kind and dims)."""
        from eusgist.inference.predictor import predictor_for

        return predictor_for(self)

    @property
    def expects(self) -> dict[str, Any]:
        """What the model takes (the card's ``expects``)."""
        return self.model_card.expects

    @property
    def needs_mask(self) -> bool:
        """Whether a lesion ROI (mask or box) must be given."""
        if self.kind == "cnn":
            return self.expects.get("supervision") == "strong"
        return bool(self.expects.get("mask_required", True))

    @property
    def synthetic(self) -> bool:
        """Trained on synthetic (phantom) data."""
        return is_synthetic(self.model_card)

    @property
    def dims(self) -> Dims:
        """``"2d"`` (images), ``"2d-slice"`` (one slice of a volume) or ``"3d"`` (volumes)."""
        return self.model_card.dims  # type: ignore[return-value]

    @property
    def phases(self) -> tuple[str, ...]:
        """A 3D model's phases in channel order; empty when it takes one unnamed volume."""
        return tuple(self.expects.get("phases") or ())

    @property
    def volume_spec(self) -> VolumeSpec:
        """What a volume model takes, without the network (sent to worker processes)."""
        return VolumeSpec(self.name, self.dims, self.phases, self.needs_mask, dict(self.expects))


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
    known = [p.parent.name for p in root.glob(f"*/{CARD}")]
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
    listed = sorted(p.parent.name for p in root.glob(f"*/{CARD}"))
    if name not in listed:
        raise EusgistError(f"no model {name!r} in the weights folder (available: "
                           f"{', '.join(listed) or 'none'})")
    try:
        return load_model(root / name)
    except ValueError as exc:
        raise EusgistError(f"model {name!r} cannot be used: {exc}") from exc


def load_model(name_or_path: str | os.PathLike[str]) -> LoadedModel:
    """Load a bundle of any kind by folder or name; cached until its card changes.

    Raises
    ------
    ValueError
        (:class:`~eusgist.errors.BundleError` included) when the bundle cannot be used.
    """
    path = resolve_model_path(name_or_path)
    card = path / CARD
    if not card.is_file():
        raise EusgistError(f"{path}: not a model bundle (no {CARD})")
    return _load_cached(str(path), card.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, _mtime_ns: int) -> LoadedModel:
    folder = Path(path)
    device = _device()
    kind = card_kind(read_json_object(folder / CARD))
    if kind == "router":
        return _load_router(folder, device)
    if kind == "ensemble":
        return _load_ensemble(folder, device)
    if kind == "cnn":
        from eusgist.bundles.cnn import load_cnn_bundle

        cnn = load_cnn_bundle(folder, device=device)
        return LoadedModel(str(cnn.card.get("name") or folder.name), folder, "cnn", cnn.card,
                           device, cnn, domain=_domain(folder, cnn.card, device))
    from eusgist.bundles.tabular import load_bundle

    bundle = load_bundle(folder)
    required = bundle.required_features
    rad = tuple(f for f in required if f.startswith("rad_"))
    model = LoadedModel(bundle.name, folder, "tabular", bundle.card, device, bundle,
                        rad_features=rad, domain=_domain(folder, bundle.card, device))
    if rad:
        model.radiomics = _radiomics_extractor(bundle)
    model.deep = tuple(_deep_extractors(bundle, device))
    if any(f.startswith(SEG_PREFIX) for f in required):
        model.shape_segmenter = _shape_segmenter(bundle)
    unknown = [f for f in required if not f.startswith(("rad_", SEG_PREFIX))
               and not any(f in ex.feature_names or f in ex.frame_feature_names
                           for ex in model.deep)]
    if unknown:
        raise EusgistError(f"{folder.name}: cannot compute feature(s) {unknown[:5]} from the "
                           "card's radiomics protocol and backbones")
    return model


def _domain(folder: Path, card: Mapping[str, Any], device: str) -> DomainModel | None:
    """The bundle's out-of-domain gate, when its card records one (2D bundles only)."""
    from eusgist.inference.domain import read_domain

    return read_domain(folder, card, device)


def _load_router(folder: Path, device: str) -> LoadedModel:
    """A router bundle with the sibling bundles it routes each ROI kind to."""
    from eusgist.bundles.router import box_segmenter_path, read_routes
    from eusgist.segment import load_segmenter

    card, routes = read_routes(folder)
    seg_path = box_segmenter_path(folder, card)
    segmenter = None if seg_path is None else load_segmenter(seg_path)
    loaded = {kind: load_model(folder.parent / name) for kind, name in routes.items()}
    info = ModelCard.from_dict(card, folder.name)
    for kind, sub in loaded.items():
        if sub.classes != info.classes:
            raise BundleError(f"{folder.name}: routes {kind} ROIs to {sub.name}, which scores "
                              f"{sub.classes}, not {info.classes}")
    return LoadedModel(info.name, folder, "router", card, device, None, routes=loaded,
                       segmenter=segmenter)


def _load_ensemble(folder: Path, device: str) -> LoadedModel:
    """An ensemble bundle with its members; its out-of-domain gate is its first member's
    that has one."""
    from eusgist.bundles.ensemble import read_members

    card, names = read_members(folder)
    members = tuple(load_model(folder.parent / name) for name in names)
    domain = next((m.domain for m in members if m.domain is not None), None)
    return LoadedModel(str(card.get("name") or folder.name), folder, "ensemble", card, device,
                       None, members=members, domain=domain)


def _radiomics_extractor(bundle: Bundle) -> RadiomicsExtractor:
    import yaml

    from eusgist.bundles.tabular import RADIOMICS_YAML
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


def _shape_segmenter(bundle: Bundle) -> Segmenter:
    """The segmenter the ``seg_*`` features were made with (the installed one of its name,
    else the folder training used), refused when its weights differ."""
    from eusgist.segment import load_segmenter
    from eusgist.segment.shape import segmenter_id

    spec = (bundle.card.get("expects") or {}).get("segmenter") or {}
    name = spec.get("name")
    if not name:
        raise BundleError(f"{bundle.path.name}: reads segmenter features but its card names "
                          "no segmenter")
    from eusgist.segment.bundle import segmenter_path

    installed = segmenter_path(name)
    recorded = Path(spec["path"]) if spec.get("path") else None
    where = recorded if not (installed / CARD).is_file() and recorded is not None else installed
    segmenter = load_segmenter(where)
    if spec.get("weights_id") and segmenter_id(segmenter) != spec["weights_id"]:
        raise BundleError(f"{bundle.path.name}: its segmenter features were made with "
                          f"{name} weights {spec['weights_id']}, but the installed {name} "
                          "differs")
    return segmenter


def _deep_extractors(bundle: Bundle, device: str) -> Iterator[DeepFeatureExtractor]:
    """One extractor per backbone whose columns the classifier reads, weights as in training."""
    from eusgist.bundles.card import file_sha256
    from eusgist.bundles.tabular import BACKBONE
    from eusgist.features.deep import DeepFeatureExtractor, feature_prefix

    required = bundle.required_features
    for spec in (bundle.card.get("expects") or {}).get("backbones") or []:
        name = spec["backbone"]
        prefixes = (feature_prefix(name), feature_prefix("frame_" + name))
        if not any(f.startswith(prefixes) for f in required):
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
        _check_source(bundle, name, spec.get("pretrained_source"), extractor)
        yield extractor


def _check_source(bundle: Bundle, name: str, recorded: Mapping[str, Any] | None,
                  extractor: DeepFeatureExtractor) -> None:
    """Refuse pretrained weights other than those the features were made with (by hash)."""
    from eusgist.pretrained import source_of

    want = (recorded or {}).get("sha256")
    if not want:
        return
    found = source_of(extractor.model)
    if found is None or found.sha256 != want:
        got = "unknown weights" if found is None else f"{found.kind} ({found.sha256[:12]}…)"
        raise BundleError(f"{bundle.path.name}: the features were made with {name} weights of "
                          f"sha256 {want[:12]}…, but {got} were loaded here")

