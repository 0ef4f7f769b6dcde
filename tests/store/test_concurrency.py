"""Concurrent saves from threads and processes, and a process killed inside a save."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from _support import mask_value, random_png, save_many, value_mask
from sqlalchemy import create_engine

from eusgist.store import AnnotationStore, open_store

WORKERS = 3
SAVES = 6
SUPPORT = Path(__file__).with_name("_support.py")
ROOT = Path(__file__).resolve().parents[2]


def _worker(url: str, image_id: int, mode: str, worker: int, n: int = SAVES) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(SUPPORT), url, str(image_id), mode, str(worker), str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _run_workers(url: str, image_id: int, mode: str, runner: str) -> None:
    if runner == "threads":
        store = open_store(url, migrate=False)
        with ThreadPoolExecutor(WORKERS) as pool:
            for future in [pool.submit(save_many, store, image_id, mode, w, SAVES) for w in range(WORKERS)]:
                future.result()
        store.close()
        return
    workers = [_worker(url, image_id, mode, w) for w in range(WORKERS)]
    for proc in workers:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err


def _values(store: AnnotationStore, annotation_id: int) -> list[int]:
    return [mask_value(store.mask(annotation_id, r.number)) for r in store.history(annotation_id)]


@pytest.mark.parametrize("runner", ["threads", "processes"])
def test_concurrent_saves_lose_and_mix_up_nothing(store: AnnotationStore, store_url: str, runner: str) -> None:
    """Each worker saves to its own annotation, then all save to one shared annotation."""
    image_id = store.add_image(random_png(3), name="contended.png").image.id
    _run_workers(store_url, image_id, "both", runner)
    annotations = {a.owner: a for a in store.annotations(image_id)}
    assert set(annotations) == {f"w{w}" for w in range(WORKERS)} | {"shared"}
    for w in range(WORKERS):
        ann = annotations[f"w{w}"]
        assert ann.revision == SAVES
        assert _values(store, ann.id) == [w * 1000 + i for i in range(SAVES)]
    shared = annotations["shared"]
    assert [r.number for r in store.history(shared.id)] == list(range(1, WORKERS * SAVES + 1))
    assert shared.revision == WORKERS * SAVES
    values = _values(store, shared.id)
    assert Counter(values) == Counter(w * 1000 + i for w in range(WORKERS) for i in range(SAVES))
    for w in range(WORKERS):  # each worker's saves appear in its own order
        assert [v % 1000 for v in values if v // 1000 == w] == list(range(SAVES))


def test_process_killed_inside_a_save_leaves_the_database_consistent(store: AnnotationStore, store_url: str) -> None:
    """SIGKILL while the new revision's rows are written but not committed."""
    image_id = store.add_image(random_png(5), name="crash.png").image.id
    before = store.save_annotation(image_id, "victim", value_mask(42), "brush")
    proc = _worker(store_url, image_id, "hang", 0, 1)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "IN-TRANSACTION", proc.stderr
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    store.engine.dispose()
    if store_url.startswith("sqlite"):
        raw = create_engine(store_url)
        with raw.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        raw.dispose()
    assert [r.number for r in store.history(before.annotation_id)] == [1]
    assert mask_value(store.mask(before.annotation_id)) == 42
    after = store.save_annotation(image_id, "victim", value_mask(43), "brush", expected_revision=1)
    assert after.number == 2 and np.array_equal(store.mask(before.annotation_id), value_mask(43))
