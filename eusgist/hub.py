"""Where the model bundles come from: ``weights/`` locally, the Hub model repo on a Space.

A Hugging Face Space does not carry the bundles in its own repository (files there are
rebuilt on every push); its front matter names the model repo (``models:``) and has the
Space build download it into the Hub cache (``preload_from_hub:``). :func:`resolve_weights_dir`
returns the first of

1. the configured weights folder (``EUSGIST_WEIGHTS_DIR``, else ``weights/``) when it exists
   (local runs, tests);
2. the cached snapshot of ``EUSGIST_MODEL_REPO`` (default
   :data:`~eusgist.config.DEFAULT_MODEL_REPO`), read from the cache only, never downloaded;
3. the configured weights folder anyway (missing: the catalog is empty, as before).

Wherever a bundle comes from, it is verified by its hashes and self-check when loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

from eusgist.config import Settings, settings
from eusgist.errors import ConfigError

log = logging.getLogger(__name__)


def cached_snapshot(repo_id: str, *, cache_dir: Path | None = None) -> Path | None:
    """The folder of ``repo_id``'s snapshot in the local Hub cache, or None when not cached.

    Only the cache is read (``local_files_only``): the Space build put it there
    (``preload_from_hub``); nothing is downloaded at run time.
    """
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ConfigError(f"EUSGIST_MODEL_REPO must be 'owner/name', got {repo_id!r}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, repo_type="model", local_files_only=True,
                                   cache_dir=cache_dir)
    except (LocalEntryNotFoundError, FileNotFoundError):
        return None
    return Path(folder)


def resolve_weights_dir(config: Settings | None = None, *, cache_dir: Path | None = None) -> Path:
    """The folder of model bundles: the weights folder when present, else the preloaded
    Hub snapshot of the model repo, else the (missing) weights folder."""
    config = config or settings()
    if config.weights_dir.is_dir():
        return config.weights_dir
    snapshot = cached_snapshot(config.model_repo, cache_dir=cache_dir)
    if snapshot is not None:
        log.info("model bundles from the Hub cache of %s: %s", config.model_repo, snapshot)
        return snapshot
    log.warning("no model bundles: %s is missing and %s is not in the Hub cache",
                config.weights_dir, config.model_repo)
    return config.weights_dir
