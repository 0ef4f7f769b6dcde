"""Blind reading at the store level: each reader's own reading, the reviewers' case record,
what an annotator may see, restore keeping the review state, and the export's labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _support import SHAPE, random_png, value_mask

from eusgist.store import READER_FIELDS, AnnotationStore, NotAllowedError
from eusgist.store.export import export_annotations

ALICE = {"diagnosis": "GIST", "echo_pattern": "heterogeneous", "long_diameter_mm": 23.9,
         "short_diameter_mm": 15.0, "lobulation": "yes"}
BOB = {"diagnosis": "leiomyoma", "shape": "oval", "short_diameter_mm": 7.5}


@pytest.fixture
def image_id(store: AnnotationStore) -> int:
    store.add_annotator("rita", "reviewer")
    return store.add_image(random_png(1), name="a.png", patient="P1", lesion="L1").image.id


def _case_record(store: AnnotationStore, image_id: int) -> None:
    store.set_label(image_id, "GIST", annotator="rita", pathology_confirmed=True)
    store.set_metadata(image_id, {"age": 58, "sex": "M", "location": "body"}, annotator="rita")


def test_readings_are_each_readers_own_and_versioned(
    store: AnnotationStore, image_id: int
) -> None:
    a = store.save_annotation(image_id, "alice", value_mask(1), "brush", reading=ALICE)
    b = store.save_annotation(image_id, "bob", value_mask(2), "brush", reading=BOB)
    assert set(a.reading) == set(READER_FIELDS) and a.reading["lobulation"] is True
    assert store.reading(a.annotation_id) == {**dict.fromkeys(READER_FIELDS),
                                              **ALICE, "lobulation": True}
    assert store.reading(b.annotation_id)["diagnosis"] == "leiomyoma"
    # A save without a reading keeps the previous one; a new reading is a new revision's.
    store.save_annotation(image_id, "alice", value_mask(3), "brush")
    assert store.reading(a.annotation_id)["diagnosis"] == "GIST"
    store.save_annotation(image_id, "alice", value_mask(4), "brush", reading={"diagnosis": "other"})
    assert store.reading(a.annotation_id) == {**dict.fromkeys(READER_FIELDS), "diagnosis": "other"}
    assert store.reading(a.annotation_id, 1)["long_diameter_mm"] == 23.9
    # Nobody's reading touches the case record.
    info = store.get_image(image_id)
    assert info.label is None and all(v is None for v in info.metadata.values())


def test_an_annotator_sees_only_the_image_and_their_own_work(
    store: AnnotationStore, image_id: int
) -> None:
    _case_record(store, image_id)
    store.save_annotation(image_id, "alice", value_mask(1), "brush", reading=ALICE)
    seen = store.image_for(image_id, "bob")  # bob has not annotated yet
    assert (seen.label, seen.pathology_confirmed) == (None, False)
    assert all(v is None for v in seen.metadata.values())
    assert (seen.patient, seen.lesion, seen.width) == ("P1", "L1", SHAPE[1])
    assert store.annotations_for(image_id, "bob") == []
    store.save_annotation(image_id, "bob", value_mask(2), "brush", reading=BOB)
    assert [a.owner for a in store.annotations_for(image_id, "bob")] == ["bob"]
    # Reviewers see everything.
    full = store.image_for(image_id, "rita")
    assert (full.label, full.pathology_confirmed, full.metadata["age"]) == ("GIST", True, 58)
    assert [a.owner for a in store.annotations_for(image_id, "rita")] == ["alice", "bob"]
    # Only reviewers write the case record; a refusal changes nothing.
    with pytest.raises(NotAllowedError, match="bob is not a reviewer; only reviewers may record"):
        store.set_label(image_id, "leiomyoma", annotator="bob")
    with pytest.raises(NotAllowedError, match="bob is not a reviewer"):
        store.set_metadata(image_id, {"age": 30}, annotator="bob")
    assert store.get_image(image_id) == full


def test_todo_worklist_is_per_annotator(store: AnnotationStore, image_id: int) -> None:
    other = store.add_image(random_png(2), name="b.png", patient="P2", lesion="L7").image.id
    store.save_annotation(image_id, "alice", value_mask(1), "brush")
    assert [w.image_id for w in store.list_worklist("alice", "todo")] == [other]
    todo = store.list_worklist("bob", "todo")  # alice's work does not take it off bob's list
    assert [(w.image_id, w.image_name, w.patient, w.lesion) for w in todo] == [
        (image_id, "a.png", "P1", "L1"), (other, "b.png", "P2", "L7")]
    [mine] = store.list_worklist("alice", "mine")
    assert (mine.patient, mine.lesion, mine.status) == ("P1", "L1", "draft")


@pytest.mark.parametrize(("before", "after"), [
    ("draft", "draft"), ("submitted", "submitted"), ("accepted", "submitted"),
    ("rejected", "submitted"),
])
def test_restore_keeps_the_annotation_in_review(
    store: AnnotationStore, image_id: int, before: str, after: str
) -> None:
    first = store.save_annotation(image_id, "alice", value_mask(1), "brush", reading=ALICE,
                                  submit=before != "draft")
    store.save_annotation(image_id, "alice", value_mask(2), "brush", reading=BOB,
                          submit=before != "draft")
    if before in ("accepted", "rejected"):
        store.review(first.annotation_id, "rita", "accept" if before == "accepted" else "reject")
    restored = store.restore(first.annotation_id, 1, "alice", expected_revision=2)
    ann = store.get_annotation(first.annotation_id)
    assert (restored.number, ann.status, ann.reviewed_by) == (3, after, None)
    assert store.reading(first.annotation_id)["diagnosis"] == "GIST"  # the reading came back
    assert np.array_equal(store.mask(first.annotation_id), value_mask(1))
    if after == "submitted":  # a reviewer can act on it
        assert store.review(first.annotation_id, "rita", "accept").status == "accepted"


def test_merge_leaves_drafts_out(store: AnnotationStore, image_id: int) -> None:
    store.save_annotation(image_id, "alice", value_mask(1), "brush", submit=True)
    store.save_annotation(image_id, "bob", value_mask(2), "brush")  # a draft
    merged = store.merge(image_id, "rita", method="union")
    assert np.array_equal(store.mask(merged.annotation_id), value_mask(1))


def test_export_labels_pathology_first_then_the_readers_impression(
    store: AnnotationStore, image_id: int, tmp_path: Path
) -> None:
    store.save_annotation(image_id, "alice", value_mask(1), "brush", reading=ALICE, submit=True)
    second = store.add_image(random_png(3), name="c.png").image.id
    store.save_annotation(second, "bob", value_mask(2), "brush", reading=BOB, submit=True)
    _case_record(store, second)  # pathology says GIST although bob read leiomyoma
    export_annotations(store, tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "manifest.csv").set_index("annotator")
    assert table.loc["alice", ["label", "label_source"]].tolist() == ["GIST", "reader"]
    assert table.loc["alice", "long_diameter_mm"] == 23.9
    assert table.loc["bob", ["label", "label_source"]].tolist() == ["GIST", "pathology"]
    assert table.loc["bob", "shape"] == "oval" and table.loc["bob", "age"] == 58
