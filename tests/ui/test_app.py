"""The web app starts and answers HTTP."""

from __future__ import annotations

import urllib.request

import pytest

from eusgist.ui import default_host


def test_app_serves_http(app_url: str) -> None:
    with urllib.request.urlopen(app_url, timeout=30) as resp:
        body = resp.read().decode("utf-8", "replace")
    assert resp.status == 200
    assert "eusgist" in body


def test_default_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert default_host() == "127.0.0.1"
    monkeypatch.setenv("SPACE_ID", "user/eusgist")
    assert default_host() == "0.0.0.0"


def test_launch_caps_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    from eusgist import ui

    seen: dict[str, object] = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: seen.update(kw))
    monkeypatch.setenv("EUSGIST_MAX_UPLOAD", "5mb")
    ui.launch("127.0.0.1", 1)
    assert seen["max_file_size"] == "5mb" and seen["server_port"] == 1


def test_temporary_files_expire() -> None:
    from eusgist import ui

    every, age = ui.build_app().delete_cache
    assert 0 < every <= age <= 7 * 86400
