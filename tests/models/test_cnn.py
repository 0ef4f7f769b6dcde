"""End-to-end CNN training on a tiny disc phantom (CPU, random init, a few steps)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from eusgist.bundles.cnn import load_cnn_bundle, save_cnn_bundle
from eusgist.commands import train_cnn as train_cnn_command
from eusgist.data import read_manifest, write_manifest
from eusgist.io import read_image, read_mask
from eusgist.models.cnn import CNNConfig, EpochSampler, compare_runs, train_cnn

TINY = CNNConfig(arch="test_resnet", input_size=32, pretrained=False, epochs=4, patience=10,
                 batch_size=8, lr=3e-3, augment="none", seed=0)


@pytest.fixture(scope="module")
def manifest_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 images of 20 lesions: positives are larger, brighter discs than negatives."""
    root = tmp_path_factory.mktemp("discs")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:48, :48]
    rows = []
    for i in range(24):
        lesion = i if i < 20 else i - 20  # lesions 0-3 have two images each
        positive = lesion % 2 == 1
        cy, cx = rng.integers(18, 30, size=2)
        r = rng.uniform(10, 14) if positive else rng.uniform(5, 8)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2
        img = rng.normal(60, 15, (48, 48)) + disc * (130 if positive else 60)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / f"images/{i}.png")
        Image.fromarray((disc * 255).astype(np.uint8)).save(root / f"masks/{i}.png")
        rows.append({"image": f"images/{i}.png", "mask": f"masks/{i}.png",
                     "label": "GIST" if positive else "leiomyoma",
                     "patient_id": f"p{lesion}", "lesion_id": f"l{lesion}"})
    return write_manifest(pd.DataFrame(rows), root / "manifest.csv")


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "checkpoint.pt", weights_only=False)["model"]


def test_training_loss_falls_and_bundle_reloads(manifest_path: Path, tmp_path: Path) -> None:
    manifest = read_manifest(manifest_path)
    result = train_cnn(manifest, tmp_path / "run", TINY, manifest_path=manifest_path)
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 4 and losses[-1] < losses[0]
    card = json.loads((tmp_path / "run/model_card.json").read_text())
    assert card["arch"] == "test_resnet" and card["positive_class"] == "GIST"
    assert card["expects"]["supervision"] == "strong"
    assert len(card["training"]["manifest_sha256"]) == 64
    assert card["training"]["manifest"] == manifest_path.name  # no local absolute paths
    assert card["training"]["source"] == manifest_path.parent.name
    assert "research only" in card["intended_use"].lower()
    assert {"auc", "auc_ci", "threshold", "metrics"} <= set(card["test_metrics"])
    curves = pd.read_csv(tmp_path / "run/training_curves.csv")
    assert list(curves["epoch"]) == [1, 2, 3, 4]
    assert {"train_loss", "val_loss", "val_auc"} <= set(curves.columns)
    assert (tmp_path / "run/training_curves.png").stat().st_size > 0

    bundle = load_cnn_bundle(tmp_path / "run")
    preds = pd.read_csv(tmp_path / "run/test_predictions.csv")
    images = [read_image(manifest.root / p).array for p in preds["image"]]
    masks = [read_mask(manifest.root / p.replace("images", "masks")) for p in preds["image"]]
    np.testing.assert_allclose(bundle.predict_proba(images, masks), preds["score"],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="mask is needed"):
        bundle.predict_proba(images[:1])


def test_resume_reaches_the_same_state(manifest_path: Path, tmp_path: Path) -> None:
    manifest = read_manifest(manifest_path)
    cfg = CNNConfig(**{**TINY.__dict__, "epochs": 2, "augment": "standard", "balance": "sampler"})
    train_cnn(manifest, tmp_path / "full", cfg)
    train_cnn(manifest, tmp_path / "part", CNNConfig(**{**cfg.__dict__, "epochs": 1}))
    train_cnn(manifest, tmp_path / "part", cfg, resume=True)
    full, part = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert all(torch.equal(full[k], part[k]) for k in full)
    with pytest.raises(ValueError, match="arch was 'test_resnet'"):
        other = CNNConfig(**{**cfg.__dict__, "arch": "resnet10t"})
        train_cnn(manifest, tmp_path / "part", other, resume=True)


def test_resume_never_runs_code_from_a_checkpoint(manifest_path: Path, tmp_path: Path) -> None:
    import pickle

    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(pickle.dumps({"config": Payload()}))
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        train_cnn(read_manifest(manifest_path), run, TINY, resume=True)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.filterwarnings("ignore:ppv is undefined:RuntimeWarning")
def test_weak_supervision_needs_no_masks_and_compares_with_delong(
    manifest_path: Path, tmp_path: Path
) -> None:
    manifest = read_manifest(manifest_path)
    table = manifest.table.assign(mask="")
    write_manifest(table, manifest.root / "nomask.csv")
    weak = read_manifest(manifest.root / "nomask.csv")
    cfg = CNNConfig(**{**TINY.__dict__, "epochs": 1})
    with pytest.raises(ValueError, match="has no mask"):
        train_cnn(weak, tmp_path / "strong", cfg)
    train_cnn(manifest, tmp_path / "strong", CNNConfig(**{**cfg.__dict__, "expand": True}))
    parser = argparse.ArgumentParser()
    train_cnn_command.add_arguments(parser)
    args = parser.parse_args([
        "--manifest", str(manifest.root / "nomask.csv"), "--out", str(tmp_path / "weak"),
        "--supervision", "weak", "--arch", "test_resnet", "--input-size", "32", "--no-pretrained",
        "--epochs", "1", "--batch-size", "8",
        "--augment", "none", "--compare-with", str(tmp_path / "strong")])
    assert train_cnn_command.run(args) == 0
    card = json.loads((tmp_path / "weak/model_card.json").read_text())
    assert card["expects"]["supervision"] == "weak"
    cmp = json.loads((tmp_path / "weak/comparison.json").read_text())
    assert cmp == compare_runs(tmp_path / "weak", tmp_path / "strong")
    assert cmp["n"] == 5 and 0 <= cmp["p_value"] <= 1


def test_bundle_shape_mismatch_is_named(tmp_path: Path) -> None:
    import timm

    model = timm.create_model("test_resnet", num_classes=3)
    card = {"name": "x", "arch": "test_resnet", "expects": {"input_size": 32}}
    save_cnn_bundle(tmp_path, model, card)
    with pytest.raises(ValueError, match=r"fc.weight: saved \(3, .*needs \(1, "):
        load_cnn_bundle(tmp_path)
    with pytest.raises(ValueError, match="not a CNN bundle"):
        load_cnn_bundle(tmp_path / "nothing")


def test_sampler_is_seeded_balanced_and_sharded() -> None:
    y = np.array([0] * 18 + [1] * 2)
    s = EpochSampler(y, seed=1, balanced=True)
    s.epoch = 3
    draws = list(s)
    assert draws == list(s) and 3 <= y[draws].sum() <= 17  # ~half positives, not 2/20
    shards = [list(EpochSampler(y, seed=1, balanced=False, rank=r, world=3)) for r in range(3)]
    assert [len(x) for x in shards] == [7, 7, 7]
    assert set(sum(shards, [])) == set(range(20))
