"""Concurrent saves from threads and processes, and a process killed inside a save.

Child processes are forked (they start without re-importing anything); each opens its own
engine, and the parent closes its pooled connections first so none crosses the fork.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from _support import mask_value, random_png, value_mask
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from eusgist.store import AnnotationStore, ConflictError, open_store

WORKERS = 3
SAVES = 6
_FORK = multiprocessing.get_context("fork")


def save_many(store: AnnotationStore, image_id: int, worker: int) -> None:
    """Save SAVES revisions to the worker's own annotation (exact expected revisions), then
    SAVES to the annotation every worker shares (re-reading and retrying on conflicts)."""
    for i in range(SAVES):
        store.save_annotation(
            image_id, f"w{worker}", value_mask(worker * 1000 + i), "brush", expected_revision=i
        )
    done = 0
    while done < SAVES:
        shared = [a for a in store.annotations(image_id) if a.owner == "shared"]
        current = shared[0].revision if shared else 0
        try:
            store.save_annotation(
                image_id, "shared", value_mask(worker * 1000 + done), "brush", current
            )
        except ConflictError:
            continue
        done += 1


def _child(url: str, image_id: int, worker: int) -> None:
    store = open_store(url, migrate=False)
    save_many(store, image_id, worker)
    store.close()


def _killed_inside_a_save(url: str, image_id: int) -> None:
    """SIGKILL itself once the new revision's rows are flushed, before the commit."""

    def kill_after_flush(session: Session, _context: object) -> None:
        if any(type(obj).__name__ == "Revision" for obj in session.new):
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Session, "after_flush", kill_after_flush)
    open_store(url, migrate=False).save_annotation(image_id, "victim", value_mask(999), "brush")


def _fork(
    store: AnnotationStore, target: object, *args: object
) -> multiprocessing.process.BaseProcess:
    store.engine.dispose()
    proc = _FORK.Process(target=target, args=args)
    proc.start()
    return proc


def _values(store: AnnotationStore, annotation_id: int) -> list[int]:
    return [mask_value(store.mask(annotation_id, r.number)) for r in store.history(annotation_id)]


@pytest.mark.parametrize("runner", ["threads", "processes"])
def test_concurrent_saves_lose_and_mix_up_nothing(
    store: AnnotationStore, store_url: str, runner: str
) -> None:
    image_id = store.add_image(random_png(3), name="contended.png").image.id
    if runner == "threads":
        with ThreadPoolExecutor(WORKERS) as pool:
            for future in [pool.submit(save_many, store, image_id, w) for w in range(WORKERS)]:
                future.result()
    else:
        procs = [_fork(store, _child, store_url, image_id, w) for w in range(WORKERS)]
        for proc in procs:
            proc.join(300)
        assert [p.exitcode for p in procs] == [0] * WORKERS
    annotations = {a.owner: a for a in store.annotations(image_id)}
    assert set(annotations) == {f"w{w}" for w in range(WORKERS)} | {"shared"}
    for w in range(WORKERS):
        assert annotations[f"w{w}"].revision == SAVES
        assert _values(store, annotations[f"w{w}"].id) == [w * 1000 + i for i in range(SAVES)]
    shared = annotations["shared"]
    assert [r.number for r in store.history(shared.id)] == list(range(1, WORKERS * SAVES + 1))
    assert shared.revision == WORKERS * SAVES
    values = _values(store, shared.id)
    assert Counter(values) == Counter(w * 1000 + i for w in range(WORKERS) for i in range(SAVES))
    for w in range(WORKERS):  # each worker's saves appear in its own order
        assert [v % 1000 for v in values if v // 1000 == w] == list(range(SAVES))


def test_process_killed_inside_a_save_leaves_the_database_consistent(
    store: AnnotationStore, store_url: str
) -> None:
    image_id = store.add_image(random_png(5), name="crash.png").image.id
    before = store.save_annotation(image_id, "victim", value_mask(42), "brush")
    proc = _fork(store, _killed_inside_a_save, store_url, image_id)
    proc.join(120)
    assert proc.exitcode == -signal.SIGKILL
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


def _open_and_add(url: str, seed: int) -> None:
    open_store(url).add_image(random_png(seed), name=f"{seed}.png")


def test_processes_creating_the_same_new_database_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    procs = [_FORK.Process(target=_open_and_add, args=(url, seed)) for seed in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = open_store(url)
    assert len(store.list_images()) == 3
    store.close()
