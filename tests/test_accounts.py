"""Password file: salted PBKDF2 hashes, atomic owner-only writes, clear errors."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from eusgist import accounts
from eusgist.cli import main


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few PBKDF2 rounds: the tests check the format, not the work factor."""
    monkeypatch.setattr(accounts, "ITERATIONS", 1000)


def test_work_factor_comes_from_iterations() -> None:
    assert accounts.hash_password("correct horse").split("$")[1] == "1000"


def test_hash_and_verify() -> None:
    stored = accounts.hash_password("correct horse", iterations=1000, salt=b"\x00" * 16)
    algorithm, iterations, salt, digest = stored.split("$")
    assert (algorithm, iterations, salt) == ("pbkdf2_sha256", "1000", "00" * 16)
    # RFC-style reference: hashlib is the obviously-correct implementation.
    import hashlib
    assert digest == hashlib.pbkdf2_hmac("sha256", b"correct horse", b"\0" * 16, 1000).hex()
    assert accounts.verify_password("correct horse", stored)
    assert not accounts.verify_password("correct horsE", stored)
    for broken in ("", "pbkdf2_sha256$x$00$00", "md5$1$00$00", stored.replace("$", ":")):
        assert not accounts.verify_password("correct horse", broken)
    # A fresh salt each time: the same password never gives the same line.
    assert accounts.hash_password("correct horse") != accounts.hash_password("correct horse")
    with pytest.raises(ValueError, match="too short"):
        accounts.hash_password("short")


def test_add_account_writes_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    assert accounts.add_account(path, "alice", "alice-password")
    assert accounts.add_account(path, "bob", "bob-password")
    assert not accounts.add_account(path, "alice", "new-alice-password")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "alice-password" not in path.read_text()
    check = accounts.PasswordCheck(path)
    assert set(check.accounts) == {"alice", "bob"}
    assert check("alice", "new-alice-password") and not check("alice", "alice-password")
    assert not check("carol", "whatever-password")
    with pytest.raises(ValueError, match="account name"):
        accounts.add_account(path, "../etc", "password-123")


@pytest.mark.parametrize("text, message", [
    ("", "no accounts"),
    ("# only a comment\n", "no accounts"),
    ("alice\n", "line 1"),
    ("alice:plaintext-password\n", "line 1"),
    ("ok:pbkdf2_sha256$1$00$00\n bad name:pbkdf2_sha256$1$00$00\n", "line 2"),
])
def test_malformed_password_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "users.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        accounts.read_accounts(path)


def test_add_user_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "users.txt"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-password\n"))
    assert main(["add-user", "reviewer", "--file", str(path), "--password-stdin"]) == 0
    assert accounts.PasswordCheck(path)("reviewer", "s3cret-password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["add-user", "reviewer", "--file", str(path), "--password-stdin"]) == 2
