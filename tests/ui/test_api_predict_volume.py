"""The Predict tab's endpoints with 3D bundles: a NIfTI volume and its mask volume upload."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from gradio_client import Client, handle_file
from test_inference_volumes import PHASES, train_bundle, write_volumes


@pytest.fixture(scope="module")
def bundles(model_weights: Path, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[SimpleNamespace]:
    """A single-phase 3D bundle (one epoch) and a two-phase one (its card, untrained weights)
    in the app's weights folder; removed afterwards so other tests see their own models."""
    from eusgist.bundles.cnn import CARD_NAME, save_cnn_bundle
    from eusgist.models.cnn3d import build_resnet3d

    data = write_volumes(tmp_path_factory.mktemp("volume-ui"), phases=())
    single = train_bundle(data, model_weights / "vol-r3d-single", dims="3d")
    card = json.loads((single / CARD_NAME).read_text())
    card["expects"]["phases"] = list(PHASES)
    multi = save_cnn_bundle(model_weights / "vol-r3d-phases", build_resnet3d(2)[0], card)
    try:
        yield SimpleNamespace(single=single, multi=multi, data=data.parent)
    finally:
        for bundle in (single, multi):
            shutil.rmtree(bundle, ignore_errors=True)


@pytest.fixture(scope="module")
def client(app_url: str, bundles: SimpleNamespace) -> Client:
    return Client(app_url, verbose=False)


def test_predict_a_volume_with_a_3d_bundle(client: Client, bundles: SimpleNamespace) -> None:
    row = pd.read_csv(bundles.single / "test_predictions.csv").iloc[0]
    card = client.predict(bundles.single.name, api_name="/model_card")
    assert "3D model" in card and "NIfTI/NRRD" in card
    editor = client.predict(handle_file(str(bundles.data / row["image"])),
                            api_name="/predict_show_image")
    assert editor["layers"] == []  # the middle slice as background
    label, decision, shap, gradcam, card, *_ = client.predict(
        bundles.single.name, handle_file(str(bundles.data / row["image"])), None,
        handle_file(str(bundles.data / row["image"].replace("image", "mask"))), "", None,
        api_name="/predict")
    probs = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert probs["GIST"] == pytest.approx(row["score"], abs=1e-4)
    assert "Grad-CAM is not available for 3D models" in decision
    assert not shap and gradcam is None and "3D model" in card  # no SHAP bars, no Grad-CAM


def test_a_multi_phase_bundle_points_to_the_api(client: Client, bundles: SimpleNamespace) -> None:
    card = client.predict(bundles.multi.name, api_name="/model_card")
    assert "arterial, venous" in card and "--phase arterial=FILE" in card
    volume = handle_file(str(bundles.data / "image0.nii.gz"))
    with pytest.raises(Exception, match="predict multi-phase from the API or the CLI"):
        client.predict(bundles.multi.name, volume, None, None, "", None, api_name="/predict")
