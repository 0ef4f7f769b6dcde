"""The anatomy seen by one frame: water, the five-layer gastric wall, the lesion.

Coordinates are millimetres with the sector apex at the origin, ``x`` lateral and ``z``
along the central beam. The wall has its own frame ``(u, v)``: ``u`` along the wall,
``v`` depth into it from the mucosal surface, tilted by the frame's angle and gently
curved. The lesion sits in its layer of origin and pushes the layers on either side
aside (draped over it), as submucosal lesions do on EUS.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage

from eusgist.phantom.lesion import LesionSpec

LAYERS: tuple[str, ...] = (
    "mucosa", "muscularis_mucosae", "submucosa", "muscularis_propria", "serosa",
)
"""The five EUS wall layers, lumen side first (hyper, hypo, hyper, hypo, hyper)."""
LAYER_THICKNESS_MM = np.array([0.4, 0.6, 1.0, 1.5, 0.5])
LAYER_ECHO_DB = np.array([4.0, -17.0, 2.0, -19.0, 4.0])
ORIGIN_INDEX = {"muscularis_mucosae": 1, "submucosa": 2, "muscularis_propria": 3}

WATER_ECHO_DB = -32.0
"""Faint echoes from debris in the water-filled lumen."""
FAT_ECHO_DB = -3.0
CYST_ECHO_DB = -45.0
CALCIFICATION_ECHO_DB = 18.0
RIM_ECHO_DB = -9.0
"""Echo of the thin (pseudo)capsule that makes a clear lesion border."""
PROBE_RING_MM = 0.35
"""Bright ring-down band at the probe (balloon) surface."""

ATTENUATION_DB_CM_MHZ = {
    "water": 0.002, "wall": 0.7, "fat": 0.6, "lesion": 0.6, "cyst": 0.05, "calcification": 15.0,
}
"""One-way attenuation coefficients (dB / cm / MHz)."""

_N_ANGLES = 720


@dataclass(frozen=True)
class FramePose:
    """How the probe sees the lesion in one frame."""

    angle_deg: float
    section_scale: float
    aspect_jitter: float
    offset_mm: float
    water_gap_mm: float
    curvature_per_mm: float


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Gaussian random field with zero mean, unit SD and correlation ``sigma_px``.

    ``sigma_px`` is clipped to [1, size / 6] so the field always has some variation.
    """
    sigma_px = float(np.clip(sigma_px, 1.0, min(shape) / 6))
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="wrap")
    return (field - field.mean()) / field.std()


def _outline_radius(spec: LesionSpec, a: float, b: float, phi: np.ndarray) -> np.ndarray:
    """Radius (mm) of the lesion outline at polar angles ``phi`` of its own frame.

    The base outline is ``|y| = b (1 - (x/a)^2)^taper``: an ellipse for taper 0.5, a spindle
    (fusiform) for taper ≈ 1; harmonics make it irregular or lobulated.
    """
    c, s = np.abs(np.cos(phi)), np.abs(np.sin(phi))
    lo, hi = np.zeros_like(phi), np.full_like(phi, a)
    for _ in range(40):  # bisection: the profile minus the ray is decreasing along the ray
        mid = (lo + hi) / 2
        inside = b * np.clip(1 - (mid * c / a) ** 2, 0, None) ** spec.taper >= mid * s
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    bumps = sum(amp * np.cos(n * phi + ph) for n, amp, ph in spec.harmonics)
    return lo * (1 + bumps)


