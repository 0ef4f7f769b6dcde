"""Load on the running app: many concurrent gradio_client clients on loopback.

Starts the app with ``python -m eusgist serve`` (``eusgist.ui.launch``: the queue settings of
:func:`eusgist.ui.configure_queue`) on a free loopback port in a process of its own (or, with
``--in-process``, in this one, where the clients' threads share its interpreter lock), with a
throwaway SQLite database (or ``--database-url``, e.g. a PostgreSQL URL) and the weights
folder, then, each phase bounded in requests and time:

* **predict**: ``--clients`` clients, each its own session, call ``/predict`` ``--predicts``
  times on the shipped examples of ``--bundle`` (``examples/<bundle>/examples.csv``: image,
  mask, spacing);
* **save**: one image is uploaded (``/annotate_upload``); ``--annotators`` clients load it
  (``/annotate_load``) and save ``--saves`` masks each (``/annotate_save``), each under its
  own name, while ``--shared`` more clients save as one and the same annotator, so their saves
  race on one annotation and the stale ones are refused (optimistic concurrency: a clear
  "Not saved" error, after which the client reloads and tries again);
* **overload** (``--overload N``): a second app with a queue of ``--overload-queue`` places
  (``EUSGIST_QUEUE_SIZE``) gets N simultaneous Predict calls; the ones beyond the queue are
  refused at once with "Queue is full" (the documented rejection, counted apart from
  failures).

Then the store is read back: every save that returned success must be a revision with the
same mask (a *lost* save otherwise); revisions nobody was told about are reported as
*unreported*. Out come throughput, p50/p90/p99 latency per endpoint and failures by kind.

    .venv/bin/python bench/bench_load.py [--clients 16] [--predicts 5] [--annotators 16]
        [--saves 5] [--shared 4] [--overload 40] [--bundle phantom-demo-combined-svm]
        [--database-url URL] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

log = logging.getLogger("bench_load")

ROOT = Path(__file__).resolve().parents[1]
#: The message of a stale save (eusgist.ui.annotate_actions.save_annotation): refused, not lost.
CONFLICT = "Not saved: someone saved a newer revision"
SAVED = re.compile(r"Saved revision (\d+) of (.+)'s annotation of image (\d+)")
#: The reader's blank description (after the diagnosis) and a blank case record.
BLANK_FORM = (None,) * 9 + (None, False, None, None)


@dataclass(frozen=True)
class Call:
    """One request: endpoint, seconds from submit to result, outcome and detail.

    ``outcome``: ``ok``; ``rejected`` (queue full, documented); ``conflict`` (stale save,
    refused with a clear message); ``timeout``; ``error`` (anything else: a failure)."""

    endpoint: str
    seconds: float
    outcome: str
    detail: str = ""


@dataclass
class SaveLedger:
    """What the clients were told: (annotator, revision) -> index of the mask saved."""

    image_id: int = 0
    masks: list[np.ndarray] = field(default_factory=list)
    saved: dict[tuple[str, int], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout_s: float = 180) -> None:
    """Wait until the app at ``url`` answers (or its process ended: RuntimeError)."""
    import httpx

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}config", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


@contextmanager
def serve(queue_size: int | None = None, in_process: bool = False,
          torch_threads: int = 1, log_path: Path | None = None) -> Iterator[str]:
    """The full app on a free loopback port, configured as ``launch`` does; yields its URL.

    The database and weights come from ``EUSGIST_DATABASE_URL``/``EUSGIST_WEIGHTS_DIR``; a
    separate server's output goes to ``log_path`` (else nowhere)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    if in_process:
        from eusgist.ui import build_app, configure_queue

        app = configure_queue(build_app(), max_size=queue_size)
        app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                   quiet=True)
        try:
            yield url
        finally:
            app.close()
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(torch_threads),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    if queue_size:
        env["EUSGIST_QUEUE_SIZE"] = str(queue_size)
    output = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "eusgist", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, proc)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if log_path:
            output.close()  # type: ignore[union-attr]


def classify(exc: BaseException) -> tuple[str, str]:
    """``(outcome, detail)`` of a failed call."""
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    text = str(exc) or type(exc).__name__
    if isinstance(exc, QueueError) or "Queue is full" in text:
        return "rejected", text
    if CONFLICT in text:
        return "conflict", text
    if isinstance(exc, TimeoutError):
        return "timeout", text
    kind = "error" if isinstance(exc, AppError) else f"error:{type(exc).__name__}"
    return kind, text[:300]


