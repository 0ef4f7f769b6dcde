"""Draw docs/img/phantom_examples.png: six phantom frames, both classes, lesion outlined.

    .venv/bin/python scripts/make_phantom_figure.py [--out docs/img/phantom_examples.png]

Lesions are drawn from the class priors until each panel's wish (a cystic GIST, a
leiomyoma of the muscularis mucosae, ...) is met, so the figure is reproducible and shows
the variety the generator covers. The outline (mask edge) is drawn in colour; the image
is stored as a palette PNG to stay small.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from eusgist.phantom import GIST, LEIOMYOMA, LesionSpec, PhantomConfig, render_frame, sample_lesion
from eusgist.phantom.overlay import draw_overlays

TILE = 224
CAPTION = 16
OUTLINE = {GIST: (255, 170, 0), LEIOMYOMA: (0, 200, 255)}
PANELS: tuple[tuple[str, str, Callable[[LesionSpec], bool]], ...] = (
    (GIST, "heterogeneous, cystic", lambda s: s.cystic and s.echo_pattern == "heterogeneous"),
    (GIST, "calcification", lambda s: s.calcification and s.growth_pattern == "intraluminal"),
    (GIST, "irregular", lambda s: s.shape == "irregular" and s.size_mm > 25),
    (LEIOMYOMA, "fusiform", lambda s: s.shape == "fusiform" and s.size_mm > 10),
    (LEIOMYOMA, "muscularis mucosae", lambda s: s.origin_layer == "muscularis_mucosae"),
    (LEIOMYOMA, "oval", lambda s: s.shape == "oval" and s.size_mm > 7),
)


def _find(rng: np.random.Generator, label: str, wish: Callable[[LesionSpec], bool]) -> LesionSpec:
    while not wish(spec := sample_lesion(rng, label)):
        pass
    return spec


def _panel(spec: LesionSpec, caption: str, rng: np.random.Generator) -> Image.Image:
    config = PhantomConfig(image_size=TILE)
    image, mask, meta = render_frame(spec, rng, config)
    image, _ = draw_overlays(image, meta, rng, calipers=False)
    rgb = np.repeat(image[..., None], 3, axis=2)
    rgb[mask & ~ndimage.binary_erosion(mask)] = OUTLINE[spec.label]
    tile = Image.new("RGB", (TILE, TILE + CAPTION))
    tile.paste(Image.fromarray(rgb), (0, 0))
    text = f"{spec.label} {spec.size_mm:.0f} mm, {caption}"
    ImageDraw.Draw(tile).text((4, TILE + 2), text, fill=OUTLINE[spec.label],
                              font=ImageFont.load_default(size=11))
    return tile


def make_figure(seed: int = 3) -> Image.Image:
    """The contact sheet: GISTs on the top row, leiomyomas below."""
    rng = np.random.default_rng(seed)
    tiles = [_panel(_find(rng, label, wish), caption, rng) for label, caption, wish in PANELS]
    sheet = Image.new("RGB", (3 * TILE, 2 * (TILE + CAPTION)))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % 3) * TILE, (i // 3) * (TILE + CAPTION)))
    return sheet.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/phantom_examples.png"))
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    make_figure(args.seed).save(args.out, optimize=True)
    print(f"{args.out} ({args.out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
