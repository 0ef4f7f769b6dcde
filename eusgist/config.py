"""One settings object: every ``EUSGIST_*`` environment variable, its default and its check.

:meth:`Settings.from_env` reads the environment when it is called (never at import), so tests
can change the environment with ``monkeypatch.setenv`` and call it again. A value that cannot
be used raises :class:`~eusgist.errors.ConfigError` naming the variable.

=========================  ==========================================================
variable                   meaning (default)
=========================  ==========================================================
``EUSGIST_DATABASE_URL``   SQLAlchemy URL of the annotation database (SQLite in
                           ``annotations/``; see :func:`eusgist.store.db.default_database_url`)
``EUSGIST_WEIGHTS_DIR``    folder of model bundles (``weights/`` beside the package)
``EUSGIST_REVIEWERS``      comma-separated annotator names registered as reviewers
``EUSGIST_AUTH_FILE``      password file; when set, every page and API call needs a login
``EUSGIST_MAX_PIXELS``     largest image decoded, in pixels (64,000,000)
``EUSGIST_MAX_UPLOAD``     largest upload the app accepts, Gradio size syntax (``512mb``)
``EUSGIST_QUEUE_SIZE``     requests that may wait while two run (64)
``EUSGIST_CACHE``          feature cache folder (``$XDG_CACHE_HOME/eusgist/features``)
``EUSGIST_DATA_DIR``       persistent folder of the SQLite annotation database, e.g. a
                           Hugging Face Storage Bucket mounted on a Space (none)
``EUSGIST_MODEL_REPO``     Hub model repo whose preloaded snapshot holds the bundles
                           when ``weights/`` is absent (``eusgist/eusgist-weights``)
``EUSGIST_REVIEWER_ORG``   Hub organisation whose members with a reviewer role (below)
                           are reviewers when signed in with Hugging Face (none)
``EUSGIST_REVIEWER_ROLES`` comma-separated roles in that organisation (``admin,write``)
``SPACE_ID``               set by Hugging Face on a Space (``owner/name``)
=========================  ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eusgist.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent
#: The repository (or installation) folder holding ``weights/`` and ``annotations/``.
PROJECT_ROOT = PACKAGE_ROOT.parent

DATABASE_URL_ENV = "EUSGIST_DATABASE_URL"
WEIGHTS_DIR_ENV = "EUSGIST_WEIGHTS_DIR"
REVIEWERS_ENV = "EUSGIST_REVIEWERS"
AUTH_FILE_ENV = "EUSGIST_AUTH_FILE"
MAX_PIXELS_ENV = "EUSGIST_MAX_PIXELS"
MAX_UPLOAD_ENV = "EUSGIST_MAX_UPLOAD"
QUEUE_SIZE_ENV = "EUSGIST_QUEUE_SIZE"
CACHE_ENV = "EUSGIST_CACHE"
DATA_DIR_ENV = "EUSGIST_DATA_DIR"
MODEL_REPO_ENV = "EUSGIST_MODEL_REPO"
REVIEWER_ORG_ENV = "EUSGIST_REVIEWER_ORG"
REVIEWER_ROLES_ENV = "EUSGIST_REVIEWER_ROLES"
SPACE_ID_ENV = "SPACE_ID"

DEFAULT_MAX_PIXELS = 64_000_000
DEFAULT_MAX_UPLOAD = "512mb"
DEFAULT_QUEUE_SIZE = 64
#: The Hub model repo of the shipped bundles (see scripts/make_model_repo.py).
DEFAULT_MODEL_REPO = "eusgist/eusgist-weights"
DEFAULT_REVIEWER_ROLES = ("admin", "write")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {text!r}")
    return value


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in env.get(name, "").split(",") if n.strip())


def _path(env: Mapping[str, str], name: str) -> Path | None:
    text = env.get(name, "").strip()
    return Path(text).expanduser() if text else None


@dataclass(frozen=True)
class Settings:
    """eusgist's settings (see the module docstring for each variable).

    Attributes
    ----------
    database_url : str or None
        ``EUSGIST_DATABASE_URL``; None means the default SQLite file.
    weights_dir : Path
        Folder of model bundles.
    reviewers : tuple of str
        Names registered as reviewers when the database is opened.
    auth_file : Path or None
        Password file; None means no login.
    max_pixels, queue_size : int
        Image size and queue limits.
    max_upload : str
        Upload limit in Gradio's size syntax.
    cache_dir : Path
        Feature cache folder.
    data_dir : Path or None
        Persistent folder of the SQLite database; None means none configured.
    model_repo : str
        Hub model repo id of the bundles (``owner/name``).
    reviewer_org : str or None
        Hub organisation whose members with a role in ``reviewer_roles`` are reviewers.
    reviewer_roles : tuple of str
        Roles in ``reviewer_org`` that make a signed-in member a reviewer.
    space_id : str or None
        The Hugging Face Space this runs on; None off a Space.
    """

    database_url: str | None
    weights_dir: Path
    reviewers: tuple[str, ...]
    auth_file: Path | None
    max_pixels: int
    max_upload: str
    queue_size: int
    cache_dir: Path
    data_dir: Path | None = None
    model_repo: str = DEFAULT_MODEL_REPO
    reviewer_org: str | None = None
    reviewer_roles: tuple[str, ...] = DEFAULT_REVIEWER_ROLES
    space_id: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read (and check) the settings from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        cache_base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(
            database_url=env.get(DATABASE_URL_ENV, "").strip() or None,
            weights_dir=_path(env, WEIGHTS_DIR_ENV) or PROJECT_ROOT / "weights",
            reviewers=tuple(n.strip() for n in env.get(REVIEWERS_ENV, "").split(",")
                            if n.strip()),
            auth_file=_path(env, AUTH_FILE_ENV),
            max_pixels=_positive_int(env, MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS),
            max_upload=env.get(MAX_UPLOAD_ENV, "").strip() or DEFAULT_MAX_UPLOAD,
            queue_size=_positive_int(env, QUEUE_SIZE_ENV, DEFAULT_QUEUE_SIZE),
            cache_dir=_path(env, CACHE_ENV) or Path(cache_base) / "eusgist" / "features",
            data_dir=_path(env, DATA_DIR_ENV),
            model_repo=env.get(MODEL_REPO_ENV, "").strip() or DEFAULT_MODEL_REPO,
            reviewer_org=env.get(REVIEWER_ORG_ENV, "").strip() or None,
            reviewer_roles=_names(env, REVIEWER_ROLES_ENV) or DEFAULT_REVIEWER_ROLES,
            space_id=env.get(SPACE_ID_ENV, "").strip() or None,
        )


def settings() -> Settings:
    """The settings as the environment holds them now."""
    return Settings.from_env()
