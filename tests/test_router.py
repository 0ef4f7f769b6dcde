"""Router bundles: an outline goes to one bundle, a box (or a rectangle mask) to another."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eusgist import inference
from eusgist.bundles.router import save_router
from eusgist.cli import main
from eusgist.data import read_manifest
from eusgist.errors import BundleError
from eusgist.io import read_mask
from eusgist.roi_kinds import box_mask, mask_box, roi_kind_of

pytestmark = pytest.mark.slow


@pytest.fixture()
def weights(prediction_bundles, tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(prediction_bundles.tabular, folder / "outline-model")
    shutil.copytree(prediction_bundles.cnn, folder / "box-model")
    assert main(["route", "--out", str(folder / "router"), "--outline", "outline-model",
                 "--box", "box-model"]) == 0
    return folder


def test_a_rectangle_is_a_box_and_a_lesion_outline_is_not() -> None:
    yy, xx = np.mgrid[:50, :60]
    disc = (yy - 25) ** 2 + (xx - 30) ** 2 <= 15**2
    assert roi_kind_of(disc) == "outline"
    assert roi_kind_of(box_mask(mask_box(disc), disc.shape)) == "box"


def test_each_roi_kind_goes_to_its_bundle(weights: Path, prediction_bundles) -> None:
    manifest = read_manifest(prediction_bundles.manifest)
    image, mask = manifest.image_path(0), read_mask(manifest.mask_path(0))
    box = mask_box(mask)
    router = inference.load_model(weights / "router")
    outline_model = inference.load_model(weights / "outline-model")
    box_model = inference.load_model(weights / "box-model")

    by_outline = inference.predict(router, image, mask=mask)
    assert by_outline.roi_kind == "outline" and by_outline.kind == "router"
    assert by_outline.positive_probability == pytest.approx(
        inference.predict(outline_model, image, mask=mask).positive_probability, abs=1e-9)
    assert by_outline.threshold == outline_model.threshold  # the routed bundle's threshold
    assert by_outline.contributions  # SHAP of the tabular model
    assert any("scored by outline-model" in n for n in by_outline.notes)

    for kwargs in ({"box": box}, {"mask": box_mask(box, mask.shape)}):
        by_box = inference.predict(router, image, **kwargs)
        assert by_box.roi_kind == "box"
        assert by_box.positive_probability == pytest.approx(
            inference.predict(box_model, image, box=box).positive_probability, abs=1e-6)
        assert by_box.threshold == box_model.threshold
        assert by_box.gradcam is not None

    scores = inference.score_images(router, [image, image], [mask, box_mask(box, mask.shape)],
                                    n_jobs=1)
    assert scores[0] == pytest.approx(by_outline.positive_probability, abs=1e-6)
    assert scores[1] == pytest.approx(by_box.positive_probability, abs=1e-4)


def test_bad_routes_are_refused(weights: Path) -> None:
    with pytest.raises(BundleError, match="missing"):
        save_router(weights / "r2", outline="outline-model", box="missing")
    card_path = weights / "router" / "model_card.json"
    card = json.loads(card_path.read_text())
    card["routes"]["box"] = "../outside"
    card_path.write_text(json.dumps(card))
    with pytest.raises(BundleError, match="folder name of a bundle beside it"):
        inference.load_model(weights / "router")
    card["routes"]["box"] = "router"
    card_path.write_text(json.dumps(card))
    with pytest.raises(BundleError, match="another router"):
        inference.load_model(weights / "router")
