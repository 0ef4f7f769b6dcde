"""The app in a real browser: the shell renders and says what it is and is not."""

from __future__ import annotations

import os
from pathlib import Path


def test_about_tab_states_intended_use_models_retention_and_citation(page) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.get_by_role("tab", name="About").click()
    page.wait_for_function("() => (document.querySelector('#about-models') || "
                           "{innerText: ''}).innerText.includes('models')", timeout=30_000)
    text = page.locator("#about").inner_text()
    assert "not a medical device" in text and "not clinically validated" in text
    assert "No GIST vs leiomyoma model ships" in text
    for heading in ("What the app stores, where, and for how long", "Who may review",
                    "Licence", "How to cite"):
        assert heading in text
    assert "EUSGIST_REVIEWERS" in text and "Apache License 2.0" in text
    assert "deleted after one day" in text and "annotations/eusgist.sqlite" in text
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / "app_about.png"), full_page=True)
