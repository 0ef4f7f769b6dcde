"""Burned-in text detection on frames: synthetic text on speckle, and the array helpers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from eusgist.store import burned_text
from eusgist.store.burned_text import (
    as_rgb8,
    find_text_boxes,
    find_text_boxes_in_frames,
    frame_picks,
    preview_text_boxes,
    redact,
)

NAME_TEXT, DATE_TEXT = "DOE^JOHN  ID 0012345", "12/03/2024 14:22"


def _speckle(shape: tuple[int, int] = (400, 560), seed: int = 0) -> np.ndarray:
    """Ultrasound-like speckle: gamma-distributed gray values."""
    return np.random.default_rng(seed).gamma(2.0, 30, shape).clip(0, 255).astype(np.uint8)


def _with_text() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Speckle with a name line at the top and a date at the bottom; their ink boxes."""
    picture = Image.fromarray(_speckle()).convert("RGB")
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default(size=18)
    inked = []
    for at, text, colour in (((20, 12), NAME_TEXT, "white"), ((330, 360), DATE_TEXT, "yellow")):
        draw.text(at, text, fill=colour, font=font)
        inked.append(draw.textbbox(at, text, font=font))
    return np.asarray(picture), inked


def _covered(box: tuple[int, int, int, int], boxes: list[tuple[int, int, int, int]]) -> bool:
    x0, y0, x1, y1 = box
    mask = np.zeros((y1, x1), bool)
    for bx0, by0, bx1, by1 in boxes:
        mask[by0:by1, bx0:bx1] = True
    return bool(mask[y0:y1, x0:x1].all())


def test_text_on_speckle_is_found_and_the_speckle_is_not() -> None:
    frame, inked = _with_text()
    boxes = find_text_boxes(frame)
    assert len(boxes) == 2
    assert all(_covered(ink, boxes) for ink in inked)
    height, width = frame.shape[:2]
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes)
    assert area < 0.1 * height * width  # the boxes hug the text
    assert find_text_boxes(_speckle()) == []
    assert all(_covered(ink, find_text_boxes(frame[..., 0])) for ink in inked)  # gray


def test_boxes_are_grown_by_the_margin_and_clipped() -> None:
    frame, _ = _with_text()
    tight, loose = find_text_boxes(frame, margin=0), find_text_boxes(frame, margin=5)
    for (a0, b0, a1, b1), (c0, d0, c1, d1) in zip(tight, loose, strict=True):
        assert (c0, d0) == (max(0, a0 - 5), max(0, b0 - 5))
        assert (c1, d1) == (min(560, a1 + 5), min(400, b1 + 5))
    with pytest.raises(ValueError, match="margin -1 must be >= 0"):
        find_text_boxes(frame, margin=-1)


def test_other_dtypes_tiny_frames_and_bad_shapes() -> None:
    frame, inked = _with_text()
    as16 = frame[..., 0].astype(np.uint16) * 257
    assert all(_covered(ink, find_text_boxes(as16)) for ink in inked)
    assert find_text_boxes(np.full((20, 300), 255, np.uint8)) == []  # under 32 pixels high
    with pytest.raises(ValueError, match=r"must be \(H, W\) or \(H, W, C\), not \(5,\)"):
        find_text_boxes(np.zeros(5))


def test_as_rgb8_stretches_and_repeats() -> None:
    gray = np.array([[100, 200], [500, 100]], np.uint16)
    rgb = as_rgb8(gray)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., 0], [[0, 64], [255, 0]])
    np.testing.assert_array_equal(as_rgb8(np.zeros((2, 2, 4), np.uint8)), np.zeros((2, 2, 3)))
    assert as_rgb8(np.full((2, 2), 7.0)).max() == 0  # flat: no division by zero


def test_redact_blanks_boxes_and_keeps_alpha_opaque() -> None:
    rgba = np.full((6, 8, 4), 200, np.uint8)
    rgba[..., 3] = 10
    out = redact(rgba, [(1, 2, 4, 5)])
    assert not out[2:5, 1:4, :3].any() and (out[2:5, 1:4, 3] == 255).all()
    untouched = np.ones((6, 8), bool)
    untouched[2:5, 1:4] = False
    np.testing.assert_array_equal(out[untouched], rgba[untouched])
    gray = redact(np.ones((6, 8), np.uint16), [(0, 0, 8, 1)])
    assert gray[0].sum() == 0 and gray[1:].all() and rgba[2, 1, 0] == 200  # a copy


def test_cines_are_searched_in_up_to_eight_frames() -> None:
    assert frame_picks(1) == [0] and frame_picks(3) == [0, 1, 2]
    assert frame_picks(30) == [0, 4, 8, 12, 17, 21, 25, 29] and frame_picks(0) == []
    frame, inked = _with_text()
    cine = np.stack([_speckle((400, 560, 3), seed) for seed in range(5)] + [frame])
    assert all(_covered(ink, find_text_boxes_in_frames(cine)) for ink in inked)


def test_preview_draws_the_boxes_in_red() -> None:
    frame, _ = _with_text()
    shown = preview_text_boxes(frame[..., 0], [(10, 10, 50, 30)])
    assert shown.shape == (400, 560, 3) and shown.dtype == np.uint8
    assert tuple(shown[10, 30]) == (255, 40, 40) and tuple(shown[29, 10]) == (255, 40, 40)
    assert tuple(shown[20, 30]) == (frame[20, 30, 0],) * 3  # inside: the frame, unchanged
    found = preview_text_boxes(frame)
    assert (np.abs(found.astype(int) - frame).sum(axis=-1) > 0).any()


def test_a_missing_detector_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(burned_text, "MODEL_PACKAGE", "no_such_rapidocr_package")
    monkeypatch.setattr(burned_text, "_session", None)
    with pytest.raises(ValueError, match="needs the rapidocr-onnxruntime package.*redact='none'"):
        find_text_boxes(_with_text()[0])
