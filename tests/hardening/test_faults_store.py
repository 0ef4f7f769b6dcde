"""Faults of the annotation database: full, read-only (SQLite and PostgreSQL).

A full disk is simulated with SQLite's ``PRAGMA max_page_count`` (no privileges needed), a
read-only database with a ``mode=ro`` SQLite URI and with PostgreSQL's
``default_transaction_read_only``. Each must give a clear :class:`StorageError` (the UI's
save shows it as a ``gr.Error`` message, not a stack trace) and leave every earlier revision
readable and intact.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from eusgist.store import (
    AnnotationStore,
    DatabaseFullError,
    ReadOnlyDatabaseError,
    StorageError,
    open_store,
)

SHAPE = (48, 64)


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, SHAPE, np.uint8)).save(
        buf, format="PNG")
    return buf.getvalue()


def _mask(i: int) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[2 + i % 9:30 + i % 11, 4 + i % 13:40 + i % 7] = True
    return mask


def _seed(store: AnnotationStore, n: int = 3) -> tuple[int, int, list[np.ndarray]]:
    """An image with ``n`` revisions of alice's annotation: image id, annotation id, masks."""
    iid = store.add_image(_png(1), name="eus.png").image.id
    masks = [_mask(i) for i in range(n)]
    for i, mask in enumerate(masks):
        store.save_annotation(iid, "alice", mask, "brush", i)
    return iid, store.annotations(iid)[0].id, masks


def _intact(store: AnnotationStore, aid: int, masks: list[np.ndarray]) -> None:
    assert [r.number for r in store.history(aid)] == list(range(1, len(masks) + 1))
    for number, mask in enumerate(masks, start=1):
        assert np.array_equal(store.mask(aid, number), mask)


def _fill_up(store: AnnotationStore) -> None:
    """Cap the file at its current size: every new connection sees a full database."""
    with store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(store.engine, "connect")
    def _full(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    store.engine.dispose()


def test_full_sqlite_refuses_clearly_and_keeps_earlier_revisions(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'full.sqlite'}")
    iid, aid, masks = _seed(store)
    _fill_up(store)
    noisy = [np.random.default_rng(i).random(SHAPE) > 0.5 for i in range(40)]  # big PNGs
    with pytest.raises(DatabaseFullError, match="is full") as caught:
        for i, mask in enumerate(noisy):
            store.save_annotation(iid, "alice", mask, "brush", len(masks))
            masks.append(mask)
    assert isinstance(caught.value, OSError) and isinstance(caught.value, ValueError)
    assert "nothing was saved" in str(caught.value) and "SQL" not in str(caught.value)
    _intact(store, aid, masks)
    with pytest.raises(DatabaseFullError):  # an import too: the image store is full as well
        store.add_image(_png(99) * 1, name="more.png")
    store.close()
    reopened = open_store(f"sqlite:///{tmp_path / 'full.sqlite'}")  # space again
    _intact(reopened, aid, masks)
    reopened.save_annotation(iid, "alice", _mask(50), "brush", len(masks))
    reopened.close()


def test_read_only_sqlite_reads_but_refuses_saves(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite"
    writable = open_store(f"sqlite:///{path}")
    iid, aid, masks = _seed(writable)
    writable.close()
    store = open_store(f"sqlite:///file:{path}?mode=ro&uri=true")
    _intact(store, aid, masks)
    assert [w.image_id for w in store.list_worklist("bob")] == []
    for write in (lambda: store.save_annotation(iid, "alice", _mask(9), "brush", 3),
                  lambda: store.add_annotator("carol"),
                  lambda: store.add_image(_png(2), name="new.png")):
        with pytest.raises(ReadOnlyDatabaseError, match="read-only.*nothing was saved"):
            write()
    _intact(store, aid, masks)
    store.close()
    with pytest.raises(ReadOnlyDatabaseError, match="no such database file"):
        open_store(f"sqlite:///file:{tmp_path / 'missing.sqlite'}?mode=ro&uri=true")


def test_ui_save_shows_the_storage_error_as_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gr = pytest.importorskip("gradio")
    from eusgist.ui import annotate

    path = tmp_path / "ui.sqlite"
    seeded = open_store(f"sqlite:///{path}")
    iid, _, masks = _seed(seeded)
    seeded.close()
    layer = np.zeros((*SHAPE, 4), np.uint8)
    layer[10:30, 10:30] = (255, 64, 64, 255)
    loaded = annotate.Loaded(iid, "alice", len(masks))
    monkeypatch.delenv("EUSGIST_REVIEWERS", raising=False)

    def save() -> str:
        return annotate.save_annotation({"layers": [layer]}, loaded, "alice", None,
                                        *(None,) * 9, None, False, None, None, True, "",
                                        None)[0]

    monkeypatch.setenv("EUSGIST_DATABASE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(gr.Error, match="read-only") as caught:
        save()
    assert "Traceback" not in str(caught.value.message)
    monkeypatch.setenv("EUSGIST_DATABASE_URL", f"sqlite:///{path}")
    _fill_up(annotate.current_store())
    big = np.random.default_rng(0).random(SHAPE) > 0.5
    layer[..., 3] = np.where(big, 255, 0)
    layer[..., 0] = 255
    with pytest.raises(gr.Error, match="is full"):
        for _ in range(40):
            save()
            loaded = annotate.Loaded(iid, "alice", loaded.revision + 1)
    annotate.current_store().close()


# ---------------------------------------------------------------------------- PostgreSQL
def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """``EUSGIST_TEST_POSTGRES_URL``, else a throwaway cluster from the local binaries."""
    if os.environ.get("EUSGIST_TEST_POSTGRES_URL"):
        yield os.environ["EUSGIST_TEST_POSTGRES_URL"]
        return
    pytest.importorskip("psycopg", reason="PostgreSQL driver psycopg not installed")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL not available (no /usr/lib/postgresql/*/bin/initdb)")
    base = Path(tempfile.mkdtemp(prefix="eusgist-pg-faults-"))
    run_as = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = base / "data"
    subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
    subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                    str(base / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_read_only_postgresql_refuses_saves_clearly(postgres_server: str) -> None:
    name = f"eusgist_ro_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    try:
        writable = open_store(url)
        iid, aid, masks = _seed(writable)
        writable.add_annotator("rita", "reviewer")
        writable.close()
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        store = open_store(url)  # the schema is current: opening only reads
        _intact(store, aid, masks)
        with pytest.raises(ReadOnlyDatabaseError, match="read-only.*nothing was saved") as caught:
            store.save_annotation(iid, "alice", _mask(9), "brush", len(masks))
        assert isinstance(caught.value, StorageError) and "INSERT" not in str(caught.value)
        with pytest.raises(ReadOnlyDatabaseError):
            store.set_label(iid, "GIST", annotator="rita")
        _intact(store, aid, masks)
        store.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
