"""ROI kinds: the lesion outlines and boxes users actually give, for training and validation.

An expert traces the lesion (an *outline*); a clinician in the Predict tab usually drags a
*box*. A model trained only on expert outlines can fail on boxes (shape features then describe
the box, not the lesion), so training sets are widened with the ROIs users give and models
are validated per ROI kind:

- ``outline``: the expert mask, and rough versions of it (dilated, eroded, its edge jittered);
- ``box``: the mask's bounding box, and boxes with each edge moved by a few percent.

:func:`roi_variants` makes these from one mask; :func:`write_roi_variants` turns a manifest
into one with a row per variant, their masks written as PNG files and the kind in the
``roi_kind`` column (a lesion's variants share its ``lesion_id``, so a grouped split keeps them
on one side).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from eusgist.errors import EusgistError

log = logging.getLogger(__name__)

RoiKind = Literal["outline", "box"]
ROI_KINDS: tuple[RoiKind, ...] = ("outline", "box")
#: The manifest column naming each row's ROI kind.
ROI_KIND_COLUMN = "roi_kind"
#: Largest move of a box edge, as a fraction of the box's side.
BOX_JITTER = 0.05
#: Most a loose box's edge lies outside the lesion's box, as a fraction of its side.
BOX_LOOSENESS = 0.25
#: Largest dilation/erosion of a rough outline, as a fraction of the lesion's equivalent diameter.
OUTLINE_JITTER = 0.06

#: Share of its bounding box a mask must fill to count as a box (an outline's is ~0.5-0.9).
BOX_FILL = 0.98

Box = tuple[int, int, int, int]


def mask_box(mask: np.ndarray) -> Box:
    """The tight bounding box ``(x0, y0, x1, y1)`` (end exclusive) of a non-empty mask."""
    ys, xs = np.nonzero(np.asarray(mask))
    if ys.size == 0:
        raise EusgistError("the mask is empty: no lesion pixels to take a box from")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    """A typed box ``x0,y0,x1,y1`` (``;`` also separates); None for empty text.

    Raises
    ------
    EusgistError
        Not four numbers.
    """
    if not text or not text.strip():
        return None
    try:
        values = tuple(float(v) for v in text.replace(";", ",").split(","))
    except ValueError:
        raise EusgistError(f"box must be four numbers x0,y0,x1,y1, got {text!r}") from None
    if len(values) != 4:
        raise EusgistError(f"box must be four numbers x0,y0,x1,y1, got {text!r}")
    return values  # type: ignore[return-value]


def box_mask(box: Sequence[float], shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask of the rectangle ``(x0, y0, x1, y1)`` (pixels, end exclusive)."""
    if len(box) != 4:
        raise EusgistError(f"a box is four numbers x0,y0,x1,y1; got {list(box)}")
    if not all(np.isfinite(float(v)) for v in box):
        raise EusgistError(f"a box is four finite numbers x0,y0,x1,y1; got {list(box)}")
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    height, width = shape[:2]
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise EusgistError(f"box ({x0}, {y0}, {x1}, {y1}) is not a non-empty rectangle inside "
                           f"the {width}x{height} image (x0 < x1 <= width, y0 < y1 <= height)")
    mask = np.zeros(shape[:2], dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def roi_kind_of(mask: np.ndarray) -> RoiKind:
    """``"box"`` for a mask that fills its bounding box (a drawn or uploaded rectangle; at
    least :data:`BOX_FILL` of it), else ``"outline"``."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return "outline"
    x0, y0, x1, y1 = mask_box(mask)
    return "box" if mask.sum() >= BOX_FILL * (x1 - x0) * (y1 - y0) else "outline"


def jitter_box(box: Box, shape: tuple[int, ...], rng: np.random.Generator,
               amount: float = BOX_JITTER) -> Box:
    """``box`` with each edge moved independently by up to ``amount`` × the box's side,
    kept inside the image and at least 2 pixels wide and high."""
    x0, y0, x1, y1 = box
    height, width = shape[:2]
    dx, dy = amount * (x1 - x0), amount * (y1 - y0)
    moves = rng.uniform(-1.0, 1.0, size=4) * np.array([dx, dy, dx, dy])
    nx0 = int(np.clip(round(x0 + moves[0]), 0, width - 2))
    ny0 = int(np.clip(round(y0 + moves[1]), 0, height - 2))
    nx1 = int(np.clip(round(x1 + moves[2]), nx0 + 2, width))
    ny1 = int(np.clip(round(y1 + moves[3]), ny0 + 2, height))
    return nx0, ny0, nx1, ny1


def loose_box(box: Box, shape: tuple[int, ...], rng: np.random.Generator,
              amount: float = BOX_LOOSENESS) -> Box:
    """A quick, loose box around the lesion: each edge moved outwards by up to ``amount`` ×
    the box's side (a clinician's box rarely hugs the lesion), kept inside the image."""
    x0, y0, x1, y1 = box
    height, width = shape[:2]
    dx, dy = amount * (x1 - x0), amount * (y1 - y0)
    grow = rng.uniform(0.0, 1.0, size=4) * np.array([dx, dy, dx, dy])
    return (int(max(0, round(x0 - grow[0]))), int(max(0, round(y0 - grow[1]))),
            int(min(width, round(x1 + grow[2]))), int(min(height, round(y1 + grow[3]))))


def rough_outline(mask: np.ndarray, rng: np.random.Generator,
                  amount: float = OUTLINE_JITTER) -> np.ndarray:
    """A hand-drawn-like version of an expert outline: dilated or eroded by up to ``amount``
    × the lesion's equivalent diameter, its edge made uneven. Never empty."""
    mask = np.asarray(mask, dtype=bool)
    area = int(mask.sum())
    if area == 0:
        raise EusgistError("the mask is empty: no lesion to outline")
    diameter = 2.0 * np.sqrt(area / np.pi)
    radius = int(round(rng.uniform(0.0, amount) * diameter))
    out = mask
    if radius > 0:
        grow = rng.random() < 0.5
        structure = ndimage.generate_binary_structure(2, 1)
        op = ndimage.binary_dilation if grow else ndimage.binary_erosion
        changed = op(mask, structure=structure, iterations=radius)
        out = changed if changed.any() else mask
    # An uneven edge: smooth noise thresholded near the boundary.
    sigma = max(diameter / 12.0, 1.0)
    noise = ndimage.gaussian_filter(rng.standard_normal(mask.shape), sigma)
    noise /= noise.std() or 1.0
    distance = (ndimage.distance_transform_edt(out) - ndimage.distance_transform_edt(~out))
    edge = 0.03 * diameter
    uneven = distance + edge * noise > 0
    uneven = ndimage.binary_fill_holes(uneven)
    return uneven if uneven.any() else out


