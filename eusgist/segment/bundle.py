"""Segmenter bundles: ``model.safetensors`` (fp16), ``probe.safetensors``, ``model_card.json``.

A segmenter bundle lives under ``weights/segmenters/<name>/`` (not beside the classifiers:
it makes no prediction). Every weight is stored; loading checks the files' checksums and the
library versions (:mod:`eusgist.bundles.card`) and recomputes the probe
(:mod:`eusgist.bundles.probe`), so a bundle that does not rebuild the saved network is refused.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from scipy import ndimage

from eusgist.bundles.card import (
    CARD,
    check_checksums,
    check_versions,
    file_sha256,
    read_json_object,
)
from eusgist.bundles.probe import PROBE, check_probe, probe_input, read_probe, write_probe
from eusgist.errors import BundleError
from eusgist.segment import geometry
from eusgist.segment.net import BoxUNet

FORMAT = "eusgist-segmenter/1"
WEIGHTS = "model.safetensors"
LIBRARIES = ("torch", "timm")
#: The segmenter shipped with the app (``weights/segmenters/<name>``).
DEFAULT_SEGMENTER = "busi-boxseg-lite0"
#: Probability at which a pixel is lesion.
THRESHOLD = 0.5


@dataclass(eq=False)
class Segmenter:
    """A loaded segmenter: ``segment(image, box)`` → the lesion outline inside the box."""

    net: BoxUNet
    input_size: int
    mean: float
    std: float
    device: torch.device = torch.device("cpu")
    name: str = "segmenter"
    #: The bundle folder it was loaded from (None while training).
    path: Path | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def probabilities(self, image: np.ndarray, box: geometry.Box) -> np.ndarray:
        """Lesion probability of each image pixel (0 outside the box's crop window)."""
        return self._probabilities(image, geometry.check_box(box, image.shape))

    def _probabilities(self, image: np.ndarray, box: geometry.Box) -> np.ndarray:
        x = geometry.crop(image, box, self.input_size)
        t = ((torch.from_numpy(x) / 255.0 - self.mean) / self.std)[None, None]
        both = torch.cat([t, t.flip(-1)]).expand(-1, 3, -1, -1)  # the crop and its mirror
        with self._lock, torch.inference_mode():
            logits = self.net(both.to(self.device)).float()
        prob = 0.5 * (torch.sigmoid(logits[:1]) + torch.sigmoid(logits[1:]).flip(-1))
        return geometry.paste(prob[0, 0].cpu().numpy(), box, image.shape)

    def segment(self, image: np.ndarray, box: geometry.Box) -> np.ndarray:
        """The outline (boolean mask, image-sized): the largest connected region over
        :data:`THRESHOLD`, holes filled; the inscribed ellipse when nothing passes."""
        box = geometry.check_box(box, image.shape)
        region = self._probabilities(image, box) >= THRESHOLD
        labels, n = ndimage.label(region)
        if n == 0:
            return geometry.inscribed_ellipse(box, image.shape)
        sizes = ndimage.sum(region, labels, index=range(1, n + 1))
        largest = labels == int(np.argmax(sizes)) + 1
        return ndimage.binary_fill_holes(largest)


def _versions() -> dict[str, str]:
    return {lib: metadata.version(lib) for lib in LIBRARIES}


def _probe_output(net: BoxUNet, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(x)).float().numpy()


def save_segmenter(segmenter: Segmenter, out: str | os.PathLike[str],
                   facts: dict[str, Any]) -> Path:
    """Write the bundle (fp16 weights, probe, card with ``facts``) to ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    net = segmenter.net.cpu().eval()
    state = {k: (v.detach().half() if v.is_floating_point() else v.detach()).contiguous()
             for k, v in net.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    saved = _build(net.arch, folder / WEIGHTS)
    x = probe_input((1, 3, segmenter.input_size, segmenter.input_size))
    write_probe(folder, {"model_input": x, "model_output": _probe_output(saved, x)})
    card = {"format": FORMAT, "kind": "segmenter", "arch": net.arch,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "expects": {"input_size": segmenter.input_size, "mean": segmenter.mean,
                        "std": segmenter.std, "margin": geometry.MARGIN, "prompt": "box"},
            "threshold": THRESHOLD, "versions": _versions(), **facts,
            "intended_use": "Research and annotation aid only: suggests an outline that an "
                            "annotator checks and edits. Not for clinical use.",
            "files": {WEIGHTS: file_sha256(folder / WEIGHTS), PROBE: file_sha256(folder / PROBE)}}
    (folder / CARD).write_text(json.dumps(card, indent=2), encoding="utf-8")
    return folder


def _build(arch: str, weights: Path) -> BoxUNet:
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{weights.name}: not readable safetensors ({exc})") from exc
    net = BoxUNet(arch, pretrained=False)
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v
                             for k, v in state.items()})
    except RuntimeError as exc:
        raise BundleError(f"{weights.name}: does not fit a {arch} segmenter ({exc})") from exc
    return net.eval()


_CACHE: dict[Path, Segmenter] = {}
_CACHE_LOCK = threading.Lock()


def segmenter_path(model: str | os.PathLike[str] | None = None) -> Path:
    """A segmenter bundle's folder: ``model`` when it is a folder, else the bundle of that
    name (default :data:`DEFAULT_SEGMENTER`) under the weights folder's ``segmenters/``."""
    from eusgist.hub import resolve_weights_dir

    if model is not None and Path(model).is_dir():
        return Path(model)
    return resolve_weights_dir() / "segmenters" / str(model or DEFAULT_SEGMENTER)


def load_segmenter(path: str | os.PathLike[str] | None = None) -> Segmenter:
    """The checked segmenter in ``path`` (a folder or a bundle name; default the shipped
    one), cached per folder, thread-safe.

    Raises
    ------
    BundleError
        Not a segmenter bundle, a changed file, an incompatible library, a failed probe.
    """
    folder = segmenter_path(path).resolve()
    if not (folder / CARD).is_file():
        raise BundleError(f"no segmenter bundle at {folder} (train one with "
                          "`python -m eusgist train-segmenter`)")
    with _CACHE_LOCK:
        if folder in _CACHE:
            return _CACHE[folder]
        card = read_json_object(folder / CARD)
        if card.get("format") != FORMAT:
            raise BundleError(f"{folder.name}: not a segmenter bundle (format "
                              f"{card.get('format')!r}, expected {FORMAT!r})")
        check_checksums(folder, card.get("files") or {})
        check_versions(card.get("versions") or {}, _versions(), LIBRARIES)
        net = _build(str(card["arch"]), folder / WEIGHTS)
        probe = read_probe(folder)
        if probe is None:
            raise BundleError(f"{folder.name}: {PROBE} is missing")
        check_probe(folder.name, "segmenter", _probe_output(net, probe["model_input"]),
                    probe["model_output"])
        expects = card["expects"]
        seg = Segmenter(net, int(expects["input_size"]), float(expects["mean"]),
                        float(expects["std"]), name=str(card.get("name") or folder.name),
                        path=folder)
        _CACHE[folder] = seg
        return seg


def segmenter_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's card as a dict (after :func:`load_segmenter` has checked it)."""
    return read_json_object(Path(path) / CARD)
