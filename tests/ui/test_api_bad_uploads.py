"""The running app keeps serving after hostile uploads to /predict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from image_bytes import png_bomb

HOSTILE = {
    "report.png": (b"%PDF-1.4\n%%EOF", "PDF"),
    "scan.dcm": (b"\x89PNG\r\n\x1a\n" + bytes(30), "corrupt PNG"),
    "empty.jpg": (b"", "empty"),
    "bomb.png": (png_bomb(9000), "over the limit"),
}


@pytest.fixture(scope="module")
def cnn(model_weights: Path, prediction_bundles) -> str:
    shutil.copytree(prediction_bundles.cnn, model_weights / prediction_bundles.cnn.name,
                    dirs_exist_ok=True)
    return prediction_bundles.cnn.name


def test_app_keeps_serving_after_hostile_uploads(app_url: str, cnn: str, prediction_bundles,
                                                 tmp_path: Path) -> None:
    client = Client(app_url, verbose=False)
    row = prediction_bundles.rows().iloc[1]
    for name, (data, message) in HOSTILE.items():
        path = tmp_path / name
        path.write_bytes(data)
        for image, mask in ((path, row["mask"]), (row["image"], path)):
            with pytest.raises(Exception, match=message):
                client.predict(cnn, handle_file(str(image)), None, handle_file(str(mask)), "",
                               None, api_name="/predict")
    label, *_ = client.predict(cnn, handle_file(row["image"]), None, handle_file(row["mask"]),
                               "", None, api_name="/predict")
    assert label["label"] in ("GIST", "leiomyoma")
