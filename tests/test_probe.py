"""Bundles check themselves: a tampered bundle whose checksums were forged is still refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from eusgist.bundles.card import file_sha256
from eusgist.bundles.probe import PROBE, check_probe, probe_input
from eusgist.errors import BundleError

pytestmark = pytest.mark.slow


def _forge(bundle: Path, name: str, change) -> None:
    """Change one weight file and forge its checksum in the card (as a careless edit would)."""
    arrays = load_file(str(bundle / name))
    key = change(arrays)
    assert key is not None
    save_file(arrays, str(bundle / name))
    card_path = bundle / "model_card.json"
    card = json.loads(card_path.read_text())
    card["files"][name] = file_sha256(bundle / name)
    card_path.write_text(json.dumps(card, indent=1))


def _scale_first_float(arrays: dict[str, np.ndarray]) -> str | None:
    for key, value in arrays.items():
        if value.dtype.kind == "f" and value.size > 1:
            arrays[key] = (value * 1.5 + 0.1).astype(value.dtype)
            return key
    return None


def test_saved_bundles_carry_a_probe_and_load(prediction_bundles) -> None:
    from eusgist.bundles.cnn import load_cnn_bundle
    from eusgist.bundles.tabular import load_bundle

    for bundle in (prediction_bundles.tabular, prediction_bundles.cnn):
        card = json.loads((bundle / "model_card.json").read_text())
        assert PROBE in card["files"]
    load_bundle(prediction_bundles.tabular)
    load_cnn_bundle(prediction_bundles.cnn)


@pytest.mark.parametrize("kind, weights", [("cnn", "model.safetensors"),
                                           ("tabular", "classifier.safetensors")])
def test_a_tampered_bundle_with_forged_checksums_is_refused(
        prediction_bundles, tmp_path: Path, kind: str, weights: str) -> None:
    from eusgist import inference

    bundle = tmp_path / kind
    shutil.copytree(getattr(prediction_bundles, kind), bundle)
    _forge(bundle, weights, _scale_first_float)
    with pytest.raises(BundleError, match="self-check failed"):
        inference.load_model(bundle)


def test_a_tampered_probe_is_refused(prediction_bundles, tmp_path: Path) -> None:
    from eusgist.bundles.cnn import load_cnn_bundle

    bundle = tmp_path / "cnn"
    shutil.copytree(prediction_bundles.cnn, bundle)

    def shift_output(arrays: dict[str, np.ndarray]) -> str:
        arrays["model_output"] = arrays["model_output"] + 1.0
        return "model_output"

    _forge(bundle, PROBE, shift_output)
    with pytest.raises(BundleError, match="self-check failed.*max difference 1"):
        load_cnn_bundle(bundle)


def test_the_check_allows_float_noise_only() -> None:
    want = np.array([0.5, -2.0, 10.0])
    check_probe("b", "network", want + 1e-5, want)
    check_probe("b", "network", want + 1e-2, want, device="cuda:0")
    with pytest.raises(BundleError, match="self-check failed"):
        check_probe("b", "network", want + 1e-2, want)
    with pytest.raises(BundleError, match="gives 2 values"):
        check_probe("b", "network", want[:2], want)
    with pytest.raises(BundleError, match="self-check failed"):
        check_probe("b", "network", np.array([np.nan, -2.0, 10.0]), want)
    assert np.array_equal(probe_input((1, 3, 4, 4)), probe_input((1, 3, 4, 4)))
