"""An upload over EUSGIST_MAX_UPLOAD is refused by the server before any handler runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from loopback import free_port

from eusgist import ui


def test_oversized_upload_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EUSGIST_MAX_UPLOAD", "20kb")
    port = free_port()
    app = ui.launch("127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        small, large = tmp_path / "small.png", tmp_path / "large.png"
        small.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
        large.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100_000))
        with pytest.raises(Exception, match="corrupt PNG"):  # reached the reader
            client.predict(handle_file(str(small)), api_name="/predict_show_image")
        with pytest.raises(Exception, match="(?i)too large|maximum|exceeds|413"):
            client.predict(handle_file(str(large)), api_name="/predict_show_image")
    finally:
        app.close()
