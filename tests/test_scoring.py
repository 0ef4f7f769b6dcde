"""Scoring labelled image sets (folders and ZIPs) with model bundles."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from scoring_data import BUSI_BUNDLE, busi_examples_zip

from eusgist import inference
from eusgist.inference import batch


def test_zip_is_unpacked_safely(tmp_path: Path) -> None:
    archive = busi_examples_zip(tmp_path / "set.zip",
                                extra={"../escape.txt": b"x", "/abs.txt": b"y"})
    manifest = batch.unpack_dataset_zip(archive, tmp_path / "out")
    assert manifest == tmp_path / "out" / "set" / "manifest.csv"
    assert not (tmp_path / "escape.txt").exists()
    written = {p.name for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert "escape.txt" not in written and "abs.txt" not in written
    assert len(written) == 9  # manifest + 4 images + 4 masks


def test_zip_needs_exactly_one_manifest(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("images/a.png", b"x")
    with pytest.raises(ValueError, match=r"empty.zip: no manifest.csv inside; exactly one"):
        batch.unpack_dataset_zip(empty, tmp_path / "out")
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello")
    with pytest.raises(ValueError, match="not.zip: not a readable ZIP archive"):
        batch.unpack_dataset_zip(not_zip, tmp_path / "out2")


def test_scores_match_single_predictions(tmp_path: Path) -> None:
    archive = busi_examples_zip(tmp_path / "set.zip")
    table, manifest = batch.score_dataset(archive, [str(BUSI_BUNDLE)], tmp_path / "work")
    scores = table[str(BUSI_BUNDLE)].to_numpy()
    assert scores.shape == (4,) and np.all((scores >= 0) & (scores <= 1))
    one = inference.predict(str(BUSI_BUNDLE), manifest.image_path(0), manifest.mask_path(0),
                            explain=False)
    assert one.probabilities["malignant"] == pytest.approx(scores[0], abs=1e-9)
    assert scores[manifest.y == 1].mean() > scores[manifest.y == 0].mean()


def test_positive_class_must_match(tmp_path: Path) -> None:
    archive = busi_examples_zip(tmp_path / "set.zip")
    with pytest.raises(ValueError, match="scores 'malignant', but the data's positive class is 'benign'"):
        batch.score_dataset(archive, [str(BUSI_BUNDLE)], tmp_path / "work",
                              positive_label="benign")
    with pytest.raises(ValueError, match="choose at least one model"):
        batch.score_dataset(archive, [], tmp_path / "work2")
