"""The app in a real browser: the shell renders and says what it is and is not."""

from __future__ import annotations


def test_about_tab_states_intended_use(page) -> None:
    page.get_by_role("tab", name="About").click()
    text = page.locator("body").inner_text()
    assert "not a medical device" in text
    assert "not validated for clinical use" in text
