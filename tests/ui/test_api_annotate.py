"""The Annotate tab's API endpoints, driven with gradio_client against the running app.

Each ``Client`` is one browser session (its own ``gr.State``: loaded image and revision).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from eusgist.store import open_store

#: A reader's own description (the form after the diagnosis) and the reviewers' case record.
FORM = ("body", "muscularis propria", "heterogeneous", "oval", 23.5, 14.0, "no", "no", "yes")
BLANK_FORM = (None,) * 9
CASE = ("GIST", True, 58, "M")
BLANK_CASE = (None, False, None, None)


def _png(array: np.ndarray, path: Path) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def _image(tmp_path: Path, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return _png(rng.integers(0, 255, (48, 64), dtype=np.uint8), tmp_path / f"eus{seed}.png")


def _mask(tmp_path: Path, box: tuple[int, int, int, int], name: str) -> tuple[str, np.ndarray]:
    mask = np.zeros((48, 64), bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return _png(mask.astype(np.uint8) * 255, tmp_path / name), mask


def _editor(mask_path: str) -> dict:
    return {"background": None, "layers": [handle_file(mask_path)], "composite": None}


def _upload(client: Client, path: str, name: str = "alice") -> int:
    log = client.predict([handle_file(path)], "", "", 0, name, api_name="/annotate_upload")
    return int(re.search(r"image (\d+)", log).group(1))


def _save(client: Client, mask_path: str, name: str, label: str | None = "GIST",
          form: tuple = FORM, case: tuple = BLANK_CASE) -> str:
    return client.predict(_editor(mask_path), name, label, *form, *case, True, "",
                          api_name="/annotate_save")


def _values(updates: tuple) -> tuple:
    """The values of the case record's outputs (updates that also lock them)."""
    return tuple(u["value"] if isinstance(u, dict) else u for u in updates)


@pytest.fixture
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def test_annotate_review_and_export(app_url: str, client: Client, tmp_path: Path) -> None:
    iid = _upload(client, _image(tmp_path, 1))
    table = client.predict("todo", "alice", api_name="/annotate_worklist")
    assert iid in [row[0] for row in table["data"]]

    loaded = client.predict(iid, 1.0, "alice", api_name="/annotate_load")
    editor, description, label = loaded[:3]
    assert f"Image {iid}" in description and "no annotation of yours yet" in description
    assert label is None and Path(editor["background"]).exists()
    alice_png, alice = _mask(tmp_path, (10, 10, 30, 30), "alice.png")
    assert "Saved revision 1 of alice's annotation" in _save(client, alice_png, "alice")
    history = client.predict("alice", api_name="/annotate_history")
    assert [row[0] for row in history["data"]] == [1]
    assert history["data"][0][2] == alice.sum()
    reopened = client.predict(iid, 1.5, "alice", api_name="/annotate_load")
    assert "your revision 1 (submitted)" in reopened[1]
    assert reopened[2] == "GIST" and tuple(reopened[3:12]) == FORM  # her own reading
    assert _values(reopened[12:16]) == BLANK_CASE and reopened[16] == 1

    bob = Client(app_url, verbose=False)
    # Annotators work blind: others' submissions, masks and the export are for reviewers.
    with pytest.raises(Exception, match="bob is not a reviewer; only reviewers may see"):
        bob.predict("needs_review", "bob", api_name="/annotate_worklist")
    reviewer = Client(app_url, verbose=False)
    to_review = reviewer.predict("needs_review", "reviewer", api_name="/annotate_worklist")
    assert ("alice", "submitted") in [(row[6], row[4]) for row in to_review["data"]]
    assert "bob: annotator" in bob.predict("bob", api_name="/annotate_role")
    assert "reviewer: reviewer" in reviewer.predict("reviewer", api_name="/annotate_role")
    seen = bob.predict(iid, 1.0, "bob", api_name="/annotate_load")  # bob reads blind
    assert "no annotation of yours yet" in seen[1] and "alice" not in seen[1]
    assert seen[2:12] == (None,) * 10 and _values(seen[12:16]) == BLANK_CASE
    assert iid in [row[0] for row in bob.predict("todo", "bob", api_name="/annotate_worklist")
                   ["data"]]
    bob_png, bob_mask = _mask(tmp_path, (20, 10, 40, 30), "bob.png")
    with pytest.raises(Exception, match="bob is not a reviewer; only reviewers record the path"):
        _save(bob, bob_png, "bob", case=CASE)
    assert "bob's annotation" in _save(bob, bob_png, "bob", label="leiomyoma", form=BLANK_FORM)
    seen = client.predict(iid, 1.0, "alice", api_name="/annotate_load")
    assert "also annotated" not in seen[1] and seen[2] == "GIST"  # bob's reading stays his
    # The reviewer sees everyone and records the pathology result.
    full = reviewer.predict(iid, 1.0, "reviewer", api_name="/annotate_load")
    assert "(reviewer)" in full[1] and "also annotated by alice, bob" in full[1]
    rev_png, _ = _mask(tmp_path, (12, 12, 28, 28), "reviewer.png")
    assert "reviewer's annotation" in _save(reviewer, rev_png, "reviewer", label=None,
                                            form=BLANK_FORM, case=CASE)
    assert _values(reviewer.predict(iid, 1.0, "reviewer",
                                    api_name="/annotate_load")[12:16]) == CASE
    assert _values(bob.predict(iid, 1.0, "bob", api_name="/annotate_load")[12:16]) == BLANK_CASE

    with pytest.raises(Exception, match="only reviewers may compare"):
        bob.predict(iid, 1.0, "bob", api_name="/annotate_review")
    picture, agreement, annotations, choice = reviewer.predict(
        iid, 1.0, "reviewer", api_name="/annotate_review")
    dice = 2 * (alice & bob_mask).sum() / (alice.sum() + bob_mask.sum())
    assert agreement["data"][0] == ["alice", "bob", round(dice, 4), round(dice / (2 - dice), 4)]
    assert [row[1] for row in annotations["data"]] == ["alice", "bob", "reviewer"]
    assert [row[6] for row in annotations["data"]][:2] == ["GIST", "leiomyoma"]
    assert np.asarray(Image.open(picture)).shape == (48, 64, 3)
    alice_id = annotations["data"][0][0]
    with pytest.raises(Exception, match="not a reviewer"):
        bob.predict(alice_id, "accept", "", "bob", api_name="/annotate_decide")
    accepted = reviewer.predict(alice_id, "accept", "good", "reviewer",
                                api_name="/annotate_decide")
    assert "is now accepted" in accepted

    with pytest.raises(Exception, match="only reviewers may export"):
        client.predict(False, False, "alice", api_name="/annotate_export")
    message, archive = reviewer.predict(False, False, "reviewer", api_name="/annotate_export")
    assert "Exported" in message
    with zipfile.ZipFile(archive) as zf:
        manifest = pd.read_csv(io.BytesIO(zf.read("manifest.csv")))
        row = manifest[manifest["annotator"] == "alice"].iloc[0]
        exported = np.asarray(Image.open(io.BytesIO(zf.read(row["mask"])))) > 0
    assert row["label"] == "GIST" and row["annotation_status"] == "accepted"
    assert row["label_source"] == "pathology" and row["age"] == 58
    assert row["long_diameter_mm"] == 23.5 and row["location"] == "body"
    assert np.array_equal(exported, alice)


