"""Bounded load on the running app (the small version of ``bench/bench_load.py``).

Concurrent gradio_client sessions on loopback call Predict and, at the same time, save
annotations (each as their own annotator, and some as one shared annotator so their saves
race): no request may
fail other than by a documented rejection ("Queue is full") or a refused stale save, and
every acknowledged save must be in the store with its mask. Latencies are printed, never
asserted. A queue of one place refuses the next event at once with "Queue is full".
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from gradio_client import Client  # noqa: E402
from gradio_client.utils import QueueError  # noqa: E402
from loopback import bench_load  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = "phantom-demo-combined-svm"


bench = bench_load()


@pytest.fixture(scope="module")
def app_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway database and a weights folder holding the shipped phantom bundle."""
    if not (ROOT / "weights" / BUNDLE / "model_card.json").is_file():
        pytest.skip(f"weights/{BUNDLE} not shipped in this checkout")
    root = tmp_path_factory.mktemp("load")
    shutil.copytree(ROOT / "weights" / BUNDLE, root / "weights" / BUNDLE)
    url = f"sqlite:///{root / 'load.sqlite'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EUSGIST_DATABASE_URL", url)
        mp.setenv("EUSGIST_WEIGHTS_DIR", str(root / "weights"))
        mp.delenv("EUSGIST_QUEUE_SIZE", raising=False)
        yield url


def test_concurrent_predicts_and_saves_lose_nothing(app_env: str, tmp_path: Path) -> None:
    cases = bench.examples(BUNDLE)
    deadline = time.perf_counter() + 120
    out: dict[str, tuple] = {}
    with bench.serve(in_process=True) as url:  # both at once: 6 + 8 clients, a cold model
        phases = [threading.Thread(target=lambda: out.update(predict=bench.predict_load(
                      url, BUNDLE, cases, 6, 2, deadline))),
                  threading.Thread(target=lambda: out.update(save=bench.save_load(
                      url, cases[0][0], tmp_path, 6, 4, 2, deadline)))]
        for phase in phases:
            phase.start()
        for phase in phases:
            phase.join()
    predicts, predict_wall = out["predict"]
    saves, save_wall, ledger = out["save"]
    check = bench.verify_saves(ledger, app_env)
    print(json.dumps({"predict": bench.summary(predicts, predict_wall),
                      "save": bench.summary(saves, save_wall),
                      "store": {k: v if isinstance(v, int) else len(v)
                                for k, v in check.items()}}, indent=1))

    assert bench.failures(predicts + saves) == []
    assert [c for c in predicts + saves if c.outcome == "rejected"] == []  # queue never full
    assert sum(c.outcome == "ok" for c in predicts) == 6 * 2
    own = [key for key in ledger.saved if key[0] != "load-shared"]
    assert len(own) == 6 * 4  # nobody races an annotator's own saves
    assert any(key[0] == "load-shared" for key in ledger.saved)
    assert check["lost"] == [] and check["corrupt"] == []
    assert check["unreported"] == []  # a refused save wrote nothing


def test_a_full_queue_refuses_at_once_with_queue_full(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eusgist.ui import annotate_actions, build_app, configure_queue

    entered, release = threading.Semaphore(0), threading.Event()
    real = annotate_actions.current_store

    def gated() -> object:  # the worklist handler waits here until released
        entered.release()
        release.wait(60)
        return real()

    app = configure_queue(build_app(), max_size=1)
    # patched after building, which lists images
    monkeypatch.setattr(annotate_actions, "current_store", gated)
    port = bench.free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        clients = [Client(url, verbose=False) for _ in range(4)]
        jobs = []
        for client in clients[:2]:  # one at a time: a queue of 1 holds one waiting event, so
            jobs.append(client.submit("all", "x", api_name="/annotate_worklist"))
            assert entered.acquire(timeout=60)  # ... each must be running before the next
        jobs.append(clients[2].submit("all", "x", api_name="/annotate_worklist"))
        end = time.monotonic() + 60
        while len(app._queue) < 1 and time.monotonic() < end:  # the third one waits
            time.sleep(0.05)
        with pytest.raises(QueueError, match="Queue is full"):
            clients[3].submit("all", "x", api_name="/annotate_worklist").result(timeout=60)
        release.set()
        for job in jobs:  # the accepted ones still complete
            assert "data" in job.result(timeout=60)
    finally:
        release.set()
        app.close()


def test_queue_size_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from eusgist.ui import DEFAULT_QUEUE_SIZE, queue_size

    monkeypatch.delenv("EUSGIST_QUEUE_SIZE", raising=False)
    assert queue_size() == DEFAULT_QUEUE_SIZE
    monkeypatch.setenv("EUSGIST_QUEUE_SIZE", "5")
    assert queue_size() == 5
    for bad in ("0", "many"):
        monkeypatch.setenv("EUSGIST_QUEUE_SIZE", bad)
        with pytest.raises(ValueError, match="EUSGIST_QUEUE_SIZE must be a positive integer"):
            queue_size()
