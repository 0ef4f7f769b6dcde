"""``annotate_suggest_outline`` with a box and a polygon drawn: the box becomes the outline
in the lesion layer, the polygon stays on the overlay for "Add the drawn shapes"."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image
from synthetic_lesions import lesion_image

from eusgist.segment import load_segmenter
from eusgist.segment.bundle import DEFAULT_SEGMENTER
from eusgist.ui.annotate_shapes import suggestion_notice


def test_suggestion_notice_says_to_check_it() -> None:
    assert "check it" in suggestion_notice(1, 0).lower()
    assert "2 boxes" in suggestion_notice(2, 0)
    assert "polygon stays" in suggestion_notice(1, 1)


def test_polygons_stay_on_the_overlay(app_url: str, model_weights: Path, tiny_segmenter: Path,
                                      tmp_path: Path) -> None:
    folder = model_weights / "segmenters" / DEFAULT_SEGMENTER
    shutil.copytree(tiny_segmenter, folder, dirs_exist_ok=True)
    image, _ = lesion_image(np.random.default_rng(4))
    Image.fromarray(image).save(tmp_path / "both.png")
    client = Client(app_url, verbose=False)
    log = client.predict([handle_file(str(tmp_path / "both.png"))], "", "", 0, "hal",
                         api_name="/annotate_upload")
    iid = int(re.search(r"image (\d+)", log).group(1))
    client.predict(iid, 1.0, "hal", api_name="/annotate_load")
    polygon = {"type": "polygon", "points": [[5, 80], [20, 80], [12, 92]]}
    drawn = json.dumps({"width": 96, "height": 96, "key": f"image:{iid}", "shapes": [
        {"type": "box", "points": [[20, 20], [70, 70]]}, polygon]})
    value, overlay = client.predict(None, drawn, 1.0, api_name="/annotate_suggest_outline")
    assert json.loads(overlay["value"])["shapes"] == [polygon]
    painted = np.asarray(Image.open(value["layers"][0]))[:96, :96, 3] > 0
    assert np.array_equal(painted, load_segmenter(folder).segment(image, (20, 20, 70, 70)))
