"""The box/polygon overlay driven with the mouse in a real browser (shared by browser tests)."""

from __future__ import annotations

import json


def stage(page, root: str) -> dict:
    """Screen box of the overlay's picture (the SVG lies exactly on it)."""
    svg = page.locator(f"{root} .eus-stage svg")
    svg.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelector('{root} .eus-stage img').naturalWidth > 0",
        timeout=30_000)
    svg.evaluate("e => e.scrollIntoView({block: 'center'})")
    box = svg.bounding_box()
    assert box is not None and box["width"] > 50
    return box


def at(box: dict, size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    """Screen point of image pixel (x, y) on a picture of ``size`` (width, height)."""
    return box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1]


def drag(page, root: str, size: tuple[int, int], start: tuple, end: tuple) -> None:
    """Drag on the overlay from image pixel ``start`` to ``end``."""
    box = stage(page, root)
    page.mouse.move(*at(box, size, *start))
    page.mouse.down()
    page.mouse.move(*at(box, size, *end), steps=6)
    page.mouse.up()


def overlay_value(page, root: str) -> dict:
    """The overlay's value: the drawn shapes, in image pixels."""
    return json.loads(page.locator(f"{root} .eus-shapes").get_attribute("data-value"))
