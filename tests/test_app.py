"""The web app starts and answers HTTP (the tabs have their own tests)."""

from __future__ import annotations

import socket
import urllib.request

import pytest

gr = pytest.importorskip("gradio")

from eusgist.ui import build_app, default_host  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_app_serves_http() -> None:
    app = build_app()
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as resp:
            body = resp.read().decode("utf-8", "replace")
        assert resp.status == 200
        assert "eusgist" in body
    finally:
        app.close()


def test_default_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert default_host() == "127.0.0.1"
    monkeypatch.setenv("SPACE_ID", "user/eusgist")
    assert default_host() == "0.0.0.0"
