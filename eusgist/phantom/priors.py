"""Class priors of the phantom, transcribed from guo2024 Table 1.

guo2024 (``papers/guo2024_eus_resnet34_gist_lm.txt``) describes 69 GISTs and 73 leiomyomas
seen on EUS at one centre. Every count below is that table's; the phantom samples each
lesion's attributes from these frequencies, so the synthetic data set has the same
marginal statistics as the paper's cohort. Attributes are sampled independently given the
class (the paper gives no joint distribution).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

GIST = "GIST"
LEIOMYOMA = "leiomyoma"
LABELS: tuple[str, str] = (GIST, LEIOMYOMA)
"""Class labels; ``GIST`` is the positive class."""


def _counts(**kwargs: int) -> Mapping[str, int]:
    return MappingProxyType(dict(kwargs))


@dataclass(frozen=True)
class ClassPrior:
    """Table 1 statistics of one class (counts are numbers of lesions).

    ``size_mm`` is the long diameter (mean, SD); ``age`` is (mean, SD) in years; each
    mapping gives category → count.
    """

    label: str
    n: int
    size_mm: tuple[float, float]
    age: tuple[float, float]
    sex: Mapping[str, int]
    location: Mapping[str, int]
    origin_layer: Mapping[str, int]
    echo_pattern: Mapping[str, int]
    echo_level: Mapping[str, int]
    shape: Mapping[str, int]
    lobulated: int
    growth_pattern: Mapping[str, int]
    border: Mapping[str, int]
    calcification: int
    cystic: int

    def probability(self, count: int) -> float:
        """Fraction of this class's lesions with a yes/no attribute."""
        return count / self.n


GIST_PRIOR = ClassPrior(
    label=GIST,
    n=69,
    size_mm=(23.88, 13.12),
    age=(58.35, 9.52),
    sex=_counts(male=26, female=43),
    location=_counts(
        esophagus=1, cardia=5, cardia_fundus=2, fundus=19, fundus_body=2, body=33, antrum=4,
        antrum_body=3,
    ),
    origin_layer=_counts(muscularis_mucosae=0, submucosa=3, muscularis_propria=66),
    echo_pattern=_counts(homogeneous=29, heterogeneous=40),
    echo_level=_counts(hypoechoic=58, mid_low=9, mixed=2),
    shape=_counts(round=32, oval=20, fusiform=5, irregular=12),
    lobulated=2,
    growth_pattern=_counts(intraluminal=51, extraluminal=14, mixed=4),
    border=_counts(clear=61, unclear=8),
    calcification=3,
    cystic=6,
)

LEIOMYOMA_PRIOR = ClassPrior(
    label=LEIOMYOMA,
    n=73,
    size_mm=(9.63, 6.21),
    age=(50.64, 10.04),
    sex=_counts(male=28, female=45),
    location=_counts(
        esophagus=35, cardia=13, cardia_fundus=0, fundus=10, fundus_body=0, body=15, antrum=0,
        antrum_body=0,
    ),
    origin_layer=_counts(muscularis_mucosae=26, submucosa=2, muscularis_propria=45),
    echo_pattern=_counts(homogeneous=61, heterogeneous=12),
    echo_level=_counts(hypoechoic=70, mid_low=1, mixed=2),
    shape=_counts(round=20, oval=26, fusiform=22, irregular=5),
    lobulated=1,
    growth_pattern=_counts(intraluminal=71, extraluminal=1, mixed=1),
    border=_counts(clear=72, unclear=1),
    calcification=1,
    cystic=1,
)

PRIORS: Mapping[str, ClassPrior] = MappingProxyType({GIST: GIST_PRIOR, LEIOMYOMA: LEIOMYOMA_PRIOR})
"""Label → :class:`ClassPrior`."""

SIZE_LIMITS_MM: tuple[float, float] = (3.0, 80.0)
"""Sampled long diameters are clipped to this range (EUS-visible, resectable lesions)."""


def choose(rng: np.random.Generator, counts: Mapping[str, int]) -> str:
    """Draw one category with probability proportional to its Table 1 count."""
    names = list(counts)
    weights = np.array([counts[k] for k in names], dtype=float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def sample_size_mm(rng: np.random.Generator, prior: ClassPrior) -> float:
    """Long diameter from a log-normal with the class's mean and SD, clipped.

    A log-normal keeps sizes positive and right-skewed like the cohort's; its mean and SD
    match Table 1 before clipping to :data:`SIZE_LIMITS_MM`.
    """
    mean, sd = prior.size_mm
    sigma2 = np.log1p((sd / mean) ** 2)
    mu = np.log(mean) - sigma2 / 2
    size = float(rng.lognormal(mu, np.sqrt(sigma2)))
    return float(np.clip(size, *SIZE_LIMITS_MM))
