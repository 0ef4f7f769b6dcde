"""Property-based fuzzing (hypothesis, bounded) of the table and archive parsers: any input
gives a valid result or a clear ValueError/OSError, never another exception type."""

from __future__ import annotations

import io
import itertools
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eusgist.data import read_manifest
from eusgist.report import prepare_scores, read_scores_csv
from eusgist.scoring import unpack_dataset_zip
from eusgist.store.importing import ImportLimits

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
_counter = itertools.count()

CELLS = st.one_of(
    st.sampled_from(["", "0", "1", "GIST", "leiomyoma", "nan", "inf", "-inf", "=cmd|' /C "
                     "calc'!A0", "../x.png", "/etc/passwd", "a.png", "b.png", "-0.5", "1e309",
                     '"', "\r", "\t", ";", ",", "\x00", "\ufeff", "é"]),
    st.text(max_size=12),
)
ROWS = st.lists(st.lists(CELLS, min_size=0, max_size=7), min_size=0, max_size=12)
HEADERS = st.sampled_from([
    "image,mask,label,patient_id,lesion_id", "image,mask,label,patient_id,lesion_id,spacing_mm",
    "label,score", "label,score,lesion_id", "label;score", "", "image,image,label",
])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / f"case{next(_counter)}"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(b"x")
    return folder


def _table_bytes(header: str, rows: list[list[str]], encoding: str, sep: str = ",") -> bytes:
    text = "\n".join([header, *(sep.join(r) for r in rows)])
    return text.encode(encoding, errors="replace")


@FUZZ
@given(header=HEADERS, rows=ROWS, encoding=ENCODINGS, raw=st.binary(max_size=64))
def test_manifest_parser_never_crashes(tmp_path, header, rows, encoding, raw):
    path = _folder(tmp_path) / "manifest.csv"
    path.write_bytes(_table_bytes(header, rows, encoding) + raw)
    try:
        manifest = read_manifest(path)
    except (ValueError, OSError) as exc:
        assert str(exc).strip()
    else:
        assert len(manifest) > 0
        for i in range(len(manifest)):
            assert manifest.image_path(i).resolve().is_relative_to(path.parent.resolve())


@FUZZ
@given(header=HEADERS, rows=ROWS, encoding=ENCODINGS, sep=st.sampled_from([",", ";", "\t"]),
       lesion=st.booleans())
def test_scores_parser_never_crashes(tmp_path, header, rows, encoding, sep, lesion):
    path = _folder(tmp_path) / "scores.csv"
    path.write_bytes(_table_bytes(header.replace(",", sep), rows, encoding, sep))
    try:
        frame = read_scores_csv(path)
        table = prepare_scores(frame, label_col="label", score_cols=["score"],
                               lesion_col="lesion_id" if lesion else None)
    except (ValueError, OSError) as exc:
        assert str(exc).strip()
    else:
        assert set(table.y_true.tolist()) == {0, 1}
        assert all(pd.notna(v).all() for v in table.scores.values())


def _valid_zip() -> bytes:
    buf = io.BytesIO()
    manifest = "image,mask,label,patient_id,lesion_id\na.png,,GIST,p1,l1\nb.png,,leio,p2,l2\n"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("set/manifest.csv", manifest)
        zf.writestr("set/a.png", b"a" * 300)
        zf.writestr("set/b.png", bytes(range(256)))
    return buf.getvalue()


VALID_ZIP = _valid_zip()
MUTATIONS = st.lists(st.tuples(st.integers(0, len(VALID_ZIP) - 1), st.integers(0, 255)),
                     min_size=1, max_size=8)


@FUZZ
@given(flips=MUTATIONS, cut=st.integers(0, len(VALID_ZIP)), insert=st.binary(max_size=16))
def test_zip_unpacker_never_crashes_or_escapes(tmp_path, flips, cut, insert):
    data = bytearray(VALID_ZIP)
    for pos, byte in flips:
        data[pos] = byte
    data = bytes(data[:cut]) + insert + bytes(data[cut:]) if insert else bytes(data)
    folder = _folder(tmp_path)
    path = folder / "set.zip"
    path.write_bytes(data)
    with tempfile.TemporaryDirectory(dir=folder) as dest:
        try:
            manifest = unpack_dataset_zip(path, dest, limits=ImportLimits(max_zip_entries=50))
        except (ValueError, OSError) as exc:
            assert str(exc).strip()
        else:
            assert manifest.resolve().is_relative_to(Path(dest).resolve())
        for written in Path(dest).rglob("*"):
            assert written.resolve().is_relative_to(Path(dest).resolve())
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "set.zip"]
