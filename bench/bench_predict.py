"""Predict latency and evaluation throughput, against a naive baseline in the same process.

Builds a phantom data set, extracts the full ``eus_default`` radiomics + resnet18 features
(cached), trains a combined SVM bundle, then:

* **single prediction** (``eusgist.inference.predict``: decode, preprocess, deep features,
  only the model's radiomics features, classifier, exact fast SHAP) — p50/p90 over
  ``--calls`` images, beside a naive baseline doing the same with every ``eus_default``
  feature (all classes and filters) and a model-agnostic ``shap.KernelExplainer``;
  then the same images again (features from the per-image feature cache);
* **batch scoring** (``eusgist.inference.score_images``: parallel decode/crop/radiomics,
  batched deep features) of every phantom image, in images/second.

    .venv/bin/python bench/bench_predict.py [--n-patients 32] [--calls 20] [--out DIR]
        [--torch-threads 1] [--bundle weights/phantom-demo-combined-svm]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from eusgist import inference
from eusgist.cli import main as cli
from eusgist.data import read_manifest
from eusgist.features import extract_features
from eusgist.features.pipeline import ExtractionSettings
from eusgist.features.radiomics import RadiomicsExtractor
from eusgist.features.table import write_feature_table
from eusgist.io import read_image, read_mask
from eusgist.phantom import generate_dataset
from eusgist.preprocess import crop_roi


def _bundle(root: Path, n_patients: int) -> tuple[Path, pd.DataFrame]:
    """Phantom → features → combined SVM bundle; the bundle folder and the manifest rows."""
    manifest_path = root / "phantom" / "manifest.csv"
    if not manifest_path.is_file():
        generate_dataset(root / "phantom", n_patients, 7, n_jobs=-1)
    manifest = read_manifest(manifest_path)
    out = root / "weights" / "bench-combined-svm"
    if not (out / "model_card.json").is_file():
        result = extract_features(manifest, ExtractionSettings(radiomics="eus_default"),
                                  cache_dir=root / "cache", n_jobs=-1, progress=True)
        features = write_feature_table(result.table, result.provenance, root / "features.parquet")
        rc = cli(["train", "--features", str(features), "--out", str(out), "--modalities",
                  "combined", "--classifiers", "svm", "--select", "combined-svm",
                  "--cv-folds", "3", "--shap-rows", "5", "--source", "synthetic EUS phantom"])
        if rc != 0:
            raise SystemExit(f"train failed ({rc})")
    rows = pd.read_csv(manifest_path)
    for col in ("image", "mask"):
        rows[col] = [str(manifest_path.parent / p) for p in rows[col]]
    return out, rows


def _naive(model: inference.LoadedModel, full: RadiomicsExtractor, image: str, mask: str,
           spacing: float) -> dict[str, float]:
    """Everything extracted, then KernelExplainer: the per-stage milliseconds of one call."""
    import shap

    ms: dict[str, float] = {}
    t = time.perf_counter()
    img = read_image(image)
    roi = read_mask(mask, like=img)
    ms["decode"] = 1000 * (time.perf_counter() - t)
    t = time.perf_counter()
    crop = crop_roi(img.array, roi, margin=model.card["expects"]["crop_margin"])
    features: dict[str, float] = {}
    for extractor in model.deep:
        features.update(zip(extractor.feature_names, extractor.extract([crop])[0]))
    ms["deep"] = 1000 * (time.perf_counter() - t)
    t = time.perf_counter()
    features.update(full.extract(img.array, roi, (spacing, spacing)))
    ms["radiomics"] = 1000 * (time.perf_counter() - t)
    bundle = model.bundle
    names = list(bundle.required_features)
    row = pd.DataFrame([features])[names]
    t = time.perf_counter()
    bundle.predict_proba(row)
    ms["classifier"] = 1000 * (time.perf_counter() - t)
    t = time.perf_counter()
    explainer = shap.KernelExplainer(
        lambda x: bundle.predict_proba(pd.DataFrame(x, columns=names)), bundle.background)
    explainer.shap_values(row.to_numpy(float), silent=True)
    ms["explain"] = 1000 * (time.perf_counter() - t)
    ms["total"] = sum(ms.values())
    return ms


def _ours(model: inference.LoadedModel, image: str, mask: str, spacing: float,
          cold: bool = True) -> dict[str, float]:
    if cold:  # every feature extracted, none from an earlier call
        inference.FEATURE_CACHE.clear()
    t = time.perf_counter()
    pred = inference.predict(model, image, mask, spacing_mm=spacing)
    total = 1000 * (time.perf_counter() - t)
    ms = dict(pred.timings_ms)
    ms["deep"] = ms.pop("preprocess", 0.0) + ms.pop("deep_features", 0.0)
    return {**ms, "total": total}


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=32, help="phantom patients (~100 images)")
    parser.add_argument("--calls", type=int, default=20, help="single predictions timed")
    parser.add_argument("--baseline-calls", type=int, default=5, help="naive calls timed")
    parser.add_argument("--out", type=Path, default=None, help="work folder (kept for reruns)")
    parser.add_argument("--bundle", type=Path, default=None,
                        help="time this bundle (e.g. weights/phantom-demo-combined-svm) on its "
                        "examples/<name>/examples.csv instead of a freshly trained phantom one")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads (0: torch's default); one avoids OpenMP "
                        "spin-waiting when other processes share the cores")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.bundle is None:
        root = args.out or Path(tempfile.mkdtemp(prefix="eusgist-bench-predict-"))
        folder, rows = _bundle(root, args.n_patients)
    else:
        folder = args.bundle
        examples = Path("examples") / folder.name / "examples.csv"
        rows = pd.read_csv(examples)
        for col in ("image", "mask"):
            rows[col] = [str(examples.parent / p) for p in rows[col]]
    model = inference.load_model(folder)
    print(f"{len(rows)} phantom images, {os.cpu_count()} cores (load average "
          f"{os.getloadavg()[0]:.1f}), device {model.device}, torch threads "
          f"{args.torch_threads or 'default'}; model {model.name} reads "
          f"{len(model.bundle.required_features)} features ({len(model.rad_features)} radiomics)")

    picks = [rows.iloc[i % len(rows)] for i in range(args.calls + 2)]
    for r in picks[:2]:  # warm-up: backbone, pyradiomics, SHAP game
        _ours(model, r["image"], r["mask"], r["spacing_mm"])
    # The same protocol, every feature.
    full = RadiomicsExtractor(model.radiomics.settings if model.radiomics else "eus_default")
    _naive(model, full, picks[0]["image"], picks[0]["mask"], picks[0]["spacing_mm"])
    ours, naive = [], []
    every = max(1, args.calls // max(1, args.baseline_calls))
    for i, r in enumerate(picks[2:]):  # interleaved, so both see the same machine load
        ours.append(_ours(model, r["image"], r["mask"], r["spacing_mm"]))
        if i % every == 0 and len(naive) < args.baseline_calls:
            naive.append(_naive(model, full, r["image"], r["mask"], r["spacing_mm"]))

    print(f"\nsingle prediction, ms (ours: {len(ours)} calls; naive: {len(naive)} calls)")
    print(f"{'stage':<12}{'ours p50':>10}{'ours p90':>10}{'naive p50':>11}{'naive p90':>11}"
          f"{'ratio p50':>11}")
    for stage in ("decode", "deep", "radiomics", "classifier", "explain", "total"):
        a = [o.get(stage, 0.0) for o in ours]
        b = [n[stage] for n in naive]
        ratio = _pct(b, 50) / max(_pct(a, 50), 1e-3)
        print(f"{stage:<12}{_pct(a, 50):>10.1f}{_pct(a, 90):>10.1f}{_pct(b, 50):>11.1f}"
              f"{_pct(b, 90):>11.1f}{ratio:>10.1f}x")

    again = []
    for r in picks[2:]:
        _ours(model, r["image"], r["mask"], r["spacing_mm"])
        again.append(_ours(model, r["image"], r["mask"], r["spacing_mm"], cold=False)["total"])
    print(f"{'re-predict':<12}{_pct(again, 50):>10.1f}{_pct(again, 90):>10.1f}"
          "   (same images again: features from inference.FEATURE_CACHE)")

    reps = max(1, 100 // len(rows))  # a few examples: each scored several times (no cache)
    images, masks = list(rows["image"]) * reps, list(rows["mask"]) * reps
    spacing = list(rows["spacing_mm"]) * reps
    inference.score_images(model, images[:4], masks[:4], spacing_mm=spacing[:4])  # workers up
    t = time.perf_counter()
    inference.score_images(model, images, masks, spacing_mm=spacing)
    seconds = time.perf_counter() - t
    print(f"\nbatch scoring (evaluation path): {len(images)} images in {seconds:.1f} s = "
          f"{len(images) / seconds:.1f} images/s (target >= 10 on 2 cores)")


if __name__ == "__main__":
    main()
