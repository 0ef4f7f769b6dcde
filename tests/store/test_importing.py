"""Import of files, folders and ZIP archives: safety limits, duplicates, per-file errors."""

from __future__ import annotations

import argparse
import io
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _support import random_png
from PIL import Image, ImageDraw, ImageFont
from pydicom import dcmread, examples

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


def test_import_images_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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
    assert import_images.run(parser.parse_args([*argv, "--annotator", "alice"])) == 0
    args = parser.parse_args(
        [str(tmp_path / "a.png"), str(tmp_path / "bad.png"), "--database", url, "--redact", "none"]
    )
    assert args.redact == "none"
    assert import_images.run(args) == 1  # bad.png
    store = open_store(url)
    images = store.list_images()
    # a.png once: the second import of the same file is a duplicate of the blanked first one
    assert sorted(i.format for i in images) == ["dicom", "png"]
    [blanked] = [i for i in images if i.format == "png"]
    assert store.image_bytes(blanked.id) != random_png(1)
    assert not np.asarray(Image.open(io.BytesIO(store.image_bytes(blanked.id))))[:4].any()
    store.close()
    assert parser.parse_args([str(tmp_path / "a.png")]).redact == "auto"
    with pytest.raises(ValueError, match="x0,y0,x1,y1"):
        import_images.run(
            parser.parse_args([str(tmp_path / "a.png"), "--database", url,
                               "--redact-box", "1,2,3"])
        )
    for bad, hint in (("always", "must be one of auto, none, not 'always'"),
                      ("1,2,3,4", "give rectangles with --redact-box")):
        with pytest.raises(SystemExit):
            parser.parse_args([str(tmp_path / "a.png"), "--redact", bad])
        assert hint in capsys.readouterr().err


def _text_png(fmt: str = "PNG", mode: str = "RGB") -> tuple[bytes, tuple[int, int, int, int]]:
    """Speckle with a patient name burned in (and where it is)."""
    speckle = np.random.default_rng(3).gamma(2.0, 30, (300, 400)).clip(0, 255)
    picture = Image.fromarray(speckle.astype(np.uint8)).convert(mode)
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default(size=16)
    draw.text((12, 10), "DOE^JANE 0099123", fill=255 if mode == "L" else "white", font=font)
    ink = draw.textbbox((12, 10), "DOE^JANE 0099123", font=font)
    buf = io.BytesIO()
    picture.save(buf, format=fmt)
    return buf.getvalue(), ink


def test_burned_in_text_is_blanked_on_import_by_default(
    store: AnnotationStore, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "screen.png").write_bytes(_text_png()[0])
    (folder / "screen.jpg").write_bytes(_text_png("JPEG", "L")[0])
    (folder / "us.dcm").write_bytes(Path(examples.get_path("jpeg2k")).read_bytes())
    (folder / "plain.png").write_bytes(random_png(1))
    ink = _text_png()[1]
    report = import_paths(store, [folder])
    assert len(report.added) == 4 and not report.errors
    by_name = {i.name: i for i in report.added}
    for name in ("screen.png", "screen.jpg"):
        stored = store.image_bytes(by_name[name].id)
        assert stored[:8] == b"\x89PNG\r\n\x1a\n"  # redacted: stored losslessly as PNG
        pixels = np.asarray(Image.open(io.BytesIO(stored)))
        x0, y0, x1, y1 = ink
        assert not pixels[y0:y1, x0:x1].any() and pixels[150:].any()
    assert store.image_bytes(by_name["plain.png"].id) == random_png(1)  # nothing found: as is
    [dicom] = [i for i in report.added if i.format == "dicom"]
    after = dcmread(io.BytesIO(store.image_bytes(dicom.id))).pixel_array
    assert not after[24:40, 18:170].any()  # "BAPTIST MED CTR"
    again = import_paths(store, [folder])
    assert len(again.duplicates) == 4  # the same file is redacted the same way


def test_redact_none_keeps_the_pixels(store: AnnotationStore, tmp_path: Path) -> None:
    data, _ = _text_png()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "screen.png").write_bytes(data)
    (folder / "us.dcm").write_bytes(Path(examples.get_path("jpeg2k")).read_bytes())
    report = import_paths(store, [folder], redact="none")
    by_format = {i.format: i for i in report.added}
    assert store.image_bytes(by_format["png"].id) == data
    after = dcmread(io.BytesIO(store.image_bytes(by_format["dicom"].id))).pixel_array
    assert after[24:40, 18:170].any()
    with pytest.raises(ValueError, match="redact must be one of auto, none, not 'off'"):
        import_paths(store, [folder], redact="off")
