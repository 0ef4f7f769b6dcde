"""The Annotate tab's history endpoints: preview and restore a revision (gradio_client).

Each ``Client`` is one browser session with its own loaded image and revision.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from eusgist.masks import PALETTE
from eusgist.store import open_store

BLANK_FORM = (None,) * 9  # the reader's description after the diagnosis
BLANK_CASE = (None, False, None, None)


def _png(array: np.ndarray, path: Path) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def _box(tmp_path: Path, x0: int, y0: int, x1: int, y1: int) -> tuple[str, np.ndarray]:
    mask = np.zeros((48, 64), bool)
    mask[y0:y1, x0:x1] = True
    return _png(mask.astype(np.uint8) * 255, tmp_path / f"box{x0}_{y0}.png"), mask


def _editor(layer: str) -> dict:
    return {"background": None, "layers": [handle_file(layer)], "composite": None}


def _session(app_url: str, image_id: int, who: str) -> Client:
    client = Client(app_url, verbose=False)
    client.predict(image_id, 1.0, who, api_name="/annotate_load")
    return client


def _save(client: Client, layer: str, who: str, *, submit: bool = False,
          diagnosis: str | None = None) -> str:
    return client.predict(_editor(layer), who, diagnosis, *BLANK_FORM, *BLANK_CASE, submit, "",
                          api_name="/annotate_save")


@pytest.fixture
def image_id(app_url: str, tmp_path: Path) -> int:
    pixels = np.random.default_rng(11).integers(0, 255, (48, 64), dtype=np.uint8)
    log = Client(app_url, verbose=False).predict(
        [handle_file(_png(pixels, tmp_path / "history.png"))], "", "", 0, "hana",
        api_name="/annotate_upload")
    return int(re.search(r"image (\d+)", log).group(1))


def test_preview_and_restore_own_revision(
    app_url: str, image_id: int, tmp_path: Path, annotation_database: str
) -> None:
    first_png, first = _box(tmp_path, 5, 5, 20, 15)
    second_png, _ = _box(tmp_path, 30, 20, 60, 40)
    hana = _session(app_url, image_id, "hana")
    assert "Saved revision 1" in _save(hana, first_png, "hana")
    assert "Saved revision 2" in _save(hana, second_png, "hana")

    picture, caption = hana.predict(1, None, 1.0, "hana", api_name="/annotate_preview_revision")
    assert caption.startswith("Revision 1 of hana's annotation") and f"{first.sum()} px" in caption
    shown = np.asarray(Image.open(picture).convert("RGB"))
    assert shown.shape == (48, 64, 3) and tuple(shown[5, 5]) == PALETTE[0]  # outline
    with pytest.raises(Exception, match="has no revision 7"):
        hana.predict(7, None, 1.0, "hana", api_name="/annotate_preview_revision")

    _, latest = hana.predict(None, None, 1.0, "hana", api_name="/annotate_preview_revision")
    assert latest.startswith("Revision 2 of hana's annotation")  # blank: the latest
    editor, message = hana.predict(1, None, 1.0, "hana", api_name="/annotate_restore")
    assert message.startswith("Restored revision 1 of hana's annotation as revision 3")
    assert "It is a draft" in message
    store = open_store(annotation_database)
    own = next(a for a in store.annotations(image_id) if a.owner == "hana")
    assert own.revision == 3 and own.status == "draft"
    assert np.array_equal(store.mask(own.id, 3), first)
    layer = np.asarray(Image.open(editor["layers"][0]))
    assert layer.shape[2] == 4 and np.array_equal(layer[:48, :64, 3] > 0, first)
    assert (layer[..., 3] > 0).sum() == first.sum()  # the padding is transparent
    # The session now starts from revision 3: saving the restored layer as sent is revision 4.
    assert "Saved revision 4" in _save(hana, editor["layers"][0], "hana")
    assert np.array_equal(store.mask(own.id, 4), first)


def test_stale_restore_is_refused(app_url: str, image_id: int, tmp_path: Path) -> None:
    first_png, _ = _box(tmp_path, 5, 5, 20, 15)
    second_png, _ = _box(tmp_path, 30, 20, 60, 40)
    stale = _session(app_url, image_id, "ivan")
    assert "Saved revision 1" in _save(stale, first_png, "ivan")
    fresh = _session(app_url, image_id, "ivan")
    assert "Saved revision 2" in _save(fresh, second_png, "ivan")
    with pytest.raises(Exception, match="Not restored: someone saved a newer revision"):
        stale.predict(1, None, 1.0, "ivan", api_name="/annotate_restore")
    history = fresh.predict("ivan", api_name="/annotate_history")
    assert [row[0] for row in history["data"]] == [1, 2]


def test_others_revisions_are_for_reviewers(
    app_url: str, image_id: int, tmp_path: Path, annotation_database: str
) -> None:
    mask_png, mask = _box(tmp_path, 10, 10, 30, 30)
    assert "Saved revision 1" in _save(_session(app_url, image_id, "jo"), mask_png, "jo")
    store = open_store(annotation_database)
    jo = next(a for a in store.annotations(image_id) if a.owner == "jo")

    kim = _session(app_url, image_id, "kim")
    with pytest.raises(Exception, match="kim has no annotation of image"):
        kim.predict(1, None, 1.0, "kim", api_name="/annotate_preview_revision")
    for endpoint in ("/annotate_preview_revision", "/annotate_restore"):
        with pytest.raises(Exception, match="kim is not a reviewer"):
            kim.predict(1, jo.id, 1.0, "kim", api_name=endpoint)
    assert all(a.owner != "kim" for a in store.annotations(image_id))

    reviewer = _session(app_url, image_id, "reviewer")
    _, caption = reviewer.predict(1, jo.id, 1.0, "reviewer",
                                  api_name="/annotate_preview_revision")
    assert caption.startswith(f"Revision 1 of jo's annotation {jo.id}")
    _, message = reviewer.predict(1, jo.id, 1.0, "reviewer", api_name="/annotate_restore")
    assert message.startswith("Restored revision 1 of jo's annotation as revision 1 of reviewer's")
    fork = next(a for a in store.annotations(image_id) if a.owner == "reviewer")
    assert np.array_equal(store.mask(fork.id), mask)
    assert store.get_annotation(jo.id).revision == 1  # jo's own annotation is untouched


def test_restoring_a_submitted_annotation_keeps_it_in_review(
    app_url: str, image_id: int, tmp_path: Path, annotation_database: str
) -> None:
    first_png, first = _box(tmp_path, 5, 5, 20, 15)
    second_png, _ = _box(tmp_path, 30, 20, 60, 40)
    lea = _session(app_url, image_id, "lea")
    _save(lea, first_png, "lea", submit=True, diagnosis="GIST")
    _save(lea, second_png, "lea", submit=True, diagnosis="leiomyoma")
    _, message = lea.predict(1, None, 1.0, "lea", api_name="/annotate_restore")
    assert "It is submitted for review" in message
    store = open_store(annotation_database)
    own = next(a for a in store.annotations(image_id) if a.owner == "lea")
    assert (own.revision, own.status) == (3, "submitted")
    assert store.reading(own.id)["diagnosis"] == "GIST"  # the reading came back with the mask
    reviewer = Client(app_url, verbose=False)
    assert "is now accepted" in reviewer.predict(own.id, "accept", "", "reviewer",
                                                 api_name="/annotate_decide")