def timed(client: object, endpoint: str, args: tuple, timeout_s: float) -> tuple[Call, object]:
    """Submit ``args`` to ``endpoint`` and wait at most ``timeout_s``; the call and result."""
    start = time.perf_counter()
    job = client.submit(*args, api_name=f"/{endpoint}")  # type: ignore[attr-defined]
    try:
        result = job.result(timeout=timeout_s)
    except BaseException as exc:  # noqa: BLE001 - every failure is counted, by kind
        if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
            job.cancel()
            exc = TimeoutError(f"no answer within {timeout_s:.0f} s")
        outcome, detail = classify(exc)
        return Call(endpoint, time.perf_counter() - start, outcome, detail), None
    return Call(endpoint, time.perf_counter() - start, "ok"), result


def run_threads(workers: list[Callable[[], list[Call]]]) -> tuple[list[Call], float]:
    """Run each worker in its own thread; all their calls and the wall time."""
    calls: list[Call] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def run(worker: Callable[[], list[Call]]) -> None:
        try:
            out = worker()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            return
        with lock:
            calls.extend(out)

    threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in workers]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client thread(s) crashed: {errors[0]!r}") from errors[0]
    return calls, time.perf_counter() - start


def examples(bundle: str) -> list[tuple[str, str | None, float | None]]:
    """``(image, mask, spacing_mm)`` of ``examples/<bundle>/examples.csv``."""
    folder = ROOT / "examples" / bundle
    table = pd.read_csv(folder / "examples.csv", keep_default_na=False)
    return [(str(folder / r["image"]), str(folder / r["mask"]) if r.get("mask") else None,
             float(r["spacing_mm"]) if r.get("spacing_mm") not in (None, "") else None)
            for r in table.to_dict("records")]


def predict_load(url: str, model: str, cases: list[tuple[str, str | None, float | None]],
                 clients: int, predicts: int, deadline: float,
                 timeout_s: float = 120.0) -> tuple[list[Call], float]:
    """``clients`` sessions, each calling ``/predict`` ``predicts`` times (until ``deadline``,
    a ``time.perf_counter`` value)."""
    from gradio_client import Client, handle_file

    sessions = [Client(url, verbose=False) for _ in range(clients)]

    def worker(i: int) -> list[Call]:
        out = []
        for k in range(predicts):
            if time.perf_counter() > deadline:
                break
            image, mask, spacing = cases[(i + k) % len(cases)]
            args = (model, handle_file(image), None, handle_file(mask) if mask else None, "",
                    spacing)
            call, result = timed(sessions[i], "predict", args, timeout_s)
            if call.outcome == "ok" and not (isinstance(result, tuple)
                                             and result[0].get("confidences")):
                call = Call("predict", call.seconds, "error", f"no probabilities: {result!r}"[:200])
            out.append(call)
        return out

    return run_threads([lambda i=i: worker(i) for i in range(clients)])


