"""The shipped BUSI bundle's out-of-domain gate meets the targets: at least 95% of foreign
images flagged, at most 5% of its own test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from foreign_images import foreign

from eusgist.bundles.card import CARD, ModelCard, read_json_object
from eusgist.data import read_manifest
from eusgist.inference.domain import DomainModel, embed, read_domain
from eusgist.inference.domain_fit import Measured, measure, train_test_rows

BUNDLE = Path(__file__).resolve().parents[1] / "weights" / "busi-radiomics-svm"


@pytest.fixture(scope="module")
def gate() -> tuple[DomainModel, dict]:
    card = read_json_object(BUNDLE / CARD)
    model = read_domain(BUNDLE, card)
    if model is None:
        pytest.skip(f"{BUNDLE.name} has no out-of-domain gate (fit-domain)")
    return model, card


def _flags(model: DomainModel, items: list[Measured]) -> np.ndarray:
    assert model.extractor is not None
    distances = model.gaussian.distance(embed(model.extractor, [m.crops for m in items]))
    return np.array([model.verdict(float(d), m.stats).out_of_domain
                     for d, m in zip(distances, items, strict=True)])


def test_foreign_images_are_flagged(gate) -> None:
    model, _ = gate
    pictures = foreign(n_per_kind=4)
    flags = _flags(model, [measure(p.image, None, p.box) for p in pictures])
    missed = [p.name for p, f in zip(pictures, flags, strict=True) if not f]
    assert flags.mean() >= 0.95, missed


def test_few_of_the_bundles_own_test_images_are_flagged(gate, busi_manifest_path) -> None:
    model, card = gate
    manifest = read_manifest(busi_manifest_path)
    test = train_test_rows(manifest, ModelCard.from_dict(card))[1]
    flags = _flags(model, [measure(manifest.image_path(i), manifest.mask_path(i)) for i in test])
    assert len(test) == 75 and flags.mean() <= 0.05
