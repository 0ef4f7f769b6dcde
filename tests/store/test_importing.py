"""Import of files, folders and ZIP archives: safety limits, duplicates, per-file errors."""

from __future__ import annotations

import argparse
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from _support import random_png
from pydicom import examples

from eusgist.commands import import_images
from eusgist.store import AnnotationStore, open_store
from eusgist.store.importing import ImportLimits, import_paths


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buf.getvalue()


def _symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def test_folder_and_zip_import_is_safe_and_deduplicated(
    store: AnnotationStore, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(random_png(1))
    (folder / "sub" / "b.png").write_bytes(random_png(2))
    (folder / ".hidden.png").write_bytes(random_png(3))
    (folder / "notes.txt").write_text("not an image")
    os.symlink(tmp_path / "outside.png", folder / "link.png")
    (tmp_path / "outside.png").write_bytes(random_png(4))
    archive = _zip(
        [
            ("c.png", random_png(5)),
            ("dir/d.dcm", Path(examples.get_path("ct")).read_bytes()),
            ("copy-of-a.png", random_png(1)),
            ("../evil.png", random_png(6)),
            ("/abs.png", random_png(7)),
            _symlink_entry("sneaky.png", "/etc/passwd"),
            ("inner.zip", _zip([("e.png", random_png(8))])),
            ("__MACOSX/._c.png", b"resource fork"),
        ]
    )
    (folder / "batch.bin").write_bytes(archive)  # recognised by content, not extension
    report = import_paths(store, [folder], annotator="alice")
    [dicom] = [i for i in report.added if i.format == "dicom"]
    assert dicom.name.startswith("P-") and dicom.source == "zip"
    assert sorted(i.name for i in report.added if i != dicom) == ["a.png", "b.png", "c.png"]
    assert [i.name for i in report.duplicates] == ["a.png"]
    assert [name for name, _ in report.errors] == [str(folder / "notes.txt")]
    assert "notes.txt" in report.errors[0][1]
    reasons = {name.split(":", 1)[1]: why for name, why in report.skipped}
    assert reasons == {
        "../evil.png": "path leaves the archive (..)",
        "/abs.png": "absolute path",
        "sneaky.png": "symbolic link",
        "inner.zip": "nested archive",
    }
    assert len(store.list_images()) == 4
    assert not (tmp_path / "evil.png").exists()
    again = import_paths(store, [folder / "a.png", folder / "sub"])
    assert (len(again.added), len(again.duplicates)) == (0, 2)


def test_archive_limits_are_enforced(store: AnnotationStore, tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(_zip([(f"{i}.png", random_png(i)) for i in range(5)]))
    report = import_paths(store, [path], limits=ImportLimits(max_zip_entries=4))
    assert "5 entries; the limit is 4" in report.errors[0][1]
    report = import_paths(store, [path], limits=ImportLimits(max_zip_total_bytes=100))
    assert "uncompressed; the limit is 100" in report.errors[0][1]
    report = import_paths(store, [path], limits=ImportLimits(max_file_bytes=10))
    assert report.skipped == [(str(path), "larger than 10 bytes")]
    assert store.list_images() == []


def test_a_corrupt_archive_entry_is_reported_and_the_rest_imported(
    store: AnnotationStore, tmp_path: Path
) -> None:
    good, bad = random_png(1), random_png(2)
    archive = bytearray(_zip([("bad.png", bad), ("good.png", good)]))
    at = bytes(archive).index(bad) + 40
    archive[at] ^= 0xFF  # stored entry: the CRC check fails on reading
    (tmp_path / "x.zip").write_bytes(bytes(archive))
    report = import_paths(store, [tmp_path / "x.zip"])
    assert [i.name for i in report.added] == ["good.png"]
    assert report.errors[0][0].endswith("x.zip:bad.png") and "CRC" in report.errors[0][1]


def test_missing_path_is_an_error_before_anything_is_imported(
    store: AnnotationStore, tmp_path: Path
) -> None:
    (tmp_path / "a.png").write_bytes(random_png(1))
    with pytest.raises(FileNotFoundError, match="nope.png"):
        import_paths(store, [tmp_path / "a.png", tmp_path / "nope.png"])
    assert store.list_images() == []


def test_import_images_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    (tmp_path / "a.png").write_bytes(random_png(1))
    (tmp_path / "scan.dcm").write_bytes(Path(examples.get_path("mr")).read_bytes())
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    parser = argparse.ArgumentParser()
    import_images.add_arguments(parser)
    argv = [
        str(tmp_path / "a.png"),
        str(tmp_path / "scan.dcm"),
        "--database",
        url,
        "--redact-top",
        "4",
    ]
    assert (
        import_images.run(parser.parse_args([*argv, "--annotator", "alice"])) == 1
    )  # a.png cannot be redacted
    args = parser.parse_args(
        [str(tmp_path / "a.png"), str(tmp_path / "bad.png"), "--database", url]
    )
    assert import_images.run(args) == 1
    store = open_store(url)
    assert sorted(i.format for i in store.list_images()) == ["dicom", "png"]
    store.close()
    with pytest.raises(ValueError, match="x0,y0,x1,y1"):
        import_images.run(
            parser.parse_args([str(tmp_path / "a.png"), "--database", url, "--redact", "1,2,3"])
        )
