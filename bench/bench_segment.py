"""The box → outline segmenter on the BUSI test lesions: Dice against the two baselines
(the box itself, the ellipse inscribed in the box) and the latency of one suggestion.

Prompts are the expert masks' bounding boxes, and boxes with each edge moved up to 8% of
the side (a hand-drawn box). Latency is one ``Segmenter.segment`` call (crop, network on
the crop and its mirror image, paste back, largest region) on this machine's cores, after
a warm-up; the anchor is the ellipse baseline's cost on the same image.

    .venv/bin/python bench/bench_segment.py [--model NAME] [--manifest M] [--repeat 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np

from eusgist.data import read_manifest, train_test_split
from eusgist.io import read_image, read_mask
from eusgist.roi_kinds import jitter_box, mask_box
from eusgist.segment import load_segmenter
from eusgist.segment.geometry import box_region, inscribed_ellipse
from eusgist.segment.metrics import dice

log = logging.getLogger("bench_segment")
BUSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "busi" / "manifest.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="segmenter (default: the shipped one)")
    parser.add_argument("--manifest", type=Path, default=BUSI)
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per measure")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seg = load_segmenter(args.model)
    manifest = read_manifest(args.manifest)
    _, test = train_test_split(manifest, test_size=0.2, seed=0)
    rng = np.random.default_rng(0)
    scores: dict[str, list[float]] = {"segmenter": [], "segmenter, jittered box": [],
                                      "box": [], "ellipse": []}
    cases = []
    for i in test:
        image = read_image(manifest.image_path(int(i))).array
        truth = read_mask(manifest.mask_path(int(i)), like=image.shape) > 0
        box = mask_box(truth)
        cases.append((image, box))
        scores["segmenter"].append(dice(seg.segment(image, box), truth))
        scores["segmenter, jittered box"].append(
            dice(seg.segment(image, jitter_box(box, truth.shape, rng, amount=0.08)), truth))
        scores["box"].append(dice(box_region(box, truth.shape), truth))
        scores["ellipse"].append(dice(inscribed_ellipse(box, truth.shape), truth))
    log.info("segmenter %s on %d test lesions of %s (cores: %d, load %s)", seg.name, len(test),
             args.manifest, len(os.sched_getaffinity(0)),
             " ".join(f"{x:.2f}" for x in os.getloadavg()))
    log.info("%-26s %8s %8s", "outline from", "mean", "median")
    for name, values in scores.items():
        log.info("%-26s %8.4f %8.4f", name, np.mean(values), np.median(values))
    log.info("segmenter / ellipse mean Dice: %.3f", np.mean(scores["segmenter"])
             / np.mean(scores["ellipse"]))
    seg.segment(*cases[0])  # warm-up
    times, anchor = [], []
    for k in range(args.repeat):
        image, box = cases[k % len(cases)]
        start = time.perf_counter()
        seg.segment(image, box)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        inscribed_ellipse(box, image.shape)
        anchor.append(time.perf_counter() - start)
    log.info("one suggestion: p50 %.0f ms, p90 %.0f ms (ellipse baseline p50 %.1f ms; "
             "ratio %.0fx)", 1000 * np.median(times), 1000 * np.percentile(times, 90),
             1000 * np.median(anchor), np.median(times) / np.median(anchor))


if __name__ == "__main__":
    main()
