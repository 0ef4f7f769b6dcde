"""Every benchmark in one run, each printing its ratio against its anchor:

* DeLong at 10^6 cases vs R's pROC on the same data (``bench_delong.py``; pROC when
  ``Rscript`` has it);
* Predict through the running app vs the no-op endpoint, per shipped bundle, and the page
  load (``bench_app_predict.py --browser``);
* radiomics serial vs all cores, deep features (``bench_features.py``);
* the box → outline segmenter's Dice vs the ellipse and box baselines, and its latency
  (``bench_segment.py``);
* the out-of-domain gate's flag rates and cost (``bench_domain.py``);
* a CUDA row (``bench_cnn.py`` on the GPU) when one is present.

Each runs in its own process (one at a time, so they do not disturb each other), with the
machine's load printed before it.

    .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("run_all")
HERE = Path(__file__).resolve().parent


def _benches(quick: bool) -> list[list[str]]:
    n = "100000" if quick else "1000000"
    out = [["bench_delong.py", "--n", n, "--repeat", "1" if quick else "3"],
           ["bench_app_predict.py", "--calls", "5" if quick else "20", "--browser"],
           ["bench_features.py", "--n", "8" if quick else "16", "--backbones",
            "tf_efficientnet_lite0"],
           ["bench_segment.py", "--repeat", "5" if quick else "20"],
           ["bench_domain.py"]]
    try:
        import torch

        if torch.cuda.is_available():
            out.append(["bench_cnn.py", "--arch", "tf_efficientnet_lite0"])
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    failed = []
    for cmd in _benches(args.quick):
        log.info("\n=== %s (load %s)", " ".join(cmd),
                 " ".join(f"{x:.2f}" for x in os.getloadavg()))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]], check=False)
        log.info("=== %s: exit %d, %.0f s", cmd[0], done.returncode, time.perf_counter() - start)
        if done.returncode:
            failed.append(cmd[0])
    if failed:
        log.error("failed: %s", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
