"""Writing a folder all or nothing: fill a temporary folder beside the target, then swap.

:func:`atomic_dir` is the one place that does it, for the evaluation report
(:func:`eusgist.report.write_report`) and the paper report (:mod:`eusgist.report.paper`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eusgist.errors import EusgistError


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Raise EusgistError unless ``out`` can be (re)written as a report folder."""
    if out.exists() and not out.is_dir():
        raise EusgistError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise EusgistError(f"{out} exists and is not empty (pass --overwrite to replace it)")


@contextmanager
def atomic_dir(out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out_dir`` that becomes ``out_dir`` on success.

    On leaving the block normally, the temporary folder is renamed to ``out_dir`` (an existing
    ``out_dir`` is moved aside first and removed after); on any exception it is removed and
    ``out_dir`` is left as it was.

    Raises
    ------
    EusgistError
        ``out_dir`` is a file, or a non-empty folder and ``overwrite`` is False.
    """
    out = Path(out_dir)
    check_out_dir(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(new: Path, out: Path) -> None:
    if out.is_dir():
        old = new.with_suffix(".old")
        out.rename(old)
        new.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(out)


def write_json(path: Path, obj: object) -> None:
    """Write ``obj`` as indented JSON (UTF-8, no NaN) with a final newline."""
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")