def roi_variants(mask: np.ndarray, rng: np.random.Generator, *, outlines: int = 1,
                 boxes: int = 1, loose: int = 0) -> list[tuple[RoiKind, str, np.ndarray]]:
    """The expert outline and its bounding box, plus ``outlines`` rough outlines,
    ``boxes`` jittered boxes and ``loose`` loose boxes, as ``(kind, variant name, mask)``."""
    mask = np.asarray(mask, dtype=bool)
    box = mask_box(mask)
    out: list[tuple[RoiKind, str, np.ndarray]] = [
        ("outline", "expert", mask), ("box", "bbox", box_mask(box, mask.shape))]
    out += [("outline", f"rough{i + 1}", rough_outline(mask, rng)) for i in range(outlines)]
    out += [("box", f"jitter{i + 1}", box_mask(jitter_box(box, mask.shape, rng), mask.shape))
            for i in range(boxes)]
    out += [("box", f"loose{i + 1}", box_mask(loose_box(box, mask.shape, rng), mask.shape))
            for i in range(loose)]
    return out


def write_roi_variants(manifest: str | Path, out_dir: str | Path, *, outlines: int = 1,
                       boxes: int = 1, seed: int = 0,
                       kinds: tuple[RoiKind, ...] = ROI_KINDS, loose: int = 0) -> Path:
    """Write a manifest dataset with one row per ROI variant of every masked row of
    ``manifest``: ``out_dir/manifest.csv`` (the input's columns plus ``roi_kind`` and
    ``roi_variant``), the images linked (or copied) into ``out_dir/images`` and the variant
    masks written as PNG files into ``out_dir/masks`` (``loose`` loose boxes too, see
    :func:`loose_box`); only variants of ``kinds`` are kept
    (the same variants whatever ``kinds``: one seeded draw). Rows without a mask are kept
    once with an empty ``roi_kind``. Returns the new manifest's path."""
    from eusgist.data import link_or_copy, read_manifest, write_manifest
    from eusgist.io import read_mask

    src = read_manifest(manifest)
    out = Path(out_dir)
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for i, row in src.table.reset_index(drop=True).iterrows():
        image = src.root / str(row["image"])
        linked = out / "images" / f"{i:05d}{image.suffix.lower()}"
        link_or_copy(image, linked)
        base = {**row.to_dict(), "image": linked.relative_to(out).as_posix()}
        if not str(row["mask"]).strip():
            rows.append({**base, "mask": "", ROI_KIND_COLUMN: "", "roi_variant": ""})
            continue
        mask = read_mask(src.root / str(row["mask"]))
        for kind, name, variant in roi_variants(mask, rng, outlines=outlines, boxes=boxes,
                                                loose=loose):
            if kind not in kinds:
                continue
            target = out / "masks" / f"{i:05d}_{name}.png"
            Image.fromarray(variant.astype(np.uint8) * 255).save(target)
            rows.append({**base, "mask": target.relative_to(out).as_posix(),
                         ROI_KIND_COLUMN: kind, "roi_variant": name})
    path = write_manifest(pd.DataFrame(rows), out / "manifest.csv")
    log.info("%d ROI variants of %d rows written to %s", len(rows), len(src.table), path)
    return path
