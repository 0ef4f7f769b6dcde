"""Shipped radiomics protocols validate against pyradiomics' own schema."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from eusgist.features.radiomics import (
    PARAMS_DIR,
    RadiomicsExtractor,
    load_params,
    minimal_params,
    shipped_params,
    validate_params,
)


def test_default_protocols_are_shipped():
    assert {p.stem for p in shipped_params()} >= {"eus_default", "eus_original"}


@pytest.mark.parametrize("path", shipped_params(), ids=lambda p: p.name)
def test_every_shipped_yaml_validates(path: Path):
    from radiomics import featureextractor

    text = path.read_text()
    assert text.lstrip().startswith("#"), "shipped protocols are commented"
    params = validate_params(yaml.safe_load(text))
    assert params["setting"]["force2D"] is False
    with warnings.catch_warnings():  # pykwalify's extension loading is old-style
        warnings.simplefilter("ignore", DeprecationWarning)
        featureextractor.RadiomicsFeatureExtractor(str(path))  # pyradiomics' own loader too
    classes = set(params["featureClass"])
    assert {"firstorder", "shape2D", "glcm", "glrlm", "glszm", "gldm", "ngtdm"} <= classes


def test_default_enables_log_and_wavelet():
    params = load_params("eus_default")[2]
    assert {"Original", "LoG", "Wavelet"} <= set(params["imageType"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"setting": {"binWidth": -1}}, "invalid radiomics parameters"),
        ({"imageType": {"Fourier": {}}}, "invalid radiomics parameters"),
        ({"setting": {"force2D": True}}, "force2D must be false"),
    ],
)
def test_bad_params_are_rejected(params, message):
    with pytest.raises(ValueError, match=message):
        RadiomicsExtractor(params)


def test_unknown_protocol_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown radiomics protocol 'nope'"):
        RadiomicsExtractor("nope")
    with pytest.raises(ValueError, match="not found"):
        RadiomicsExtractor(tmp_path / "missing.yaml")


def test_protocol_from_path_keeps_its_text(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("# mine\n" + (PARAMS_DIR / "eus_original.yaml").read_text())
    ex = RadiomicsExtractor(path)
    assert ex.name == "mine" and ex.provenance["radiomics_params_yaml"].startswith("# mine")
    # comments do not change the settings hash
    assert ex.settings_hash == RadiomicsExtractor("eus_original").settings_hash


def test_minimal_params_keeps_only_what_is_needed():
    params = load_params("eus_default")[2]
    small = minimal_params(params, ["rad_log-sigma-2-0-mm-3D_glcm_Contrast",
                                    "original_firstorder_Mean"])
    assert small["imageType"] == {"LoG": {"sigma": [2.0], "binCount": 32}, "Original": {}}
    assert small["featureClass"] == {"glcm": ["Contrast"], "firstorder": ["Mean"]}
    validate_params(small)
    with pytest.raises(ValueError, match="not a radiomics feature name"):
        minimal_params(params, ["Mean"])
    with pytest.raises(ValueError, match="LoG sigma"):
        minimal_params(params, ["log-sigma-9-0-mm-3D_glcm_Contrast"])
    with pytest.raises(ValueError, match="needs image type LoG"):
        minimal_params(load_params("eus_original")[2], ["log-sigma-1-0-mm-3D_glcm_Contrast"])
