"""Drawn ROIs through the API: a box or outline drawn on the overlay (JSON), conflicts
between ROI inputs, the ROI picture, and shapes added to an annotation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from eusgist.io import read_image
from eusgist.masks import shapes_mask
from eusgist.store import open_store
from eusgist.ui.predict_roi import resolve_roi


def _drawing(*shapes: dict, width: int, height: int) -> str:
    return json.dumps({"width": width, "height": height, "shapes": list(shapes)})


def _box(x0: int, y0: int, x1: int, y1: int) -> dict:
    return {"type": "box", "points": [[x0, y0], [x1, y1]]}


@pytest.fixture(scope="module")
def client(app_url: str, models) -> Client:
    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def row(models):
    row = models.rows().iloc[2]
    height, width = np.asarray(Image.open(row["image"])).shape[:2]
    return row["image"], row["mask"], width, height


def test_only_one_roi_input_is_taken(row) -> None:
    image_path, mask_path, width, height = row
    image = read_image(image_path)
    drawn = _drawing(_box(10, 10, 40, 30), width=width, height=height)
    assert resolve_roi(image, None, None, None, drawn) == (None, (10.0, 10.0, 40.0, 30.0))
    assert resolve_roi(image, None, None, "10,10,40,30", None) == (None, (10, 10, 40, 30))
    assert resolve_roi(image, None, mask_path, "", "") == (mask_path, None)
    assert resolve_roi(image, None, None, "", "") == (None, None)
    triangle = {"type": "polygon", "points": [[10, 10], [40, 10], [10, 30]]}
    mask, box = resolve_roi(image, None, None, None,
                            _drawing(triangle, width=width, height=height))
    assert box is None and mask.shape == (height, width) and mask[12, 12]
    painted = np.zeros((height, width, 4), np.uint8)
    painted[5:9, 5:9] = 255
    editor = {"background": None, "layers": [painted], "composite": None}
    for args, names in [
        ((None, mask_path, "", drawn), "a mask file and a drawn box"),
        ((None, mask_path, "1,1,9,9", None), "a mask file and a typed box"),
        ((editor, mask_path, "", None), "a mask file and painting"),
        ((None, None, "1,1,9,9", drawn), "a typed box and a drawn box"),
        ((editor, None, "", drawn), "a drawn box and painting"),
    ]:
        with pytest.raises(ValueError, match=f"one way, not {names}: "):
            resolve_roi(image, *args)
    with pytest.raises(ValueError, match="drawn on a 7×5 image"):
        resolve_roi(image, None, None, None, _drawing(_box(1, 1, 3, 3), width=7, height=5))


@pytest.mark.parametrize("which", ["tabular", "cnn"])
def test_a_drawn_box_predicts_as_the_typed_box(client: Client, models, row, which) -> None:
    image_path, _, width, height = row
    name = getattr(models, which).name
    drawn = _drawing(_box(12, 9, 58, 47), width=width, height=height)
    by_drawing = client.predict(name, handle_file(image_path), None, None, "", None, drawn,
                                api_name="/predict")
    by_typing = client.predict(name, handle_file(image_path), None, None, "12,9,58,47", None,
                               api_name="/predict")  # the drawing left out: API clients as before
    assert by_drawing[0] == by_typing[0]
    assert "ROI: a box" in by_drawing[1]
    picture = np.asarray(Image.open(client.predict(
        name, handle_file(image_path), None, None, "", drawn, api_name="/predict_roi")))
    zoom = picture.shape[0] // height  # a small image is enlarged by a whole factor
    assert picture.shape == (height * zoom, width * zoom, 3) and zoom * max(height, width) >= 384
    yellow = (255, 210, 0)  # the box's top and left edges
    assert tuple(picture[9 * zoom, 30 * zoom]) == yellow == tuple(picture[30 * zoom, 12 * zoom])


def test_a_mask_file_with_a_drawn_box_is_refused(client: Client, models, row) -> None:
    image_path, mask_path, width, height = row
    drawn = _drawing(_box(12, 9, 58, 47), width=width, height=height)
    with pytest.raises(Exception, match="not a mask file and a drawn box"):
        client.predict(models.cnn.name, handle_file(image_path), None, handle_file(mask_path),
                       "", None, drawn, api_name="/predict")
    with pytest.raises(Exception, match="not a mask file and a typed box"):
        client.predict(models.cnn.name, handle_file(image_path), None, handle_file(mask_path),
                       "1,1,30,30", None, api_name="/predict")


def test_drawn_shapes_join_the_annotation(app_url: str, tmp_path: Path,
                                          annotation_database: str) -> None:
    client = Client(app_url, verbose=False)
    rng = np.random.default_rng(11)
    path = tmp_path / "shapes.png"
    Image.fromarray(rng.integers(0, 255, (48, 64), dtype=np.uint8)).save(path)
    log = client.predict([handle_file(str(path))], "", "", 0, "fay", api_name="/annotate_upload")
    iid = int(re.search(r"image (\d+)", log).group(1))
    client.predict(iid, 1.0, "fay", api_name="/annotate_load")
    typed = client.predict(None, "2,2 6,6", 1.0, api_name="/annotate_shape")  # typed points
    editor = {"background": None, "layers": [handle_file(x) for x in typed["layers"]],
              "composite": None}
    drawn = _drawing(_box(10, 5, 20, 12),
                     {"type": "polygon", "points": [[30, 30], [50, 30], [30, 45]]},
                     width=64, height=48)
    with pytest.raises(Exception, match="drawn on a 640×480 image"):
        client.predict(editor, _drawing(_box(1, 1, 5, 5), width=640, height=480), 1.0,
                       api_name="/annotate_add_shapes")
    elsewhere = json.dumps({**json.loads(drawn), "key": f"image:{iid + 1000}"})
    with pytest.raises(Exception, match="drawn on another image"):
        client.predict(editor, elsewhere, 1.0, api_name="/annotate_add_shapes")
    value, cleared = client.predict(editor, drawn, 1.0, api_name="/annotate_add_shapes")
    assert json.loads(cleared["value"])["shapes"] == []  # an update: new value and picture
    payload = {"background": None, "layers": [handle_file(value["layers"][0])],
               "composite": None}
    client.predict(payload, "fay", None, *(None,) * 9, None, False, None, None, False,
                   "shapes", api_name="/annotate_save")
    store = open_store(annotation_database)
    own = next(a for a in store.annotations(iid) if a.owner == "fay")
    expected = shapes_mask(drawn, (48, 64))
    expected[2:7, 2:7] = True
    assert np.array_equal(store.mask(own.id), expected)


def test_a_drawn_outline_predicts_as_an_outline(client: Client, models, row) -> None:
    image_path, _, width, height = row
    outline = {"type": "polygon", "points": [[20, 15], [70, 20], [60, 60], [15, 50]]}
    drawn = _drawing(outline, width=width, height=height)
    label, decision, *_ = client.predict(models.tabular.name, handle_file(image_path), None,
                                         None, "", None, drawn, api_name="/predict")
    assert "ROI: an outline" in decision and label["label"] in ("GIST", "leiomyoma")
    with pytest.raises(Exception, match="draw one ROI, not 2 shapes"):
        client.predict(models.tabular.name, handle_file(image_path), None, None, "", None,
                       _drawing(outline, _box(1, 1, 9, 9), width=width, height=height),
                       api_name="/predict")
