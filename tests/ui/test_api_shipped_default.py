"""The shipped default model gives the same answer from the API, the CLI and the library, for
a box and for an outline (the ROIs a clinician and an annotator give)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from eusgist import inference
from eusgist.io import read_mask
from eusgist.roi_kinds import mask_box

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "busi-by-roi"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shipped(app_url: str) -> Iterator[Client]:
    """The running app, reading the shipped weights for this module."""
    saved = os.environ.get("EUSGIST_WEIGHTS_DIR")
    os.environ["EUSGIST_WEIGHTS_DIR"] = str(ROOT / "weights")
    try:
        yield Client(app_url, verbose=False)
    finally:
        if saved is None:
            os.environ.pop("EUSGIST_WEIGHTS_DIR", None)
        else:
            os.environ["EUSGIST_WEIGHTS_DIR"] = saved


def _cli(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "eusgist", "predict", "--model",
                           str(ROOT / "weights" / "busi-by-roi"), *args, "--json"],
                          capture_output=True, text=True, check=True, cwd=ROOT, timeout=300)
    return json.loads(done.stdout)


def test_a_box_and_an_outline_give_one_answer_everywhere(shipped: Client) -> None:
    image, mask = EXAMPLES / "malignant_malignant_010.png", EXAMPLES / "malignant_malignant_010_mask.png"
    box = ",".join(map(str, mask_box(read_mask(mask) > 0)))
    router = inference.load_model(ROOT / "weights" / "busi-by-roi")
    for roi, cli_args, api_args in (
            ("box", ["--box", box], (None, None, box)),
            ("outline", ["--mask", str(mask)], (None, handle_file(str(mask)), ""))):
        cli = _cli(str(image), *cli_args)
        assert cli["roi_kind"] == roi
        label, decision, *_ = shipped.predict("busi-by-roi", handle_file(str(image)), *api_args,
                                              None, "", api_name="/predict")
        api = {c["label"]: c["confidence"] for c in label["confidences"]}
        library = inference.predict(router, image, **(
            {"box": tuple(map(int, box.split(",")))} if roi == "box"
            else {"mask": read_mask(mask)})).probabilities
        for cls in ("benign", "malignant"):
            assert api[cls] == pytest.approx(cli["probabilities"][cls], abs=1e-6), roi
            assert library[cls] == pytest.approx(cli["probabilities"][cls], abs=1e-6), roi
        assert f"{cli['probabilities']['malignant']:.3f}" in decision
