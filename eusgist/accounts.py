"""Login accounts for the app: a password file of salted PBKDF2-SHA256 hashes.

One ``name:hash`` line per user (``#`` comments allowed), where the hash reads
``pbkdf2_sha256$<iterations>$<salt hex>$<digest hex>``. Point ``EUSGIST_AUTH_FILE`` at the
file and the app asks for a login; the signed-in name is then the annotator, so nobody can
save or review under another's name. ``eusgist add-user`` writes the file. Passwords are
never stored or logged in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from eusgist.config import AUTH_FILE_ENV  # noqa: F401  (re-exported)
from eusgist.errors import EusgistError

ALGORITHM = "pbkdf2_sha256"
#: OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
ITERATIONS = 600_000
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


def hash_password(
    password: str, *, iterations: int | None = None, salt: bytes | None = None
) -> str:
    """A salted PBKDF2-SHA256 hash of ``password`` in the password file's format
    (:data:`ITERATIONS` rounds unless ``iterations`` is given)."""
    if len(password) < MIN_PASSWORD:
        raise EusgistError(f"password too short: use at least {MIN_PASSWORD} characters")
    salt = salt if salt is not None else secrets.token_bytes(16)
    iterations = iterations or ITERATIONS
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        algorithm, iterations, salt, digest = stored.split("$")
        if algorithm != ALGORITHM:
            return False
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt),
                                       int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def check_name(name: str) -> str:
    """``name`` if it is a valid account name, else a ValueError saying what is allowed."""
    if not NAME_PATTERN.match(name):
        raise EusgistError(f"account name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
                           "starting with a letter or digit")
    return name


def read_accounts(path: str | os.PathLike[str]) -> dict[str, str]:
    """Account name → stored hash, from a password file.

    Raises
    ------
    ValueError
        A malformed line (its number is named) or no account at all.
    """
    path = Path(path)
    accounts: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not NAME_PATTERN.match(name) or not stored.startswith(f"{ALGORITHM}$") \
                or stored.count("$") != 3:
            raise EusgistError(f"{path.name} line {number}: expected 'name:{ALGORITHM}$...' "
                               "(write it with `eusgist add-user`)")
        accounts[name] = stored
    if not accounts:
        raise EusgistError(f"{path.name}: no accounts (add one with `eusgist add-user`)")
    return accounts


def add_account(path: str | os.PathLike[str], name: str, password: str) -> bool:
    """Add ``name`` to the password file, or replace its password; True when it was new.

    The file is rewritten atomically, readable by its owner only.
    """
    path = Path(path)
    check_name(name)
    stored = hash_password(password)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    new = not any(line.partition(":")[0] == name for line in lines)
    lines = [line for line in lines if line.partition(":")[0] != name] + [f"{name}:{stored}"]
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    read_accounts(path)
    return new


class PasswordCheck:
    """The ``auth=`` callable for ``Blocks.launch``: ``check(name, password) -> bool``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.accounts = read_accounts(self.path)

    def __call__(self, name: str, password: str) -> bool:
        stored = self.accounts.get(name)
        return stored is not None and verify_password(password, stored)
