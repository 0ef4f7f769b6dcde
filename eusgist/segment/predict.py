"""Apply a segmenter: one image and box, or every row of a manifest."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from eusgist.errors import EusgistError
from eusgist.roi_kinds import mask_box
from eusgist.segment.bundle import Segmenter, load_segmenter
from eusgist.segment.geometry import Box

log = logging.getLogger(__name__)


def _segmenter(model: Segmenter | str | os.PathLike[str]) -> Segmenter:
    return model if isinstance(model, Segmenter) else load_segmenter(model)


def segment(model: Segmenter | str | os.PathLike[str], image: np.ndarray | str | os.PathLike[str],
            box: Box) -> np.ndarray:
    """The suggested lesion outline (boolean, image-sized) inside ``box`` ``(x0, y0, x1, y1)``.

    Raises
    ------
    EusgistError
        An unreadable or empty image, or a box that is not a rectangle inside the image.
    """
    from eusgist.io import read_image

    array = read_image(image).array if not isinstance(image, np.ndarray) else image
    if array.size == 0 or array.ndim not in (2, 3):
        raise EusgistError(f"the image is empty or not 2D (shape {array.shape})")
    if float(np.ptp(array)) == 0.0:
        raise EusgistError("the image is blank (one grey level): nothing to outline")
    return _segmenter(model).segment(array, box)


def segment_manifest(model: Segmenter | str | os.PathLike[str],
                     manifest: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                     allow_outside_root: bool = False) -> Path:
    """Turn a box-annotated dataset into an outline dataset.

    Each row's mask gives the prompt (its bounding box: a box mask gives itself); the
    suggested outline is written to ``out_dir/masks`` and ``out_dir/manifest.csv`` lists
    it (columns of the input plus ``prompt_box`` and ``mask_source``). Images are linked (or
    copied) into ``out_dir/images``; rows without a mask are kept without one.
    """
    from eusgist.data import link_or_copy, read_manifest, write_manifest
    from eusgist.io import read_image, read_mask

    seg = _segmenter(model)
    src = read_manifest(manifest, allow_outside_root=allow_outside_root)
    out = Path(out_dir)
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    for i, row in src.table.reset_index(drop=True).iterrows():
        image_path = src.image_path(i)
        linked = out / "images" / f"{i:05d}{image_path.suffix.lower()}"
        link_or_copy(image_path, linked)
        base = {**row.to_dict(), "image": linked.relative_to(out).as_posix()}
        mask_path = src.mask_path(i)
        if mask_path is None:
            rows.append({**base, "mask": "", "prompt_box": "", "mask_source": ""})
            continue
        image = read_image(image_path).array
        box = mask_box(read_mask(mask_path, like=image.shape) > 0)
        outline = seg.segment(image, box)
        target = out / "masks" / f"{i:05d}_outline.png"
        Image.fromarray(outline.astype(np.uint8) * 255).save(target)
        rows.append({**base, "mask": target.relative_to(out).as_posix(),
                     "prompt_box": ",".join(map(str, box)),
                     "mask_source": f"segmenter:{seg.name}"})
    path = write_manifest(pd.DataFrame(rows), out / "manifest.csv")
    log.info("%d outlines suggested for %s; written to %s", sum(bool(r["mask"]) for r in rows),
             manifest, path)
    return path
