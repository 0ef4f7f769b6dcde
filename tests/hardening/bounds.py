"""Bounds every hostile input must respect: a clear error, quickly, in bounded memory, with
nothing written outside the folder it was given.

``refused(fn, ...)`` is the one assertion the bad-input corpus uses for every entry point.
"""

from __future__ import annotations

import os
import resource
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: Wall-clock seconds one refusal may take (generous: the machine is shared and loaded).
SECONDS = 20.0
#: Peak Python/numpy allocation one refusal may make.
TRACED_MB = 256
#: Growth of the process's resident high-water mark one refusal may cause.
RSS_MB = 512


@dataclass(frozen=True)
class Refusal:
    """What a refused input cost."""

    error: BaseException
    seconds: float
    traced_mb: float
    rss_growth_mb: float


def _tree(folders: Iterable[Path]) -> set[Path]:
    files: set[Path] = set()
    for folder in folders:
        if folder.exists():
            files.update(p for p in folder.rglob("*"))
    return files


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refused(
    fn: Callable[..., object],
    *args: object,
    errors: type[BaseException] | tuple[type[BaseException], ...] = (ValueError, OSError),
    match: Iterable[str] = (),
    watch: Iterable[Path] = (),
    seconds: float = SECONDS,
    traced_mb: float = TRACED_MB,
    rss_mb: float = RSS_MB,
    **kwargs: object,
) -> Refusal:
    """Call ``fn(*args, **kwargs)`` and assert it is refused within bounds.

    ``errors``: the exception types that count as a clear refusal. ``match``: words that must
    all appear in the message (case-insensitive), so the error names the problem. ``watch``:
    folders in which no file may appear or change while ``fn`` runs.
    """
    watch = [Path(p) for p in watch]
    before = {p: p.stat().st_mtime_ns for p in _tree(watch) if p.is_file()}
    cwd_before = set(os.listdir("."))
    rss_before = _max_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn(*args, **kwargs)
    except errors as exc:
        error: BaseException = exc
    else:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} accepted a hostile input")
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    message = str(error)
    assert message.strip(), f"{type(error).__name__} with an empty message"
    assert "Traceback" not in message
    for word in match:
        assert word.lower() in message.lower(), f"{word!r} not in error message {message!r}"
    assert elapsed < seconds, f"refusal took {elapsed:.1f} s (limit {seconds} s): {message}"
    traced = peak / 2**20
    assert traced < traced_mb, f"refusal allocated {traced:.0f} MB (limit {traced_mb}): {message}"
    growth = _max_rss_mb() - rss_before
    assert growth < rss_mb, f"resident memory grew {growth:.0f} MB (limit {rss_mb}): {message}"
    after = {p: p.stat().st_mtime_ns for p in _tree(watch) if p.is_file()}
    assert after == before, f"files changed under {watch}: {sorted(set(after) ^ set(before))}"
    assert set(os.listdir(".")) == cwd_before, "files appeared in the working directory"
    return Refusal(error, elapsed, traced, growth)
