"""Fit the box-prompted segmenter on manifests with expert masks.

Each epoch every training lesion is seen once through a box jittered like a hand-drawn one
(:func:`eusgist.roi_kinds.jitter_box`), flipped and contrast-jittered at random; the loss is
binary cross-entropy plus soft Dice. A grouped validation part of the training split picks
the epoch (mean Dice with the exact bounding box as the prompt); the test split of each
manifest (the same lesion split as the classifiers: ``test_size`` 0.2, ``seed``) is scored
once at the end. Runs on 2 CPU cores (minutes); uses CUDA with AMP when present.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from eusgist.data import Manifest, grouped_kfold, read_manifest, train_test_split
from eusgist.errors import EusgistError
from eusgist.io import read_image, read_mask
from eusgist.preprocess import as_gray
from eusgist.roi_kinds import jitter_box, mask_box
from eusgist.segment import geometry
from eusgist.segment.bundle import Segmenter, save_segmenter
from eusgist.segment.config import SegmenterConfig
from eusgist.segment.metrics import dice_scores
from eusgist.segment.net import BoxUNet

log = logging.getLogger(__name__)


@dataclass
class _Case:
    """One lesion: its gray image (uint8) and expert mask."""

    image: np.ndarray
    mask: np.ndarray
    source: str


def _load(manifest: Manifest, rows: np.ndarray) -> list[_Case]:
    out = []
    for i in rows:
        path = manifest.mask_path(int(i))
        if path is None:
            raise EusgistError(f"{manifest.image_path(int(i)).name}: no mask; the segmenter "
                               "learns from expert masks")
        image = read_image(manifest.image_path(int(i))).array
        mask = read_mask(path, like=image.shape) > 0
        if not mask.any():
            continue
        gray = np.clip(as_gray(image), 0, 255).astype(np.uint8)
        out.append(_Case(gray, mask, str(manifest.table["image"].iat[int(i)])))
    return out


def _normalise(crops: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """``(N, S, S)`` 8-bit crops → ``(N, 3, S, S)`` model input."""
    x = (torch.from_numpy(crops).float() / 255.0 - mean) / std
    return x[:, None].expand(-1, 3, -1, -1).contiguous()


def _sample(case: _Case, size: int, rng: np.random.Generator,
            jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """One training pair: the crop of a jittered box (a tiny lesion keeps its own box),
    mirrored and contrast-jittered at random, and the mask seen through it."""
    box = jitter_box(mask_box(case.mask), case.mask.shape, rng, amount=jitter)
    if min(box[2] - box[0], box[3] - box[1]) < geometry.MIN_SIDE:
        box = mask_box(case.mask)
    x = geometry.crop(case.image, box, size)
    y = geometry.crop_mask(case.mask, box, size)
    if rng.random() < 0.5:
        x, y = x[:, ::-1], y[:, ::-1]
    gamma = float(np.exp(rng.uniform(-0.3, 0.3)))
    gain = float(rng.uniform(0.8, 1.2))
    x = np.clip(255.0 * (x / 255.0) ** gamma * gain, 0, 255)
    return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.float32)


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    denom = prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    return bce + (1 - (2 * inter + 1) / (denom + 1)).mean()


def _splits(manifest: Manifest, config: SegmenterConfig) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    train, test = train_test_split(manifest, test_size=config.test_size, seed=config.seed)
    part = manifest.subset(train)
    n_splits = max(2, round(1.0 / config.val_share))
    fit, val = next(grouped_kfold(part, n_splits=n_splits, seed=config.seed))
    return train[fit], train[val], test


def evaluate(segmenter: Segmenter, cases: Sequence[_Case]) -> np.ndarray:
    """Dice of each case with its mask's exact bounding box as the prompt."""
    preds = [segmenter.segment(c.image, mask_box(c.mask)) for c in cases]
    return dice_scores(preds, [c.mask for c in cases])


