"""With a password file the app needs a login, and the signed-in name is the annotator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from loopback import free_port
from PIL import Image

from eusgist import accounts, ui


@pytest.fixture(scope="module")
def password_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users.txt"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "ITERATIONS", 1000)  # the tests check logins, not the work factor
        accounts.add_account(path, "alice", "alice-password")
        accounts.add_account(path, "reviewer", "reviewer-password")
    return path


@pytest.fixture(scope="module")
def login_url(password_file: Path) -> Iterator[str]:
    app = ui.configure_queue(ui.build_app())
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
               auth=accounts.PasswordCheck(password_file))
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def test_launch_reads_the_password_file(monkeypatch: pytest.MonkeyPatch,
                                        password_file: Path) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: seen.update(kw))
    monkeypatch.setenv(accounts.AUTH_FILE_ENV, str(password_file))
    ui.launch("127.0.0.1", 1)
    assert isinstance(seen["auth"], accounts.PasswordCheck)
    assert seen["auth"]("alice", "alice-password") and not seen["auth"]("alice", "guess")
    monkeypatch.setenv(accounts.AUTH_FILE_ENV, str(password_file.with_name("missing.txt")))
    with pytest.raises(OSError):
        ui.launch("127.0.0.1", 1)


def test_login_required_and_names_come_from_it(login_url: str, tmp_path: Path) -> None:
    with pytest.raises(Exception):
        Client(login_url, verbose=False).predict(api_name="/list_models")
    with pytest.raises(Exception):
        Client(login_url, verbose=False, auth=("alice", "wrong-password"))

    alice = Client(login_url, verbose=False, auth=("alice", "alice-password"))
    image = tmp_path / "eus.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (32, 32), np.uint8)).save(image)
    log = alice.predict([handle_file(str(image))], "", "", 0, "", api_name="/annotate_upload")
    iid = int(re.search(r"image (\d+)", log).group(1))
    # A typed name cannot impersonate: the login decides who saves and who reviews.
    alice.predict(iid, 1.0, "reviewer", api_name="/annotate_load")
    mask = np.zeros((32, 32), np.uint8)
    mask[4:20, 4:20] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    editor = {"background": None, "layers": [handle_file(str(tmp_path / "m.png"))],
              "composite": None}
    saved = alice.predict(editor, "reviewer", "GIST", *(None,) * 9, None, False, None, None, True, "",
                          api_name="/annotate_save")
    assert "alice's annotation" in saved
    with pytest.raises(Exception, match="alice is not a reviewer"):
        alice.predict(iid, 1.0, "reviewer", api_name="/annotate_review")
    reviewer = Client(login_url, verbose=False, auth=("reviewer", "reviewer-password"))
    _, _, annotations, _ = reviewer.predict(iid, 1.0, "", api_name="/annotate_review")
    assert [row[1] for row in annotations["data"]] == ["alice"]
    to_review = reviewer.predict("needs_review", "", api_name="/annotate_worklist")
    assert iid in [row[0] for row in to_review["data"]]
