"""Tiny model bundles for the prediction tests, built once per session.

A small phantom (96-pixel frames, 22 lesions) → radiomics (``eus_original``) +
``test_resnet`` deep features at 32 pixels (random init) → a combined and a deep-only SVM
bundle through ``eusgist train``; and a one-epoch ``test_resnet`` CNN bundle on the same
phantom. Seconds of work (beyond importing torch and timm) on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TABULAR = "phantom-combined-svm"
DEEP = "phantom-deep-svm"
CNN = "phantom-cnn"
BACKBONE = "test_resnet"


@dataclass(frozen=True)
class Built:
    """Where the bundles, the phantom manifest and its feature table are."""

    weights: Path
    manifest: Path
    features: Path

    @property
    def tabular(self) -> Path:
        return self.weights / TABULAR

    @property
    def deep(self) -> Path:
        return self.weights / DEEP

    @property
    def cnn(self) -> Path:
        return self.weights / CNN

    def rows(self) -> pd.DataFrame:
        """The phantom manifest with absolute image and mask paths."""
        table = pd.read_csv(self.manifest)
        for col in ("image", "mask"):
            table[col] = [str(self.manifest.parent / p) for p in table[col]]
        return table


def build_bundles(root: Path) -> Built:
    """Write the phantom, the feature table and both bundles under `root`."""
    from eusgist.cli import main
    from eusgist.data import read_manifest
    from eusgist.features import extract_features
    from eusgist.features.pipeline import ExtractionSettings
    from eusgist.features.table import write_feature_table
    from eusgist.models.cnn import CNNConfig, train_cnn
    from eusgist.phantom import generate_dataset
    from eusgist.phantom.render import PhantomConfig

    manifest_path = generate_dataset(
        root / "phantom", 14, 3, config=PhantomConfig(image_size=96, n_lines=96),
        images_per_lesion=(1, 2), lesions_per_patient=(1, 2), overlays=False,
    )
    manifest = read_manifest(manifest_path)
    settings = ExtractionSettings(radiomics="eus_original", backbones=(BACKBONE,),
                                  pretrained=False, input_size=32)
    result = extract_features(manifest, settings, n_jobs=1, backend="sequential")
    features = write_feature_table(result.table, result.provenance, root / "features.parquet")
    weights = root / "weights"
    for name, modality in ((TABULAR, "combined"), (DEEP, "deep")):
        rc = main(["train", "--features", str(features), "--out", str(weights / name),
                   "--modalities", modality, "--classifiers", "svm",
                   "--select", f"{modality}-svm", "--cv-folds", "2", "--shap-rows", "3",
                   "--source", "synthetic EUS phantom (tests)"])
        if rc != 0:
            raise RuntimeError(f"eusgist train failed with status {rc}")
    config = CNNConfig(arch=BACKBONE, input_size=32, pretrained=False, epochs=1, patience=1,
                       batch_size=8, augment="none", seed=0)
    train_cnn(manifest, weights / CNN, config, manifest_path=manifest_path)
    return Built(weights, manifest_path, features)
