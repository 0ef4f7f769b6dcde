"""On-screen text, depth scale and calipers burned into a frame, as on EUS screenshots."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from eusgist.phantom.render import FrameMeta

OVERLAY_GREY = 235


def _font(image_size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(8, image_size // 26))


def _cross(draw: ImageDraw.ImageDraw, row: float, col: float, arm: int) -> None:
    draw.line([(col - arm, row), (col + arm, row)], fill=OVERLAY_GREY)
    draw.line([(col, row - arm), (col, row + arm)], fill=OVERLAY_GREY)


def _dotted(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float]) -> None:
    n = max(2, int(np.hypot(b[0] - a[0], b[1] - a[1]) // 4))
    for t in np.linspace(0, 1, n)[1:-1]:
        draw.point((a[1] + t * (b[1] - a[1]), a[0] + t * (b[0] - a[0])), fill=OVERLAY_GREY)


def draw_overlays(
    image: np.ndarray, meta: FrameMeta, rng: np.random.Generator, *, calipers: bool
) -> tuple[np.ndarray, float | None]:
    """Return a copy of ``image`` with scanner text, a depth scale and optional calipers.

    Calipers mark the lesion's long axis; their label shows the section's long diameter
    with measurement noise (SD 4 %), which is also returned (``None`` without calipers).
    """
    size = image.shape[0]
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    font = _font(size)
    p = meta.params
    text = f"EUS\n{p.frequency_mhz:g}MHz\nG{p.gain_db:+.0f}\nDR{p.dynamic_range_db:.0f}"
    draw.multiline_text((3, 2), text, fill=OVERLAY_GREY, font=font, spacing=1)
    draw.text((size - 3, 2), f"D{p.depth_mm:.0f}mm", fill=OVERLAY_GREY, font=font, anchor="ra")
    apex_row, _ = meta.apex_px
    for k, depth in enumerate(np.arange(0.0, p.depth_mm + 1e-6, 10.0)):
        row = apex_row + (meta.probe_radius_mm + depth) / meta.spacing_mm
        if row < size - 2:
            tick = 4 if k % 5 == 0 else 2
            draw.line([(size - 3 - tick, row), (size - 3, row)], fill=OVERLAY_GREY)
    measured = None
    if calipers:
        a, b = meta.caliper_px
        arm = max(2, size // 80)
        _cross(draw, *a, arm)
        _cross(draw, *b, arm)
        _dotted(draw, a, b)
        measured = round(meta.section_mm * float(1 + rng.normal(0, 0.04)), 1)
        draw.text((3, size - 3), f"D1 {measured:.1f}mm", fill=OVERLAY_GREY, font=font,
                  anchor="ld")
    return np.asarray(canvas), measured
