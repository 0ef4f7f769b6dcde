"""Every public endpoint of the running app is called by some gradio_client test.

The endpoints no other test reaches (the model-selector refresh, the upload preview, the
save-and-next chain and the reviewer merge) are driven here; the last test checks the app's
public API against the endpoints named in tests/ui/test_api_*.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def client(app_url: str, model_weights: Path, prediction_bundles) -> Client:
    shutil.copytree(prediction_bundles.tabular, model_weights / prediction_bundles.tabular.name,
                    dirs_exist_ok=True)
    return Client(app_url, verbose=False)


def _png(path: Path, array: np.ndarray) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def test_refresh_models_selects_an_available_bundle(client: Client, prediction_bundles) -> None:
    update = client.predict(api_name="/refresh_models")
    names = [choice[1] for choice in update["choices"]]
    assert prediction_bundles.tabular.name in names
    assert update["value"] in names


def test_upload_preview_is_a_grey_background(client: Client, tmp_path: Path) -> None:
    gray = np.tile(np.arange(64, dtype=np.uint8), (48, 1)) * 4
    editor = client.predict(handle_file(_png(tmp_path / "eus.png", gray)),
                            api_name="/predict_show_image")
    background = editor["background"]
    shown = np.asarray(Image.open(background.get("path") if isinstance(background, dict)
                                  else background))
    assert shown.shape[:2] == (48, 64) and editor["layers"] == []
    assert np.array_equal(shown[..., 0], shown[..., 1])
    with pytest.raises(Exception, match="not a supported image|cannot|unrecognised|format"):
        (tmp_path / "note.png").write_text("not an image")
        client.predict(handle_file(str(tmp_path / "note.png")), api_name="/predict_show_image")


def _upload(client: Client, path: str, who: str) -> int:
    log = client.predict([handle_file(path)], "P-next", "L1", 0, who, api_name="/annotate_upload")
    return int(re.search(r"image (\d+)", log).group(1))


def test_save_and_next_then_merge(app_url: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    first, second = (
        _upload(Client(app_url, verbose=False),
                _png(tmp_path / f"next{k}.png", rng.integers(0, 255, (40, 40), dtype=np.uint8)),
                "carol")
        for k in range(2)
    )
    mask = np.zeros((40, 40), np.uint8)
    mask[8:24, 8:24] = 255
    layer = {"background": None, "layers": [handle_file(_png(tmp_path / "m.png", mask))],
             "composite": None}
    form = (None,) * 9 + (None, False, None, None)  # the reader's description, the case record

    carol = Client(app_url, verbose=False)
    carol.predict(first, 1.0, "carol", api_name="/annotate_load")
    saved = carol.predict(layer, "carol", "GIST", *form, True, "",
                          api_name="/annotate_save_next")
    assert "Saved revision 1 of carol's annotation" in saved
    following = carol.predict("todo", "carol", api_name="/annotate_next")
    assert following != first and following >= second

    dave = Client(app_url, verbose=False)
    dave.predict(first, 1.0, "dave", api_name="/annotate_load")
    dave.predict(layer, "dave", "GIST", *form, True, "", api_name="/annotate_save")
    with pytest.raises(Exception, match="not a reviewer"):
        dave.predict(first, "majority", "dave", api_name="/annotate_merge")
    merged = Client(app_url, verbose=False).predict(first, "majority", "reviewer",
                                                   api_name="/annotate_merge")
    assert "merged" in merged and "accepted (256 px)" in merged


def test_every_public_endpoint_is_called_by_a_test(client: Client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    public = set(api["named_endpoints"]) - {"/unannotated_table"}  # the worklist's initial value
    called = set()
    for path in HERE.glob("test_*.py"):
        called |= set(re.findall(r'api_name="(/\w+)"', path.read_text()))
    assert public - called == set(), "endpoints no gradio_client test calls"
    assert called - public == set(), "tests call endpoints the app no longer has"
