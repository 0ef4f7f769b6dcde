"""End-to-end CNN training (guo2024, gao2026) on a manifest dataset.

:func:`train_cnn` trains any timm 2D backbone (ResNet, ViT, Swin, ...) with one output
logit on a lesion-level split: the test lesions (the manifest's ``split`` column when it has
one, else a grouped stratified split) are held out, and a grouped validation split is taken
from the training lesions for early stopping on validation AUC. ``supervision="strong"``
trains on the lesion ROI cropped from the mask; ``"weak"`` on the whole frame (no mask
needed), so the gao2026 comparison is one call each and :func:`compare_runs` tests the
two with DeLong.

Every epoch writes a checkpoint (model, optimiser, scheduler, AMP scaler, random state,
history); ``resume=True`` continues from it and ends with the same weights as an
uninterrupted run. Runs are seeded: the sample order and each image's augmentation are
drawn from ``(seed, epoch, index)``, so they do not depend on worker processes.

Hardware: CUDA when present (mixed precision, pinned memory), CPU otherwise. Under
``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel and each
process trains on its shard of every epoch; rank 0 writes the outputs::

    torchrun --nproc_per_node=4 -m eusgist train-cnn --manifest M --arch resnet34 --out DIR
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import timm.data
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from eusgist.augment import Transform, expand_offline, standard_augmentation
from eusgist.bundles.cnn import create_backbone, round_to_fp16, save_cnn_bundle
from eusgist.csvsafe import write_csv
from eusgist.data import Manifest, train_test_split
from eusgist.errors import EusgistError
from eusgist.io import read_image, read_mask
from eusgist.models.cnn3d import VolumeDataset, build_resnet3d, load_volumes, pick_slice
from eusgist.models.cnn_config import CNNConfig
from eusgist.preprocess import DEFAULT_SCALE, crop_roi, to_model_input, whole_image
from eusgist.pretrained import source_of
from eusgist.stats import delong_test, roc_auc_ci, threshold_metrics, youden_threshold

UTC = timezone.utc  # datetime.UTC needs Python 3.11; the Space runs 3.10

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
CURVES_NAME = "training_curves"
PREDICTIONS_NAME = "test_predictions.csv"
#: Config fields that may differ between a run and its resumption.
RESUMABLE_CHANGES = frozenset({"epochs", "patience", "num_workers", "device"})


@dataclass
class CNNResult:
    """What :func:`train_cnn` produced: the bundle folder, per-epoch history and test summary."""

    out: Path
    history: list[dict[str, float]]
    best_epoch: int
    test: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: this process's CUDA device when present, else CPU."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def load_crops(manifest: Manifest, rows: np.ndarray, config: CNNConfig) -> np.ndarray:
    """Model-sized crops in ``[0, 1]``, shape ``(N, 1, S, S)``.

    The lesion ROI (strong supervision) or the whole frame (weak); with
    ``dims="2d-slice"``, of the volume's :func:`~eusgist.models.cnn3d.pick_slice`.

    Resizing is :func:`eusgist.preprocess.to_model_input` itself (with mean 0, std 1), so
    training sees exactly what inference sees before augmentation.
    """
    size = config.input_size
    plain = {"input_size": (3, size, size), "mean": (0.0,) * 3, "std": (1.0,) * 3}
    out = np.empty((len(rows), 1, config.input_size, config.input_size), np.float32)
    for j, i in enumerate(tqdm(rows, desc="loading images", unit="img", leave=False, disable=None)):
        volume = config.dims == "2d-slice"
        image = read_image(manifest.image_path(int(i)), allow_volume=volume).array
        if config.supervision == "strong":
            mask_path = manifest.mask_path(int(i))
            if mask_path is None:
                raise EusgistError(
                    f"row {int(i) + 2} ({manifest.table['image'].iat[int(i)]}) has no mask; strong "
                    "supervision needs one for every image (or use --supervision weak)")
            mask = read_mask(mask_path, like=image.shape)
            if config.dims == "2d-slice":
                image, mask = pick_slice(image, mask)
            crop = crop_roi(image, mask, margin=config.margin)
        else:
            crop = whole_image(pick_slice(image)[0] if config.dims == "2d-slice" else image)
        out[j, 0] = to_model_input(crop, plain, scale=DEFAULT_SCALE)[0].numpy()
    return out


class CropDataset(Dataset):
    """Crops in ``[0, 1]`` → augmented, 3-channel, normalised tensors with their 0/1 labels.

    Image ``i`` in epoch ``e`` is augmented with ``default_rng([seed, e, i])``.
    """

    def __init__(self, crops: np.ndarray, y: np.ndarray, mean: tuple[float, ...],
                 std: tuple[float, ...],
                 transform: Transform | None = None, seed: int = 0) -> None:
        self.crops, self.y, self.transform, self.seed = crops, y.astype(np.float32), transform, seed
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        crop = self.crops[i]
        if self.transform is not None:
            crop = self.transform(crop, np.random.default_rng([self.seed, self.epoch, i]))
        x = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32)).expand(3, -1, -1)
        return (x - self.mean) / self.std, torch.tensor(self.y[i])


class EpochSampler(Sampler[int]):
    """Seeded per-epoch order (shuffled, or class-balanced with replacement), sharded by rank."""

    def __init__(self, y: np.ndarray, *, seed: int, balanced: bool, shuffle: bool = True,
                 rank: int = 0, world: int = 1) -> None:
        self.y, self.seed, self.balanced, self.shuffle = y, seed, balanced, shuffle
        self.rank, self.world = rank, world
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.world)

    def __iter__(self) -> Iterator[int]:
        n = len(self.y)
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        if self.balanced:
            counts = np.bincount(self.y.astype(np.int64), minlength=2)
            p = 1.0 / counts[self.y.astype(np.int64)]
            order = rng.choice(n, size=n, replace=True, p=p / p.sum())
        else:
            order = rng.permutation(n) if self.shuffle else np.arange(n)
        order = np.resize(order, len(self) * self.world)  # pad to a multiple of the world size
        return iter(order[self.rank::self.world].tolist())


def _create_model(config: CNNConfig, *,
                  pretrained: bool) -> tuple[nn.Module, bool, dict[str, Any]]:
    """The model for ``config.dims``, whether pretrained weights loaded, its data config."""
    if config.dims == "3d":
        model, loaded = build_resnet3d(max(len(config.phases), 1), pretrained=pretrained)
        return model, loaded, {"mean": (0.0,), "std": (1.0,)}
    model, loaded = create_backbone(config.arch, input_size=config.input_size,
                                    pretrained=pretrained)
    return model, loaded, timm.data.resolve_model_data_config(model)


def _load_inputs(manifest: Manifest, rows: np.ndarray, config: CNNConfig) -> np.ndarray:
    """Prepared crops (2D, 2d-slice) or volumes (3D) of the given rows."""
    return (load_volumes if config.dims == "3d" else load_crops)(manifest, rows, config)


def _dataset(x: np.ndarray, y: np.ndarray, config: CNNConfig, data_config: dict[str, Any], *,
             train: bool = False) -> CropDataset | VolumeDataset:
    """Training (augmented when configured) or evaluation dataset for ``config.dims``."""
    augment = train and config.augment == "standard"
    if config.dims == "3d":
        return VolumeDataset(x, y, flip=augment, seed=config.seed)
    mean, std = tuple(data_config["mean"]), tuple(data_config["std"])
    return CropDataset(x, y, mean, std, standard_augmentation() if augment else None, config.seed)


def _splits(manifest: Manifest, config: CNNConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test rows; lesions never cross a boundary."""
    if "split" in manifest.table.columns:
        split = manifest.table["split"].astype(str).str.lower()
        test = np.flatnonzero(split == "test")
        dev = np.flatnonzero(split != "test")
        if not len(test) or not len(dev):
            raise EusgistError("the manifest's 'split' column needs both 'test' and training rows")
        log.info("using the manifest's split column: %d train+val / %d test images",
                 len(dev), len(test))
    else:
        dev, test = train_test_split(manifest, test_size=config.test_size, group="lesion",
                                     seed=config.seed)
    fit, val = train_test_split(manifest.subset(dev), test_size=config.val_size, group="lesion",
                                seed=config.seed)
    return dev[fit], dev[val], test


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return roc_auc_ci(y, score).auc if 0 < y.sum() < len(y) else math.nan


