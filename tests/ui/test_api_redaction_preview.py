"""Import de-identification in the Annotate tab: preview what will be blanked, and the
override that keeps the pixels as they are."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw, ImageFont

from eusgist.store import open_store


@pytest.fixture(scope="module")
def labelled_frame(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple]:
    """Speckle with a burned-in name line at the top (as scanners print it), and the text's
    ink box."""
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.gamma(2.0, 30, (400, 560)).clip(0, 255).astype(np.uint8))
    picture = picture.convert("RGB")
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default(size=18)
    text = "DOE^JOHN  ID 0012345"
    draw.text((20, 12), text, fill="white", font=font)
    path = tmp_path_factory.mktemp("deid") / "frame.png"
    picture.save(path)
    return path, draw.textbbox((20, 12), text, font=font)


def test_preview_shows_the_text_to_blank_and_upload_blanks_it(
        app_url: str, labelled_frame: tuple[Path, tuple], annotation_database: str) -> None:
    labelled_frame, (x0, y0, x1, y1) = labelled_frame
    client = Client(app_url, verbose=False)
    gallery = client.predict([handle_file(str(labelled_frame))], 0, True,
                             api_name="/annotate_preview_redaction")
    assert len(gallery) == 1 and "to blank" in gallery[0]["caption"]
    nothing = client.predict([handle_file(str(labelled_frame))], 0, False,
                             api_name="/annotate_preview_redaction")
    assert nothing[0]["caption"].endswith("nothing to blank")
    with pytest.raises(Exception, match="choose one or more"):
        client.predict(None, 0, True, api_name="/annotate_preview_redaction")

    store = open_store(annotation_database)
    blanked = client.predict([handle_file(str(labelled_frame))], "", "", 0, "ida", True,
                             api_name="/annotate_upload")
    other = labelled_frame.with_name("frame-kept.png")
    pixels = np.asarray(Image.open(labelled_frame)).copy()
    pixels[-1, -1] = 255 - pixels[-1, -1]  # another file, not a duplicate of the first
    Image.fromarray(pixels).save(other)
    kept = client.predict([handle_file(str(other))], "", "", 0, "ida", False,
                          api_name="/annotate_upload")
    top = {}
    for name, log in (("blanked", blanked), ("kept", kept)):
        found = re.search(r"image (\d+)", log)
        assert found, log
        pixels = np.asarray(store.load_image(int(found.group(1))).array)
        top[name] = pixels[y0:y1, x0:x1]
    assert top["blanked"].max() == 0  # the name line is gone
    assert top["kept"].max() > 200  # the override kept the white text
