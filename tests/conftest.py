"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared"
BUSI = SHARED / "data" / "busi"


@pytest.fixture(scope="session")
def busi_manifest_path() -> Path:
    """The real BUSI breast-ultrasound subset shipped beside the checkout."""
    path = BUSI / "manifest.csv"
    if not path.is_file():
        pytest.skip(f"BUSI data not found at {path}")
    return path


@pytest.fixture(scope="session")
def prediction_bundles(tmp_path_factory: pytest.TempPathFactory):
    """Tiny tabular (combined, deep) and CNN bundles on a phantom (tests/inference_fixtures.py)."""
    from inference_fixtures import build_bundles

    return build_bundles(tmp_path_factory.mktemp("prediction"))


@pytest.fixture(scope="session")
def lesion_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 speckled images with one dark elliptical lesion each, with masks."""
    from synthetic_lesions import lesion_image

    root = tmp_path_factory.mktemp("lesions")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(20):
        image, mask = lesion_image(rng)
        Image.fromarray(image).save(root / f"img{i}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / f"img{i}_mask.png")
        rows.append({"image": f"img{i}.png", "mask": f"img{i}_mask.png",
                     "label": "GIST" if i % 2 else "leiomyoma", "patient_id": f"p{i}",
                     "lesion_id": f"l{i}"})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


@pytest.fixture(scope="session")
def tiny_segmenter(lesion_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A segmenter trained for two epochs on 64-pixel crops (random encoder)."""
    from eusgist.segment.train import SegmenterConfig, train_segmenter

    out = tmp_path_factory.mktemp("seg") / "tiny"
    config = SegmenterConfig(input_size=64, epochs=2, patience=2, batch_size=8,
                             pretrained=False)
    train_segmenter([lesion_manifest], out, config, source="synthetic ellipses")
    return out