def train_segmenter(manifests: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                    config: SegmenterConfig = SegmenterConfig(), *,
                    name: str | None = None, source: str = "") -> dict[str, Any]:
    """Train on the manifests' training splits, save the bundle to ``out``; return its card.

    The card's ``test_metrics`` hold mean and median Dice per manifest on its test split,
    with the two baselines (the box itself, the ellipse inscribed in the box).
    """
    began = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda"
    fit_cases: list[_Case] = []
    val_cases: list[_Case] = []
    test_sets: dict[str, list[_Case]] = {}
    for path in manifests:
        manifest = read_manifest(path, require_masks=True)
        fit, val, test = _splits(manifest, config)
        fit_cases += _load(manifest, fit)
        val_cases += _load(manifest, val)
        test_sets[Path(path).parent.name] = _load(manifest, test)
    log.info("segmenter: %d training, %d validation lesions", len(fit_cases), len(val_cases))
    net = BoxUNet(config.arch, pretrained=config.pretrained).to(device)
    mean, std = _data_stats(net)
    encoder = list(net.encoder.parameters())
    ids = {id(p) for p in encoder}
    rest = [p for p in net.parameters() if id(p) not in ids]
    opt = torch.optim.AdamW([{"params": encoder, "lr": config.encoder_lr},
                             {"params": rest, "lr": config.lr}], weight_decay=1e-4)
    steps = config.epochs * int(np.ceil(len(fit_cases) / config.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[config.encoder_lr, config.lr], total_steps=steps, pct_start=0.1)
    scaler = torch.amp.GradScaler(enabled=amp)
    best, best_state, since, history = -1.0, None, 0, []
    for epoch in range(config.epochs):
        start = time.perf_counter()
        net.train()
        order = rng.permutation(len(fit_cases))
        losses = []
        for b in range(0, len(order), config.batch_size):
            pairs = [_sample(fit_cases[i], config.input_size, rng, config.box_jitter)
                     for i in order[b:b + config.batch_size]]
            x = _normalise(np.stack([p[0] for p in pairs]), mean, std).to(device)
            y = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None].to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss = _loss(net(x).float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            losses.append(float(loss.detach()))
        segmenter = Segmenter(net.eval(), config.input_size, mean, std, device=device)
        val_dice = float(np.mean(evaluate(segmenter, val_cases)))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)),
                        "val_dice": val_dice, "seconds": time.perf_counter() - start})
        log.info("epoch %d: loss %.4f, validation Dice %.4f (%.0f s)", epoch + 1,
                 np.mean(losses), val_dice, history[-1]["seconds"])
        if val_dice > best:
            best, since = val_dice, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            since += 1
            if since >= config.patience:
                break
    net.load_state_dict(best_state)
    segmenter = Segmenter(net.eval().cpu(), config.input_size, mean, std)
    metrics = {key: _test_metrics(segmenter, cases) for key, cases in test_sets.items()}
    card = {"name": name or Path(out).name, "config": asdict(config), "training_data": source,
            "n_train": len(fit_cases), "n_validation": len(val_cases),
            "validation_dice": best, "history": history, "test_metrics": metrics,
            "training_seconds": round(time.perf_counter() - began, 1),
            "device": device.type, "torch_threads": torch.get_num_threads()}
    save_segmenter(segmenter, out, card)
    return card


def _data_stats(net: BoxUNet) -> tuple[float, float]:
    """The encoder's input mean and std (gray, the same on the three channels)."""
    cfg = getattr(net.encoder, "pretrained_cfg", {}) or {}
    return float(cfg.get("mean", (0.5,))[0]), float(cfg.get("std", (0.5,))[0])


def _test_metrics(segmenter: Segmenter, cases: Sequence[_Case]) -> dict[str, Any]:
    dice = evaluate(segmenter, cases)
    boxes = [mask_box(c.mask) for c in cases]
    shapes = [c.mask.shape for c in cases]
    truth = [c.mask for c in cases]
    box_only = dice_scores([geometry.box_region(b, s) for b, s in zip(boxes, shapes)], truth)
    ellipse = dice_scores([geometry.inscribed_ellipse(b, s) for b, s in zip(boxes, shapes)],
                          truth)
    return {"n": len(cases), "dice_mean": float(dice.mean()),
            "dice_median": float(np.median(dice)),
            "box_dice_mean": float(box_only.mean()),
            "ellipse_dice_mean": float(ellipse.mean()),
            "prompt": "the expert mask's bounding box"}
