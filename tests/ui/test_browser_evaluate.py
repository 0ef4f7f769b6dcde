"""The Evaluate tab in a real browser: upload a scores CSV, evaluate, read the page."""

from __future__ import annotations

import os
import re
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "stats" / "data" / "example_scores.csv"


def test_evaluate_uploaded_csv(page) -> None:
    page.get_by_role("tab", name="Evaluate").click()
    tab = page.locator("#evaluate")
    tab.locator("input[type=file]").first.set_input_files(str(EXAMPLE))
    # The upload fills the column choices with guesses (label, scores, lesion_id).
    page.wait_for_function(
        "() => document.querySelector('#evaluate').innerText.includes('combined')", timeout=30_000
    )
    tab.get_by_role("button", name="Evaluate").click()
    page.wait_for_function(
        "() => document.querySelector('#evaluate').innerText.includes('cases,')", timeout=60_000
    )
    text = tab.inner_text()
    assert "AUC intervals: DeLong 95%" in text
    assert "combined: AUC" in text
    assert "chosen on these same cases" in text  # the Youden note
    assert re.search(r"0\.\d\d \(0\.\d\d to (0\.\d\d|1\.00)\)", text)  # readable table
    assert tab.locator("img").count() >= 3
    if shot := os.environ.get("EUSGIST_SCREENSHOTS"):
        page.screenshot(path=str(Path(shot) / "app_evaluate.png"), full_page=True)
