"""Annotations round-trip into training: import, annotate, export, extract, train, predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eusgist.bundles.tabular import load_bundle
from eusgist.cli import main
from eusgist.data import read_manifest
from eusgist.io import read_mask
from eusgist.phantom import PhantomConfig, generate_dataset
from eusgist.store import open_store
from eusgist.store.export import export_annotations


def test_export_then_train(tmp_path: Path) -> None:
    source = read_manifest(generate_dataset(
        tmp_path / "phantom", 24, 3, config=PhantomConfig(image_size=96),
        images_per_lesion=(1, 1), lesions_per_patient=(1, 1), overlays=False))
    store = open_store(f"sqlite:///{tmp_path / 'annotations.sqlite'}")
    store.add_annotator("rita", "reviewer")
    for i, row in source.table.iterrows():
        image_id = store.add_image(source.image_path(i).read_bytes(), name=Path(row["image"]).name,
                                   patient=row["patient_id"], lesion=row["lesion_id"]).image.id
        store.set_label(image_id, row["label"], annotator="rita", pathology_confirmed=True)
        store.save_annotation(image_id, "alice", read_mask(source.mask_path(i)), "brush",
                              submit=True)

    export_annotations(store, tmp_path / "export")
    exported = read_manifest(tmp_path / "export" / "manifest.csv")
    assert len(exported) == len(source) and exported.classes == source.classes
    assert sorted(exported.y) == sorted(source.y)

    features = tmp_path / "features.parquet"
    assert main(["extract", "--manifest", str(tmp_path / "export" / "manifest.csv"),
                 "--out", str(features), "--radiomics", "eus_original", "--backbones", "none",
                 "--n-jobs", "1", "--no-cache", "--quiet"]) == 0
    bundle_dir = tmp_path / "bundle"
    assert main(["train", "--features", str(features), "--out", str(bundle_dir),
                 "--modalities", "radiomics", "--classifiers", "rf", "--cv-folds", "2",
                 "--select", "radiomics-rf"]) == 0
    bundle = load_bundle(bundle_dir)
    assert bundle.classes == source.classes
    assert bundle.card["training_data"]["train"]  # counts of the exported data
    assert np.isfinite(bundle.card["test_metrics"]["auc"])
