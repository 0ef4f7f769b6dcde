"""Hugging Face Space start-up: install what a Space's plain pip build cannot.

A Gradio Space installs ``requirements.txt`` with ``pip install -r`` under build isolation,
where pyradiomics' sdist cannot build (its ``setup.py`` imports numpy). The app therefore
installs ``requirements-radiomics.txt`` itself, without build isolation, on first start when
pyradiomics is missing; numpy is already there from ``requirements.txt``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)


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
    cmd = [python, "-m", "pip", "install", "--no-build-isolation", "--disable-pip-version-check",
           "-r", str(requirements)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"installing pyradiomics failed:\n{done.stdout[-2000:]}"
                           f"\n{done.stderr[-2000:]}")
    importlib.invalidate_caches()
    return True
