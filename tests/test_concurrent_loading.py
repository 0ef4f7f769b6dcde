"""Bundles loaded concurrently from threads predict exactly what a fresh process predicts.

Regression: loading every bundle at once (as the app's page did, asking for every card) once
disturbed the seeding of a random-init backbone, and the phantom bundle then gave one wrong
probability for every image until the server restarted.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from eusgist import inference
from eusgist.inference import catalog

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _examples() -> list[tuple[str, Path, Path]]:
    out = []
    for bundle in sorted(p for p in (ROOT / "weights").iterdir() if (p / "model_card.json").is_file()):
        table = ROOT / "examples" / bundle.name / "examples.csv"
        if not table.is_file():
            continue
        with table.open(newline="") as fh:
            rows = list(csv.DictReader(fh))[:2]
        folder = table.parent
        out += [(bundle.name, folder / r["image"], folder / r["mask"]) for r in rows]
    return out


def _fresh_process(bundle: str, image: Path, mask: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "eusgist", "predict", "--model", str(ROOT / "weights" / bundle),
         str(image), "--mask", str(mask), "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=300)
    return json.loads(done.stdout)["probabilities"]


def test_concurrent_loads_predict_what_a_fresh_process_predicts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the shipped weights, whatever another test (a UI session fixture) pointed the app at
    monkeypatch.setenv("EUSGIST_WEIGHTS_DIR", str(ROOT / "weights"))
    examples = _examples()
    assert len({b for b, _, _ in examples}) >= 2, "the shipped bundles have examples"
    expected = [_fresh_process(*ex) for ex in examples]

    catalog._load_cached.cache_clear()
    names = sorted({b for b, _, _ in examples})
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(inference.load_listed_model, names * 3))  # every bundle, at once

        def predict(ex: tuple[str, Path, Path]) -> dict[str, float]:
            bundle, image, mask = ex
            return inference.predict(inference.load_listed_model(bundle), image,
                                     mask=mask).probabilities

        got = list(pool.map(predict, examples * 2))
    for (bundle, image, _), want, have in zip(examples * 2, expected * 2, got, strict=True):
        for cls, p in want.items():
            assert have[cls] == pytest.approx(p, abs=1e-6), (bundle, image.name)
