"""The 3D path: R3D-18 on tiny two-phase NIfTI volumes, and the 2D single-slice mode."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch

from eusgist.bundles.cnn import load_cnn_bundle
from eusgist.commands import train_cnn as train_cnn_command
from eusgist.data import read_manifest, write_manifest
from eusgist.io import read_image, read_mask
from eusgist.models.cnn import CNNConfig, train_cnn
from eusgist.models.cnn3d import (
    build_resnet3d,
    load_volumes,
    pick_slice,
    prepare_volume,
    resample,
    roi_box_3d,
)

TINY3D = CNNConfig(dims="3d", volume_size=(8, 16, 16), phases=("arterial", "venous"),
                   pretrained=False, epochs=2, patience=10, batch_size=8, lr=1e-3,
                   augment="standard", seed=0)


def _save(array: np.ndarray, path: Path) -> None:
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))


@pytest.fixture(scope="module")
def manifest_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 volumes 8×24×24 of 20 lesions, two phases: positives hold a bright blob."""
    root = tmp_path_factory.mktemp("volumes")
    rng = np.random.default_rng(0)
    zz, yy, xx = np.mgrid[:8, :24, :24]
    rows = []
    for i in range(20):
        positive = i % 2 == 1
        cz, cy, cx = 4, *rng.integers(9, 15, size=2)
        blob = (((zz - cz) / 2.5) ** 2 + ((yy - cy) / 5) ** 2 + ((xx - cx) / 5) ** 2) <= 1
        row = {"image": f"art{i}.nii.gz", "mask": f"mask{i}.nii.gz",
               "label": "GIST" if positive else "leiomyoma",
               "patient_id": f"p{i}", "lesion_id": f"l{i}"}
        for phase, gain in (("arterial", 1.0), ("venous", 0.6)):
            vol = rng.normal(50, 10, blob.shape) + blob * gain * (150 if positive else 30)
            _save(vol.astype(np.float32), root / f"{phase[:3]}{i}.nii.gz")
            row[f"image_{phase}"] = f"{phase[:3]}{i}.nii.gz"
        _save(blob.astype(np.uint8), root / f"mask{i}.nii.gz")
        rows.append(row)
    return write_manifest(pd.DataFrame(rows), root / "manifest.csv")


@pytest.mark.parametrize("channels", [1, 2])
def test_resnet3d_takes_phases_as_channels(channels: int) -> None:
    model, loaded = build_resnet3d(channels)
    assert not loaded and model.stem[0].in_channels == channels
    assert model.eval()(torch.zeros(2, channels, 8, 16, 16)).shape == (2, 1)


def test_preprocessing_crops_the_box_and_resamples() -> None:
    mask = np.zeros((10, 20, 30), bool)
    mask[2:6, 5:15, 10:20] = True  # extent 4, 10, 10
    assert roi_box_3d(mask, margin=0.5) == (slice(0, 8), slice(0, 20), slice(5, 25))
    assert roi_box_3d(mask, margin=0.0) == (slice(2, 6), slice(5, 15), slice(10, 20))
    volume = np.arange(mask.size, dtype=np.float32).reshape(mask.shape)
    x = prepare_volume(volume, mask, size=(4, 8, 8), margin=0.0)
    assert x.shape == (1, 4, 8, 8) and x.dtype == np.float32
    assert 0 <= x.min() < 0.05 and 0.95 < x.max() <= 1  # percentile-scaled crop
    # the crop's first voxel is volume[2, 5, 10]: smallest in the crop, so ~0 after scaling
    assert x[0, 0, 0, 0] == pytest.approx(x.min(), abs=0.02)
    weak = prepare_volume(np.stack([volume, -volume]), None, size=(5, 10, 15),
                          supervision="weak")
    assert weak.shape == (2, 5, 10, 15)
    np.testing.assert_allclose(weak[0], 1 - weak[1], atol=1e-5)
    labels = resample(mask[None].astype(np.float32), (5, 10, 15), mode="nearest")
    assert set(np.unique(labels)) == {0.0, 1.0} and labels.shape == (1, 5, 10, 15)
    with pytest.raises(ValueError, match="mask is needed"):
        prepare_volume(volume, None, size=(4, 8, 8))


