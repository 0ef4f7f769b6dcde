"""Export to a manifest dataset and back through eusgist.data.read_manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from _support import random_png, value_mask
from pydicom import examples

from eusgist.commands import export_annotations as export_command
from eusgist.data import read_manifest
from eusgist.io import read_image, read_mask
from eusgist.store import AnnotationStore, open_store
from eusgist.store.export import export_annotations


@pytest.fixture
def filled(store: AnnotationStore) -> dict[str, int]:
    """Images in every state the export distinguishes; returns name -> image id."""
    store.add_annotator("rita", "reviewer")
    ids = {}
    for seed, (name, label) in enumerate(
        [
            ("accepted", "GIST"),
            ("submitted", "leiomyoma"),
            ("draft", "leiomyoma"),
            ("other", "other"),
            ("unlabelled", None),
        ]
    ):
        ids[name] = store.add_image(
            random_png(seed), name=f"{name}.png", patient=f"P{seed}", lesion="L1"
        ).image.id
        if label:
            store.set_label(
                ids[name], label, annotator="rita", pathology_confirmed=name == "accepted"
            )
        store.save_annotation(
            ids[name], "alice", value_mask(seed + 1), "brush", submit=name != "draft"
        )
    ids["dicom"] = store.add_image(
        Path(examples.get_path("mr")).read_bytes(), name="mr.dcm"
    ).image.id
    store.set_label(ids["dicom"], "GIST", annotator="rita")
    store.set_metadata(ids["dicom"], {"age": 61, "shape": "irregular", "long_diameter_mm": 31.5},
                       annotator="rita")
    dicom_mask = np.zeros((64, 64), bool)
    dicom_mask[10:30, 20:40] = True
    store.save_annotation(ids["dicom"], "alice", dicom_mask, "polygon", submit=True)
    bob = store.save_annotation(ids["accepted"], "bob", value_mask(100), "brush", submit=True)
    store.review(bob.annotation_id, "rita", "accept")
    return ids


def test_export_round_trips_through_read_manifest(
    store: AnnotationStore, filled: dict[str, int], tmp_path: Path
) -> None:
    summary = export_annotations(store, tmp_path / "out")
    assert summary.n_images == 3
    assert summary.left_out == {"label other": 1, "no label": 1, "no usable annotation": 1}
    manifest = read_manifest(summary.manifest)
    table = manifest.table.set_index("image_sha256")
    assert manifest.classes == ("leiomyoma", "GIST")
    expected = {
        "accepted": ("GIST", value_mask(100), "bob", "accepted"),
        "submitted": ("leiomyoma", value_mask(2), "alice", "submitted"),
    }
    for name, (label, mask, owner, status) in expected.items():
        row = table.loc[store.get_image(filled[name]).sha256]
        assert (row["label"], row["annotator"], row["annotation_status"]) == (label, owner, status)
        assert row["patient_id"] == store.get_image(filled[name]).patient
        assert np.array_equal(read_mask(manifest.root / row["mask"]), mask)
        assert (manifest.root / row["image"]).read_bytes() == store.image_bytes(filled[name])
    row = table.loc[store.get_image(filled["dicom"]).sha256]
    assert row["image"].endswith(".dcm") and read_image(manifest.root / row["image"]).shape == (
        64,
        64,
    )
    assert (int(row["age"]), row["shape"], float(row["long_diameter_mm"])) == (
        61,
        "irregular",
        31.5,
    )
    assert read_mask(manifest.root / row["mask"]).sum() == 400
    masks = [read_image(manifest.root / m).array for m in manifest.table["mask"]]
    assert all(set(np.unique(m)) == {0.0, 255.0} for m in masks)


def test_export_options_drafts_other_confirmed(
    store: AnnotationStore, filled: dict[str, int], tmp_path: Path
) -> None:
    with_drafts = export_annotations(
        store, tmp_path / "a", include_drafts=True, labels=("GIST", "leiomyoma", "other")
    )
    assert with_drafts.n_images == 5 and with_drafts.left_out == {"no label": 1}
    confirmed = export_annotations(store, tmp_path / "b", confirmed_only=True)
    assert confirmed.n_images == 1 and confirmed.left_out["not pathology-confirmed"] == 2


def test_export_refuses_to_overwrite_and_to_write_nothing(
    store: AnnotationStore, filled: dict[str, int], tmp_path: Path
) -> None:
    export_annotations(store, tmp_path)
    with pytest.raises(FileExistsError, match="manifest.csv, images, masks"):
        export_annotations(store, tmp_path)
    assert export_annotations(store, tmp_path, overwrite=True).n_images == 3
    with pytest.raises(ValueError, match="nothing to export"):
        export_annotations(store, tmp_path / "empty", labels=("none",))
    assert not (tmp_path / "empty").exists()


def test_export_annotations_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    store = open_store(url)
    store.add_annotator("rita", "reviewer")
    for seed, label in enumerate(["GIST", "leiomyoma"]):
        image = store.add_image(random_png(seed), name=f"{seed}.png").image.id
        store.set_label(image, label, annotator="rita")
        store.save_annotation(image, "alice", value_mask(seed + 1), "brush", submit=True)
    store.close()
    parser = argparse.ArgumentParser()
    export_command.add_arguments(parser)
    assert (
        export_command.run(parser.parse_args(["--out", str(tmp_path / "ds"), "--database", url]))
        == 0
    )
    assert len(read_manifest(tmp_path / "ds" / "manifest.csv")) == 2
