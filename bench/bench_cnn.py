"""CNN throughput: images/second for training steps and inference, on CPU and on CUDA when present.

Times ``--steps`` optimiser steps (AdamW, BCE on one logit, mixed precision on CUDA) and
``--steps`` inference batches of random ``--size``² inputs through a randomly initialised
timm model, after ``--warmup`` untimed steps of each. Prints one line per device and mode,
and the CUDA/CPU ratio when both ran.

    .venv/bin/python bench/bench_cnn.py [--arch resnet18] [--size 224] [--batch 16] [--steps 5]
"""

from __future__ import annotations

import argparse
import time

import timm
import torch
from torch import nn


def throughput(model: nn.Module, device: torch.device, *, size: int, batch: int, steps: int,
               warmup: int, train: bool) -> float:
    """Images per second for training steps (``train``) or no-grad forward passes."""
    amp = device.type == "cuda"
    model = model.to(device).train(train)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    loss_fn = nn.BCEWithLogitsLoss()
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 2, (batch,), device=device).float()

    def step() -> None:
        autocast = torch.autocast(device.type, dtype=torch.float16, enabled=amp)
        with autocast, torch.set_grad_enabled(train):
            out = model(x)[:, 0].float()
            if train:
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss_fn(out, y)).backward()
                scaler.step(opt)
                scaler.update()

    for _ in range(warmup):
        step()
    if amp:
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if amp:
        torch.cuda.synchronize(device)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"{args.arch}, {args.size}x{args.size}, batch {args.batch}, {args.steps} timed steps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    rates: dict[tuple[str, str], float] = {}
    for device in devices:
        for mode in ("train", "inference"):
            torch.manual_seed(0)
            model = timm.create_model(args.arch, num_classes=1)
            rate = throughput(model, device, size=args.size, batch=args.batch, steps=args.steps,
                              warmup=args.warmup, train=mode == "train")
            rates[device.type, mode] = rate
            print(f"{device.type:4s} {mode:9s} {rate:10.1f} images/s")
    for mode in ("train", "inference"):
        if ("cuda", mode) in rates:
            print(f"cuda/cpu {mode}: {rates['cuda', mode] / rates['cpu', mode]:.1f}x")


if __name__ == "__main__":
    main()
