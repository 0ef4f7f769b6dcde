"""Grad-CAM heatmaps for a CNN bundle's decision, overlaid on the model's input.

Grad-CAM (Selvaraju et al. 2017): with activations ``A`` (channels × positions) of a target
layer and the gradient of the positive-class logit with respect to them, the channel
weights are the spatially averaged gradients ``a_c = mean_ij dy/dA_cij`` and the map is
``relu(sum_c a_c A_c)``, upsampled bilinearly to the input and scaled to ``[0, 1]``.

Target layers by default: a CNN's last feature stage (timm's ``feature_info``); for ViTs
the last block's first norm (the tokens the class token attends to), whose patch tokens are
reshaped to the patch grid; for Swin the last stage, whose NHWC output is made NCHW.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eusgist.bundles.cnn import CNNBundle
from eusgist.errors import EusgistError


def default_target_layer(model: nn.Module) -> str:
    """The name of the submodule whose activations Grad-CAM uses."""
    blocks = getattr(model, "blocks", None)
    is_vit = getattr(model, "num_prefix_tokens", None) is not None and blocks is not None
    if is_vit and hasattr(blocks[-1], "norm1"):
        return f"blocks.{len(blocks) - 1}.norm1"
    info = getattr(model, "feature_info", None)
    if not info:
        raise EusgistError(f"no default Grad-CAM layer for {type(model).__name__}: "
                           "name one with target_layer=")
    return info[-1]["module"]


def _to_nchw(act: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Activations as ``(B, C, H, W)``: token sequences become grids, NHWC becomes NCHW."""
    if act.ndim == 3:  # (B, tokens, C): drop class/register tokens, lay patches on their grid
        tokens = act[:, getattr(model, "num_prefix_tokens", 0):]
        grid = getattr(getattr(model, "patch_embed", None), "grid_size", None)
        h, w = grid if grid else (math.isqrt(tokens.shape[1]),) * 2
        return tokens.transpose(1, 2).reshape(act.shape[0], -1, h, w)
    if act.ndim == 4:
        info = getattr(model, "feature_info", None)
        channels = info[-1]["num_chs"] if info else act.shape[1]
        if act.shape[1] != channels and act.shape[-1] == channels:
            return act.permute(0, 3, 1, 2)
        return act
    raise EusgistError(f"cannot make a heatmap from activations of shape {tuple(act.shape)}")


def grad_cam(model: nn.Module, x: torch.Tensor, *, target_layer: str | None = None) -> np.ndarray:
    """Grad-CAM of the positive-class logit (output 0) for one input.

    Parameters
    ----------
    model : a classifier returning logits ``(B, K)``; output 0 is explained
    x : ``(C, H, W)`` or ``(1, C, H, W)`` model input
    target_layer : submodule name (default :func:`default_target_layer`)

    Returns
    -------
    ndarray, shape (H, W), float32 in [0, 1] (all zeros when no position pushes the logit up)
    """
    x = x[None] if x.ndim == 3 else x
    layer = model.get_submodule(target_layer or default_target_layer(model))
    store: dict[str, torch.Tensor] = {}

    def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        out.retain_grad()
        store["act"] = out

    handle = layer.register_forward_hook(hook)
    was_training = model.training
    try:
        model.eval()
        with torch.enable_grad():
            logit = model(x.detach().to(next(model.parameters()).device))[0, 0]
            model.zero_grad(set_to_none=True)
            logit.backward()
    finally:
        handle.remove()
        model.train(was_training)
    act, grad = _to_nchw(store["act"], model), _to_nchw(store["act"].grad, model)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(dim=1, keepdim=True)).detach().float()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    top = cam.max()
    return (cam / top if top > 0 else cam).cpu().numpy().astype(np.float32)


def overlay(image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.4,
            cmap: str = "jet") -> np.ndarray:
    """``(1 - alpha) * gray + alpha * colormap(heatmap)`` as ``(H, W, 3)`` uint8.

    ``image`` is 2D with values in ``[0, 1]`` (floats) or 8-bit (uint8), same shape as ``heatmap``.
    """
    import matplotlib

    if image.shape != heatmap.shape:
        raise EusgistError(f"image shape {image.shape} does not match heatmap shape {heatmap.shape}")
    if image.dtype == np.uint8:
        gray = image.astype(np.float32) / 255.0
    else:
        gray = np.clip(image, 0, 1).astype(np.float32)
    colour = matplotlib.colormaps[cmap](np.clip(heatmap, 0, 1))[..., :3]
    mixed = (1 - alpha) * gray[..., None] + alpha * colour
    return np.round(np.clip(mixed, 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class Explanation:
    """A bundle's probability for one image, the crop it saw (``[0, 1]``), heatmap and overlay."""

    probability: float
    crop: np.ndarray
    heatmap: np.ndarray
    overlay: np.ndarray


def explain_image(bundle: CNNBundle, image: np.ndarray, mask: np.ndarray | None = None, *,
                  alpha: float = 0.4) -> Explanation:
    """Grad-CAM of a loaded bundle's decision on one image (mask needed for strong supervision)."""
    x = bundle.preprocess(image, mask)
    mean = torch.tensor(bundle.card["expects"]["mean"][0])
    std = torch.tensor(bundle.card["expects"]["std"][0])
    crop = (x[0] * std + mean).clamp(0, 1).numpy()
    with torch.no_grad():
        prob = float(torch.sigmoid(bundle.model(x[None].to(bundle.device))[0, 0].float()))
    heat = grad_cam(bundle.model, x)
    return Explanation(probability=prob, crop=crop, heatmap=heat,
                       overlay=overlay(crop, heat, alpha=alpha))
