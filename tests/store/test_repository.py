"""AnnotationStore behaviour on SQLite and PostgreSQL: revisions, identity, review, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _support import SHAPE, png_bytes, random_png, value_mask

from eusgist.io import ImageReadError
from eusgist.store import (
    AnnotationStore,
    ConflictError,
    NotAllowedError,
    NotFoundError,
    StoreError,
)


def box(y0: int, y1: int, x0: int, x1: int, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.fixture
def image_id(store: AnnotationStore) -> int:
    return store.add_image(random_png(1), name="scan.png").image.id


def test_add_image_records_size_and_deduplicates_by_content(store: AnnotationStore) -> None:
    first = store.add_image(random_png(1), name="a.png", annotator="alice")
    again = store.add_image(random_png(1), name="copy-of-a.png")
    other = store.add_image(random_png(2), name="b.png")
    assert first.created and not again.created and other.created
    assert again.image == first.image
    assert (first.image.width, first.image.height) == (SHAPE[1], SHAPE[0])
    assert first.image.format == "png" and first.image.name == "a.png"
    assert store.image_bytes(first.image.id) == random_png(1)
    assert store.load_image(first.image.id).shape == SHAPE
    assert [i.id for i in store.list_images()] == [first.image.id, other.image.id]


def test_not_an_image_is_refused_and_nothing_stored(store: AnnotationStore) -> None:
    with pytest.raises(ImageReadError, match="notes.txt"):
        store.add_image(b"just some text, not pixels", name="notes.txt")
    assert store.list_images() == []


def test_every_save_is_a_revision_and_restore_appends_a_copy(
    store: AnnotationStore, image_id: int
) -> None:
    masks = [box(1, 4, 2, 10), box(2, 6, 5, 30), box(0, 8, 0, 3)]
    for number, mask in enumerate(masks, 1):
        rev = store.save_annotation(image_id, "alice", mask, "brush", expected_revision=number - 1)
        assert rev.number == number and rev.area == mask.sum()
    annotation = rev.annotation_id
    assert [r.number for r in store.history(annotation)] == [1, 2, 3]
    for number, mask in enumerate(masks, 1):
        assert np.array_equal(store.mask(annotation, number), mask)
    restored = store.restore(annotation, 1, "alice", expected_revision=3)
    assert (restored.number, restored.restored_from, restored.annotation_id) == (4, 1, annotation)
    assert np.array_equal(store.mask(annotation), masks[0])
    assert np.array_equal(store.mask(annotation, 3), masks[2])


def test_stale_expected_revision_raises_conflict_and_changes_nothing(
    store: AnnotationStore, image_id: int
) -> None:
    store.save_annotation(image_id, "alice", box(1, 3, 1, 3), "brush")
    rev = store.save_annotation(image_id, "alice", box(2, 5, 2, 5), "polygon", expected_revision=1)
    with pytest.raises(ConflictError, match="revision 2, not 1"):
        store.save_annotation(image_id, "alice", box(0, 8, 0, 8), "brush", expected_revision=1)
    with pytest.raises(ConflictError):
        store.restore(rev.annotation_id, 1, "alice", expected_revision=0)
    assert [r.number for r in store.history(rev.annotation_id)] == [1, 2]
    assert np.array_equal(store.mask(rev.annotation_id), box(2, 5, 2, 5))


def test_an_annotator_never_modifies_anothers_annotation(
    store: AnnotationStore, image_id: int
) -> None:
    a = store.save_annotation(image_id, "alice", box(1, 3, 1, 3), "brush")
    b = store.save_annotation(image_id, "bob", box(4, 7, 4, 9), "brush")
    with pytest.raises(NotAllowedError, match="bob is not a reviewer"):  # annotators work blind
        store.restore(a.annotation_id, 1, "bob")
    store.add_annotator("bob", "reviewer")
    fork = store.restore(a.annotation_id, 1, "bob")
    assert a.annotation_id != b.annotation_id == fork.annotation_id
    assert (fork.owner, fork.number) == ("bob", 2)
    assert [r.number for r in store.history(a.annotation_id)] == [1]
    assert np.array_equal(store.mask(a.annotation_id), box(1, 3, 1, 3))
    assert {x.owner for x in store.annotations(image_id)} == {"alice", "bob"}
    with pytest.raises(NotAllowedError, match="belongs to alice"):
        store.submit(a.annotation_id, "bob")


def test_review_needs_a_reviewer_and_one_accepted_annotation_per_image(
    store: AnnotationStore, image_id: int
) -> None:
    a = store.save_annotation(image_id, "alice", box(1, 3, 1, 3), "brush", submit=True)
    b = store.save_annotation(image_id, "bob", box(1, 4, 1, 4), "brush")
    store.add_annotator("rita", "reviewer")
    with pytest.raises(NotAllowedError, match="alice is not a reviewer"):
        store.review(a.annotation_id, "alice", "accept")
    with pytest.raises(StoreError, match="draft"):
        store.review(b.annotation_id, "rita", "accept")
    with pytest.raises(ConflictError):
        store.review(a.annotation_id, "rita", "accept", expected_revision=2)
    assert store.review(a.annotation_id, "rita", "accept").status == "accepted"
    assert store.annotators() == {"alice": "annotator", "bob": "annotator", "rita": "reviewer"}
    store.submit(b.annotation_id, "bob", expected_revision=1)
    accepted = store.review(b.annotation_id, "rita", "accept", note="tighter border")
    assert (accepted.status, accepted.reviewed_by, accepted.review_note) == (
        "accepted",
        "rita",
        "tighter border",
    )
    assert store.get_annotation(a.annotation_id).status == "submitted"
    assert store.review(a.annotation_id, "rita", "reject").status == "rejected"
    again = store.save_annotation(image_id, "alice", box(1, 2, 1, 2), "brush")
    assert store.get_annotation(again.annotation_id).status == "draft"


def test_merge_makes_the_reviewers_accepted_annotation(
    store: AnnotationStore, image_id: int
) -> None:
    store.add_annotator("rita", "reviewer")
    for name, mask in [("a", box(0, 4, 0, 4)), ("b", box(0, 4, 2, 6)), ("c", box(0, 4, 4, 8))]:
        store.save_annotation(image_id, name, mask, "brush", submit=True)
    with pytest.raises(NotAllowedError):
        store.merge(image_id, "a")
    merged = store.merge(image_id, "rita", method="majority")
    assert (merged.owner, merged.tool) == ("rita", "merge")
    votes = box(0, 4, 0, 4).astype(int) + box(0, 4, 2, 6) + box(0, 4, 4, 8)
    assert np.array_equal(store.mask(merged.annotation_id), votes >= 2)
    assert store.get_annotation(merged.annotation_id).status == "accepted"
    with pytest.raises(StoreError, match="empty"):
        store.merge(image_id, "rita", [1, 3], method="intersection")
    with pytest.raises(NotFoundError, match=r"\[99\]"):
        store.merge(image_id, "rita", [1, 99])


def test_agreement_is_dice_and_iou_of_latest_masks(store: AnnotationStore, image_id: int) -> None:
    store.save_annotation(image_id, "a", box(0, 1, 0, 10), "brush")
    store.save_annotation(image_id, "a", box(0, 2, 0, 10), "brush")  # latest: 20 pixels
    store.save_annotation(image_id, "b", box(1, 3, 0, 10), "brush")  # 20 pixels, 10 shared
    [pair] = store.agreement(image_id)
    assert (pair.a, pair.b) == ("a", "b")
    assert pair.dice == pytest.approx(2 * 10 / 40) and pair.iou == pytest.approx(10 / 30)


def test_worklists(store: AnnotationStore) -> None:
    ids = [store.add_image(random_png(seed), name=f"{seed}.png").image.id for seed in range(3)]
    store.save_annotation(ids[0], "alice", value_mask(1), "brush", submit=True)
    store.save_annotation(ids[1], "bob", value_mask(2), "brush")
    assert [w.image_id for w in store.list_worklist("alice", "unannotated")] == [ids[2]]
    [mine] = store.list_worklist("alice", "mine")
    assert (mine.image_id, mine.status, mine.revision, mine.owner) == (
        ids[0],
        "submitted",
        1,
        "alice",
    )
    store.add_annotator("rita", "reviewer")
    assert [w.image_id for w in store.list_worklist("rita", "needs_review")] == [ids[0]]
    for annotator in ("bob", "nobody"):  # others' work is for reviewers only
        with pytest.raises(NotAllowedError, match=f"{annotator} is not a reviewer"):
            store.list_worklist(annotator, "needs_review")
    with pytest.raises(StoreError, match="unknown worklist"):
        store.list_worklist("alice", "everything")  # type: ignore[arg-type]


def test_labels_and_metadata(store: AnnotationStore, image_id: int) -> None:
    store.add_annotator("rita", "reviewer")
    info = store.set_label(image_id, "GIST", annotator="rita", pathology_confirmed=True)
    assert (info.label, info.pathology_confirmed) == ("GIST", True)
    info = store.set_metadata(
        image_id,
        {
            "age": 58,
            "sex": "m",
            "echo_pattern": "Heterogeneous",
            "long_diameter_mm": "23.9",
            "lobulation": "yes",
        },
        annotator="rita",
    )
    assert info.metadata["age"] == 58 and info.metadata["sex"] == "M"
    assert (
        info.metadata["echo_pattern"] == "heterogeneous"
        and info.metadata["long_diameter_mm"] == 23.9
    )
    assert info.metadata["lobulation"] is True and info.metadata["shape"] is None
    assert store.get_image(image_id) == info
    with pytest.raises(StoreError, match="unknown label 'sarcoma'"):
        store.set_label(image_id, "sarcoma", annotator="rita")
    with pytest.raises(ValueError, match="shape: 'star'"):
        store.set_metadata(image_id, {"shape": "star"}, annotator="rita")
    with pytest.raises(ValueError, match=r"unknown metadata field\(s\) \['colour'\]"):
        store.set_metadata(image_id, {"colour": "red"}, annotator="rita")
    with pytest.raises(ValueError, match="age: 200"):
        store.set_metadata(image_id, {"age": 200}, annotator="rita")
    assert store.get_image(image_id) == info


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda s, i: s.save_annotation(i + 100, "alice", value_mask(1), "brush"),
            NotFoundError,
            "unknown image id",
        ),
        (
            lambda s, i: s.save_annotation(i, "alice", np.zeros(SHAPE, bool), "brush"),
            StoreError,
            "mask is empty",
        ),
        (
            lambda s, i: s.save_annotation(i, "alice", box(0, 2, 0, 2, (5, 5)), "brush"),
            StoreError,
            "mask size 5×5 does not match",
        ),
        (
            lambda s, i: s.save_annotation(i, "alice", np.ones((2, 2, 2)), "brush"),
            StoreError,
            "2D array",
        ),
        (
            lambda s, i: s.save_annotation(i, "alice", value_mask(1), "spray"),
            StoreError,
            "unknown tool 'spray'",
        ),
        (
            lambda s, i: s.save_annotation(i, " ", value_mask(1), "brush"),
            StoreError,
            "annotator name",
        ),
        (lambda s, i: s.save_annotation(i, "alice", b"not a png", "brush"), ImageReadError, "not"),
        (
            lambda s, i: s.set_label(i + 100, "GIST", annotator="alice"),
            NotAllowedError,
            "alice is not a reviewer; only reviewers may record the pathology result",
        ),
        (
            lambda s, i: s.set_metadata(i, {"age": 50}, annotator="alice"),
            NotAllowedError,
            "alice is not a reviewer",
        ),
        (
            lambda s, i: s.save_annotation(i, "alice", value_mask(1), "brush",
                                           reading={"diagnosis": "sarcoma"}),
            StoreError,
            "unknown diagnosis 'sarcoma'",
        ),
        (
            lambda s, i: (s.add_annotator("rita", "reviewer"),
                          s.set_label(i + 100, "GIST", annotator="rita")),
            NotFoundError,
            "unknown image id",
        ),
        (lambda s, i: s.history(12345), NotFoundError, "unknown annotation id 12345"),
        (lambda s, i: s.mask(1, 7), NotFoundError, "no revision 7"),
        (lambda s, i: s.add_annotator("x", "admin"), StoreError, "unknown role"),
    ],
)
def test_bad_input_names_the_problem_and_loses_nothing(
    store: AnnotationStore, image_id: int, call, error, message
) -> None:  # noqa: ANN001
    saved = store.save_annotation(image_id, "alice", value_mask(7), "brush")
    with pytest.raises(error, match=message):
        call(store, image_id)
    assert [r.number for r in store.history(saved.annotation_id)] == [1]
    assert np.array_equal(store.mask(saved.annotation_id), value_mask(7))


def test_mask_can_be_a_png_file(store: AnnotationStore, image_id: int) -> None:
    rev = store.save_annotation(image_id, "alice", png_bytes(value_mask(5) * 255), "import")
    assert np.array_equal(store.mask(rev.annotation_id), value_mask(5))
