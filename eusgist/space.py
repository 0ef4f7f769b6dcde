"""Hugging Face Space start-up: install what a Space's plain pip build cannot.

A Gradio Space installs ``requirements.txt`` with ``pip install -r`` under build isolation,
where pyradiomics' sdist cannot build (its ``setup.py`` imports numpy). The app therefore
installs ``requirements-radiomics.txt`` itself, without build isolation, on first start when
pyradiomics is missing; numpy is already there from ``requirements.txt``.

pyradiomics 3.0.1's ``setup.py`` (its bundled versioneer) also calls
``configparser.SafeConfigParser`` and ``readfp``, which Python 3.12 removed; the build
therefore runs with a ``sitecustomize`` that restores both as aliases of ``ConfigParser``
and ``read_file`` (:data:`CONFIGPARSER_SHIM`). scripts/setup.sh builds it the same way.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

#: ``sitecustomize`` for pyradiomics' build on Python 3.12+ (names removed from configparser).
CONFIGPARSER_SHIM = """\
import configparser
if not hasattr(configparser, "SafeConfigParser"):
    configparser.SafeConfigParser = configparser.ConfigParser
if not hasattr(configparser.ConfigParser, "readfp"):
    configparser.ConfigParser.readfp = configparser.ConfigParser.read_file
"""


def ensure_pyradiomics(requirements: Path, *, python: str = sys.executable) -> bool:
    """Install pyradiomics from ``requirements`` unless it imports; True when installed now.

    Raises
    ------
    RuntimeError
        pip failed; its output is in the message.
    """
    if importlib.util.find_spec("radiomics") is not None:
        return False
    if importlib.util.find_spec("numpy") is None:
        raise RuntimeError("pyradiomics needs numpy installed first (requirements.txt)")
    log.warning("pyradiomics is missing: building it from %s (about a minute)", requirements)
    install_pyradiomics(requirements, python=python)
    importlib.invalidate_caches()
    return True


def install_pyradiomics(requirements: Path, *, python: str = sys.executable) -> None:
    """``pip install --no-build-isolation -r requirements`` with :data:`CONFIGPARSER_SHIM`.

    Raises
    ------
    RuntimeError
        pip failed; its output is in the message.
    """
    cmd = [python, "-m", "pip", "install", "--no-build-isolation", "--disable-pip-version-check",
           "-r", str(requirements)]
    with tempfile.TemporaryDirectory(prefix="eusgist-build-") as shim:
        Path(shim, "sitecustomize.py").write_text(CONFIGPARSER_SHIM)
        path = os.pathsep.join(p for p in (shim, os.environ.get("PYTHONPATH", "")) if p)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": path})
    if done.returncode != 0:
        raise RuntimeError(f"installing pyradiomics failed:\n{done.stdout[-2000:]}"
                           f"\n{done.stderr[-2000:]}")


if __name__ == "__main__":  # scripts/setup.sh: python -m eusgist.space REQUIREMENTS
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    install_pyradiomics(Path(sys.argv[1]))
