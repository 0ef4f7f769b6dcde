"""The research loop at zhao2026's scale on 2 CPU cores: a phantom data set of 895 patients
(~4,800 images), feature extraction (eus_default radiomics + ImageNet EfficientNet-Lite0),
training the 3 modalities × 3 classifiers, and ``evaluate`` scoring the test split's images
end to end with the selected bundle (as a hospital's external validation would).

Each stage is one CLI command in its own process; the wall time and that process's peak
memory (``os.wait4``) are printed, and the evaluation's images/second against the issue's
16 img/s. The anchor for extraction is serial radiomics (``bench_features.py``).

    .venv/bin/python bench/bench_zhao_scale.py [--patients 895] [--work /tmp/zhao]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("bench_zhao_scale")


def _run(label: str, args: list[str]) -> tuple[float, float]:
    """Run ``python -m eusgist ARGS``; return (seconds, peak MiB) and log them."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "eusgist", *args])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{label} failed: {' '.join(args)}")
    peak = usage.ru_maxrss / 1024
    log.info("== %-34s %8.0f s  peak %6.0f MiB  (load %s)", label, seconds, peak,
             " ".join(f"{x:.1f}" for x in os.getloadavg()))
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=895)
    parser.add_argument("--work", type=Path, default=Path("/tmp/zhao"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    _run("phantom", ["phantom", "--out", str(work / "data"), "--n-patients",
                     str(args.patients), "--seed", "2026", "--overwrite"])
    manifest = work / "data" / "manifest.csv"
    _run("split (by lesion, 8:2)", ["split", "--manifest", str(manifest), "--out",
                                    str(work / "data" / "split.csv")])
    import pandas as pd

    table = pd.read_csv(work / "data" / "split.csv")
    test = table[table["split"] == "test"].drop(columns=["split"])
    test.to_csv(work / "data" / "test.csv", index=False)
    log.info("%d images, %d patients; test split %d images", len(table),
             table["patient_id"].nunique(), len(test))
    extract, _ = _run("extract (radiomics + Lite0)", [
        "extract", "--manifest", str(manifest), "--out", str(work / "features.parquet"),
        "--radiomics", "eus_default", "--backbones", "tf_efficientnet_lite0", "--pretrained"])
    log.info("   extraction: %.1f images/s", len(table) / extract)
    _run("train 3 modalities x 3 classifiers", [
        "train", "--features", str(work / "features.parquet"), "--out", str(work / "bundle"),
        "--select", "best", "--seed", "0", "--source", "zhao-scale phantom (benchmark)"])
    seconds, _ = _run("evaluate the test split's images", [
        "evaluate", "--manifest", str(work / "data" / "test.csv"), "--model",
        str(work / "bundle"), "--out", str(work / "report"), "--overwrite"])
    log.info("   evaluation: %.1f images/s (target >= 16; %d images in %.0f s)",
             len(test) / seconds, len(test), seconds)


if __name__ == "__main__":
    main()
