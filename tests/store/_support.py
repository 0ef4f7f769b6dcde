"""Helpers shared by the store tests, and the worker run in child processes.

As a script: ``python _support.py URL IMAGE_ID MODE WORKER N`` saves N revisions
(MODE ``own``: to annotator ``w<WORKER>``, each with the exact expected revision;
``shared``: all workers to annotator ``shared``, re-reading and retrying on conflicts;
``both``: own, then shared), or with MODE ``hang`` stops inside the transaction of a
save, after the new revision's rows are written and before the commit, printing
``IN-TRANSACTION`` and waiting to be killed.
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np
from PIL import Image

SHAPE = (8, 40)  # 32 value bits + a marker pixel fit in the first row and a half


def png_bytes(array: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of ``array``."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def random_png(seed: int, shape: tuple[int, int] = SHAPE) -> bytes:
    """A distinct small noise image per seed."""
    return png_bytes(np.random.default_rng(seed).integers(0, 256, shape))


def value_mask(value: int) -> np.ndarray:
    """A non-empty mask whose first 32 pixels spell ``value`` in binary."""
    flat = np.zeros(SHAPE[0] * SHAPE[1], bool)
    flat[:32] = [(value >> bit) & 1 for bit in range(32)]
    flat[-1] = True
    return flat.reshape(SHAPE)


def mask_value(mask: np.ndarray) -> int:
    """Inverse of :func:`value_mask`."""
    bits = mask.reshape(-1)[:32]
    return int(sum(int(b) << i for i, b in enumerate(bits)))


def save_many(store, image_id: int, mode: str, worker: int, n: int) -> None:  # noqa: ANN001
    """The work of one thread or process (see the module docstring)."""
    from eusgist.store import ConflictError

    if mode == "both":
        save_many(store, image_id, "own", worker, n)
        mode = "shared"
    if mode == "own":
        for i in range(n):
            store.save_annotation(image_id, f"w{worker}", value_mask(worker * 1000 + i), "brush", expected_revision=i)
        return
    done = 0
    while done < n:
        mine = [a for a in store.annotations(image_id) if a.owner == "shared"]
        current = mine[0].revision if mine else 0
        try:
            store.save_annotation(image_id, "shared", value_mask(worker * 1000 + done), "brush", current)
        except ConflictError:
            continue
        done += 1


def _die_in_transaction(store, image_id: int) -> None:  # noqa: ANN001
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    def at_flush(session: Session, _context: object) -> None:
        if not any(type(o).__name__ == "Revision" for o in session.new):
            return
        print("IN-TRANSACTION", flush=True)
        time.sleep(600)

    event.listen(Session, "after_flush", at_flush)
    store.save_annotation(image_id, "victim", value_mask(999), "brush")


if __name__ == "__main__":
    from eusgist.store import open_store

    url, image, mode, worker, count = sys.argv[1:6]
    opened = open_store(url, migrate=False)
    if mode == "hang":
        _die_in_transaction(opened, int(image))
    else:
        save_many(opened, int(image), mode, int(worker), int(count))
    opened.close()
