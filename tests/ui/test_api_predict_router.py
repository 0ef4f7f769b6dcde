"""A router bundle through the running app: a box and a mask reach different models, and the
API gives the probabilities the library (the CLI's path) gives."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from eusgist import inference
from eusgist.bundles.router import save_router
from eusgist.io import read_mask
from eusgist.roi_kinds import mask_box


@pytest.fixture(scope="module")
def router(model_weights: Path, prediction_bundles) -> Iterator[Path]:
    """The two test bundles and a router over them in the app's weights folder (the router
    is removed afterwards: other modules list the folder)."""
    for bundle in (prediction_bundles.tabular, prediction_bundles.cnn):
        shutil.copytree(bundle, model_weights / bundle.name, dirs_exist_ok=True)
    out = model_weights / "test-router"
    save_router(out, outline=prediction_bundles.tabular.name, box=prediction_bundles.cnn.name)
    yield out
    shutil.rmtree(out)


def test_the_api_routes_like_the_library(app_url: str, router: Path, prediction_bundles) -> None:
    client = Client(app_url, verbose=False)
    row = prediction_bundles.rows().iloc[2]
    box = mask_box(read_mask(row["mask"]))
    loaded = inference.load_model(router)
    for roi, kwargs, args in (
        ("outline", {"mask": row["mask"]}, (handle_file(row["mask"]), "")),
        ("box", {"box": box}, (None, ",".join(map(str, box)))),
    ):
        label, decision, *_ = client.predict(router.name, handle_file(row["image"]), None,
                                             *args, None, api_name="/predict")
        want = inference.predict(loaded, row["image"], explain=False, **kwargs)
        probs = {c["label"]: c["confidence"] for c in label["confidences"]}
        assert probs[want.classes[1]] == pytest.approx(want.positive_probability, abs=1e-6)
        assert f"ROI: {'a box' if roi == 'box' else 'an outline'}" in decision
        routed = prediction_bundles.cnn.name if roi == "box" else prediction_bundles.tabular.name
        assert f"scored by {routed}" in decision
