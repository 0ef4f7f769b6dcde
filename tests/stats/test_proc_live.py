"""Live agreement with R's pROC on fresh random data (skipped without Rscript + pROC)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).parent / "make_proc_reference.R"


def _proc_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "suppressMessages(library(pROC))"],
                           capture_output=True, timeout=60, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _proc_available(),
    reason="Rscript with pROC not installed (apt-get install r-base-core r-cran-proc)",
)


def _random_cases(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for k, n in enumerate((30, 97, 400)):
        y = rng.integers(0, 2, n)
        y[:2], y[2:4] = 0, 1  # at least two of each class in every sample
        y[n // 2:n // 2 + 2], y[n // 2 + 2:n // 2 + 4] = 0, 1
        a = y * rng.uniform(0, 1.5) + rng.normal(size=n)
        b = np.round(y * rng.uniform(0, 2) + rng.normal(size=n))  # integer scores: ties
        if k == 2:
            a = np.round(a, 1)
        sample = np.where(np.arange(n) < n // 2, 1, 2)
        frames.append(pd.DataFrame({"case": f"random {seed}-{k}", "sample": sample,
                                    "y": y, "a": a, "b": b}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_matches_proc_on_random_data(tmp_path, seed, proc_check):
    cases = _random_cases(seed)
    cases.to_csv(tmp_path / "cases.csv", index=False, float_format="%.17g")
    out = tmp_path / "ref.json"
    subprocess.run(["Rscript", str(SCRIPT), str(tmp_path / "cases.csv"), str(out)],
                   check=True, capture_output=True, timeout=120)
    assert proc_check(cases, json.loads(out.read_text())) > 50