def _mask_files(folder: Path, shape: tuple[int, int], n: int) -> list[tuple[str, np.ndarray]]:
    """``n`` distinct rectangular masks of ``shape`` as PNG files."""
    height, width = shape
    out = []
    for i in range(n):
        mask = np.zeros(shape, bool)
        x0, y0 = (7 * i) % max(1, width // 2), (5 * i) % max(1, height // 2)
        mask[y0:y0 + height // 3 + i % 7, x0:x0 + width // 3 + i % 5] = True
        path = folder / f"mask{i:04d}.png"
        Image.fromarray(mask.astype(np.uint8) * 255).save(path)
        out.append((str(path), mask))
    return out


def save_load(url: str, image: str, work: Path, annotators: int, saves: int, shared: int,
              deadline: float, timeout_s: float = 120.0) -> tuple[list[Call], float, SaveLedger]:
    """Upload ``image``; ``annotators`` clients save ``saves`` masks each under their own
    name and ``shared`` clients save ``saves`` each as the one annotator ``shared``.

    A refused stale save (conflict) is followed by a reload and counts as a request."""
    from gradio_client import Client, handle_file

    uploader = Client(url, verbose=False)
    message = uploader.predict([handle_file(image)], "", "", 0, "load-uploader",
                               api_name="/annotate_upload")
    found = re.search(r"image (\d+)", message)
    if not found:
        raise RuntimeError(f"upload failed: {message}")
    with Image.open(image) as img:
        shape = (img.height, img.width)
    n_clients = annotators + shared
    files = _mask_files(work, shape, n_clients * saves)
    ledger = SaveLedger(image_id=int(found.group(1)), masks=[m for _, m in files])
    names = [f"load-{i:03d}" for i in range(annotators)] + ["load-shared"] * shared
    sessions = [Client(url, verbose=False) for _ in range(n_clients)]

    def worker(i: int) -> list[Call]:
        client, name, out = sessions[i], names[i], []
        call, _ = timed(client, "annotate_load", (ledger.image_id, 1.0, name), timeout_s)
        out.append(call)
        for k in range(saves):
            if time.perf_counter() > deadline:
                break
            index = i * saves + k
            editor = {"background": None, "layers": [handle_file(files[index][0])],
                      "composite": None}
            args = (editor, name, None, *BLANK_FORM, True, f"load {index}")
            call, result = timed(client, "annotate_save", args, timeout_s)
            if call.outcome == "ok":
                hit = SAVED.search(str(result))
                if not hit or hit.group(2) != name:
                    call = Call(call.endpoint, call.seconds, "error", f"odd reply {result!r}")
                else:
                    with ledger.lock:
                        ledger.saved[(name, int(hit.group(1)))] = index
            out.append(call)
            if call.outcome == "conflict":  # reload the newer revision, as a user would
                reload, _ = timed(client, "annotate_load", (ledger.image_id, 1.0, name),
                                  timeout_s)
                out.append(reload)
        return out

    calls, wall = run_threads([lambda i=i: worker(i) for i in range(n_clients)])
    return calls, wall, ledger


def verify_saves(ledger: SaveLedger, database_url: str | None = None) -> dict[str, object]:
    """Read the store back: every acknowledged save must be a revision with its mask."""
    from eusgist.store import open_store

    store = open_store(database_url, migrate=False)
    try:
        stored: dict[tuple[str, int], np.ndarray] = {}
        for ann in store.annotations(ledger.image_id):
            for rev in store.history(ann.id):
                stored[(ann.owner, rev.number)] = store.mask(ann.id, rev.number)
    finally:
        store.close()
    lost = [key for key in ledger.saved if key not in stored]
    corrupt = [key for key, i in ledger.saved.items()
               if key in stored and not np.array_equal(stored[key], ledger.masks[i])]
    unreported = [key for key in stored if key not in ledger.saved]
    return {"acknowledged": len(ledger.saved), "stored": len(stored), "lost": lost,
            "corrupt": corrupt, "unreported": unreported}


def overload(model: str, case: tuple[str, str | None, float | None], n: int, queue: int,
             timeout_s: float = 180.0, in_process: bool = False,
             log_path: Path | None = None) -> tuple[list[Call], float]:
    """``n`` Predict calls at once on an app whose queue holds ``queue`` events."""
    from gradio_client import Client, handle_file

    with serve(queue_size=queue, in_process=in_process, log_path=log_path) as url:
        sessions = [Client(url, verbose=False) for _ in range(n)]
        image, mask, spacing = case
        go = threading.Barrier(n)

        def worker(i: int) -> list[Call]:
            go.wait()
            args = (model, handle_file(image), None, handle_file(mask) if mask else None, "",
                    spacing)
            return [timed(sessions[i], "predict", args, timeout_s)[0]]

        return run_threads([lambda i=i: worker(i) for i in range(n)])


def summary(calls: list[Call], wall: float) -> dict[str, dict[str, object]]:
    """Per endpoint: requests, outcomes, throughput (answered requests/s over the phase's
    wall time) and latency percentiles (ms) of the successful calls."""
    out: dict[str, dict[str, object]] = {}
    by_endpoint: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        by_endpoint[c.endpoint].append(c)
    for endpoint, group in sorted(by_endpoint.items()):
        ok = np.array([c.seconds for c in group if c.outcome == "ok"]) * 1000
        pct = np.percentile(ok, [50, 90, 99]).round(1).tolist() if ok.size else [None] * 3
        out[endpoint] = {
            "requests": len(group),
            "outcomes": dict(Counter(c.outcome for c in group)),
            "per_s": round(len(group) / wall, 2) if wall else None,
            "ok_per_s": round(int(ok.size) / wall, 2) if wall else None,
            "p50_ms": pct[0], "p90_ms": pct[1], "p99_ms": pct[2],
            "errors": sorted({c.detail for c in group if c.outcome.startswith(("error",
                                                                               "timeout"))})[:5],
        }
    return out


def failures(calls: list[Call]) -> list[Call]:
    """Calls that failed other than by a documented rejection or a refused stale save."""
    return [c for c in calls if c.outcome not in ("ok", "rejected", "conflict")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent Predict clients")
    parser.add_argument("--predicts", type=int, default=5, help="Predict calls per client")
    parser.add_argument("--annotators", type=int, default=16, help="annotators saving at once")
    parser.add_argument("--saves", type=int, default=5, help="saves per client")
    parser.add_argument("--shared", type=int, default=4,
                        help="extra clients saving as one annotator (conflicts)")
    parser.add_argument("--overload", type=int, default=40,
                        help="simultaneous Predict calls on a small-queue app (0: skip)")
    parser.add_argument("--overload-queue", type=int, default=8)
    parser.add_argument("--bundle", default="phantom-demo-combined-svm",
                        help="bundle name in the weights folder (its examples/ are used)")
    parser.add_argument("--weights-dir", default=None,
                        help="default: $EUSGIST_WEIGHTS_DIR, else weights/")
    parser.add_argument("--database-url", default=None,
                        help="default: a throwaway SQLite database")
    parser.add_argument("--max-seconds", type=float, default=600,
                        help="no new request after this long in a phase")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--in-process", action="store_true",
                        help="serve from this process (clients and server share the GIL)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "gradio_client", "eusgist.ui.annotate_actions", "eusgist.ui.errors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import torch

    torch.set_num_threads(args.torch_threads)
    work = Path(tempfile.mkdtemp(prefix="eusgist-load-"))
    os.environ["EUSGIST_DATABASE_URL"] = args.database_url or f"sqlite:///{work / 'load.sqlite'}"
    if args.weights_dir:
        os.environ["EUSGIST_WEIGHTS_DIR"] = args.weights_dir
    cases = examples(args.bundle)
    results: dict[str, object] = {"settings": {k: str(v) for k, v in vars(args).items()}}
    all_calls: list[Call] = []
    with serve(in_process=args.in_process, torch_threads=args.torch_threads,
               log_path=work / "server.log") as url:
        log.info("app at %s; warming up %s", url, args.bundle)
        predict_load(url, args.bundle, cases, 1, 1, time.perf_counter() + 600)  # load once
        calls, wall = predict_load(url, args.bundle, cases, args.clients, args.predicts,
                                   time.perf_counter() + args.max_seconds)
        results["predict"] = {"wall_s": round(wall, 2), **summary(calls, wall)}
        all_calls += calls
        log.info("predict: %s", json.dumps(results["predict"]))
        calls, wall, ledger = save_load(url, cases[0][0], work, args.annotators, args.saves,
                                        args.shared, time.perf_counter() + args.max_seconds)
        results["save"] = {"wall_s": round(wall, 2), **summary(calls, wall)}
        all_calls += calls
        log.info("save: %s", json.dumps(results["save"]))
        check = verify_saves(ledger)
        results["store"] = {k: v if isinstance(v, int) else len(v) for k, v in check.items()}
        log.info("store: %s", results["store"])
    if args.overload:
        calls, wall = overload(args.bundle, cases[0], args.overload, args.overload_queue,
                               in_process=args.in_process, log_path=work / "overload.log")
        results["overload"] = {"wall_s": round(wall, 2), **summary(calls, wall)}
        all_calls += calls
        log.info("overload: %s", json.dumps(results["overload"]))
    bad = failures(all_calls)
    results["failed_requests"] = len(bad)
    results["failures_by_kind"] = dict(Counter(c.outcome for c in bad))
    results["server_logs"] = str(work)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    lost = results["store"]["lost"] + results["store"]["corrupt"]  # type: ignore[index]
    if bad or lost:
        raise SystemExit(f"{len(bad)} failed request(s), {lost} lost or corrupt save(s)")


if __name__ == "__main__":
    main()
