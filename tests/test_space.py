"""The Hugging Face Space: start-up (pyradiomics), front matter and pins, the weights'
resolution (weights/, then the preloaded Hub snapshot), and the storage rule."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import gradio as gr
import pytest
import yaml
from packaging.requirements import Requirement

from eusgist import hub, space
from eusgist.config import DEFAULT_MODEL_REPO, Settings
from eusgist.errors import ConfigError
from eusgist.store import db

ROOT = Path(__file__).resolve().parents[1]


def test_nothing_to_do_when_pyradiomics_imports() -> None:
    assert importlib.util.find_spec("radiomics") is not None
    assert space.ensure_pyradiomics(ROOT / "requirements-radiomics.txt") is False


def test_requirements_files_split_as_the_space_needs() -> None:
    runtime = (ROOT / "requirements.txt").read_text().splitlines()
    assert not [line for line in runtime if line.startswith("pyradiomics")]
    assert "numpy==" in (ROOT / "requirements.txt").read_text()
    pins = [line for line in (ROOT / "requirements-radiomics.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins == ["pyradiomics==3.0.1"]


def test_pip_failure_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "radiomics" else real(name, *a))
    bad = tmp_path / "requirements-radiomics.txt"
    bad.write_text(f"{tmp_path / 'missing-pyradiomics.whl'}\n")
    with pytest.raises(RuntimeError, match="installing pyradiomics failed"):
        space.ensure_pyradiomics(bad)


def test_pyradiomics_builds_with_the_configparser_shim(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    seen = {}

    def fake_run(cmd, *, env, **kwargs):
        shim = Path(env["PYTHONPATH"].split(os.pathsep)[0]) / "sitecustomize.py"
        seen.update(cmd=cmd, shim=shim.read_text())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(space.subprocess, "run", fake_run)
    space.install_pyradiomics(tmp_path / "requirements-radiomics.txt", python="py")
    assert seen["cmd"][:5] == ["py", "-m", "pip", "install", "--no-build-isolation"]
    # Python 3.12's configparser lacks SafeConfigParser and readfp (versioneer calls both).
    class ConfigParser:
        def read_file(self, f): ...

    py312 = types.ModuleType("configparser")
    py312.ConfigParser = ConfigParser
    monkeypatch.setitem(sys.modules, "configparser", py312)
    exec(seen["shim"], {})
    assert py312.SafeConfigParser is ConfigParser
    assert ConfigParser.readfp is ConfigParser.read_file


# -- the Space's configuration: README front matter and requirements.txt -------------------

#: What the current ZeroGPU page lists (docs/space.md cites it).
ZEROGPU_PYTHONS = ("3.12.12", "3.10.13")
ZEROGPU_TORCH = ("2.8.0", "2.9.1", "2.10.0", "2.11.0")


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def pins_for(python: str) -> dict[str, str]:
    """Name -> pinned version of requirements.txt as pip resolves its markers on ``python``."""
    env = {"python_version": ".".join(python.split(".")[:2]), "python_full_version": python}
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            assert req.name.lower() not in pins, f"{req.name} pinned twice for {python}"
            pins[req.name.lower()] = str(req.specifier).removeprefix("==")
    return pins


def test_front_matter_is_a_zerogpu_gradio_space() -> None:
    meta = front_matter()
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert meta["python_version"] in ZEROGPU_PYTHONS
    assert meta["sdk_version"] == pins_for(meta["python_version"])["gradio"]
    assert meta["models"] == [DEFAULT_MODEL_REPO]
    assert meta["preload_from_hub"] == [DEFAULT_MODEL_REPO]
    assert meta["hf_oauth"] is True and "read-memberships" in meta["hf_oauth_scopes"]
    assert "suggested_storage" not in meta  # persistent storage is discontinued


@pytest.mark.parametrize("python", ZEROGPU_PYTHONS)
def test_space_pins_torch_that_zerogpu_lists(python: str) -> None:
    pins = pins_for(python)
    assert pins["torch"] in ZEROGPU_TORCH
    assert "pyradiomics" not in pins and "numpy" in pins


def test_local_python_keeps_the_local_torch() -> None:
    import torch

    assert pins_for("3.11.7")["torch"] == torch.__version__.split("+")[0]


# -- model bundles: weights/ first, then the preloaded Hub snapshot ------------------------


def _fake_hub_cache(cache: Path, repo_id: str, commit: str = "a" * 40) -> Path:
    """The Hub cache layout ``preload_from_hub`` leaves: snapshots/<commit>/ and refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (snapshot / "demo-bundle").mkdir(parents=True)
    (snapshot / "demo-bundle" / "model_card.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_weights_resolution_order(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    snapshot = _fake_hub_cache(cache, "org/models")
    weights = tmp_path / "weights"
    config = Settings.from_env({"EUSGIST_WEIGHTS_DIR": str(weights),
                                "EUSGIST_MODEL_REPO": "org/models"})
    # No weights folder: the preloaded snapshot.
    assert hub.resolve_weights_dir(config, cache_dir=cache) == snapshot
    # A weights folder (local runs, tests) wins.
    weights.mkdir()
    assert hub.resolve_weights_dir(config, cache_dir=cache) == weights
    # Neither: the (missing) weights folder, so the catalog is empty rather than broken.
    other = Settings.from_env({"EUSGIST_WEIGHTS_DIR": str(tmp_path / "absent"),
                               "EUSGIST_MODEL_REPO": "org/not-cached"})
    assert hub.resolve_weights_dir(other, cache_dir=cache) == tmp_path / "absent"


def test_model_repo_must_be_owner_and_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="EUSGIST_MODEL_REPO"):
        hub.cached_snapshot("no-owner", cache_dir=tmp_path)


