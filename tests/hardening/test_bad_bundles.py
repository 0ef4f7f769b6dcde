"""Hostile model bundles: each is refused with a message naming the problem, never reads
outside its folder, and never hides the good bundles beside it."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from bounds import refused

from eusgist import inference
from eusgist.bundles.tabular import (
    CARD,
    CLASSIFIER_ARRAYS,
    CLASSIFIER_JSON,
    file_sha256,
    load_bundle,
)
from eusgist.inference import catalog

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "weights" / "busi-radiomics-svm"
CNN = ROOT / "weights" / "busi-resnet18-cnn"


@pytest.fixture(scope="module", autouse=True)
def _imports_done():
    """Import torch and timm before any bound is measured: a refusal, not a first import."""
    import eusgist.bundles.cnn  # noqa: F401 - torch, timm
    from eusgist.features.deep import DeepFeatureExtractor  # noqa: F401

    catalog._device()


def _copy(tmp_path: Path, source: Path = GOOD, name: str = "bundle") -> Path:
    return Path(shutil.copytree(source, tmp_path / "weights" / name))


def _card(folder: Path) -> dict:
    return json.loads((folder / CARD).read_text())


def _write_card(folder: Path, card: dict) -> None:
    (folder / CARD).write_text(json.dumps(card))


def _rewrite(folder: Path, name: str, data: bytes) -> None:
    """Replace a file and its checksum consistently (a deliberate, well-formed edit)."""
    (folder / name).write_bytes(data)
    card = _card(folder)
    card["files"][name] = file_sha256(folder / name)
    _write_card(folder, card)


def _lying_safetensors(data: bytes) -> bytes:
    return struct.pack("<Q", 2**40) + data[8:]


def _edit(folder: Path, case: str, outside: Path) -> None:
    card = _card(folder)
    if case == "no-card":
        (folder / CARD).unlink()
    elif case == "truncated-card":
        (folder / CARD).write_bytes((folder / CARD).read_bytes()[:100])
    elif case == "json-bomb-deep":
        (folder / CARD).write_text("[" * 200_000 + "]" * 200_000)
    elif case == "json-bomb-deep-object":
        (folder / CLASSIFIER_JSON).write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
        card["files"][CLASSIFIER_JSON] = file_sha256(folder / CLASSIFIER_JSON)
        _write_card(folder, card)
    elif case == "json-huge":
        with (folder / CARD).open("w") as fh:
            fh.write(" " * (33 * 2**20) + "{}")
    elif case == "card-not-object":
        (folder / CARD).write_text("[1, 2]")
    elif case == "card-not-utf8":
        (folder / CARD).write_bytes(b'{"name": "caf\xe9"}')
    elif case == "wrong-format":
        key = "format" if "format" in card else "bundle_format"  # either card dialect
        _write_card(folder, card | {key: "eusgist-tabular/99"})
    elif case == "checksum":
        (folder / CLASSIFIER_ARRAYS).write_bytes((folder / CLASSIFIER_ARRAYS).read_bytes() + b"x")
    elif case in ("dotdot-name", "absolute-name"):
        name = "../outside.json" if case == "dotdot-name" else str(outside)
        card["files"][name] = file_sha256(outside)
        _write_card(folder, card)
    elif case == "symlink-weights":
        shutil.copy(folder / CLASSIFIER_ARRAYS, outside)
        (folder / CLASSIFIER_ARRAYS).unlink()
        (folder / CLASSIFIER_ARRAYS).symlink_to(outside)
    elif case == "symlink-card":
        shutil.copy(folder / CARD, outside)
        (folder / CARD).unlink()
        (folder / CARD).symlink_to(outside)
    elif case in ("pickle", "torch"):
        (folder / ("model.pkl" if case == "pickle" else "weights.pt")).write_bytes(b"\x80\x04.")
    elif case == "safetensors-lying-header":
        _rewrite(folder, CLASSIFIER_ARRAYS,
                 _lying_safetensors((folder / CLASSIFIER_ARRAYS).read_bytes()))
    elif case == "safetensors-empty":
        _rewrite(folder, CLASSIFIER_ARRAYS, b"")
    elif case == "threshold-text":
        _write_card(folder, card | {"threshold": "0.5; rm -rf /"})
    elif case == "threshold-nan":
        (folder / CARD).write_text(json.dumps(card | {"threshold": float("nan")}))
    elif case == "class-names":
        key = "classes" if "classes" in card else "class_names"  # either card dialect
        _write_card(folder, card | {key: ["only-one"]})
    elif case == "files-not-object":
        _write_card(folder, card | {"files": ["classifier.json"]})
    elif case == "classifier-garbage":
        _rewrite(folder, CLASSIFIER_JSON, b'{"format": "eusgist-tabular/1", "type": 7}')
    else:
        raise AssertionError(case)


CASES = {
    "no-card": ["model_card.json", "missing"],
    "truncated-card": ["not valid JSON"],
    "json-bomb-deep": ["nested too deeply"],
    "json-bomb-deep-object": ["classifier.json", "nested too deeply"],
    "json-huge": ["bytes", "limit"],
    "card-not-object": ["JSON object"],
    "card-not-utf8": ["not valid JSON"],
    "wrong-format": ["not supported"],
    "checksum": ["checksum"],
    "dotdot-name": ["refusing", "../outside.json"],
    "absolute-name": ["refusing"],
    "symlink-weights": ["symbolic link"],
    "symlink-card": ["symbolic link"],
    "pickle": ["refusing", "model.pkl", "pickles"],
    "torch": ["refusing", "weights.pt"],
    "safetensors-lying-header": ["safetensors"],
    "safetensors-empty": ["safetensors"],
    "threshold-text": ["threshold"],
    "threshold-nan": ["threshold"],
    "class-names": ["must be two names"],
    "files-not-object": ["files"],
    "classifier-garbage": ["classifier.json"],
}


@pytest.fixture
def outside(tmp_path):
    """A file outside every bundle that must never be read as part of one, nor changed."""
    path = tmp_path / "outside.json"
    path.write_text("{}")
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_broken_bundle_is_refused(tmp_path, outside, case):
    folder = _copy(tmp_path)
    _edit(folder, case, outside)
    before = outside.read_bytes()
    refused(load_bundle, folder, match=CASES[case], watch=[tmp_path])
    refused(inference.load_model, folder, match=CASES[case] if case != "no-card" else
            ["no model_card.json"], watch=[tmp_path])
    assert outside.read_bytes() == before


def test_bundle_that_is_a_file(tmp_path):
    path = tmp_path / "bundle"
    path.write_bytes(b"PK\x03\x04 not a folder")
    refused(load_bundle, path, match=["no such bundle folder"], watch=[tmp_path])
    refused(inference.load_model, path, match=["no model bundle"], watch=[tmp_path])


@pytest.mark.parametrize(("case", "match"), [
    ("missing-arch", ["CNN bundle", "arch"]),
    ("lying-weights", ["CNN bundle", "SafetensorError"]),
])
def test_broken_cnn_bundle_is_a_clear_error(tmp_path, case, match):
    folder = _copy(tmp_path, CNN, "cnn")
    if case == "missing-arch":
        card = _card(folder)
        del card["arch"]
        _write_card(folder, card)
    else:
        weights = folder / "model.safetensors"
        weights.write_bytes(_lying_safetensors(weights.read_bytes()))
        card = _card(folder)  # a forged checksum, so the file itself must be refused
        card["files"]["model.safetensors"] = file_sha256(weights)
        _write_card(folder, card)
    refused(inference.load_model, folder, match=match, watch=[tmp_path])


def test_list_models_marks_each_broken_bundle_and_keeps_the_good_one(tmp_path, outside):
    _copy(tmp_path, GOOD, "good")
    broken = ["json-bomb-deep", "truncated-card", "symlink-weights", "pickle", "card-not-object"]
    for case in broken:
        _edit(_copy(tmp_path, GOOD, case), case, outside)
    models = {m.path.name: m for m in inference.list_models(tmp_path / "weights")}
    assert set(models) == {"good", *broken}
    assert models["good"].available
    for case in broken:
        assert not models[case].available and models[case].error, case
