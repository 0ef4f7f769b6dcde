"""What a synthetic patient and lesion look like, sampled from the class priors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eusgist.errors import EusgistError
from eusgist.phantom.priors import PRIORS, ClassPrior, choose, sample_size_mm

SHAPE_ASPECT: dict[str, tuple[float, float]] = {
    "round": (1.0, 1.2),
    "oval": (1.3, 1.8),
    "fusiform": (1.8, 3.0),
    "irregular": (1.1, 1.8),
}
"""Long / short axis ratio range per Table 1 shape."""

ECHO_LEVEL_DB: dict[str, tuple[float, float]] = {
    "hypoechoic": (-15.0, -10.0),
    "mid_low": (-9.0, -5.0),
    "mixed": (-12.0, -7.0),
}
"""Mean lesion echogenicity relative to submucosa (dB) per Table 1 echo level.

Hypoechoic lesions are a little brighter than the muscularis propria (−19 dB), so the
outline stays visible where the lesion meets its layer of origin.
"""

LOCATION_WALL_SCALE: dict[str, float] = {
    "esophagus": 0.8,
    "cardia": 0.9,
    "cardia_fundus": 0.9,
    "fundus": 0.95,
    "fundus_body": 1.0,
    "body": 1.0,
    "antrum_body": 1.1,
    "antrum": 1.2,
}
"""Wall thickness factor per location (the antral muscle is thicker, the esophagus thinner)."""


@dataclass(frozen=True)
class PatientSpec:
    """One synthetic patient: every lesion of a patient has the patient's label."""

    patient_id: str
    label: str
    age: int
    sex: str


@dataclass(frozen=True)
class LesionSpec:
    """Everything about a lesion that stays fixed across its images.

    Clinical attributes follow guo2024 Table 1; the rest is geometry and texture.
    ``harmonics`` are ``(order, amplitude, phase)`` perturbations of the outline radius;
    ``cysts`` are ``(x, y, radius)`` in lesion-normalised units (1 = semi-axis);
    ``calcifications`` are ``(x, y, radius_mm)`` with the centre in normalised units.
    """

    label: str
    size_mm: float
    location: str
    origin_layer: str
    echo_pattern: str
    echo_level: str
    shape: str
    lobulated: bool
    growth_pattern: str
    border: str
    calcification: bool
    cystic: bool
    aspect: float
    taper: float
    tilt_deg: float
    harmonics: tuple[tuple[int, float, float], ...]
    echo_db: float
    heterogeneity_db: float
    texture_corr_mm: float
    texture_seed: int
    cysts: tuple[tuple[float, float, float], ...]
    calcifications: tuple[tuple[float, float, float], ...]
    wall_scale: float
    edge_mm: float


def _prior(label: str) -> ClassPrior:
    try:
        return PRIORS[label]
    except KeyError:
        raise EusgistError(f"unknown label {label!r}; expected one of {sorted(PRIORS)}") from None


def sample_patient(rng: np.random.Generator, label: str, patient_id: str) -> PatientSpec:
    """Age (normal, Table 1 mean ± SD, clipped to 18–90) and sex from the class prior."""
    prior = _prior(label)
    age = int(round(float(np.clip(rng.normal(*prior.age), 18, 90))))
    return PatientSpec(patient_id=patient_id, label=label, age=age, sex=choose(rng, prior.sex))


def _harmonics(
    rng: np.random.Generator, shape: str, lobulated: bool
) -> tuple[tuple[int, float, float], ...]:
    amp = (0.10, 0.18) if shape == "irregular" else (0.01, 0.035)
    out = [(n, float(rng.uniform(*amp) / n**0.5), float(rng.uniform(0, 2 * np.pi)))
           for n in range(2, 7)]
    if lobulated:
        n = int(rng.integers(3, 6))
        out.append((n, float(rng.uniform(0.10, 0.16)), float(rng.uniform(0, 2 * np.pi))))
    return tuple(out)


def _inner_spots(
    rng: np.random.Generator, count: int, radius: tuple[float, float], reach: float
) -> tuple[tuple[float, float, float], ...]:
    """``count`` spots ``(x, y, radius)`` uniform in a disc of radius ``reach``."""
    spots = []
    for _ in range(count):
        r, phi = reach * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        spots.append((float(r * np.cos(phi)), float(r * np.sin(phi)), float(rng.uniform(*radius))))
    return tuple(spots)


def sample_lesion(rng: np.random.Generator, label: str) -> LesionSpec:
    """Draw one lesion of class ``label`` ("GIST" or "leiomyoma") from guo2024 Table 1."""
    prior = _prior(label)
    shape = choose(rng, prior.shape)
    origin = choose(rng, prior.origin_layer)
    growth = "intraluminal" if origin == "muscularis_mucosae" else choose(rng, prior.growth_pattern)
    echo_pattern = choose(rng, prior.echo_pattern)
    echo_level = choose(rng, prior.echo_level)
    lobulated = bool(rng.random() < prior.probability(prior.lobulated))
    calcification = bool(rng.random() < prior.probability(prior.calcification))
    cystic = bool(rng.random() < prior.probability(prior.cystic))
    border = choose(rng, prior.border)
    location = choose(rng, prior.location)
    heterogeneous = echo_pattern == "heterogeneous" or echo_level == "mixed"
    return LesionSpec(
        label=label,
        size_mm=round(sample_size_mm(rng, prior), 1),
        location=location,
        origin_layer=origin,
        echo_pattern=echo_pattern,
        echo_level=echo_level,
        shape=shape,
        lobulated=lobulated,
        growth_pattern=growth,
        border=border,
        calcification=calcification,
        cystic=cystic,
        aspect=float(rng.uniform(*SHAPE_ASPECT[shape])),
        taper=float(rng.uniform(0.9, 1.3)) if shape == "fusiform" else 0.5,
        tilt_deg=float(rng.normal(0.0, 12.0)),
        harmonics=_harmonics(rng, shape, lobulated),
        echo_db=float(rng.uniform(*ECHO_LEVEL_DB[echo_level])),
        heterogeneity_db=float(rng.uniform(3.5, 6.5) if heterogeneous else rng.uniform(0.5, 2.0)),
        texture_corr_mm=float(rng.uniform(1.0, 2.5)),
        texture_seed=int(rng.integers(2**31)),
        cysts=_inner_spots(rng, int(rng.integers(1, 4)), (0.15, 0.35), 0.5) if cystic else (),
        calcifications=_inner_spots(rng, 1, (0.5, 1.2), 0.6) if calcification else (),
        wall_scale=LOCATION_WALL_SCALE[location] * float(rng.uniform(0.85, 1.15)),
        edge_mm=float(rng.uniform(0.8, 1.6) if border == "unclear" else rng.uniform(0.1, 0.3)),
    )
