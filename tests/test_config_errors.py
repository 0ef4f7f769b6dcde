"""One settings object and one error root: defaults, checks, and how the CLI and app show errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from eusgist import cli, config, errors
from eusgist.data import ManifestError
from eusgist.errors import BundleError
from eusgist.io import ImageReadError
from eusgist.store import ConflictError, StorageError


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    s = config.Settings.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert s.database_url is None
    assert s.weights_dir == config.PROJECT_ROOT / "weights"
    assert s.reviewers == ()
    assert s.auth_file is None
    assert (s.max_pixels, s.max_upload, s.queue_size) == (64_000_000, "512mb", 64)
    assert s.cache_dir == tmp_path / "eusgist" / "features"


def test_every_variable_is_read() -> None:
    s = config.Settings.from_env({
        "EUSGIST_DATABASE_URL": " postgresql+psycopg://u@h/db ",
        "EUSGIST_WEIGHTS_DIR": "/w",
        "EUSGIST_REVIEWERS": "alice, bob,,",
        "EUSGIST_AUTH_FILE": "/etc/eusgist.auth",
        "EUSGIST_MAX_PIXELS": "1000",
        "EUSGIST_MAX_UPLOAD": "10mb",
        "EUSGIST_QUEUE_SIZE": "3",
        "EUSGIST_CACHE": "/c",
    })
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.weights_dir == Path("/w") and s.cache_dir == Path("/c")
    assert s.reviewers == ("alice", "bob")
    assert s.auth_file == Path("/etc/eusgist.auth")
    assert (s.max_pixels, s.max_upload, s.queue_size) == (1000, "10mb", 3)


@pytest.mark.parametrize("name", ["EUSGIST_MAX_PIXELS", "EUSGIST_QUEUE_SIZE"])
@pytest.mark.parametrize("value", ["0", "-3", "ten", "1.5"])
def test_bad_numbers_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(errors.ConfigError, match=f"{name} must be a positive integer"):
        config.Settings.from_env({name: value})


def test_read_when_called_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EUSGIST_QUEUE_SIZE", "5")
    assert config.settings().queue_size == 5
    monkeypatch.setenv("EUSGIST_QUEUE_SIZE", "6")
    assert config.settings().queue_size == 6


def test_one_error_root() -> None:
    for cls in (ImageReadError, ManifestError, BundleError, ConflictError, StorageError,
                errors.EvaluationError, errors.ConfigError):
        assert issubclass(cls, errors.EusgistError) and issubclass(cls, ValueError)
    assert issubclass(StorageError, OSError)
    assert errors.is_user_error(ManifestError("x")) and errors.is_user_error(FileNotFoundError())
    assert not errors.is_user_error(ValueError("operands could not be broadcast"))
    assert not errors.is_user_error(KeyError("x"))


def test_cli_shows_a_users_error_and_reports_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from eusgist.commands import split

    def user_error(_args: object) -> int:
        raise ManifestError("manifest.csv: no 'label' column")

    def bug(_args: object) -> int:
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(split, "run", user_error)
    assert cli.main(["split", "--manifest", "m.csv", "--out", "o.csv"]) == 2
    assert "error: manifest.csv: no 'label' column" in capsys.readouterr().err
    monkeypatch.setattr(split, "run", bug)
    with caplog.at_level(logging.ERROR):
        assert cli.main(["split", "--manifest", "m.csv", "--out", "o.csv"]) == 1
    assert "internal error" in caplog.text and "broadcast" in caplog.text  # traceback logged


def test_app_shows_a_users_error_and_hides_a_bug() -> None:
    gr = pytest.importorskip("gradio")
    from eusgist.ui.errors import INTERNAL_ERROR, user_errors

    @user_errors
    def refuse() -> None:
        raise ImageReadError("scan.png: truncated PNG")

    @user_errors
    def crash() -> None:
        raise ValueError("operands could not be broadcast together")

    with pytest.raises(gr.Error, match="scan.png: truncated PNG"):
        refuse()
    with pytest.raises(gr.Error) as info:
        crash()
    assert info.value.message == INTERNAL_ERROR
