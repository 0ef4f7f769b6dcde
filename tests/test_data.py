"""Manifests and lesion-level splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eusgist.data import (
    ManifestError,
    grouped_kfold,
    read_manifest,
    train_test_split,
    validate_manifest,
    write_manifest,
)


def _table(n_lesions: int = 12, per_lesion: int = 3) -> pd.DataFrame:
    rows = []
    for lesion in range(n_lesions):
        label = "GIST" if lesion % 2 else "leiomyoma"
        for k in range(per_lesion):
            rows.append(
                {
                    "image": f"images/L{lesion:03d}_{k}.png",
                    "mask": f"masks/L{lesion:03d}_{k}.png",
                    "label": label,
                    "patient_id": f"P{lesion // 2:03d}" if lesion % 4 < 2 else f"Q{lesion:03d}",
                    "lesion_id": f"L{lesion:03d}",
                    "size_mm": 10.0 + lesion,
                }
            )
    return pd.DataFrame(rows)


def _manifest(table: pd.DataFrame | None = None, **kwargs):
    return validate_manifest(_table() if table is None else table, Path("."), check_files=False, **kwargs)


def _write(tmp_path: Path, table: pd.DataFrame, files: bool = True) -> Path:
    if files:
        for col in ("image", "mask"):
            for rel in table[col]:
                if rel:
                    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
                    (tmp_path / rel).write_bytes(b"x")
    return write_manifest(table, tmp_path / "manifest.csv")


def test_roundtrip_keeps_metadata_and_text_ids(tmp_path: Path) -> None:
    table = _table()
    table["patient_id"] = "007"
    table["lesion_id"] = table["lesion_id"]
    path = _write(tmp_path, table)
    m = read_manifest(path)
    assert list(m.table.columns[:5]) == ["image", "mask", "label", "patient_id", "lesion_id"]
    assert m.table["patient_id"].iat[0] == "007"
    assert m.table["size_mm"].iat[1] == pytest.approx(10.0)
    assert m.classes == ("leiomyoma", "GIST")
    assert m.y.tolist() == [0, 0, 0, 1, 1, 1] * 6
    assert m.image_path(0) == tmp_path / "images/L000_0.png"
    assert m.has_masks


def test_empty_mask_column_is_weak_supervision(tmp_path: Path) -> None:
    table = _table()
    table["mask"] = ""
    m = read_manifest(_write(tmp_path, table))
    assert not m.has_masks
    assert m.mask_path(0) is None
    with pytest.raises(ManifestError, match=r"manifest.csv: no mask in rows 2, 3, 4, 5, 6 and 31 more"):
        read_manifest(tmp_path / "manifest.csv", require_masks=True)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.drop(columns=["lesion_id"]), r"missing column\(s\) \['lesion_id'\]"),
        (lambda t: t.iloc[:0], r"manifest: no rows"),
        (lambda t: t.assign(label="GIST"), r"only one class present \('GIST'\); two classes are needed"),
        (
            lambda t: t.assign(label=["a", "b", "c"] * 12),
            r"3 classes \['a', 'b', 'c'\]; exactly two are supported",
        ),
        (
            lambda t: t.assign(label=["x", "y"] * 18),
            r"cannot tell the positive class among \['x', 'y'\]; name it",
        ),
        (lambda t: pd.concat([t, t.iloc[[4]]]), r"duplicate image in row 38"),
        (lambda t: t.assign(image=[""] + list(t.image[1:])), r"empty image in row 2$"),
        (
            lambda t: t.assign(label=["GIST"] + list(t.label[1:])),
            r"a lesion has two labels in rows 2, 3, 4",
        ),
        (
            lambda t: t.assign(patient_id=["Z"] + list(t.patient_id[1:])),
            r"a lesion has two patients in rows 2, 3, 4",
        ),
        (
            lambda t: t.assign(image=["/etc/passwd"] + list(t.image[1:])),
            r"absolute path in row 2; paths must be relative",
        ),
    ],
)
def test_bad_manifests_name_the_problem(edit, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        _manifest(edit(_table()))


def test_unknown_labels_listed() -> None:
    table = _table().assign(label=lambda t: t.label.where(t.index != 7, "lipoma"))
    with pytest.raises(ManifestError, match=r"unknown label\(s\) \['lipoma'\] in row 9; expected one of"):
        _manifest(table, labels=["GIST", "leiomyoma"])


def test_positive_label_named_or_absent() -> None:
    assert _manifest(positive_label="leiomyoma").classes == ("GIST", "leiomyoma")
    with pytest.raises(ManifestError, match=r"positive label 'lipoma' not among labels"):
        _manifest(positive_label="lipoma")


def test_missing_files_listed(tmp_path: Path) -> None:
    path = _write(tmp_path, _table())
    (tmp_path / "images/L002_1.png").unlink()
    (tmp_path / "images/L003_0.png").unlink()
    with pytest.raises(
        ManifestError, match=r"image file not found in rows 9, 11 \(first: images/L002_1.png\)"
    ):
        read_manifest(path)


def test_unreadable_csv(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00\n\x81\x82")
    with pytest.raises(ManifestError, match=r"bad.csv: (not a readable CSV|missing column)"):
        read_manifest(bad)


@pytest.mark.parametrize("group", ["lesion", "patient"])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_no_group_on_both_sides(group: str, seed: int) -> None:
    m = _manifest(_table(n_lesions=40))
    key = m.table[f"{group}_id"].to_numpy()
    train, test = train_test_split(m, group=group, seed=seed)
    assert set(key[train]).isdisjoint(key[test])
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(m)))
    assert 0.1 < len(test) / len(m) < 0.35
    assert set(m.y[test]) == {0, 1}
    folds = list(grouped_kfold(m, n_splits=4, group=group, seed=seed))
    seen = np.concatenate([t for _, t in folds])
    assert sorted(seen.tolist()) == list(range(len(m)))
    for tr, te in folds:
        assert set(key[tr]).isdisjoint(key[te])


def test_split_is_seeded() -> None:
    m = _manifest(_table(n_lesions=40))
    a = train_test_split(m, seed=3)
    b = train_test_split(m, seed=3)
    c = train_test_split(m, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_split_errors() -> None:
    m = _manifest(_table(n_lesions=6))
    with pytest.raises(ManifestError, match=r"only 3 lesion\(s\) of class 'leiomyoma'; need at least 5"):
        train_test_split(m)
    with pytest.raises(ValueError, match="test_size must be between 0 and 1, not 1.5"):
        train_test_split(m, test_size=1.5)
    with pytest.raises(ValueError, match="group must be 'lesion' or 'patient', not 'image'"):
        train_test_split(m, group="image")  # type: ignore[arg-type]


def test_busi_reads_and_splits(busi_manifest_path: Path) -> None:
    m = read_manifest(busi_manifest_path)
    assert len(m) == 374
    assert m.classes == ("benign", "malignant")
    assert int(m.y.sum()) == 117
    assert m.has_masks
    train, test = train_test_split(m, seed=0)
    lesions = m.table["lesion_id"].to_numpy()
    assert set(lesions[train]).isdisjoint(lesions[test])
    assert abs(m.y[test].mean() - m.y.mean()) < 0.05
