"""Review, merge, worklists, agreement and the export's choice (a part of
:class:`~eusgist.store.repository.AnnotationStore`, which supplies the transactions and
the annotation and revision look-ups)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Literal

import numpy as np
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, joinedload

from eusgist.store.models import Annotation, Annotator, Image, Lesion, utcnow
from eusgist.store.records import (
    Agreement,
    AnnotationInfo,
    ImageInfo,
    NotFoundError,
    RevisionInfo,
    StoreError,
    WorklistItem,
    as_utc,
    decode_mask,
    encode_mask,
)
from eusgist.store.rows import annotation_info, check_name, image_info, revision_info

WorklistKind = Literal["todo", "unannotated", "mine", "needs_review"]
Decision = Literal["accept", "reject"]
MergeMethod = Literal["majority", "union", "intersection"]


class ReviewMixin:
    """Reviewers' decisions and merges, the worklists, agreement and the export's choice."""

    @staticmethod
    def _demote_accepted(session: Session, image_id: int, keep: int) -> None:
        for other in session.scalars(
            select(Annotation).where(
                Annotation.image_id == image_id,
                Annotation.status == "accepted",
                Annotation.id != keep,
            )
        ):
            other.status = "submitted"

    def review(
        self,
        annotation_id: int,
        reviewer: str,
        decision: Decision,
        *,
        note: str | None = None,
        expected_revision: int | None = None,
    ) -> AnnotationInfo:
        """Accept or reject a submitted annotation (reviewers only).

        ``expected_revision`` guards against reviewing a revision other than the one seen.
        """
        if decision not in ("accept", "reject"):
            raise StoreError(f"unknown review decision {decision!r}; expected 'accept' or 'reject'")

        def work(session: Session) -> AnnotationInfo:
            who = self._reviewer(session, reviewer)
            ann = session.scalar(
                select(Annotation).where(Annotation.id == annotation_id).with_for_update()
            )
            if ann is None:
                raise NotFoundError(f"unknown annotation id {annotation_id}")
            if ann.status == "draft":
                raise StoreError(
                    f"annotation {annotation_id} is a draft; its annotator must submit it first"
                )
            self._check_expected(ann, expected_revision)
            ann.status = "accepted" if decision == "accept" else "rejected"
            ann.reviewed_by, ann.reviewed_at, ann.review_note = who, utcnow(), note
            if decision == "accept":
                self._demote_accepted(session, ann.image_id, ann.id)
            return annotation_info(ann)

        return self._write(work)

    def merge(
        self,
        image_id: int,
        reviewer: str,
        annotation_ids: Sequence[int] | None = None,
        method: MergeMethod = "majority",
    ) -> RevisionInfo:
        """Combine annotations' latest masks into the reviewer's own annotation, accepted.

        ``annotation_ids`` defaults to every submitted or accepted annotation of the image
        by others (drafts are not finished); ``majority`` keeps pixels marked by more than
        half of them.
        """
        if method not in ("majority", "union", "intersection"):
            raise StoreError(
                f"unknown merge method {method!r}; expected majority, union or intersection"
            )

        def work(session: Session) -> RevisionInfo:
            who = self._reviewer(session, reviewer)
            image = self._image(session, image_id)
            query = select(Annotation).where(
                Annotation.image_id == image_id, Annotation.revision > 0
            )
            if annotation_ids is None:
                query = query.where(Annotation.status.in_(("submitted", "accepted")),
                                    Annotation.owner_id != who.id)
            else:
                query = query.where(Annotation.id.in_(list(annotation_ids)))
            sources = list(session.scalars(query.order_by(Annotation.id)))
            missing = set(annotation_ids or ()) - {a.id for a in sources}
            if missing:
                raise NotFoundError(f"image {image_id} has no annotation(s) {sorted(missing)}")
            if not sources:
                raise StoreError(f"image {image_id} has no annotations to merge")
            masks = np.stack(
                [decode_mask(self._revision(session, a.id, None).mask_png) for a in sources]
            )
            votes = masks.sum(axis=0)
            threshold = {
                "union": 1,
                "intersection": len(sources),
                "majority": len(sources) // 2 + 1,
            }[method]
            merged = votes >= threshold
            if not merged.any():
                raise StoreError(
                    f"the {method} of annotations {[a.id for a in sources]} is empty; "
                    "nothing was saved"
                )
            rev = self._append(
                session,
                image,
                who,
                encode_mask(merged),
                int(merged.sum()),
                tool="merge",
                expected_revision=None,
                status="accepted",
                note=f"{method} of annotations {[a.id for a in sources]}",
            )
            ann = rev.annotation
            ann.reviewed_by, ann.reviewed_at = who, utcnow()
            self._demote_accepted(session, image_id, ann.id)
            return revision_info(rev)

        return self._write(work)


    def list_worklist(
        self, annotator: str, kind: WorklistKind = "unannotated"
    ) -> list[WorklistItem]:
        """Images to work on, with their patient and lesion codes.

        ``todo``: images the annotator has not annotated yet; ``unannotated``: images nobody
        has annotated; ``mine``: the annotator's own annotations; ``needs_review``:
        submitted annotations by others (reviewers only).
        """
        name = check_name(annotator)
        with self._read() as session:
            if kind in ("todo", "unannotated"):
                has = exists().where(Annotation.image_id == Image.id)
                if kind == "todo":
                    has = has.where(Annotation.owner_id == Annotator.id, Annotator.name == name)
                images = session.scalars(
                    select(Image).where(~has).order_by(Image.id)
                    .options(joinedload(Image.lesion).joinedload(Lesion.patient)))
                return [WorklistItem(i.id, i.name, patient=i.lesion.patient.code,
                                     lesion=i.lesion.code) for i in images]
            query = select(Annotation).join(Annotation.owner).join(Annotation.image)
            if kind == "mine":
                query = query.where(Annotator.name == name)
            elif kind == "needs_review":
                self._reviewer(session, name, "see the annotations others submitted")
                query = query.where(Annotation.status == "submitted", Annotator.name != name)
            else:
                raise StoreError(
                    f"unknown worklist {kind!r}; expected todo, unannotated, mine or needs_review"
                )
            return [
                WorklistItem(
                    a.image_id,
                    a.image.name,
                    a.id,
                    a.owner.name,
                    a.status,
                    a.revision,
                    as_utc(a.updated_at),
                    a.image.lesion.patient.code,
                    a.image.lesion.code,
                )
                for a in session.scalars(query.order_by(Annotation.image_id, Annotation.id))
            ]

    def agreement(self, image_id: int) -> list[Agreement]:
        """Dice and IoU between every pair of annotators' latest masks (rejected ones left out)."""
        with self._read() as session:
            self._image(session, image_id)
            query = select(Annotation).where(
                Annotation.image_id == image_id,
                Annotation.status != "rejected",
                Annotation.revision > 0,
            )
            masks = {
                a.owner.name: decode_mask(self._revision(session, a.id, None).mask_png)
                for a in session.scalars(query.order_by(Annotation.id))
            }
        result = []
        for (a, ma), (b, mb) in combinations(masks.items(), 2):
            inter, total, union = np.sum(ma & mb), ma.sum() + mb.sum(), np.sum(ma | mb)
            result.append(Agreement(a, b, float(2 * inter / total), float(inter / union)))
        return result

    def chosen_annotations(
        self, *, include_drafts: bool = False
    ) -> list[tuple[ImageInfo, AnnotationInfo]]:
        """Per image, the annotation to export: the accepted one, else the most recently
        updated submitted one, else (with ``include_drafts``) the latest draft."""
        rank = {"accepted": 0, "submitted": 1} | ({"draft": 2} if include_drafts else {})
        with self._read() as session:
            query = select(Annotation).where(
                Annotation.status.in_(list(rank)), Annotation.revision > 0
            )
            best: dict[int, Annotation] = {}
            for ann in session.scalars(query):
                key = (rank[ann.status], -as_utc(ann.updated_at).timestamp(), -ann.id)
                held = best.get(ann.image_id)
                if held is None or key < (
                    rank[held.status],
                    -as_utc(held.updated_at).timestamp(),
                    -held.id,
                ):
                    best[ann.image_id] = ann
            return [(image_info(best[i].image), annotation_info(best[i])) for i in sorted(best)]
