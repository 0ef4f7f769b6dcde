"""The About tab's models section, read from the installed bundles' cards."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from gradio_client import Client


def test_about_says_what_each_model_is_and_is_not(app_url: str, model_weights: Path,
                                                   prediction_bundles) -> None:
    shutil.copytree(prediction_bundles.tabular, model_weights / prediction_bundles.tabular.name,
                    dirs_exist_ok=True)
    text = Client(app_url, verbose=False).predict(api_name="/about_models")
    name = prediction_bundles.tabular.name
    assert f"### {name} — SYNTHETIC demo" in text
    assert "- **Is**: GIST vs leiomyoma; radiomics + CNN features, SVM." in text
    assert "- **Validated on its test lesions** (held out by lesion, " in text
    assert re.search(r"95% CI \d\.\d{3} to \d\.\d{3}", text)  # an interval "a to b"
    assert "- **Is not**: trained on any real patient's images" in text
    assert "clinically validated" in text
