"""Pictures handed to the browser are content-named, written atomically and expire."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eusgist.ui import annotate_pictures as pictures


def test_pictures_are_content_named_and_old_ones_expire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pictures, "PICTURE_DIR", tmp_path)
    stale = tmp_path / "stale.png"
    stale.write_bytes(b"old patient image")
    old = time.time() - pictures.PICTURE_MAX_AGE - 60
    os.utime(stale, (old, old))

    picture = np.arange(12, dtype=np.uint8).reshape(3, 4)
    first = pictures.picture_file(picture)
    assert pictures.picture_file(picture) == first  # same content, same file
    assert np.array_equal(np.asarray(Image.open(first)), picture)
    assert not stale.exists()  # pruned when a new picture was written
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(first).name]  # no .part left
    assert pictures.prune_pictures(now=time.time() + 2 * pictures.PICTURE_MAX_AGE) == 1


def test_backgrounds_are_remembered_per_image_and_contrast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pictures, "PICTURE_DIR", tmp_path)
    monkeypatch.setattr(pictures, "_files", {})
    reads = []

    class Store:
        url = "sqlite:///test"

        def load_image(self, image_id: int):  # noqa: ANN202 - a LoadedImage stand-in
            reads.append(image_id)
            return type("Loaded", (), {"array": np.full((3, 4), 100, np.uint8)})()

    first = pictures.background_file(Store(), 1, 1.0)
    assert pictures.background_file(Store(), 1, 1.0) == first and reads == [1]
    brighter = pictures.background_file(Store(), 1, 2.0)
    assert brighter != first and reads == [1, 1]
    Path(first).unlink()  # pruned meanwhile: written again
    assert Path(pictures.background_file(Store(), 1, 1.0)).is_file() and reads == [1, 1, 1]
    value, extent = pictures.editor_value(first, np.zeros((3, 4), bool), (2, 2))
    assert extent == (3, 4) and value["background"] == first
    assert np.asarray(Image.open(value["layers"][0])).shape == (3, 4, 4)