def test_phases_must_share_a_shape(manifest_path: Path, tmp_path: Path) -> None:
    manifest = read_manifest(manifest_path)
    x = load_volumes(manifest, np.arange(2), TINY3D)
    assert x.shape == (2, 2, 8, 16, 16)
    _save(np.zeros((6, 24, 24), np.float32), manifest.root / "short.nii.gz")
    table = manifest.table.copy()
    table.loc[0, "image_venous"] = "short.nii.gz"
    bad = read_manifest(write_manifest(table, manifest.root / "bad.csv"))
    with pytest.raises(ValueError, match="phases must be volumes of one shape"):
        load_volumes(bad, np.arange(1), TINY3D)
    with pytest.raises(ValueError, match="no column image_portal"):
        load_volumes(manifest, np.arange(1), CNNConfig(dims="3d", phases=("portal",)))
    with pytest.raises(ValueError, match="use dims='3d'"):
        CNNConfig(dims="2d-slice", phases=("arterial",))


def test_2d_slice_takes_the_largest_lesion_slice() -> None:
    volume = np.arange(5)[:, None, None] * np.ones((5, 4, 4), np.float32)
    mask = np.zeros((5, 4, 4), bool)
    mask[1, :2, :2] = True
    mask[3, :3, :3] = True
    image, m = pick_slice(volume, mask)
    assert image[0, 0] == 3 and m.sum() == 9
    assert pick_slice(volume)[0][0, 0] == 2 and pick_slice(volume)[1] is None
    with pytest.raises(ValueError, match="needs \\(Z, H, W\\) volumes"):
        pick_slice(volume[0])


def test_3d_training_writes_a_bundle_that_reloads(manifest_path: Path, tmp_path: Path) -> None:
    manifest = read_manifest(manifest_path)
    result = train_cnn(manifest, tmp_path / "run", TINY3D, manifest_path=manifest_path)
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 2 and all(np.isfinite(losses))
    card = json.loads((tmp_path / "run/model_card.json").read_text())
    e = card["expects"]
    assert card["arch"] == "r3d_18" and e["dims"] == "3d"
    assert e["volume_size"] == [8, 16, 16] and e["phases"] == ["arterial", "venous"]

    bundle = load_cnn_bundle(tmp_path / "run")
    preds = pd.read_csv(tmp_path / "run/test_predictions.csv")
    rows = [manifest.table.index[manifest.table["image"] == p][0] for p in preds["image"]]
    volumes = [np.stack([read_image(manifest.root / manifest.table[c].iat[i],
                                    allow_volume=True).array
                         for c in ("image_arterial", "image_venous")]) for i in rows]
    masks = [read_mask(manifest.mask_path(i), like=v.shape[1:]) for i, v in zip(rows, volumes)]
    np.testing.assert_allclose(bundle.predict_proba(volumes, masks), preds["score"],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:ppv is undefined:RuntimeWarning")
def test_2d_slice_training_from_the_cli(manifest_path: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    train_cnn_command.add_arguments(parser)
    args = parser.parse_args([
        "--manifest", str(manifest_path), "--out", str(tmp_path / "slice"), "--dims", "2d-slice",
        "--arch", "test_resnet", "--input-size", "32", "--no-pretrained", "--epochs", "1",
        "--batch-size", "4", "--augment", "none"])
    assert train_cnn_command.run(args) == 0
    card = json.loads((tmp_path / "slice/model_card.json").read_text())
    assert card["expects"]["dims"] == "2d-slice"
    manifest = read_manifest(manifest_path)
    bundle = load_cnn_bundle(tmp_path / "slice")
    preds = pd.read_csv(tmp_path / "slice/test_predictions.csv")
    loaded = [read_image(manifest.root / p, allow_volume=True) for p in preds["image"]]
    masks = [read_mask(manifest.root / p.replace("art", "mask"), like=v) for p, v in
             zip(preds["image"], loaded)]
    np.testing.assert_allclose(bundle.predict_proba([v.array for v in loaded], masks),
                               preds["score"], rtol=1e-5, atol=1e-6)
    args = parser.parse_args(["--manifest", "m", "--out", "o", "--dims", "3d",
                              "--volume-size", "8,16,16", "--phases", "arterial, venous"])
    assert args.volume_size == (8, 16, 16) and args.phases == ("arterial", "venous")
