"""RadiomicsExtractor on hand-made images: values from the formulas, 2D pitfalls handled."""

from __future__ import annotations

import numpy as np
import pytest

from eusgist.features.radiomics import RadiomicsExtractor
from eusgist.io import LoadedImage


@pytest.fixture(scope="module")
def original() -> RadiomicsExtractor:
    return RadiomicsExtractor("eus_original")


def _case() -> tuple[np.ndarray, np.ndarray]:
    image = np.zeros((12, 14), dtype=np.float32)
    image[2:6, 3:8] = np.arange(20, dtype=np.float32).reshape(4, 5) * 3 + 10
    mask = np.zeros((12, 14), dtype=np.uint8)
    mask[2:6, 3:8] = 1
    return image, mask


def test_first_order_matches_the_formulas(original):
    image, mask = _case()
    roi = image[mask == 1].astype(np.float64)
    f = original.extract(image, mask, spacing=(0.5, 0.2))
    assert f["rad_original_firstorder_Mean"] == pytest.approx(roi.mean())
    assert f["rad_original_firstorder_Minimum"] == pytest.approx(roi.min())
    assert f["rad_original_firstorder_Maximum"] == pytest.approx(roi.max())
    assert f["rad_original_firstorder_Energy"] == pytest.approx((roi**2).sum())
    # total energy = energy x pixel area (0.5 mm x 0.2 mm)
    assert f["rad_original_firstorder_TotalEnergy"] == pytest.approx((roi**2).sum() * 0.1)
    assert f["rad_original_shape2D_PixelSurface"] == pytest.approx(20 * 0.1)


def test_diagnostics_are_not_features(original):
    image, mask = _case()
    f = original.extract(image, mask)
    assert f and all(k.startswith("rad_original_") for k in f)
    assert not any("diagnostics" in k for k in f)
    assert all(isinstance(v, float) for v in f.values())
    classes = {k.split("_")[2] for k in f}
    assert classes == {"firstorder", "shape2D", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}


def test_spacing_scales_shape_features(original):
    image, mask = _case()
    one = original.extract(image, mask, spacing=(1.0, 1.0))
    two = original.extract(image, mask, spacing=(2.0, 2.0))
    assert two["rad_original_shape2D_PixelSurface"] == pytest.approx(
        4 * one["rad_original_shape2D_PixelSurface"])
    for name in ("Perimeter", "MaximumDiameter", "MajorAxisLength"):
        key = f"rad_original_shape2D_{name}"
        assert two[key] == pytest.approx(2 * one[key])
    assert two["rad_original_shape2D_Elongation"] == pytest.approx(
        one["rad_original_shape2D_Elongation"])
    # unknown spacing = 1 mm per pixel
    assert original.extract(image, mask) == one


def test_spacing_axis_order_is_row_col(original):
    image = np.full((30, 30), 50.0, dtype=np.float32)
    image[10:14, 5:25] = np.linspace(0, 100, 80).reshape(4, 20)
    mask = np.zeros((30, 30), dtype=np.uint8)
    mask[10:14, 5:25] = 1  # 4 rows x 20 columns: wide
    wide = original.extract(image, mask, spacing=(1.0, 3.0))["rad_original_shape2D_MaximumDiameter"]
    tall = original.extract(image, mask, spacing=(3.0, 1.0))["rad_original_shape2D_MaximumDiameter"]
    assert wide > 2.5 * 19 and tall < 25  # columns stretched x3 vs rows stretched x3


def test_loaded_image_brings_its_spacing(original):
    image, mask = _case()
    loaded = LoadedImage(image, (0.5, 0.2), {})
    assert original.extract(loaded, mask) == original.extract(image, mask, spacing=(0.5, 0.2))


def test_255_rgb_and_bool_masks_agree(original):
    image, mask = _case()
    rgb = np.zeros(mask.shape + (3,), dtype=np.uint8)
    rgb[..., 0] = mask * 255
    expected = original.extract(image, mask)
    assert original.extract(image, mask * 255) == expected
    assert original.extract(image, rgb) == expected
    assert original.extract(image, mask.astype(bool)) == expected


def test_rgb_image_is_converted_to_luma(original):
    image, mask = _case()
    rgb = np.repeat(image[..., None], 3, axis=2)
    got = original.extract(rgb, mask)
    assert got["rad_original_firstorder_Mean"] == pytest.approx(
        original.extract(image, mask)["rad_original_firstorder_Mean"], rel=1e-5)


@pytest.mark.parametrize(
    ("mask_rows", "mask_cols", "message"),
    [
        (slice(0, 0), slice(0, 0), "mask is empty"),
        (slice(3, 4), slice(3, 4), r"mask too small for radiomics: 1 lesion pixel, at least 16"),
        (slice(3, 4), slice(0, 30), r"mask is a line \(1 row\(s\) x 30 column"),
        (slice(0, 20), slice(3, 4), r"mask is a line \(20 row\(s\) x 1 column"),
        (slice(0, 30), slice(0, 30), "mask covers the whole image"),
    ],
)
def test_bad_masks_get_clear_messages(original, mask_rows, mask_cols, message):
    image = np.full((30, 30), 100.0, dtype=np.float32)
    mask = np.zeros_like(image, dtype=np.uint8)
    mask[mask_rows, mask_cols] = 1
    with pytest.raises(ValueError, match=message):
        original.extract(image, mask)


def test_mismatch_and_bad_spacing(original):
    image, mask = _case()
    with pytest.raises(ValueError, match="does not match image shape"):
        original.extract(image, mask[:, :10])
    with pytest.raises(ValueError, match="spacing must be positive"):
        original.extract(image, mask, spacing=(0.0, 1.0))


def test_pyradiomics_errors_become_value_errors():
    # resegmentation to a range no pixel is in: pyradiomics' own error, with our prefix
    ex = RadiomicsExtractor({"setting": {"label": 1, "resegmentRange": [1000.0, 2000.0]},
                             "featureClass": {"firstorder": []}})
    image, mask = _case()
    with pytest.raises(ValueError, match="radiomics extraction failed: Resegmentation excluded"):
        ex.extract(image, mask)


def test_only_computes_the_requested_subset():
    ex = RadiomicsExtractor("eus_default")
    image = np.random.default_rng(0).normal(100, 20, (48, 48)).astype(np.float32)
    mask = np.zeros((48, 48), dtype=np.uint8)
    mask[10:40, 12:36] = 255
    full = ex.extract(image, mask, spacing=(0.2, 0.2))
    wanted = ["rad_original_firstorder_Mean", "log-sigma-2-0-mm-3D_glcm_Contrast",
              "rad_wavelet-HH_ngtdm_Busyness", "rad_original_shape2D_Perimeter",
              "rad_wavelet-LH_firstorder_Skewness", "rad_wavelet-LH_glszm_ZoneEntropy",
              "rad_log-sigma-1-0-mm-3D_gldm_DependenceEntropy", "rad_original_glrlm_RunEntropy"]
    part = ex.extract(image, mask, spacing=(0.2, 0.2), only=wanted)
    assert set(part) == {"rad_" + w.removeprefix("rad_") for w in wanted}
    for name, value in part.items():
        assert value == pytest.approx(full[name], rel=1e-9, abs=1e-12)
    assert len(full) > 700  # original + 3 LoG + 4 wavelet sub-bands
    prov = ex.provenance
    assert prov["radiomics_versions"]["pyradiomics"] and prov["radiomics_params_name"] == "eus_default"
