"""Hostile dataset ZIPs: every one is refused (or its unsafe entries skipped) within bounds,
and nothing is ever written outside the destination folder."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from bounds import refused

from eusgist.data import ManifestError, read_manifest
from eusgist.scoring import score_dataset, unpack_dataset_zip
from eusgist.store.importing import ImportLimits, ImportReport, import_paths, iter_zip

ROWS = [("images/a.png", "GIST", "p1"), ("images/b.png", "leiomyoma", "p2")]
SENTINEL = b"original contents"


def _manifest(rows=ROWS) -> bytes:
    table = pd.DataFrame([{"image": i, "mask": "", "label": lab, "patient_id": p,
                           "lesion_id": p} for i, lab, p in rows])
    return table.to_csv(index=False).encode()


def _dataset(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    return {"set/manifest.csv": _manifest(), "set/images/a.png": b"a", "set/images/b.png": b"b",
            **(extra or {})}


def _zip(path: Path, entries: dict[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]],
         compression: int = zipfile.ZIP_DEFLATED) -> Path:
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return path


@pytest.fixture
def place(tmp_path):
    """``(parent, dest)``: ``dest`` inside ``parent``, which holds files that must not change."""
    parent = tmp_path / "parent"
    (parent / "dest").mkdir(parents=True)
    for name in ("escape.txt", "passwd", "manifest.csv"):
        (parent / name).write_bytes(SENTINEL)
    return parent, parent / "dest"


def _outside(parent: Path) -> dict[str, bytes]:
    return {str(p.relative_to(parent)): p.read_bytes() for p in parent.rglob("*")
            if p.is_file() and "dest" not in p.relative_to(parent).parts}


def _untouched(parent: Path) -> None:
    assert _outside(parent) == {name: SENTINEL for name in ("escape.txt", "passwd",
                                                            "manifest.csv")}
    assert not any(p.is_symlink() for p in parent.rglob("*"))


# --- archives refused as a whole -----------------------------------------------------------

def _valid_bytes(tmp_path: Path) -> bytes:
    return _zip(tmp_path / "valid.zip", _dataset()).read_bytes()


@pytest.mark.parametrize(("case", "match"), [
    ("text", ["not a readable ZIP"]),
    ("empty", ["not a readable ZIP"]),
    ("truncated", ["not a readable ZIP"]),
    ("magic-only", ["not a readable ZIP"]),
    ("end-record-only", ["no manifest.csv"]),
])
def test_not_a_zip_is_refused(tmp_path, place, case, match):
    valid = _valid_bytes(tmp_path)
    data = {"text": b"image,mask,label\n", "empty": b"", "truncated": valid[: len(valid) // 2],
            "magic-only": b"PK\x03\x04" + bytes(100),
            "end-record-only": b"PK\x05\x06" + bytes(18)}[case]
    bad = tmp_path / "bad.zip"
    bad.write_bytes(data)
    parent, dest = place
    refused(unpack_dataset_zip, bad, dest, match=match, watch=[parent])
    _untouched(parent)


def test_zip_bomb_high_ratio_is_refused_before_inflating(tmp_path, place):
    bomb = _zip(tmp_path / "bomb.zip", _dataset({"set/images/c.png": bytes(64 * 2**20)}))
    assert bomb.stat().st_size < 2**20
    parent, dest = place
    refused(unpack_dataset_zip, bomb, dest, match=["bomb", "c.png"], watch=[parent], traced_mb=32)
    _untouched(parent)


def test_zip_bomb_declared_total_over_the_limit(tmp_path, place):
    # Many honest, moderately compressible entries: the declared total is over the limit.
    entries = _dataset({f"set/images/{k}.png": bytes(range(256)) * 4096 for k in range(20)})
    bomb = _zip(tmp_path / "big.zip", entries)
    parent, dest = place
    refused(unpack_dataset_zip, bomb, dest, limits=ImportLimits(max_zip_total_bytes=10 * 2**20),
            match=["bytes uncompressed", "limit"], watch=[parent])
    _untouched(parent)


def test_zip_with_too_many_entries_is_refused_from_its_end_record(tmp_path, place):
    many = ImportLimits().max_zip_entries + 1
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for k in range(many):
            zf.writestr(f"e{k}", b"")
    parent, dest = place
    refused(unpack_dataset_zip, path, dest, match=[f"{many} entries", "limit"], watch=[parent],
            traced_mb=8)
    _untouched(parent)


def test_nested_zip_is_not_unpacked(tmp_path, place):
    inner = _zip(tmp_path / "inner.zip", _dataset()).read_bytes()
    outer = _zip(tmp_path / "outer.zip", {"inner.zip": inner, "deeper/x.zip": inner})
    parent, dest = place
    refused(unpack_dataset_zip, outer, dest, match=["no manifest.csv"], watch=[parent])
    _untouched(parent)
    assert not any(dest.rglob("*.zip"))


@pytest.mark.parametrize(("entries", "match"), [
    ({"a.png": b"x"}, ["no manifest.csv"]),
    (_dataset({"other/manifest.csv": _manifest()}), ["2 manifest.csv"]),
    (_dataset({"set/images": b"a file where a folder is"}), ["cannot be unpacked"]),
])
def test_manifest_count_and_name_clashes(tmp_path, place, entries, match):
    path = _zip(tmp_path / "set.zip", entries)
    parent, dest = place
    refused(unpack_dataset_zip, path, dest, match=match)
    _untouched(parent)


# --- unsafe entries skipped, the rest unpacked ---------------------------------------------

def _symlink(name: str, target: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def _encrypted(name: str, data: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.flag_bits |= 0x1
    return info, data


HOSTILE_ENTRIES = {
    "dotdot": [("../escape.txt", b"evil")],
    "dotdot-deep": [("set/../../escape.txt", b"evil")],
    "absolute": [("/tmp/eusgist-absolute-escape.txt", b"evil")],
    "windows-drive": [("C:\\escape.txt", b"evil"), ("C:escape.txt", b"evil")],
    "backslash": [("..\\escape.txt", b"evil"), ("set\\..\\..\\passwd", b"evil")],
    "symlink": [_symlink("set/images/link.png", b"../../../passwd"),
                _symlink("set/manifest_link.csv", b"/etc/passwd")],
    "encrypted": [_encrypted("set/images/secret.png", b"x")],
    "nul-in-name": [("set/images/c.png\x00../../escape.txt", b"c")],
    "unicode": [("set/images/ümlaut-病变-🩺.png", b"u"), ("set/images/\u202ertl.png", b"r")],
}


@pytest.mark.parametrize("case", list(HOSTILE_ENTRIES))
def test_unsafe_entries_are_skipped_and_nothing_lands_outside(tmp_path, place, case):
    entries = list(_dataset().items()) + HOSTILE_ENTRIES[case]
    path = _zip(tmp_path / "set.zip", entries)
    parent, dest = place
    manifest = unpack_dataset_zip(path, dest)
    assert manifest == dest / "set" / "manifest.csv"
    assert len(read_manifest(manifest)) == 2
    _untouched(parent)
    assert not Path("/tmp/eusgist-absolute-escape.txt").exists()
    for written in dest.rglob("*"):
        assert written.resolve().is_relative_to(dest.resolve())
        assert not written.is_symlink()


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicate_names_keep_the_first(tmp_path, place):
    entries = list(_dataset().items()) + [("set/images/a.png", b"second"),
                                          ("set/manifest.csv", b"not,a\nmanifest,\n")]
    path = _zip(tmp_path / "dup.zip", entries)
    parent, dest = place
    manifest = unpack_dataset_zip(path, dest)
    assert (dest / "set/images/a.png").read_bytes() == b"a"
    assert len(read_manifest(manifest)) == 2
    _untouched(parent)


# --- the manifest inside points outside the archive ----------------------------------------

@pytest.mark.parametrize(("image", "match"), [
    ("../../passwd", ["outside the manifest's folder", "row 2"]),
    ("images/../../../escape.txt", ["outside the manifest's folder"]),
    ("/etc/passwd", ["absolute path"]),
])
def test_manifest_pointing_outside_is_refused_before_scoring(tmp_path, place, image, match):
    rows = [(image, "GIST", "p1"), ("images/b.png", "leiomyoma", "p2")]
    path = _zip(tmp_path / "set.zip", {**_dataset(), "set/manifest.csv": _manifest(rows)})
    parent, dest = place
    error = refused(score_dataset, path, ["no-such-model"], dest, match=match).error
    assert isinstance(error, ManifestError)
    _untouched(parent)


# --- the annotation import reads the same archives -----------------------------------------

class _Store:
    """Stands in for AnnotationStore: records what the import hands it."""

    def __init__(self) -> None:
        self.added: list[str] = []

    def add_image(self, data: bytes, *, name: str, **_: object):
        self.added.append(name)
        raise ValueError(f"{name}: not an image")


def test_import_reports_a_bomb_and_goes_on(tmp_path, place):
    bomb = _zip(tmp_path / "bomb.zip", {"a.png": bytes(32 * 2**20)})
    traversal = _zip(tmp_path / "trav.zip", [("../escape.txt", b"x"), ("ok.png", b"png")]
                     + HOSTILE_ENTRIES["symlink"])
    store = _Store()
    report = import_paths(store, [bomb, traversal])  # type: ignore[arg-type]
    assert store.added == ["ok.png"]
    errors = dict(report.errors)
    assert "bomb" in errors[str(bomb)]
    assert {reason for _, reason in report.skipped} == {"path leaves the archive (..)",
                                                         "symbolic link"}
    _untouched(place[0])


def test_iter_zip_entry_with_a_lying_size_is_an_error_not_a_crash(tmp_path):
    path = _zip(tmp_path / "lie.zip", {"a.png": b"x" * 1000}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data.index(b"x" * 1000)] = ord("y")  # CRC no longer matches
    path.write_bytes(bytes(data))
    report = ImportReport()
    assert list(iter_zip(path, ImportLimits(), report)) == []
    assert "corrupt" in report.errors[0][1]


def test_zip_given_as_bytes_stream_name_does_not_matter(tmp_path, place):
    # A dataset ZIP uploaded under another extension is still unpacked by content.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in _dataset().items():
            zf.writestr(name, data)
    path = tmp_path / "upload.bin"
    path.write_bytes(buf.getvalue())
    assert unpack_dataset_zip(path, place[1]).name == "manifest.csv"
