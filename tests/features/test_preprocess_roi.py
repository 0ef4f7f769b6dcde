"""eusgist.preprocess: expected values written from each function's formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eusgist.preprocess import (
    as_gray,
    binarise_mask,
    crop_roi,
    roi_box,
    to_model_input,
    whole_image,
)

CONFIG = {"input_size": (3, 8, 8), "mean": (0.485, 0.456, 0.406),
          "std": (0.229, 0.224, 0.225), "interpolation": "bicubic"}


def _mask(shape=(40, 60), rows=(10, 20), cols=(20, 40)) -> np.ndarray:
    m = np.zeros(shape, dtype=np.uint8)
    m[rows[0]:rows[1], cols[0]:cols[1]] = 255
    return m


def test_roi_box_margin_formula():
    # lesion rows 10..19 (h=10), cols 20..39 (w=20): margin 0.1 adds 1 row, 2 columns
    assert roi_box(_mask(), margin=0.1) == (9, 21, 18, 42)
    assert roi_box(_mask(), margin=0.0) == (10, 20, 20, 40)
    assert roi_box(_mask(), margin=0.25) == (8, 22, 15, 45)  # round(2.5)=2, round(5)=5


def test_roi_box_clips_to_image():
    assert roi_box(_mask(rows=(0, 10), cols=(50, 60)), margin=0.5) == (0, 15, 45, 60)


def test_crop_roi_square_is_centred_on_the_box():
    image = np.arange(40 * 60, dtype=np.float32).reshape(40, 60)
    crop = crop_roi(image, _mask(), margin=0.1, square=True)
    # box (9, 21, 18, 42) is 12 x 24: rows grow by 6 on top -> rows 3..26
    np.testing.assert_array_equal(crop, image[3:27, 18:42])
    np.testing.assert_array_equal(crop_roi(image, _mask(), margin=0.1, square=False),
                                  image[9:21, 18:42])


def test_crop_roi_pads_outside_the_image_with_fill():
    image = np.ones((40, 60), dtype=np.float32)
    crop = crop_roi(image, _mask(rows=(0, 4), cols=(10, 30)), margin=0.0, square=True)
    # 4 x 20 box grows to 20 x 20 starting at row 0 - 8 = -8: 8 padded rows
    assert crop.shape == (20, 20)
    assert (crop[:8] == 0).all() and (crop[8:12] == 1).all() and (crop[12:] == 1).all()


def test_whole_image_pads_to_square():
    image = np.ones((4, 6), dtype=np.float32)
    out = whole_image(image)
    assert out.shape == (6, 6)
    assert (out[0] == 0).all() and (out[5] == 0).all() and (out[1:5] == 1).all()
    assert whole_image(image, square=False).shape == (4, 6)


def test_as_gray_rgb_is_bt601_luma():
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 50, 200
    np.testing.assert_allclose(as_gray(rgb), 0.299 * 100 + 0.587 * 50 + 0.114 * 200, rtol=1e-6)


def test_binarise_mask_255_and_rgb():
    m = _mask()
    rgb = np.zeros(m.shape + (3,), dtype=np.uint8)
    rgb[..., 1] = m  # green outline-filled annotation
    np.testing.assert_array_equal(binarise_mask(m), m == 255)
    np.testing.assert_array_equal(binarise_mask(rgb), m == 255)


@pytest.mark.parametrize(
    ("mask", "shape", "message"),
    [
        (np.zeros((4, 4)), None, "mask is empty"),
        (np.ones((4, 4)), (4, 5), r"does not match image shape"),
        (np.ones((2, 4, 4, 4)), None, "mask must be 2D"),
    ],
)
def test_binarise_mask_errors(mask, shape, message):
    with pytest.raises(ValueError, match=message):
        binarise_mask(mask, shape)


def test_crop_roi_mismatch_names_the_problem():
    with pytest.raises(ValueError, match="does not match"):
        crop_roi(np.zeros((10, 10)), _mask())


def test_to_model_input_normalises_with_the_config():
    x = to_model_input(np.full((5, 7), 127.5, dtype=np.float32), CONFIG)
    assert isinstance(x, torch.Tensor) and x.shape == (3, 8, 8) and x.dtype == torch.float32
    for c in range(3):
        expected = (0.5 - CONFIG["mean"][c]) / CONFIG["std"][c]
        torch.testing.assert_close(x[c], torch.full((8, 8), expected), atol=1e-5, rtol=0)


def test_to_model_input_clips_and_scales():
    x = to_model_input(np.full((8, 8), 300.0), CONFIG)  # same size: no resampling
    torch.testing.assert_close(x[0], torch.full((8, 8), (1 - 0.485) / 0.229))
    y = to_model_input(np.full((8, 8), 2.0), CONFIG, scale=4.0)
    torch.testing.assert_close(y[2], torch.full((8, 8), (0.5 - 0.406) / 0.225))


def test_to_model_input_keeps_layout_when_resizing():
    crop = np.zeros((16, 16), dtype=np.float32)
    crop[:, 8:] = 255  # right half bright
    x = to_model_input(crop, CONFIG)
    assert (x[0, :, :3] < 0).all() and (x[0, :, 5:] > 0).all()
