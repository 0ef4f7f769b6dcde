"""Tiny synthetic datasets for the feature tests (fast: 48×48 frames, a handful of rows)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SIZE = 48


def write_dataset(root: Path, n: int = 6, seed: int = 0) -> Path:
    """``n`` 8-bit frames with an elliptical lesion each, 0/255 masks, a manifest CSV."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    rr, cc = np.mgrid[:SIZE, :SIZE]
    rows = []
    for i in range(n):
        label = "GIST" if i % 2 else "leiomyoma"
        cy, cx = rng.integers(16, 32, size=2)
        ry, rx = rng.integers(6, 12, size=2)
        lesion = ((rr - cy) / ry) ** 2 + ((cc - cx) / rx) ** 2 <= 1
        frame = rng.normal(120, 25, (SIZE, SIZE))
        frame[lesion] = rng.normal(60 if label == "GIST" else 90, 15 + 10 * (i % 2), lesion.sum())
        Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)).save(root / f"images/{i}.png")
        Image.fromarray(lesion.astype(np.uint8) * 255).save(root / f"masks/{i}.png")
        rows.append({"image": f"images/{i}.png", "mask": f"masks/{i}.png", "label": label,
                     "patient_id": f"p{i // 2}", "lesion_id": f"l{i}", "spacing_mm": 0.2})
    path = root / "manifest.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """Path of a 6-row synthetic manifest."""
    return write_dataset(tmp_path / "data")
