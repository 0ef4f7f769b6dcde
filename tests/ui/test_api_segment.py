"""Box → outline through the app: the ``segment`` endpoint and "Suggest outline" in Annotate."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image
from synthetic_lesions import lesion_image

from eusgist.segment import load_segmenter
from eusgist.segment.bundle import DEFAULT_SEGMENTER


@pytest.fixture(scope="module")
def segmenter(model_weights: Path, tiny_segmenter: Path) -> Path:
    folder = model_weights / "segmenters" / DEFAULT_SEGMENTER
    shutil.copytree(tiny_segmenter, folder, dirs_exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def lesion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    image, mask = lesion_image(np.random.default_rng(3))
    path = tmp_path_factory.mktemp("seg-api") / "lesion.png"
    Image.fromarray(image).save(path)
    return path, image


def test_segment_endpoint_gives_the_cli_outline(app_url: str, segmenter: Path,
                                                lesion: tuple[Path, np.ndarray]) -> None:
    path, image = lesion
    client = Client(app_url, verbose=False)
    out = client.predict(handle_file(str(path)), "20,20,70,70", api_name="/segment")
    mask = np.asarray(Image.open(out)) > 127
    expected = load_segmenter(segmenter).segment(image, (20, 20, 70, 70))
    assert mask.shape == image.shape and np.array_equal(mask, expected)
    for box, message in (("", "four numbers"), ("20,20,700,70", "not inside"),
                         ("a,b,c,d", "four numbers")):
        with pytest.raises(Exception, match=message):
            client.predict(handle_file(str(path)), box, api_name="/segment")


def test_suggest_outline_fills_the_editable_layer(app_url: str, segmenter: Path,
                                                  lesion: tuple[Path, np.ndarray]) -> None:
    path, image = lesion
    client = Client(app_url, verbose=False)
    log = client.predict([handle_file(str(path))], "", "", 0, "gil", api_name="/annotate_upload")
    iid = int(re.search(r"image (\d+)", log).group(1))
    client.predict(iid, 1.0, "gil", api_name="/annotate_load")
    with pytest.raises(Exception, match="drag a box"):
        client.predict(None, json.dumps({"width": 96, "height": 96, "shapes": []}), 1.0,
                       api_name="/annotate_suggest_outline")
    drawn = json.dumps({"width": 96, "height": 96, "key": f"image:{iid}",
                        "shapes": [{"type": "box", "points": [[20, 20], [70, 70]]}]})
    value, cleared = client.predict(None, drawn, 1.0, api_name="/annotate_suggest_outline")
    assert json.loads(cleared["value"])["shapes"] == []
    layer = np.asarray(Image.open(value["layers"][0]))
    painted = layer[:96, :96, 3] > 0
    expected = load_segmenter(segmenter).segment(image, (20, 20, 70, 70))
    assert np.array_equal(painted, expected)
