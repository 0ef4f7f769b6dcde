"""No secrets, credentials, databases or executable model formats are committed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Patterns of credentials that must never be committed (pattern name → regex).
SECRET_PATTERNS = {
    "private key": r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |PGP )?PRIVATE KEY",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{30,}\b",
    "GitHub token": r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}",
    "AWS access key": r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "OpenAI-style key": r"\bsk-[A-Za-z0-9]{32,}\b",
    "password in a database URL": r"\b(?:postgres(?:ql)?(?:\+\w+)?|mysql(?:\+\w+)?)://[^\s:/@'\"]+:"
                                  r"(?!\{|\$|<|\*)[^\s@'\"]+@",
}
#: Files that hold data or credentials rather than code.
FORBIDDEN_NAMES = re.compile(
    r"(^|/)(\.env(\..*)?|.*\.(sqlite|sqlite3|db|pem|key|p12|pfx|pkl|pickle|pt|pth|ckpt|joblib))$"
)


def tracked_files() -> list[Path]:
    """The files git tracks (all files when this is not a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_patterns_catch_what_they_should() -> None:
    samples = {
        "private key": "-----BEGIN RSA PRIVATE KEY-----",
        "Hugging Face token": "token = hf_" + "a1B2" * 9,
        "AWS access key": "AKIA" + "ABCDEFGHIJKLMNOP",
        "password in a database URL": "postgresql://alice:s3cret@db.example/eus",
    }
    for name, text in samples.items():
        assert re.search(SECRET_PATTERNS[name], text), name
    # Placeholders in docs are fine.
    for text in ("postgresql://user:{password}@host/db", "postgresql://u:$PGPASSWORD@h/d",
                 "postgresql+psycopg://eus@localhost/eus"):
        assert not re.search(SECRET_PATTERNS["password in a database URL"], text), text


def test_no_secrets_in_tracked_files() -> None:
    files = tracked_files()
    assert len(files) > 50
    found = []
    for path in files:
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: images, safetensors
        if path.resolve() == Path(__file__).resolve():
            continue  # this file spells the patterns out
        for name, pattern in SECRET_PATTERNS.items():
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not found, "\n".join(found)


def test_no_databases_credentials_or_pickles_tracked() -> None:
    bad = [str(p.relative_to(ROOT)) for p in tracked_files()
           if FORBIDDEN_NAMES.search(str(p.relative_to(ROOT)))]
    assert not bad, f"files that must not be committed: {bad}"


SAFE_SUFFIXES = {".json", ".safetensors", ".ubj", ".csv", ".md", ".png", ".yaml"}


@pytest.mark.parametrize("folder", sorted(p.name for p in (ROOT / "weights").iterdir()
                                          if p.is_dir() and p.name != "segmenters"))
def test_shipped_bundles_verify_and_hold_no_code(folder: str) -> None:
    from eusgist.inference import load_model

    bundle = ROOT / "weights" / folder
    suffixes = {p.suffix for p in bundle.rglob("*") if p.is_file()}
    assert suffixes <= SAFE_SUFFIXES, suffixes
    assert load_model(bundle).name  # hashes checked on load


@pytest.mark.parametrize("folder", sorted(
    p.name for p in (ROOT / "weights" / "segmenters").glob("*") if p.is_dir()))
def test_shipped_segmenters_verify_and_hold_no_code(folder: str) -> None:
    from eusgist.segment import load_segmenter

    bundle = ROOT / "weights" / "segmenters" / folder
    assert {p.suffix for p in bundle.rglob("*") if p.is_file()} <= SAFE_SUFFIXES
    assert load_segmenter(bundle).name  # hashes and the probe checked on load
