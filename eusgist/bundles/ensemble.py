"""Ensemble bundles: the mean log-odds of sibling bundles, behind one name.

Two models that read different things (radiomics of an outline; deep and segmenter features
of its box) make different mistakes; averaging their log-odds with equal weights (nothing is
fitted, so nothing can overfit) ranks and calibrates better than either. The card holds no
weights: each member keeps its own files, checksums and self-check, and the ensemble's
threshold is the members' thresholds averaged in log-odds. ``validate-roi --write`` records
its own test metrics.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eusgist.bundles.card import CARD, ModelCard, folder_name, read_card, read_json_object
from eusgist.errors import BundleError

FORMAT = "eusgist-ensemble/1"
#: How members are combined (the card's ``combine``).
COMBINE = "mean log-odds, equal weights"


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def read_members(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], list[str]]:
    """The ensemble's card and its member bundle names (checked)."""
    folder = Path(folder)
    card = read_card(folder, "ensemble").raw
    members = card.get("members")
    if not isinstance(members, list) or len(members) < 2:
        raise BundleError(f"{folder.name}/{CARD}: 'members' must name at least two bundles")
    for name in members:
        folder_name(folder, name, "a member")
        if not (folder.parent / name / CARD).is_file():
            raise BundleError(f"{folder.name}: member {name!r} is not a bundle in "
                              f"{folder.parent}")
        kind = ModelCard.from_dict(read_json_object(folder.parent / name / CARD)).kind
        if kind in ("router", "ensemble", "3d"):
            raise BundleError(f"{folder.name}: member {name} is a {kind} bundle; members are "
                              "2D tabular or CNN bundles")
    return card, list(members)


def save_ensemble(out: str | os.PathLike[str], members: list[str], *,
                  name: str | None = None) -> Path:
    """Write an ensemble of ``members`` (bundle folders beside ``out``); return the card's
    path. Classes, intended use and training data come from the members' cards."""
    out = Path(out)
    if len(members) < 2 or len(set(members)) != len(members):
        raise BundleError(f"an ensemble needs two or more different members, got {members}")
    cards = [ModelCard.from_dict(read_json_object(out.parent / m / CARD), m) for m in members]
    classes = {c.classes for c in cards}
    if len(classes) != 1:
        raise BundleError(f"the members score different classes: {sorted(classes)}")
    first = cards[0]
    threshold = 1 / (1 + math.exp(-sum(_logit(c.threshold) for c in cards) / len(cards)))
    sources = "; ".join(f"{m}: {c.training_data.get('source') or 'not recorded'}"
                        for m, c in zip(members, cards))
    card = {
        "format": FORMAT, "kind": "ensemble", "name": name or out.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "classes": list(first.classes), "positive_class": first.positive_class,
        "members": list(members), "combine": COMBINE,
        "threshold": threshold,
        "threshold_rule": "the members' thresholds averaged in log-odds",
        "expects": {"mask_required": any(c.raw.get("expects", {}).get("mask_required", True)
                                         for c in cards),
                    "supervision": "strong",
                    "input": f"one image with its lesion ROI, scored by {', '.join(members)}"},
        "intended_use": first.intended_use,
        "training_data": {"source": sources,
                          **{k: v for k, v in first.training_data.items() if k == "split"}},
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / CARD
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    read_members(out)
    return path