def test_bad_input_gives_clear_errors_and_loses_nothing(
    app_url: str, client: Client, tmp_path: Path, annotation_database: str
) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    log = client.predict([handle_file(str(text))], "", "", 0, "", api_name="/annotate_upload")
    assert "0 added" in log and "failed: notes.png" in log
    with pytest.raises(Exception, match="enter your name"):
        client.predict(1, 1.0, "", api_name="/annotate_load")
    with pytest.raises(Exception, match="unknown image id 99999"):
        client.predict(99999, 1.0, "carol", api_name="/annotate_load")

    iid = _upload(client, _image(tmp_path, 2), "carol")
    client.predict(iid, 1.0, "carol", api_name="/annotate_load")
    first_png, first = _mask(tmp_path, (5, 5, 15, 15), "first.png")
    empty_png, _ = _mask(tmp_path, (0, 0, 0, 0), "empty.png")
    with pytest.raises(Exception, match="enter your name"):
        _save(client, first_png, "")
    with pytest.raises(Exception, match="mask is empty"):
        _save(client, empty_png, "carol")
    _save(client, first_png, "carol", label=None, form=BLANK_FORM)

    other_tab = Client(app_url, verbose=False)  # carol again, in a second browser tab
    other_tab.predict(iid, 1.0, "carol", api_name="/annotate_load")
    second_png, second = _mask(tmp_path, (5, 5, 25, 25), "second.png")
    _save(other_tab, second_png, "carol", label=None, form=BLANK_FORM)
    with pytest.raises(Exception, match="someone saved a newer revision"):
        _save(client, first_png, "carol", label=None, form=BLANK_FORM)
    with pytest.raises(Exception, match=r"long_diameter_mm: 999 is outside \[0, 500\]"):
        _save(other_tab, second_png, "carol", label=None, form=(None,) * 4 + (999,) + (None,) * 4)

    store = open_store(annotation_database)
    own = next(a for a in store.annotations(iid) if a.owner == "carol")
    assert own.revision == 2
    assert np.array_equal(store.mask(own.id), second)
    assert np.array_equal(store.mask(own.id, 1), first)
    assert store.reading(own.id)["long_diameter_mm"] is None


def test_box_tool_and_contrast(client: Client, tmp_path: Path) -> None:
    iid = _upload(client, _image(tmp_path, 3), "erin")
    client.predict(iid, 1.0, "erin", api_name="/annotate_load")
    with pytest.raises(Exception, match="covers no pixel"):
        client.predict(None, "500,500 600,600", 1.0, api_name="/annotate_shape")
    editor = client.predict(None, "10,10 30,20", 1.0, api_name="/annotate_shape")
    editor = {"background": handle_file(editor["background"]),
              "layers": [handle_file(x) for x in editor["layers"]], "composite": None}
    brighter = client.predict(editor, 2.0, api_name="/annotate_contrast")
    assert np.asarray(Image.open(brighter["composite"])).shape[:2] == (48, 64)
    layer = np.asarray(Image.open(brighter["layers"][0]))
    assert (layer[..., 3] > 0).sum() == 21 * 11  # corners inclusive
    payload = {"background": None, "layers": [handle_file(brighter["layers"][0])],
               "composite": None}
    client.predict(payload, "erin", None, *BLANK_FORM, *BLANK_CASE, False, "box",
                   api_name="/annotate_save")
    history = client.predict("erin", api_name="/annotate_history")
    assert history["data"][0][:4] == [1, "polygon", 21 * 11, "box"]
