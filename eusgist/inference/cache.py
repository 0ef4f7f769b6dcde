"""The feature cache: features of recently predicted images, keyed on content."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping

import numpy as np


class FeatureCache:
    """Thread-safe LRU of features by image content: a re-run of the same image (and mask),
    or the same image under another model with the same extractor settings, reuses them."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, dict[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> dict[str, float]:
        """A copy of the features stored under `key` (empty if none)."""
        with self._lock:
            if key not in self._items:
                return {}
            self._items.move_to_end(key)
            return dict(self._items[key])

    def add(self, key: Hashable, features: Mapping[str, float]) -> None:
        """Store (merge) `features` under `key`, evicting the least recently used."""
        with self._lock:
            self._items.setdefault(key, {}).update(features)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


#: Features of recently predicted images (see :class:`FeatureCache`).
FEATURE_CACHE = FeatureCache()


def digest(array: np.ndarray | None) -> str:
    """Content hash of an array (shape and dtype included)."""
    if array is None:
        return "-"
    a = np.ascontiguousarray(array)
    h = hashlib.blake2b(f"{a.shape}{a.dtype}".encode(), digest_size=16)
    h.update(a.data)
    return h.hexdigest()

