"""Grad-CAM against its formula on a hand-built CNN, and on timm ResNet, ViT and Swin."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from torch import nn

from eusgist.bundles.cnn import load_cnn_bundle, save_cnn_bundle
from eusgist.explain.gradcam import default_target_layer, explain_image, grad_cam, overlay


class GapNet(nn.Module):
    """features -> global average pool -> linear: Grad-CAM is relu(sum_c w_c A_c / HW)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_grad_cam_matches_formula() -> None:
    torch.manual_seed(0)
    model, x = GapNet(), torch.randn(3, 9, 11)
    cam = grad_cam(model, x, target_layer="features")
    act = model.features(x[None])[0].detach()
    expected = torch.relu((model.fc.weight[0].detach()[:, None, None] / (9 * 11) * act).sum(0))
    np.testing.assert_allclose(cam, (expected / expected.max()).numpy(), rtol=1e-5, atol=1e-6)


def _tiny_swin() -> nn.Module:
    from timm.models.swin_transformer import SwinTransformer

    return SwinTransformer(img_size=32, patch_size=4, window_size=4, embed_dim=16, depths=(1, 1),
                           num_heads=(1, 1), num_classes=1)


@pytest.mark.parametrize(("make", "size", "layer"), [
    (lambda: timm.create_model("test_resnet", num_classes=1), 64, "layer4"),
    (lambda: timm.create_model("test_vit", num_classes=1, img_size=32), 32, "blocks.5.norm1"),
    (_tiny_swin, 32, "layers.1"),
], ids=["resnet", "vit", "swin"])
def test_grad_cam_reshapes_cnn_vit_and_swin(make, size: int, layer: str) -> None:
    torch.manual_seed(0)
    model = make()
    assert default_target_layer(model) == layer
    cam = grad_cam(model, torch.randn(3, size, size))
    assert cam.shape == (size, size) and np.isfinite(cam).all()
    assert cam.min() >= 0 and cam.max() == pytest.approx(1)


def test_overlay_formula() -> None:
    import matplotlib

    image = np.full((4, 5), 0.5, np.float32)
    heat = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    out = overlay(image, heat, alpha=0.25)
    colour = np.array(matplotlib.colormaps["jet"](heat[2, 3])[:3])
    expected = np.round((0.75 * 0.5 + 0.25 * colour) * 255)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8 and np.array_equal(out[2, 3], expected)
    with pytest.raises(ValueError, match="does not match"):
        overlay(image, heat[:2])


def test_explain_image_from_a_bundle(tmp_path) -> None:
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", num_classes=1)
    card = {"name": "t", "arch": "test_resnet", "expects": {
        "input_size": 32, "supervision": "strong", "crop_margin": 0.1, "mean": [0.5] * 3,
        "std": [0.25] * 3, "intensity_scale": 255.0}}
    bundle = load_cnn_bundle(save_cnn_bundle(tmp_path, model, card))
    image = np.random.default_rng(0).uniform(0, 255, (40, 50)).astype(np.float32)
    mask = np.zeros((40, 50), bool)
    mask[10:20, 15:30] = True
    e = explain_image(bundle, image, mask)
    assert e.probability == pytest.approx(bundle.predict_proba([image], [mask])[0], rel=1e-5)
    assert e.crop.shape == e.heatmap.shape == (32, 32) and e.overlay.shape == (32, 32, 3)


def test_old_module_name_still_works() -> None:
    import eusgist.explain_cnn as shim

    assert shim.grad_cam is grad_cam and shim.explain_image is explain_image
