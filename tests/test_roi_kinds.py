"""ROI kinds: boxes and rough outlines made from expert masks, and the variant manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from eusgist.data import read_manifest, write_manifest
from eusgist.errors import EusgistError
from eusgist.roi_kinds import (
    box_mask,
    jitter_box,
    loose_box,
    mask_box,
    roi_variants,
    rough_outline,
    write_roi_variants,
)


def _disc(shape: tuple[int, int] = (120, 160), centre: tuple[int, int] = (60, 80),
          radius: int = 25) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_mask_box_is_tight_and_end_exclusive() -> None:
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    assert mask_box(mask) == (3, 2, 9, 5)
    assert np.array_equal(box_mask(mask_box(mask), mask.shape), mask)
    with pytest.raises(EusgistError, match="empty"):
        mask_box(np.zeros((4, 4), bool))


@pytest.mark.parametrize("box", [(0, 0, 0, 5), (3, 3, 2, 9), (-1, 0, 4, 4), (0, 0, 200, 4)])
def test_box_outside_or_empty_is_refused(box: tuple[int, int, int, int]) -> None:
    with pytest.raises(EusgistError, match="inside"):
        box_mask(box, (100, 100))


def test_jittered_boxes_move_each_edge_a_few_percent_and_stay_inside() -> None:
    rng = np.random.default_rng(0)
    box = (10, 20, 110, 70)
    for _ in range(200):
        x0, y0, x1, y1 = jitter_box(box, (80, 120), rng)
        assert 0 <= x0 < x1 <= 120 and 0 <= y0 < y1 <= 80
        assert abs(x0 - 10) <= 5 and abs(x1 - 110) <= 5 + 1
        assert abs(y0 - 20) <= 3 and abs(y1 - 70) <= 3


def test_loose_boxes_contain_the_lesion_box_with_edges_up_to_a_quarter_out() -> None:
    rng = np.random.default_rng(0)
    box = (20, 20, 60, 40)  # 40 wide, 20 high
    grown = [loose_box(box, (100, 100), rng) for _ in range(300)]
    for x0, y0, x1, y1 in grown:
        assert x0 <= 20 and y0 <= 20 and x1 >= 60 and y1 >= 40
        assert 20 - x0 <= 10 and x1 - 60 <= 10 and 20 - y0 <= 5 and y1 - 40 <= 5
    assert max(20 - b[0] for b in grown) >= 8  # the range is used
    assert loose_box((0, 0, 100, 100), (100, 100), rng) == (0, 0, 100, 100)  # inside the image


def test_rough_outlines_stay_close_to_the_expert_one() -> None:
    mask = _disc()
    rng = np.random.default_rng(1)
    for _ in range(20):
        rough = rough_outline(mask, rng)
        dice = 2 * (rough & mask).sum() / (rough.sum() + mask.sum())
        assert 0.75 < dice < 1.0 + 1e-9
        assert rough.any()


def test_variants_are_reproducible_and_named() -> None:
    mask = _disc()
    a = roi_variants(mask, np.random.default_rng(3), outlines=2, boxes=2)
    b = roi_variants(mask, np.random.default_rng(3), outlines=2, boxes=2)
    assert [(k, n) for k, n, _ in a] == [("outline", "expert"), ("box", "bbox"),
                                         ("outline", "rough1"), ("outline", "rough2"),
                                         ("box", "jitter1"), ("box", "jitter2")]
    assert all(np.array_equal(x[2], y[2]) for x, y in zip(a, b, strict=True))
    assert np.array_equal(a[0][2], mask)
    # loose boxes come last: the other variants are drawn as before
    c = roi_variants(mask, np.random.default_rng(3), outlines=2, boxes=2, loose=1)
    assert [n for _, n, _ in c] == [n for _, n, _ in a] + ["loose1"]
    assert all(np.array_equal(x[2], y[2]) for x, y in zip(a, c[:-1], strict=True))


def test_variant_manifest_keeps_lesions_together(busi_manifest_path: Path,
                                                 tmp_path: Path) -> None:
    src = read_manifest(busi_manifest_path)
    rows = src.table.groupby("label").head(3).copy()
    small = tmp_path / "src"
    for col in ("image", "mask"):
        (small / col).mkdir(parents=True)
        for i, rel in enumerate(rows[col]):
            shutil.copyfile(src.root / rel, small / col / Path(rel).name)
        rows[col] = [f"{col}/{Path(rel).name}" for rel in rows[col]]
    write_manifest(rows, small / "manifest.csv")
    path = write_roi_variants(small / "manifest.csv", tmp_path / "variants")
    out = read_manifest(path)
    assert len(out.table) == 4 * len(rows)
    assert set(out.table["roi_kind"]) == {"outline", "box"}
    per_lesion = out.table.groupby("lesion_id")["roi_variant"].apply(sorted)
    assert all(v == ["bbox", "expert", "jitter1", "rough1"] for v in per_lesion)
    assert (out.root / out.table["image"].iloc[0]).is_file()
    boxes = read_manifest(write_roi_variants(small / "manifest.csv", tmp_path / "boxes",
                                             outlines=0, boxes=1, loose=2, kinds=("box",)))
    per_lesion = boxes.table.groupby("lesion_id")["roi_variant"].apply(sorted)
    assert all(v == ["bbox", "jitter1", "loose1", "loose2"] for v in per_lesion)


def test_a_variant_manifest_splits_as_its_source(busi_manifest_path: Path, tmp_path: Path) -> None:
    from eusgist.data import train_test_split

    src = read_manifest(busi_manifest_path)
    rows = src.table.groupby("label").head(12).copy()
    small = tmp_path / "src"
    for col in ("image", "mask"):
        (small / col).mkdir(parents=True)
        for rel in rows[col]:
            shutil.copyfile(src.root / rel, small / col / Path(rel).name)
        rows[col] = [f"{col}/{Path(rel).name}" for rel in rows[col]]
    write_manifest(rows, small / "manifest.csv")
    plain = read_manifest(small / "manifest.csv")
    variants = read_manifest(write_roi_variants(small / "manifest.csv", tmp_path / "v", boxes=2))
    _, test = train_test_split(plain, test_size=0.25, seed=3)
    _, vtest = train_test_split(variants, test_size=0.25, seed=3)
    assert set(variants.table["lesion_id"].iloc[vtest]) == set(plain.table["lesion_id"].iloc[test])
    assert len(vtest) == 5 * len(test)  # every variant of a test image is in test


def test_the_roi_variants_command_writes_boxes_and_refuses_bad_counts(
        busi_manifest_path: Path, tmp_path: Path) -> None:
    from eusgist.cli import main

    src = read_manifest(busi_manifest_path)
    rows = src.table.groupby("label").head(1).copy()  # one image of each class
    for col in ("image", "mask"):
        for rel in rows[col]:
            shutil.copyfile(src.root / rel, tmp_path / Path(rel).name)
        rows[col] = [Path(rel).name for rel in rows[col]]
    write_manifest(rows, tmp_path / "m.csv")
    assert main(["roi-variants", "--manifest", str(tmp_path / "m.csv"), "--out",
                 str(tmp_path / "v"), "--outlines", "0", "--boxes", "1", "--loose", "1",
                 "--kinds", "box"]) == 0
    out = read_manifest(tmp_path / "v" / "manifest.csv")
    assert sorted(out.table["roi_variant"]) == ["bbox", "bbox", "jitter1", "jitter1",
                                                "loose1", "loose1"]
    assert main(["roi-variants", "--manifest", str(tmp_path / "m.csv"), "--out",
                 str(tmp_path / "w"), "--loose", "-1"]) != 0
    assert not (tmp_path / "w" / "manifest.csv").exists()
