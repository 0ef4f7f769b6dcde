"""Synthetic feature tables in the :mod:`eusgist.features` layout, for demos and tests.

Rows are images (several per lesion, one lesion per patient); columns are ``image, label,
patient_id, lesion_id``, then ``rad_*`` radiomics-like and ``deep_*`` embedding-like
features. A few columns of each modality carry a lesion-level class signal; the rest are
noise, near-duplicates of signal columns and constant columns, the awkward parts of
real radiomics tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eusgist.errors import EusgistError

__all__ = ["synthetic_feature_table"]

_RAD_SIGNAL = (
    "rad_original_firstorder_Mean",
    "rad_original_glcm_Contrast",
    "rad_original_shape2D_MajorAxisLength",
)


def synthetic_feature_table(
    *,
    n_lesions: int = 40,
    max_images_per_lesion: int = 3,
    n_rad: int = 24,
    n_deep: int = 32,
    signal: float = 1.5,
    classes: tuple[str, str] = ("leiomyoma", "GIST"),
    seed: int = 0,
) -> pd.DataFrame:
    """A feature table with lesion-level signal in a few columns.

    Parameters
    ----------
    n_lesions : int, default 40
        Lesions (= patients), alternating between the two classes.
    max_images_per_lesion : int, default 3
        Each lesion has 1..this many images.
    n_rad, n_deep : int
        Number of ``rad_`` and ``deep_`` columns (each at least 6; 0 omits the modality).
    signal : float, default 1.5
        Class separation (in noise standard deviations) of the signal columns; 0 = pure noise.
    classes : (negative, positive)
    seed : int

    Returns
    -------
    pandas.DataFrame
    """
    rng = np.random.default_rng(seed)
    y_lesion = np.arange(n_lesions) % 2
    n_images = rng.integers(1, max_images_per_lesion + 1, size=n_lesions)
    lesion = np.repeat(np.arange(n_lesions), n_images)
    y = y_lesion[lesion]
    n = y.size
    table = pd.DataFrame({
        "image": [
            f"images/l{le:03d}_{k}.png" for le, k in zip(lesion, _counter(lesion), strict=True)
        ],
        "label": np.asarray(classes)[y],
        "patient_id": [f"P{le:03d}" for le in lesion],
        "lesion_id": [f"L{le:03d}" for le in lesion],
    })
    columns: dict[str, np.ndarray] = {}
    for prefix, count, signal_names in (
        ("rad_", n_rad, _RAD_SIGNAL),
        ("deep_", n_deep, tuple(f"deep_resnet18_{i:03d}" for i in range(3))),
    ):
        if count == 0:
            continue
        if count < 6:
            raise EusgistError(f"need at least 6 {prefix} columns or none, not {count}")
        lesion_effect = rng.normal(size=(n_lesions, 3))[lesion]  # images of a lesion correlate
        for j, name in enumerate(signal_names):
            columns[name] = signal * y + 0.7 * lesion_effect[:, j] + 0.7 * rng.normal(size=n)
        first = columns[signal_names[0]]
        columns[f"{prefix}dup_0" if prefix == "deep_" else "rad_original_firstorder_Median"] = (
            first + 0.01 * rng.normal(size=n)
        )
        constant = "deep_const" if prefix == "deep_" else "rad_original_shape2D_Elongation"
        columns[constant] = np.full(n, 1.0)
        for i in range(count - 5):
            name = (f"deep_resnet18_{i + 3:03d}" if prefix == "deep_"
                    else f"rad_wavelet-LH_glszm_Noise{i}")
            columns[name] = rng.normal(size=n)
    return pd.concat([table, pd.DataFrame(columns)], axis=1)


def _counter(values: np.ndarray) -> np.ndarray:
    """Running index of each value's occurrence (0, 1, 2, ... within equal values)."""
    out = np.zeros(values.size, dtype=np.int64)
    seen: dict[int, int] = {}
    for i, v in enumerate(values.tolist()):
        out[i] = seen.get(v, 0)
        seen[v] = out[i] + 1
    return out
