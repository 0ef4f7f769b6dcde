"""The app loads only the weights folder's bundles, by name: never a path a user types."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file


@pytest.fixture(scope="module")
def client(app_url: str, model_weights: Path, prediction_bundles) -> Client:
    shutil.copytree(prediction_bundles.tabular, model_weights / prediction_bundles.tabular.name,
                    dirs_exist_ok=True)
    return Client(app_url, verbose=False)


def test_paths_are_not_model_names(client: Client, prediction_bundles, tmp_path: Path) -> None:
    outside = tmp_path / "copied-bundle"
    shutil.copytree(prediction_bundles.tabular, outside)  # a real bundle, outside the folder
    row = prediction_bundles.rows().iloc[0]
    for name in (str(outside), "../" + outside.name, "/etc", prediction_bundles.tabular.name
                 + "/../" + prediction_bundles.tabular.name):
        with pytest.raises(Exception, match="no model .* in the weights folder"):
            client.predict(name, api_name="/model_card")
        with pytest.raises(Exception, match="no model .* in the weights folder"):
            client.predict(name, handle_file(row["image"]), None, handle_file(row["mask"]), "",
                           None, api_name="/predict")
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.csv", "image,label\n")
    with pytest.raises(Exception, match="no model .* in the weights folder"):
        client.predict(handle_file(str(archive)), [str(outside)], "", "wilson",
                       api_name="/evaluate_images")
    card = client.predict(prediction_bundles.tabular.name, api_name="/model_card")
    assert "NOT for clinical use" in card


def test_a_broken_bundle_is_named(client: Client, model_weights: Path, prediction_bundles) -> None:
    broken = model_weights / "broken-copy"
    shutil.copytree(prediction_bundles.tabular, broken)
    try:
        weights = next(broken.glob("*.safetensors"))
        weights.write_bytes(weights.read_bytes()[:-8])
        with pytest.raises(Exception, match="model 'broken-copy' cannot be used"):
            client.predict("broken-copy", api_name="/model_card")
    finally:
        shutil.rmtree(broken)
