"""Router bundles: one model per ROI kind behind one name.

A model that reads shape features is good on expert outlines and poor on the box a clinician
drags; a CNN on the ROI's bounding-box crop holds up on boxes. A router bundle names, for each
ROI kind (``outline``, ``box``), a sibling bundle in the same weights folder; a prediction
goes to the bundle of the ROI it was given (a box, or a mask that fills its bounding box,
is a box: :func:`eusgist.roi_kinds.roi_kind_of`). The card holds no weights: each routed
bundle keeps its own files, checksums and self-check.

A router may also name a box segmenter (``box_segmenter``, a bundle under the weights
folder's ``segmenters/``): a box is then first turned into the segmenter's suggested outline
(:mod:`eusgist.segment`), and the box route's bundle scores that outline.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eusgist.bundles.card import CARD, ModelCard, folder_name, read_card, read_json_object
from eusgist.errors import BundleError
from eusgist.roi_kinds import ROI_KINDS

FORMAT = "eusgist-router/1"
#: Where a router's box segmenter lives, beside the routed bundles.
SEGMENTERS = "segmenters"


def read_routes(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The router's card and its routes ``{roi kind: sibling bundle name}`` (checked)."""
    folder = Path(folder)
    card = read_card(folder, "router").raw
    routes = card.get("routes")
    if not isinstance(routes, dict) or set(routes) != set(ROI_KINDS):
        raise BundleError(f"{folder.name}/{CARD}: 'routes' must name a bundle for each ROI kind "
                          f"({', '.join(ROI_KINDS)})")
    for kind, name in routes.items():
        folder_name(folder, name, f"route {kind!r}")
        if not (folder.parent / name / CARD).is_file():
            raise BundleError(f"{folder.name}: routes {kind} ROIs to {name!r}, which is not a "
                              f"bundle in {folder.parent}")
        if ModelCard.from_dict(read_json_object(folder.parent / name / CARD)).kind == "router":
            raise BundleError(f"{folder.name}: routes {kind} ROIs to another router, {name}")
    segmenter = card.get("box_segmenter")
    if segmenter is not None:
        folder_name(folder, segmenter, "'box_segmenter'", f"in {SEGMENTERS}/")
    if segmenter is not None and not (folder.parent / SEGMENTERS / segmenter / CARD).is_file():
        raise BundleError(f"{folder.name}: outlines boxes with {segmenter!r}, which is not a "
                          f"segmenter in {folder.parent / SEGMENTERS}")
    return card, dict(routes)


def box_segmenter_path(folder: str | os.PathLike[str], card: dict[str, Any]) -> Path | None:
    """The folder of the router's box segmenter, or None when boxes are scored as boxes."""
    name = card.get("box_segmenter")
    return None if name is None else Path(folder).parent / SEGMENTERS / str(name)


def save_router(out: str | os.PathLike[str], *, outline: str, box: str,
                name: str | None = None, box_segmenter: str | None = None) -> Path:
    """Write a router bundle at ``out`` routing outlines to ``outline`` and boxes to ``box``
    (both bundle folders beside ``out``); with ``box_segmenter`` (a bundle in
    ``segmenters/`` beside ``out``) a box is first outlined by it. Classes, threshold
    statement, intended use and training data come from the routed cards. Returns the
    card's path."""
    out = Path(out)
    cards = {kind: ModelCard.from_dict(read_json_object(out.parent / sub / CARD), sub)
             for kind, sub in (("outline", outline), ("box", box))}
    if cards["outline"].classes != cards["box"].classes:
        raise BundleError(f"{outline} scores {cards['outline'].classes} but {box} scores "
                          f"{cards['box'].classes}: a router needs one pair of classes")
    first = cards["outline"]
    box_input = (f"a box is outlined by the segmenter {box_segmenter}, then scored by {box}"
                 if box_segmenter else f"a box goes to {box}")
    card = {
        "format": FORMAT, "kind": "router", "name": name or out.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "classes": list(first.classes), "positive_class": first.positive_class,
        "routes": {"outline": outline, "box": box},
        **({"box_segmenter": box_segmenter} if box_segmenter else {}),
        "expects": {"mask_required": True, "supervision": "strong",
                    "input": "one image with its lesion ROI: an outline (mask) goes to "
                             f"{outline}; {box_input}"},
        "intended_use": first.intended_use,
        "training_data": {"source": f"outlines: {outline} ({_source(first)}); boxes: {box} "
                                    f"({_source(cards['box'])})"
                                    + (f"; boxes outlined by {box_segmenter}" if box_segmenter
                                       else "")},
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / CARD
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    read_routes(out)
    return path


def _source(card: ModelCard) -> str:
    return str(card.training_data.get("source") or "training data not recorded")