def test_model_repo_card_from_the_bundles(tmp_path: Path) -> None:
    make_model_repo = _script("make_model_repo")
    names = make_model_repo.build(ROOT / "weights", tmp_path, ["org/busi"])
    assert names and all((tmp_path / n / "model_card.json").is_file() for n in names)
    # the segmenter travels too: the box model and Annotate's suggestions load it on a Space
    assert (tmp_path / "segmenters" / "busi-boxseg-lite0" / "model.safetensors").is_file()
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---\n", 2)[1])
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["org/busi"]
    assert {"roc_auc", "sensitivity", "specificity"} <= set(meta["metrics"])
    assert "not-for-clinical-use" in meta["tags"]
    # the phantom demo's deep features start from ImageNet EfficientNet-Lite0
    assert meta["base_model"] == ["timm/tf_efficientnet_lite0.in1k"]
    for heading in ("## Intended use", "## Limitations", "## Training data", "## Test metrics"):
        assert heading in card
    assert all(f"`{n}`" in card for n in names)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- storage: a Storage Bucket mount or a database URL, else a plain warning ---------------


@pytest.fixture
def space_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("EUSGIST_DATABASE_URL", "EUSGIST_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPACE_ID", "org/eusgist")
    return monkeypatch


def test_space_without_storage_says_annotations_are_not_persistent(space_env) -> None:
    assert db.storage_notice() == db.NOT_PERSISTENT
    assert "not persistent" in db.NOT_PERSISTENT and "EUSGIST_DATA_DIR" in db.NOT_PERSISTENT
    assert db.default_database_url() == f"sqlite:///{db.DEFAULT_DIR / db.DATABASE_FILE}"
    from eusgist.ui import annotate

    with gr.Blocks() as page:
        annotate.build()
    banners = [b for b in page.blocks.values() if b.elem_id == "annotate-storage-notice"]
    assert len(banners) == 1 and "not persistent" in banners[0].value


def test_bucket_mount_or_database_url_persist(space_env, tmp_path: Path) -> None:
    space_env.setenv("EUSGIST_DATA_DIR", str(tmp_path))
    assert db.storage_notice() is None
    url = db.default_database_url()
    assert url == f"sqlite:///{tmp_path / db.DATABASE_FILE}"
    # A bucket mount (NFS/FUSE) gets SQLite's rollback journal: WAL needs shared memory.
    engine = db.make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
    engine.dispose()
    space_env.delenv("EUSGIST_DATA_DIR")
    space_env.setenv("EUSGIST_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert db.storage_notice() is None and db.default_database_url().startswith("postgresql")
    space_env.delenv("SPACE_ID")
    space_env.delenv("EUSGIST_DATABASE_URL")
    assert db.storage_notice() is None  # local runs keep annotations/ without a warning