@torch.no_grad()
def predict_logits(model: nn.Module, loader: DataLoader, device: torch.device,
                   amp: bool) -> np.ndarray:
    """The model's positive-class logit for every item the loader yields, in order."""
    model.eval()
    out = []
    for x, _ in loader:
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            out.append(model(x.to(device, non_blocking=True)).float()[:, 0].cpu())
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_curves(out: Path, history: list[dict[str, float]]) -> None:
    """``training_curves.csv`` and ``.png``: losses and validation AUC per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pd.DataFrame(history).to_csv(out / f"{CURVES_NAME}.csv", index=False)
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax1.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax1.legend()
    ax2.plot(epochs, [h["val_auc"] for h in history], color="C2")
    ax2.set(xlabel="epoch", ylabel="AUC", title="Validation AUC", ylim=(0, 1.02))
    fig.tight_layout()
    fig.savefig(out / f"{CURVES_NAME}.png", dpi=100)
    plt.close(fig)


def train_cnn(
    manifest: Manifest,
    out: str | os.PathLike[str],
    config: CNNConfig = CNNConfig(),
    *,
    manifest_path: str | os.PathLike[str] | None = None,
    name: str | None = None,
    source: str | None = None,
    resume: bool = False,
) -> CNNResult:
    """Train, early-stop on validation AUC, test, and write a bundle to ``out``.

    Parameters
    ----------
    manifest : the dataset (labels, lesion ids, image and mask paths)
    out : bundle folder; also holds ``checkpoint.pt`` while training
    config : training settings
    manifest_path : the manifest CSV, hashed into the model card
    name : bundle name (default: the folder's name)
    source : one line on the training data for the model card (default: the manifest's folder)
    resume : continue from ``out/checkpoint.pt``; settings other than
        :data:`RESUMABLE_CHANGES` must match the checkpoint's

    Returns
    -------
    CNNResult
        The test summary holds ``auc``, ``auc_ci``, ``threshold`` (Youden on validation)
        and the threshold metrics with Wilson CIs.
    """
    out = Path(out)
    device = resolve_device(config.device)
    world, rank = _init_distributed(device)
    amp = device.type == "cuda"
    seed_everything(config.seed)

    train_rows, val_rows, test_rows = _splits(manifest, config)
    y_all = manifest.y
    log.info("%d train / %d validation / %d test images (%s supervision, %s)",
             len(train_rows), len(val_rows), len(test_rows), config.supervision, device)
    # a resumed run takes its weights from the checkpoint: no download attempt
    model, pretrained, data_config = _create_model(config,
                                                   pretrained=config.pretrained and not resume)
    weights = None if (found := source_of(model)) is None else found.as_dict()

    train_x, train_y = _load_inputs(manifest, train_rows, config), y_all[train_rows]
    if config.expand:
        train_x, origin = expand_offline(train_x, seed=config.seed)
        train_y = train_y[origin]
    val_x, val_y = _load_inputs(manifest, val_rows, config), y_all[val_rows]
    test_x, test_y = _load_inputs(manifest, test_rows, config), y_all[test_rows]
    train_set = _dataset(train_x, train_y, config, data_config, train=True)
    sampler = EpochSampler(train_y, seed=config.seed, balanced=config.balance == "sampler",
                           rank=rank, world=world)
    loader_kw = {"batch_size": config.batch_size, "num_workers": config.num_workers,
                 "pin_memory": device.type == "cuda"}
    train_loader = DataLoader(train_set, sampler=sampler,
                              drop_last=len(sampler) > config.batch_size, **loader_kw)
    val_loader = DataLoader(_dataset(val_x, val_y, config, data_config), **loader_kw)
    test_loader = DataLoader(_dataset(test_x, test_y, config, data_config), **loader_kw)

    model.to(device)
    net = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.5, patience=max(1, config.patience // 3))
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    n_pos = int(train_y.sum())
    pos_weight = (len(train_y) - n_pos) / max(n_pos, 1) if config.balance == "loss" else 1.0
    criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}

    history: list[dict[str, float]] = []
    best = {"epoch": 0, "score": -math.inf, "state": copy.deepcopy(model.state_dict()), "bad": 0}
    ckpt_path = out / CHECKPOINT_NAME
    if resume:
        ckpt = _restore(ckpt_path, config, device, parts)
        history, best = ckpt["history"], ckpt["best"]
        pretrained = ckpt.get("pretrained_loaded", False)
        weights = ckpt.get("pretrained_source")
    out.mkdir(parents=True, exist_ok=True)

    for epoch in range(len(history) + 1, config.epochs + 1):
        if best["bad"] >= config.patience:
            break
        t0 = time.perf_counter()
        train_set.epoch = sampler.epoch = epoch
        train_loss = _train_epoch(net, train_loader, criterion, optimizer, scaler, device,
                                  desc=f"epoch {epoch}/{config.epochs}")
        if world > 1:
            train_loss = _sync_ranks(model, train_loss, device)
        val_logit = predict_logits(model, val_loader, device, amp)
        val_loss = float(criterion(torch.tensor(val_logit, dtype=torch.float32, device=device),
                                   torch.tensor(val_y, dtype=torch.float32, device=device)))
        val_auc = _auc(val_y, val_logit)
        score = val_auc if not math.isnan(val_auc) else -val_loss
        scheduler.step(score)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "val_auc": val_auc, "lr": optimizer.param_groups[0]["lr"],
                        "seconds": time.perf_counter() - t0})
        if score > best["score"]:
            best = {"epoch": epoch, "score": score, "bad": 0,
                    "state": copy.deepcopy(model.state_dict())}
        else:
            best["bad"] += 1
        log.info("epoch %d: train loss %.4f, val loss %.4f, val AUC %.3f%s", epoch, train_loss,
                 val_loss, val_auc, " (best)" if best["epoch"] == epoch else "")
        if rank == 0:
            torch.save({"config": asdict(config), **{k: v.state_dict() for k, v in parts.items()},
                        "torch_rng": torch.get_rng_state(), "history": history, "best": best,
                        "pretrained_loaded": pretrained, "pretrained_source": weights}, ckpt_path)
    if best["bad"] >= config.patience:
        log.info("early stop: no validation improvement for %d epochs (best epoch %d)",
                 config.patience, best["epoch"])

    model.load_state_dict(best["state"])
    round_to_fp16(model)  # score exactly what the bundle stores
    val_score = _sigmoid(predict_logits(model, val_loader, device, amp))
    test_score = _sigmoid(predict_logits(model, test_loader, device, amp))
    test = _test_summary(val_y, val_score, test_y, test_score)
    result = CNNResult(out=out, history=history, best_epoch=best["epoch"], test=test)
    if rank == 0:
        card = _model_card(manifest, manifest_path, config, name or out.name, data_config,
                           (train_rows, val_rows, test_rows), result, pretrained, source, weights)
        save_cnn_bundle(out, model, card)
        _write_curves(out, history)
        table = manifest.table.iloc[test_rows]
        predictions = table[["image", "lesion_id", "label"]].assign(y=test_y, score=test_score)
        write_csv(predictions, out / PREDICTIONS_NAME, keep=("image",))
        log.info("test AUC %.3f (95%% CI %.3f-%.3f); bundle written to %s",
                 test.get("auc", math.nan), *test.get("auc_ci", (math.nan, math.nan)), out)
    if world > 1:
        dist.barrier()
    return result


def _init_distributed(device: torch.device) -> tuple[int, int]:
    """``(world size, rank)`` from torchrun's environment; joins the process group when > 1."""
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return world, rank


def _train_epoch(net: nn.Module, loader: DataLoader, criterion: nn.Module,
                 optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                 device: torch.device, *, desc: str) -> float:
    """One pass over ``loader``; returns the mean training loss."""
    amp = device.type == "cuda"
    net.train()
    total, count = 0.0, 0
    for x, y in tqdm(loader, desc=desc, leave=False, disable=None):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = criterion(net(x).float()[:, 0], y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total, count = total + float(loss.detach()) * len(y), count + len(y)
    return total / max(count, 1)


def _sync_ranks(model: nn.Module, train_loss: float, device: torch.device) -> float:
    """Rank 0's BatchNorm statistics everywhere and the mean loss over ranks.

    Every rank then validates the same model and takes the same early-stopping decisions.
    """
    for buf in model.buffers():
        dist.broadcast(buf, src=0)
    loss = torch.tensor([train_loss], dtype=torch.float64, device=device)
    dist.all_reduce(loss)
    return float(loss[0]) / dist.get_world_size()


def _restore(path: Path, config: CNNConfig, device: torch.device,
             parts: dict[str, Any]) -> dict[str, Any]:
    """Load a checkpoint into ``parts`` (model, optimiser, scheduler, scaler) and torch's RNG."""
    if not path.is_file():
        raise EusgistError(f"cannot resume: {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)  # runs no pickled code
    except Exception as exc:  # torch raises many types for a file it cannot read
        raise EusgistError(f"cannot resume: {path} is not a readable checkpoint ({exc})") from exc
    ckpt["config"] = {**asdict(CNNConfig()), **ckpt["config"]}  # fields added since: defaults
    changed = {k for k, v in asdict(config).items() if ckpt["config"].get(k) != v}
    changed -= RESUMABLE_CHANGES
    if changed:
        raise EusgistError("cannot resume with different settings: " + ", ".join(
            f"{k} was {ckpt['config'][k]!r}, now {getattr(config, k)!r}" for k in sorted(changed)))
    for key, part in parts.items():
        part.load_state_dict(ckpt[key])
    torch.set_rng_state(ckpt["torch_rng"])
    log.info("resumed from %s after epoch %d", path, len(ckpt["history"]))
    return ckpt


def _test_summary(val_y: np.ndarray, val_score: np.ndarray, y: np.ndarray,
                  score: np.ndarray) -> dict[str, Any]:
    """Test AUC with DeLong CI, and metrics at the validation Youden threshold."""
    summary: dict[str, Any] = {"n": int(len(y)), "n_positive": int(y.sum())}
    if 0 < val_y.sum() < len(val_y):
        summary["threshold"] = youden_threshold(val_y, val_score)
    else:
        summary["threshold"] = 0.5
    if 0 < y.sum() < len(y):
        auc = roc_auc_ci(y, score)
        summary.update(auc=auc.auc, auc_ci=[auc.lo, auc.hi])
        tm = threshold_metrics(y, score, threshold=summary["threshold"])
        summary["metrics"] = {k: [float(v) for v in est] for k, est in tm.metrics.items()}
    else:
        log.warning("test set has one class only: no AUC")
    return summary


def _model_card(manifest: Manifest, manifest_path: str | os.PathLike[str] | None, config: CNNConfig,
                name: str, data_config: dict[str, Any],
                rows: tuple[np.ndarray, np.ndarray, np.ndarray],
                result: CNNResult, pretrained_loaded: bool,
                source: str | None = None,
                pretrained_source: dict[str, Any] | None = None) -> dict[str, Any]:
    train_rows, val_rows, test_rows = rows
    y = manifest.y

    def counts(part: np.ndarray) -> dict[str, int]:
        n_pos = int(y[part].sum())
        return {manifest.classes[1]: n_pos, manifest.classes[0]: len(part) - n_pos}

    expects = {"input_size": config.input_size, "supervision": config.supervision,
               "crop_margin": config.margin, "mean": list(data_config["mean"]),
               "std": list(data_config["std"]), "intensity_scale": DEFAULT_SCALE,
               "channels": "grayscale repeated to 3 channels", "dims": config.dims}
    if config.dims == "3d":
        expects.update(volume_size=list(config.volume_size), phases=list(config.phases),
                       channels="phases stacked (manifest image_<phase> columns)",
                       normalisation="per channel, 0.5-99.5 percentiles to [0, 1]")
    return {
        "name": name,
        "kind": "cnn",
        "arch": "r3d_18" if config.dims == "3d" else config.arch,
        "classes": list(manifest.classes),
        "positive_class": manifest.classes[1],
        "expects": expects,
        "training": {
            "source": source or (Path(manifest_path).parent.name if manifest_path else None),
            "manifest": Path(manifest_path).name if manifest_path else None,
            "manifest_sha256": _sha256(Path(manifest_path)) if manifest_path else None,
            "images": {"train": counts(train_rows), "validation": counts(val_rows),
                       "test": counts(test_rows)},
            "lesions": {"train": int(manifest.table["lesion_id"].iloc[train_rows].nunique()),
                        "validation": int(manifest.table["lesion_id"].iloc[val_rows].nunique()),
                        "test": int(manifest.table["lesion_id"].iloc[test_rows].nunique())},
            "config": asdict(config),
            "pretrained_requested": config.pretrained,
            "pretrained_loaded": pretrained_loaded,
            "pretrained_source": pretrained_source,
            "epochs_run": len(result.history),
            "best_epoch": result.best_epoch,
            "best_val_auc": max((h["val_auc"] for h in result.history), default=math.nan),
        },
        "test_metrics": result.test,
        "threshold": result.test.get("threshold", 0.5),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def compare_runs(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> dict[str, Any]:
    """Paired DeLong test of two bundles' test predictions (e.g. strong vs weak supervision).

    Both runs must have scored the same test images (same manifest split and seed).
    """
    pa, pb = (pd.read_csv(Path(p) / PREDICTIONS_NAME) for p in (a, b))
    merged = pa.merge(pb, on="image", suffixes=("_a", "_b"))
    same = len(merged) == len(pa) == len(pb) and (merged["y_a"] == merged["y_b"]).all()
    if not same:
        raise EusgistError(f"{a} and {b} were not tested on the same images: "
                           "use the same manifest split and seed")
    t = delong_test(merged["y_a"].to_numpy(), merged["score_a"].to_numpy(),
                    merged["score_b"].to_numpy())
    return {"a": str(a), "b": str(b), "n": len(merged),
            **{k: float(v) for k, v in asdict(t).items()}}

