"""Images no EUS model should score without a caution, for the out-of-domain gate's tests
and bench (bench/bench_domain.py): pydicom's bundled CT, MR and other examples, and
generated pictures (colour photograph-like scenes, test patterns, text, smooth
radiograph-like images). Each comes with a central box as its ROI.

Offline and deterministic: the DICOM files ship inside pydicom; the rest is drawn here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: pydicom's bundled files by kind (``pydicom/data/test_files``; no download).
DICOM_FOREIGN = {
    "CT": ("CT_small.dcm", "693_J2KI.dcm"),
    "MR": ("MR_small.dcm", "examples_overlay.dcm"),
    "NM": ("JPEG2000.dcm",),
    "secondary capture": ("SC_rgb_jpeg_dcmtk.dcm", "image_dfl.dcm"),
}
#: pydicom's bundled ultrasound examples (other organs and machines than the training data).
DICOM_ULTRASOUND = ("examples_jpeg2k.dcm", "examples_rgb_color.dcm", "examples_palette.dcm",
                    "examples_ybr_color.dcm")


@dataclass(frozen=True)
class Foreign:
    """One foreign image: its kind, a name, the pixels (gray ``(H, W)`` or RGB
    ``(H, W, 3)``, 8-bit) or a DICOM path, and a box ROI."""

    kind: str
    name: str
    image: np.ndarray | Path
    box: tuple[int, int, int, int]


def _box(h: int, w: int) -> tuple[int, int, int, int]:
    return (w // 4, h // 4, 3 * w // 4, 3 * h // 4)


def dicom_file(name: str) -> Path:
    """A pydicom test file bundled with the package (never downloaded)."""
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files" / name


def _photo(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A photograph-like colour scene: sky gradient, ground, coloured blobs, sensor noise."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    sky = rng.uniform(0.3, 0.7, 3) * [0.6, 0.8, 1.0]
    img[:] = sky + 0.3 * (1 - yy)[..., None]
    horizon = rng.uniform(0.4, 0.7)
    ground = rng.uniform(0.2, 0.6, 3) * [0.7, 1.0, 0.5]
    img[yy > horizon] = ground
    for _ in range(rng.integers(3, 8)):
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.2)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2] = rng.uniform(0, 1, 3)
    img += rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _checkerboard(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    cell = int(rng.integers(8, 48))
    yy, xx = np.mgrid[0:size, 0:size] // cell
    return np.where((yy + xx) % 2 == 0, 230, 25).astype(np.uint8)


def _gradient(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    g = np.cos(angle) * xx + np.sin(angle) * yy
    return (255 * (g - g.min()) / (np.ptp(g) or 1)).astype(np.uint8)


def _text(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    from PIL import Image, ImageDraw

    picture = Image.new("L", (size, size), int(rng.integers(200, 256)))
    draw = ImageDraw.Draw(picture)
    words = ["Patient", "report", "lesion", "GIST", "gastric", "wall", "mm", "EUS", "2026"]
    for row in range(2, size - 12, 14):
        line = " ".join(rng.choice(words, 4))
        draw.text((4, row), line, fill=int(rng.integers(0, 60)))
    return np.asarray(picture)


def _radiograph(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A smooth radiograph-like image: blurred bright shapes on a dark field, no speckle."""
    from scipy.ndimage import gaussian_filter

    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.full((size, size), 0.15)
    for _ in range(rng.integers(2, 5)):
        cy, cx = rng.uniform(0.2, 0.8, 2)
        ry, rx = rng.uniform(0.1, 0.35, 2)
        img += rng.uniform(0.2, 0.5) * (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1)
    img = gaussian_filter(img, size / 40)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _flat(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    return np.full((size, size), int(rng.integers(20, 235)), dtype=np.uint8)


GENERATED = {"colour photograph": _photo, "checkerboard": _checkerboard,
             "gradient": _gradient, "text": _text, "radiograph-like": _radiograph,
             "flat": _flat}


def generated(n_per_kind: int = 6, seed: int = 0) -> Iterator[Foreign]:
    """``n_per_kind`` generated pictures of every kind in :data:`GENERATED`."""
    rng = np.random.default_rng(seed)
    for kind, make in GENERATED.items():
        for i in range(n_per_kind):
            pixels = make(rng)
            yield Foreign(kind, f"{kind} {i}", pixels, _box(*pixels.shape[:2]))


def _dicom_items(names: dict[str, tuple[str, ...]]) -> Iterator[Foreign]:
    from eusgist.io import read_image

    for kind, files in names.items():
        for name in files:
            path = dicom_file(name)
            h, w = read_image(path).shape[-2:]
            yield Foreign(kind, name, path, _box(h, w))


def foreign(n_per_kind: int = 6, seed: int = 0) -> list[Foreign]:
    """Every foreign image: pydicom's CT/MR/NM/secondary-capture examples and the generated
    pictures."""
    return [*_dicom_items(DICOM_FOREIGN), *generated(n_per_kind, seed)]


def other_ultrasound() -> list[Foreign]:
    """pydicom's bundled ultrasound examples (reported, not a target of the gate)."""
    return list(_dicom_items({"ultrasound (other)": DICOM_ULTRASOUND}))
