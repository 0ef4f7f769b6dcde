"""Feature extraction throughput: radiomics serial vs all cores, deep features per backbone.

Radiomics: ``extract_features`` (no cache) over the first ``--n`` rows of a manifest, once
with one process and once with joblib on all cores (workers warmed up first), printing
images/second and the speed-up. Deep: ``DeepFeatureExtractor.extract`` on the same rows' ROI
crops for each backbone (random init, default input size), after one warm-up batch. Also
prints the number of features per image. Default data: the BUSI subset beside the checkout.

    .venv/bin/python bench/bench_features.py [--manifest M] [--n 16] [--protocol eus_default]
        [--backbones resnet18,resnet34,resnet50,vit_small_patch16_224,swin_tiny_patch4_window7_224]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from eusgist.data import read_manifest
from eusgist.features.deep import DeepFeatureExtractor
from eusgist.features.pipeline import ExtractionSettings, extract_features
from eusgist.io import read_image, read_mask
from eusgist.preprocess import crop_roi

BUSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "busi" / "manifest.csv"
T = TypeVar("T")
BACKBONES = "resnet18,resnet34,resnet50,vit_small_patch16_224,swin_tiny_patch4_window7_224"


def _timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``(fn(*args, **kwargs), seconds taken)``."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=BUSI)
    parser.add_argument("--n", type=int, default=16, help="images (first N manifest rows)")
    parser.add_argument("--protocol", default="eus_default", help="radiomics protocol")
    parser.add_argument("--backbones", default=BACKBONES)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    manifest = read_manifest(args.manifest, require_masks=True)
    manifest = manifest.subset(range(min(args.n, len(manifest))))
    n = len(manifest)
    cores = os.cpu_count() or 1
    settings = ExtractionSettings(radiomics=args.protocol, backbones=())
    load = os.getloadavg()[0]
    print(f"{n} images from {args.manifest}, {cores} cores (load average {load:.1f}), "
          f"protocol {args.protocol}")

    cpu0 = time.process_time()
    serial, t_serial = _timed(extract_features, manifest, settings, n_jobs=1,
                              backend="sequential")
    cpu = time.process_time() - cpu0
    extract_features(manifest.subset([0, 1]), settings, n_jobs=-1)  # start the workers
    _, t_par = _timed(extract_features, manifest, settings, n_jobs=-1)
    n_rad = serial.provenance["n_features"]
    print(f"radiomics  serial   {n / t_serial:7.2f} img/s   ({n_rad} features/image, "
          f"{cpu / n:.2f} CPU s/image: wall > CPU means the cores are shared)")
    print(f"radiomics  {cores} jobs   {n / t_par:7.2f} img/s   x{t_serial / t_par:.2f} vs serial")

    crops = []
    for i in range(n):
        image = read_image(manifest.image_path(i))
        crops.append(crop_roi(image.array, read_mask(manifest.mask_path(i), like=image)))
    for backbone in filter(None, (b.strip() for b in args.backbones.split(","))):
        ex = DeepFeatureExtractor(backbone, pretrained=False, batch_size=args.batch_size)
        ex.extract(crops[: args.batch_size])  # warm-up
        _, t = _timed(ex.extract, crops)
        size = ex.data_config["input_size"][-1]
        print(f"deep {backbone:<30} {n / t:7.2f} img/s   ({ex.dim} features/image, "
              f"{size}px, {ex.device})")


if __name__ == "__main__":
    main()
