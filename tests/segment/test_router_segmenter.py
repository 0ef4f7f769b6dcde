"""A router whose box segmenter outlines a box before the box route's bundle scores it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eusgist import inference
from eusgist.cli import main
from eusgist.data import read_manifest
from eusgist.errors import BundleError
from eusgist.inference.batch import score_images
from eusgist.io import read_mask
from eusgist.roi_kinds import box_mask, mask_box, roi_kind_of

pytestmark = pytest.mark.slow


@pytest.fixture()
def weights(prediction_bundles, tiny_segmenter: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(prediction_bundles.tabular, folder / "outline-model")
    shutil.copytree(tiny_segmenter, folder / "segmenters" / "tiny-seg")
    assert main(["route", "--out", str(folder / "router"), "--outline", "outline-model",
                 "--box", "outline-model", "--box-segmenter", "tiny-seg"]) == 0
    return folder


def test_a_box_is_outlined_then_scored_as_that_outline(weights: Path, prediction_bundles) -> None:
    manifest = read_manifest(prediction_bundles.manifest)
    image, mask = manifest.image_path(0), read_mask(manifest.mask_path(0))
    router = inference.load_model(weights / "router")
    plain = inference.load_model(weights / "outline-model")
    by_box = inference.predict(router, image, box=mask_box(mask))
    assert by_box.roi_kind == "box"
    assert any("outlined by the segmenter tiny " in n for n in by_box.notes)
    outline = by_box.roi
    assert outline is not None and outline.shape == mask.shape and outline.any()
    assert roi_kind_of(outline) == "outline"
    same = inference.predict(plain, image, mask=outline)
    assert by_box.positive_probability == pytest.approx(same.positive_probability, abs=1e-9)
    by_outline = inference.predict(router, image, mask=mask)
    assert by_outline.roi is None  # an outline is scored as given

    # the batch path (worker processes) outlines the same way
    batch = score_images(router, [image, image], [box_mask(mask_box(mask), mask.shape), mask],
                         n_jobs=2)
    assert batch[0] == pytest.approx(by_box.positive_probability, abs=1e-6)
    assert batch[1] == pytest.approx(by_outline.positive_probability, abs=1e-6)


def test_a_missing_or_bad_segmenter_is_refused(weights: Path) -> None:
    card_path = weights / "router" / "model_card.json"
    card = json.loads(card_path.read_text())
    for bad, message in (("nope", "not a segmenter"), ("../x", "folder name")):
        card["box_segmenter"] = bad
        card_path.write_text(json.dumps(card))
        with pytest.raises(BundleError, match=message):
            inference.load_model(weights / "router")
    np.testing.assert_equal(card["routes"], {"outline": "outline-model", "box": "outline-model"})
