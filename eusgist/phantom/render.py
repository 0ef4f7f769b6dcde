"""Render one EUS frame of a lesion: sample the acquisition, simulate, scan-convert."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from eusgist.errors import EusgistError
from eusgist.phantom.lesion import LesionSpec
from eusgist.phantom.physics import (
    ScanConverter,
    SectorGeometry,
    envelope,
    log_compress,
    simulate_rf,
)
from eusgist.phantom.scene import FramePose, Scene

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhantomConfig:
    """Settings of the simulated scanner and of the per-image variation.

    Output frames are ``image_size`` × ``image_size`` 8-bit grey images of a
    ``fan_angle_deg`` convex-array sector that fills the image height (its lower corners
    may be cut off); pixel spacing therefore follows the depth setting (≈ 0.14–0.38 mm
    at the default 256 px, recorded per frame). Ranges are ``(low, high)`` of uniform
    draws; the depth preset and frequency are chosen per frame from the tuples.
    """

    image_size: int = 256
    fan_angle_deg: float = 90.0
    probe_radius_mm: float = 6.0
    n_lines: int = 384
    depths_mm: tuple[float, ...] = (25.0, 30.0, 40.0, 50.0, 60.0, 80.0)
    frequencies_mhz: tuple[float, ...] = (5.0, 7.5, 10.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    dynamic_range_db: tuple[float, float] = (50.0, 60.0)
    angle_deg: tuple[float, float] = (-20.0, 20.0)
    section_scale: tuple[float, float] = (0.6, 1.0)
    water_gap_mm: tuple[float, float] = (1.0, 6.0)
    partial_view_probability: float = 0.15
    caliper_probability: float = 0.5
    noise_db: float = -58.0
    scene_decimation: int = 4

    def __post_init__(self) -> None:
        if self.image_size < 64:
            raise EusgistError(f"image_size must be at least 64, got {self.image_size}")
        if not 20 <= self.fan_angle_deg <= 170:
            raise EusgistError(f"fan_angle_deg must be in [20, 170], got {self.fan_angle_deg}")
        if not self.depths_mm or not self.frequencies_mhz:
            raise EusgistError("depths_mm and frequencies_mhz must not be empty")


@dataclass(frozen=True)
class FrameParams:
    """Acquisition settings and probe pose of one frame."""

    pose: FramePose
    depth_mm: float
    frequency_mhz: float
    gain_db: float
    dynamic_range_db: float
    tgc_factor: float


@dataclass(frozen=True)
class FrameMeta:
    """What a rendered frame records about itself (pixel positions are (row, col))."""

    params: FrameParams
    spacing_mm: float
    probe_radius_mm: float
    apex_px: tuple[float, float]
    fan: np.ndarray
    section_mm: float
    lesion_centre_px: tuple[float, float]
    caliper_px: tuple[tuple[float, float], tuple[float, float]]
    calcifications_px: tuple[tuple[float, float], ...]


def _max_frequency(depth_mm: float) -> float:
    """Deeper views need lower frequencies to penetrate."""
    return 10.0 if depth_mm <= 30 else 7.5 if depth_mm <= 50 else 5.0


def _choose_depth(rng: np.random.Generator, depths: tuple[float, ...], needed: float) -> float:
    fits = sorted(d for d in depths if d >= needed)
    if not fits:
        return max(depths)
    return float(fits[int(rng.integers(min(2, len(fits))))])


def _lateral_offset(
    rng: np.random.Generator, config: PhantomConfig, half_width: float
) -> float:
    if rng.random() < config.partial_view_probability:
        return float(rng.choice([-1, 1]) * rng.uniform(0.45, 0.7) * half_width)
    return float(np.clip(rng.normal(0, 0.12 * half_width), -0.35 * half_width, 0.35 * half_width))


def _centre_in_fan(scene: Scene, config: PhantomConfig, depth_mm: float) -> bool:
    x, z = scene.centre_mm()
    r, th = np.hypot(x, z), np.arctan2(x, z)
    return bool(
        config.probe_radius_mm + 1 < r < config.probe_radius_mm + depth_mm - 1
        and abs(th) < np.deg2rad(config.fan_angle_deg / 2 - 4)
    )


def sample_frame_params(
    spec: LesionSpec, rng: np.random.Generator, config: PhantomConfig, *, first: bool = False
) -> FrameParams:
    """Draw one frame's angle, section, depth, frequency, gain and probe position.

    The first frame of a lesion is its largest section (what an endosonographer measures);
    later frames cut it elsewhere. The depth setting is one of the two smallest presets
    that show the whole lesion (the largest preset when none does: a partial view).
    """
    section = rng.uniform(0.9, 1.0) if first else rng.uniform(*config.section_scale)
    pose = FramePose(
        angle_deg=float(rng.uniform(*config.angle_deg)),
        section_scale=float(section),
        aspect_jitter=float(rng.uniform(0.85, 1.15)),
        offset_mm=0.0,
        water_gap_mm=float(rng.uniform(*config.water_gap_mm)),
        curvature_per_mm=float(rng.normal(0.0, 0.006)),
    )
    scene = Scene(spec, pose, config.probe_radius_mm, rng)
    depth = _choose_depth(rng, config.depths_mm, scene.bottom_depth_mm * 1.1 + 3)
    allowed = [f for f in config.frequencies_mhz if f <= _max_frequency(depth)]
    frequency = float(rng.choice(allowed or [min(config.frequencies_mhz)]))
    centre_radius = scene.pivot_z + sum(scene.extent_v) / 2
    half_width = centre_radius * np.tan(np.deg2rad(config.fan_angle_deg / 2))
    moved = replace(pose, offset_mm=_lateral_offset(rng, config, half_width))
    if _centre_in_fan(Scene(spec, moved, config.probe_radius_mm, rng), config, depth):
        pose = moved
    return FrameParams(
        pose=pose,
        depth_mm=depth,
        frequency_mhz=frequency,
        gain_db=float(rng.uniform(*config.gain_db)),
        dynamic_range_db=float(rng.uniform(*config.dynamic_range_db)),
        tgc_factor=float(rng.uniform(0.85, 1.1)),
    )


def _echo_amplitude(
    scene: Scene, geom: SectorGeometry, params: FrameParams, decimation: int, noise_db: float
) -> np.ndarray:
    """Scatterer amplitude SD on the RF grid: echogenicity × attenuation, noise, TGC.

    The scene is evaluated every ``decimation`` RF samples (tissue does not change on the
    scale of the carrier) and repeated along depth.
    """
    r = geom.radius_mm[::decimation]
    th = geom.theta
    x, z = r[:, None] * np.sin(th)[None, :], r[:, None] * np.cos(th)[None, :]
    echo, atten = scene.tissue(x, z)
    round_trip_db_per_mm = 2 * atten * geom.frequency_mhz / 10
    dr = geom.dr_mm * decimation
    attenuation_db = np.cumsum(round_trip_db_per_mm, axis=0) * dr - round_trip_db_per_mm * dr / 2
    echo = echo * 10 ** (-attenuation_db / 20)
    noise = 10 ** (noise_db / 20)
    echo = np.sqrt(echo**2 + noise**2)
    depth = r - geom.probe_radius_mm
    tgc_db = params.tgc_factor * 2 * 0.6 * geom.frequency_mhz / 10 * np.maximum(
        0, depth - params.pose.water_gap_mm
    )
    echo = echo * 10 ** (tgc_db / 20)[:, None]
    return np.repeat(echo, decimation, axis=0)[: geom.n_samples]


def _pixel(conv: ScanConverter, point: tuple[float, float]) -> tuple[float, float]:
    row, col = conv.to_pixel(*point)
    return round(row, 2), round(col, 2)


def render_frame(
    spec: LesionSpec,
    rng: np.random.Generator,
    config: PhantomConfig = PhantomConfig(),
    *,
    params: FrameParams | None = None,
) -> tuple[np.ndarray, np.ndarray, FrameMeta]:
    """Simulate one frame of ``spec``: (uint8 image, bool lesion mask, metadata).

    ``params`` defaults to a fresh draw from :func:`sample_frame_params`. The image has no
    overlays (see :func:`eusgist.phantom.overlay.draw_overlays`); the mask is the lesion
    outline in the same scan-converted geometry, restricted to the fan.
    """
    if params is None:
        params = sample_frame_params(spec, rng, config)
    geom = SectorGeometry(
        probe_radius_mm=config.probe_radius_mm,
        depth_mm=params.depth_mm,
        fan_angle_deg=config.fan_angle_deg,
        n_lines=config.n_lines,
        frequency_mhz=params.frequency_mhz,
    )
    scene = Scene(spec, params.pose, config.probe_radius_mm, rng)
    amplitude = _echo_amplitude(scene, geom, params, config.scene_decimation, config.noise_db)
    env = envelope(simulate_rf(amplitude, geom, rng))
    display = log_compress(env, gain_db=params.gain_db, dynamic_range_db=params.dynamic_range_db)
    conv = ScanConverter(geom, config.image_size)
    image = np.round(conv.convert(display) * 255).astype(np.uint8)
    mask = conv.fan & scene.lesion_mask(*conv.physical)
    end_a, end_b = scene.long_axis_mm()
    meta = FrameMeta(
        params=params,
        spacing_mm=conv.spacing_mm,
        probe_radius_mm=config.probe_radius_mm,
        apex_px=conv.apex_px,
        fan=conv.fan,
        section_mm=float(np.hypot(end_a[0] - end_b[0], end_a[1] - end_b[1])),
        lesion_centre_px=_pixel(conv, scene.centre_mm()),
        caliper_px=(_pixel(conv, end_a), _pixel(conv, end_b)),
        calcifications_px=tuple(_pixel(conv, (x, z)) for x, z, _ in scene.calcifications_mm()),
    )
    log.debug("rendered %s frame: depth %.0f mm, %d RF samples", spec.label, params.depth_mm,
              geom.n_samples)
    return image, mask, meta
