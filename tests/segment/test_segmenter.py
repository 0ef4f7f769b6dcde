"""The box → outline segmenter: geometry, training, bundle self-check, CLI and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from synthetic_lesions import lesion_image as _lesion_image

from eusgist.cli import main
from eusgist.errors import BundleError, EusgistError
from eusgist.segment import geometry, load_segmenter, segment, segment_manifest
from eusgist.segment.bundle import DEFAULT_SEGMENTER, segmenter_path
from eusgist.segment.metrics import dice

REPO = Path(__file__).resolve().parents[2]


def test_crop_then_paste_returns_the_mask_inside_the_window() -> None:
    rng = np.random.default_rng(1)
    _, mask = _lesion_image(rng)
    box = geometry.check_box((20, 18, 80, 70), mask.shape)
    seen = geometry.crop_mask(mask, box, 128)
    back = geometry.paste(seen, box, mask.shape) >= 0.5
    x0, y0, x1, y1 = (int(v) for v in geometry.crop_window(box))
    inside = np.zeros_like(mask)
    inside[max(y0, 0):y1, max(x0, 0):x1] = True
    assert dice(back, mask & inside) > 0.97


def test_the_box_sits_at_the_same_place_in_every_crop() -> None:
    image = np.zeros((100, 200), np.uint8)
    image[30:60, 50:150] = 255
    crop = geometry.crop(image, (50, 30, 150, 60), 64)
    margin = round(64 * geometry.MARGIN / (1 + 2 * geometry.MARGIN))
    assert crop[margin + 2:-margin - 2, margin + 2:-margin - 2].min() > 250
    assert crop[:margin - 2].max() < 5


@pytest.mark.parametrize("box, message", [
    ((1, 2, 3), "four numbers"),
    ((0, 0, 500, 20), "not inside"),
    ((10, 10, 5, 20), "not inside"),
    ((10, 10, 12, 40), "smaller than"),
    ((0, 0, float("nan"), 3), "finite"),
])
def test_bad_boxes_are_refused_by_name(box: tuple, message: str) -> None:
    with pytest.raises(EusgistError, match=message):
        geometry.check_box(box, (100, 100))


def test_training_writes_a_bundle_with_dice_and_baselines(tiny_segmenter: Path) -> None:
    card = json.loads((tiny_segmenter / "model_card.json").read_text())
    (metrics,) = card["test_metrics"].values()
    assert metrics["n"] == 4
    for key in ("dice_mean", "box_dice_mean", "ellipse_dice_mean"):
        assert 0.0 <= metrics[key] <= 1.0
    # ellipses: the inscribed-ellipse baseline is near perfect, the box ~pi/4
    assert metrics["ellipse_dice_mean"] > 0.9
    assert 0.7 < metrics["box_dice_mean"] < 0.9
    assert card["format"] == "eusgist-segmenter/1"
    assert set(card["files"]) == {"model.safetensors", "probe.safetensors"}


def test_segment_gives_a_filled_region_inside_the_window(tiny_segmenter: Path) -> None:
    image, mask = _lesion_image(np.random.default_rng(5))
    ys, xs = np.nonzero(mask)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    out = segment(tiny_segmenter, image, box)
    assert out.shape == mask.shape and out.dtype == bool and out.any()
    x0, y0, x1, y1 = geometry.crop_window(box)
    outside = out.copy()
    outside[max(int(y0), 0):int(np.ceil(y1)), max(int(x0), 0):int(np.ceil(x1))] = False
    assert not outside.any()


def test_a_changed_weight_file_is_refused(tiny_segmenter: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_segmenter, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum"):
        load_segmenter(copy)


def test_a_probe_that_does_not_match_is_refused(tiny_segmenter: Path, tmp_path: Path) -> None:
    import shutil

    from safetensors.numpy import load_file, save_file

    from eusgist.bundles.card import file_sha256

    copy = tmp_path / "copy"
    shutil.copytree(tiny_segmenter, copy)
    probe = load_file(str(copy / "probe.safetensors"))
    probe["model_output"] = probe["model_output"] + 1.0
    save_file(probe, str(copy / "probe.safetensors"))
    card = json.loads((copy / "model_card.json").read_text())
    card["files"]["probe.safetensors"] = file_sha256(copy / "probe.safetensors")
    (copy / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="self-check failed"):
        load_segmenter(copy)


def test_not_a_segmenter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no segmenter bundle"):
        load_segmenter(tmp_path)
    (tmp_path / "model_card.json").write_text(json.dumps({"format": "eusgist-cnn/1"}))
    with pytest.raises(BundleError, match="not a segmenter"):
        load_segmenter(tmp_path)


def test_cli_segments_one_image_and_refuses_bad_input(tiny_segmenter: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    image, _ = _lesion_image(np.random.default_rng(7))
    Image.fromarray(image).save(tmp_path / "im.png")
    out = tmp_path / "out" / "mask.png"
    assert main(["segment", "--model", str(tiny_segmenter), str(tmp_path / "im.png"),
                 "--box", "20,20,70,70", "--out", str(out)]) == 0
    saved = np.asarray(Image.open(out))
    assert saved.shape == image.shape and set(np.unique(saved)) <= {0, 255}
    assert main(["segment", "--model", str(tiny_segmenter), str(tmp_path / "im.png"),
                 "--out", str(out)]) == 2
    assert "--box" in capsys.readouterr().err
    assert main(["segment", "--model", str(tiny_segmenter), str(tmp_path / "im.png"),
                 "--box", "20,20,700,70", "--out", str(out)]) == 2
    assert "not inside" in capsys.readouterr().err
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "blank.png")
    assert main(["segment", "--model", str(tiny_segmenter), str(tmp_path / "blank.png"),
                 "--box", "5,5,30,30", "--out", str(out)]) == 2
    assert "blank" in capsys.readouterr().err


def test_manifest_of_boxes_becomes_a_manifest_of_outlines(
        tiny_segmenter: Path, lesion_manifest: Path, tmp_path: Path) -> None:
    path = segment_manifest(tiny_segmenter, lesion_manifest, tmp_path / "outlines")
    table = pd.read_csv(path)
    assert len(table) == 20
    assert table["mask_source"].str.startswith("segmenter:").all()
    first = np.asarray(Image.open(path.parent / table["mask"].iat[0]))
    assert first.shape == (96, 96) and first.max() == 255
    assert main(["segment", "--model", str(tiny_segmenter), "--manifest", str(lesion_manifest),
                 "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "manifest.csv").is_file()


SHIPPED = segmenter_path(REPO / "weights" / "segmenters" / DEFAULT_SEGMENTER)


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="no shipped segmenter")
def test_shipped_segmenter_beats_the_ellipse_on_busi_test_lesions(busi_manifest_path: Path
                                                                   ) -> None:
    from eusgist.data import read_manifest, train_test_split
    from eusgist.io import read_image, read_mask
    from eusgist.roi_kinds import mask_box

    card = json.loads((SHIPPED / "model_card.json").read_text())
    assert card["test_metrics"]["busi"]["dice_mean"] > card["test_metrics"]["busi"][
        "ellipse_dice_mean"]
    manifest = read_manifest(busi_manifest_path)
    _, test = train_test_split(manifest, test_size=0.2, seed=0)
    seg = load_segmenter(SHIPPED)
    ours, ellipse = [], []
    for i in test[:12]:
        image = read_image(manifest.image_path(int(i))).array
        truth = read_mask(manifest.mask_path(int(i)), like=image.shape) > 0
        box = mask_box(truth)
        ours.append(dice(seg.segment(image, box), truth))
        ellipse.append(dice(geometry.inscribed_ellipse(box, truth.shape), truth))
    assert np.mean(ours) > np.mean(ellipse)


def test_train_segmenter_refuses_bad_input_by_name(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "seg"
    image = np.zeros((40, 40), np.uint8)
    image[10:30, 10:30] = 200
    Image.fromarray(image).save(tmp_path / "a.png")
    pd.DataFrame([{"image": "a.png", "mask": "", "label": "GIST", "patient_id": "p",
                   "lesion_id": "l"}]).to_csv(tmp_path / "m.csv", index=False)
    assert main(["train-segmenter", "--manifest", str(tmp_path / "m.csv"), "--out", str(out),
                 "--input-size", "100"]) == 2
    assert "multiple of 32" in capsys.readouterr().err
    assert main(["train-segmenter", "--manifest", str(tmp_path / "m.csv"), "--out", str(out),
                 "--input-size", "64", "--no-pretrained", "--epochs", "1"]) == 2
    assert "mask" in capsys.readouterr().err
    assert not out.exists()  # nothing written