class Scene:
    """Echogenicity and attenuation anywhere in the field of one frame.

    Only :meth:`tissue` draws from ``rng``; the geometry is fixed by the spec and pose.
    """

    def __init__(
        self, spec: LesionSpec, pose: FramePose, probe_radius_mm: float, rng: np.random.Generator
    ) -> None:
        self.spec = spec
        self.pose = pose
        self.probe_radius_mm = probe_radius_mm
        self.a = spec.size_mm / 2 * pose.section_scale
        self.b = self.a / spec.aspect * pose.aspect_jitter
        self._phi = np.linspace(-np.pi, np.pi, _N_ANGLES, endpoint=False)
        self._radius = _outline_radius(spec, self.a, self.b, self._phi)
        self._tilt = np.deg2rad(spec.tilt_deg)
        self._angle = np.deg2rad(pose.angle_deg)
        self.bounds = np.concatenate([[0.0], np.cumsum(LAYER_THICKNESS_MM * spec.wall_scale)])
        self._k = ORIGIN_INDEX[spec.origin_layer]
        self.centre_uv = (pose.offset_mm, self._centre_v())
        self.pivot_z = probe_radius_mm + pose.water_gap_mm + max(0.0, -self.extent_v[0])
        self._rng = rng
        self._drape_u, self._drape_in, self._drape_out = self._drape()

    @cached_property
    def _fat(self) -> np.ndarray:
        """Perigastric fat texture, new in every frame (drawn when tissue is first needed)."""
        return _smooth_field(self._rng, (128, 128), 3.0)

    @cached_property
    def _texture(self) -> np.ndarray:
        """The lesion's echo texture: the same pattern in every frame of the lesion."""
        return _smooth_field(np.random.default_rng(self.spec.texture_seed), (96, 96),
                             self.spec.texture_corr_mm / self.a * 96 / 2.6)

    # -- geometry ---------------------------------------------------------------------------
    def _outline_local(self) -> tuple[np.ndarray, np.ndarray]:
        """Outline points in wall coordinates relative to the lesion centre."""
        px, py = self._radius * np.cos(self._phi), self._radius * np.sin(self._phi)
        c, s = np.cos(self._tilt), np.sin(self._tilt)
        return px * c - py * s, px * s + py * c

    def _centre_v(self) -> float:
        _, dv = self._outline_local()
        top, bottom = self.bounds[self._k], self.bounds[self._k + 1]
        growth = self.spec.growth_pattern
        if growth == "intraluminal":
            return float(bottom - dv.max())
        if growth == "extraluminal":
            return float(top - dv.min())
        return float((top + bottom) / 2)

    @cached_property
    def extent_v(self) -> tuple[float, float]:
        """Shallowest and deepest wall depth ``v`` reached by the lesion (mm)."""
        _, dv = self._outline_local()
        v0 = self.centre_uv[1]
        return float(v0 + dv.min()), float(v0 + dv.max())

    @property
    def bottom_depth_mm(self) -> float:
        """Approximate depth below the probe surface of the lesion's deepest point."""
        return self.pivot_z - self.probe_radius_mm + self.extent_v[1]

    def _drape(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How far the layers above (in) and below (out) the lesion are pushed, along ``u``."""
        du, dv = self._outline_local()
        u0, v0 = self.centre_uv
        span = np.abs(du).max() * 1.6 + 3.0
        grid = np.linspace(u0 - span, u0 + span, 512)
        idx = np.clip(np.searchsorted(grid, u0 + du), 0, grid.size - 1)
        vmin, vmax = np.full(grid.size, np.inf), np.full(grid.size, -np.inf)
        np.minimum.at(vmin, idx, v0 + dv)
        np.maximum.at(vmax, idx, v0 + dv)
        cap = 0.3 * self.spec.wall_scale
        d_in = np.where(np.isfinite(vmin), np.maximum(0, self.bounds[self._k] + cap - vmin), 0)
        d_out = np.where(np.isfinite(vmax), np.maximum(0, vmax - self.bounds[self._k + 1] + cap), 0)
        sigma = 0.8 / (grid[1] - grid[0])
        d_in = np.maximum(ndimage.maximum_filter1d(d_in, 5), ndimage.gaussian_filter1d(d_in, sigma))
        d_out = np.maximum(
            ndimage.maximum_filter1d(d_out, 5), ndimage.gaussian_filter1d(d_out, sigma)
        )
        return grid, d_in, d_out

    def to_wall(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Physical (x, z) → wall (u, v)."""
        c, s = np.cos(self._angle), np.sin(self._angle)
        zz = z - self.pivot_z
        u = x * c - zz * s
        v = x * s + zz * c
        return u, v - self.pose.curvature_per_mm * u**2 / 2

    def to_physical(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wall (u, v) → physical (x, z)."""
        v = v + self.pose.curvature_per_mm * np.asarray(u) ** 2 / 2
        c, s = np.cos(self._angle), np.sin(self._angle)
        return u * c + v * s, self.pivot_z - u * s + v * c

    def _lesion_frame(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        du, dv = u - self.centre_uv[0], v - self.centre_uv[1]
        c, s = np.cos(self._tilt), np.sin(self._tilt)
        return du * c + dv * s, -du * s + dv * c

    def _lesion_depth(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Signed distance-like depth inside the outline (mm, > 0 inside)."""
        outline = np.interp(np.arctan2(q, p), self._phi, self._radius, period=2 * np.pi)
        return outline - np.hypot(p, q)

    def lesion_mask(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """True where (x, z) is inside the lesion outline."""
        return self._lesion_depth(*self._lesion_frame(*self.to_wall(x, z))) > 0

    def _to_physical_local(self, p: float, q: float) -> tuple[float, float]:
        c, s = np.cos(self._tilt), np.sin(self._tilt)
        u, v = self.centre_uv[0] + p * c - q * s, self.centre_uv[1] + p * s + q * c
        x, z = self.to_physical(np.float64(u), np.float64(v))
        return float(x), float(z)

    def centre_mm(self) -> tuple[float, float]:
        """Physical position of the lesion centre."""
        return self._to_physical_local(0.0, 0.0)

    def long_axis_mm(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Physical end points of the lesion's long axis in this section (caliper points)."""
        r_pos = float(np.interp(0.0, self._phi, self._radius, period=2 * np.pi))
        r_neg = float(np.interp(np.pi, self._phi, self._radius, period=2 * np.pi))
        return self._to_physical_local(r_pos, 0.0), self._to_physical_local(-r_neg, 0.0)

    def calcifications_mm(self) -> list[tuple[float, float, float]]:
        """Physical (x, z, radius) of each calcification."""
        return [(*self._to_physical_local(cx * self.a, cy * self.b), r)
                for cx, cy, r in self.spec.calcifications]

    # -- tissue -----------------------------------------------------------------------------
    def _layer_index(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """0 = lumen, 1..5 = wall layers, 6 = perigastric fat."""
        d_in = np.interp(u, self._drape_u, self._drape_in, left=0, right=0)
        d_out = np.interp(u, self._drape_u, self._drape_out, left=0, right=0)
        idx = np.zeros(u.shape, dtype=np.int8)
        for j, bound in enumerate(self.bounds):
            shift = -d_in if j <= self._k else d_out
            idx += v >= bound + shift
        return idx

    def tissue(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Echogenicity (linear amplitude, 1 = submucosa) and attenuation (dB/cm/MHz)."""
        u, v = self.to_wall(x, z)
        layer = self._layer_index(u, v)
        echo_db = np.concatenate([[WATER_ECHO_DB], LAYER_ECHO_DB, [FAT_ECHO_DB]])[layer]
        att_table = [ATTENUATION_DB_CM_MHZ["water"], *[ATTENUATION_DB_CM_MHZ["wall"]] * 5,
                     ATTENUATION_DB_CM_MHZ["fat"]]
        atten = np.asarray(att_table)[layer]
        fat = layer == 6
        echo_db = echo_db + fat * 4.0 * self._sample(self._fat, u / 120 + 0.5, v / 120 + 0.4)
        echo_db = np.where(np.hypot(x, z) < self.probe_radius_mm + PROBE_RING_MM, 0.0, echo_db)
        amp = 10 ** (echo_db / 20)
        p, q = self._lesion_frame(u, v)
        depth = self._lesion_depth(p, q)
        weight = np.clip(0.5 + depth / self.spec.edge_mm, 0, 1)
        lesion_amp, lesion_att = self._lesion_tissue(p, q)
        amp = (1 - weight) * amp + weight * lesion_amp
        if self.spec.border == "clear":
            amp = amp + 10 ** (RIM_ECHO_DB / 20) * np.exp(-(((depth - 0.1) / 0.15) ** 2))
        atten = (1 - weight) * atten + weight * lesion_att
        return self._calcify(p, q, amp, atten)

    def _sample(self, field: np.ndarray, fu: np.ndarray, fv: np.ndarray) -> np.ndarray:
        """Bilinear sample of a square field at fractional coordinates in [0, 1]."""
        n = field.shape[0] - 1
        return ndimage.map_coordinates(field, [fv * n, fu * n], order=1, mode="mirror")

    def _lesion_tissue(self, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        spec = self.spec
        texture = self._sample(self._texture, p / (2.6 * self.a) + 0.5, q / (2.6 * self.a) + 0.5)
        echo_db = spec.echo_db + spec.heterogeneity_db * texture
        atten = np.full(p.shape, ATTENUATION_DB_CM_MHZ["lesion"])
        for cx, cy, r in spec.cysts:
            d = np.hypot(p / self.a - cx, q / self.b - cy) / r
            cyst = np.clip((1.15 - d) / 0.3, 0, 1)
            echo_db = (1 - cyst) * echo_db + cyst * CYST_ECHO_DB
            atten = (1 - cyst) * atten + cyst * ATTENUATION_DB_CM_MHZ["cyst"]
        return 10 ** (echo_db / 20), atten

    def _calcify(
        self, p: np.ndarray, q: np.ndarray, amp: np.ndarray, atten: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        for cx, cy, r in self.spec.calcifications:
            inside = np.hypot(p - cx * self.a, q - cy * self.b) < r
            amp = np.where(inside, 10 ** (CALCIFICATION_ECHO_DB / 20), amp)
            atten = np.where(inside, ATTENUATION_DB_CM_MHZ["calcification"], atten)
        return amp, atten
