"""Ultrasound image formation: scatterers → RF → envelope → log compression → sector scan.

A simplified version of what simulators such as Field II do. Tissue is a field of random
sub-resolution scatterers on the polar (depth × beam-line) grid, one per RF sample, with
Gaussian amplitudes scaled by the local echogenicity; the RF signal is that field convolved
with a point-spread function (Gaussian envelope × cosine carrier axially, Gaussian
laterally, its width following a focused beam); the envelope is the modulus of the
analytic signal (Hilbert transform along depth); the display is the log-compressed
envelope, scan-converted from (depth, angle) to the cartesian fan.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import fft, ndimage, signal

SPEED_OF_SOUND_MM_PER_US = 1.54
RAYLEIGH_SNR = float(np.sqrt(np.pi / (4 - np.pi)))
"""Mean / SD of a Rayleigh variable: the SNR of fully developed speckle (≈ 1.91)."""


@dataclass(frozen=True)
class SectorGeometry:
    """A convex-array sector: beams fan out from an apex ``probe_radius_mm`` behind the probe.

    Depth is measured from the probe surface. The polar sampling is fine enough for the RF
    carrier (``samples_per_period`` samples per period of the round-trip wavelength).
    """

    probe_radius_mm: float
    depth_mm: float
    fan_angle_deg: float
    n_lines: int
    frequency_mhz: float
    samples_per_period: float = 4.0

    @property
    def wavelength_mm(self) -> float:
        return SPEED_OF_SOUND_MM_PER_US / self.frequency_mhz

    @property
    def dr_mm(self) -> float:
        """Axial RF sample spacing (mm)."""
        return self.wavelength_mm / 2 / self.samples_per_period

    @property
    def n_samples(self) -> int:
        return int(np.ceil(self.depth_mm / self.dr_mm))

    @property
    def half_angle(self) -> float:
        return float(np.deg2rad(self.fan_angle_deg) / 2)

    @property
    def dtheta(self) -> float:
        return 2 * self.half_angle / self.n_lines

    @cached_property
    def radius_mm(self) -> np.ndarray:
        """Distance from the apex of each RF sample (mm)."""
        return self.probe_radius_mm + (np.arange(self.n_samples) + 0.5) * self.dr_mm

    @cached_property
    def theta(self) -> np.ndarray:
        """Steering angle of each beam line (rad, 0 = straight down)."""
        return -self.half_angle + (np.arange(self.n_lines) + 0.5) * self.dtheta


def axial_psf(frequency_mhz: float, dr_mm: float, bandwidth: float = 0.5) -> np.ndarray:
    """Round-trip RF pulse along depth: Gaussian envelope × cosine carrier, unit L2 norm.

    ``bandwidth`` is the −6 dB fractional bandwidth; the carrier period in depth is λ/2.
    """
    sigma_f = bandwidth * frequency_mhz / (2 * np.sqrt(2 * np.log(2)))
    sigma_mm = SPEED_OF_SOUND_MM_PER_US / (2 * np.pi * sigma_f) / 2
    half = int(np.ceil(4 * sigma_mm / dr_mm))
    z = np.arange(-half, half + 1) * dr_mm
    wavelength = SPEED_OF_SOUND_MM_PER_US / frequency_mhz
    pulse = np.exp(-0.5 * (z / sigma_mm) ** 2) * np.cos(2 * np.pi * z / (wavelength / 2))
    return pulse / np.linalg.norm(pulse)


def lateral_sigma_mm(geom: SectorGeometry, focus_fraction: float = 0.45) -> np.ndarray:
    """Lateral PSF SD per depth sample: a Gaussian beam focused at ``focus_fraction`` of depth.

    The width at focus scales with wavelength (≈ 0.6 mm FWHM at 7.5 MHz).
    """
    sigma_focus = 0.6 / 2.355 * (7.5 / geom.frequency_mhz)
    depth = geom.radius_mm - geom.probe_radius_mm
    rayleigh = 0.5 * geom.depth_mm
    return sigma_focus * np.sqrt(1 + ((depth - focus_fraction * geom.depth_mm) / rayleigh) ** 2)


def _lateral_blur(rf: np.ndarray, sigma_lines: np.ndarray) -> np.ndarray:
    """Gaussian blur along beam lines with a per-depth SD, each row keeping unit L2 gain."""
    n_lines = rf.shape[1]
    n_fft = fft.next_fast_len(n_lines + 2 * int(np.ceil(3 * sigma_lines.max())), real=True)
    k = np.fft.rfftfreq(n_fft)
    transfer = np.exp(-2 * (np.pi * sigma_lines[:, None] * k[None, :]) ** 2)
    gain = np.sqrt(2 * np.sqrt(np.pi) * np.maximum(sigma_lines, 0.5))[:, None]
    spectrum = fft.rfft(rf, n=n_fft, axis=1) * transfer
    return fft.irfft(spectrum, n=n_fft, axis=1)[:, :n_lines] * gain


def simulate_rf(
    amplitude: np.ndarray, geom: SectorGeometry, rng: np.random.Generator
) -> np.ndarray:
    """RF lines from scatterers whose amplitude SD is ``amplitude`` (n_samples × n_lines).

    One Gaussian scatterer per RF sample, i.e. many per resolution cell: fully developed
    speckle. The PSF has unit energy, so the RF has variance ``amplitude**2``.
    """
    scatterers = rng.standard_normal(amplitude.shape) * amplitude
    psf = axial_psf(geom.frequency_mhz, geom.dr_mm)
    rf = signal.fftconvolve(scatterers, psf[:, None], mode="same", axes=0)
    sigma_lines = lateral_sigma_mm(geom) / (geom.radius_mm * geom.dtheta)
    return _lateral_blur(rf, sigma_lines)


def envelope(rf: np.ndarray) -> np.ndarray:
    """Envelope detection: modulus of the analytic signal along depth (axis 0)."""
    n = fft.next_fast_len(rf.shape[0])
    return np.abs(signal.hilbert(rf, N=n, axis=0)[: rf.shape[0]])


def log_compress(
    env: np.ndarray, *, gain_db: float, dynamic_range_db: float, white_db: float = 22.0,
    gamma: float = 1.25,
) -> np.ndarray:
    """Map an envelope to display levels in [0, 1].

    ``white_db`` is the level (relative to unit envelope, before gain) shown as white;
    the ``dynamic_range_db`` below it span the grey scale; ``gamma`` is the grey map.
    """
    level_db = 20 * np.log10(np.maximum(env, 1e-6)) + gain_db
    out = np.clip((level_db - (white_db - dynamic_range_db)) / dynamic_range_db, 0.0, 1.0)
    return out**gamma


@dataclass(frozen=True)
class ScanConverter:
    """Cartesian display grid of a sector: square image, apex centred above the top edge."""

    geom: SectorGeometry
    size: int
    top_margin_px: int = 6
    max_width_ratio: float = 1.25

    @property
    def spacing_mm(self) -> float:
        """Millimetres per pixel.

        The fan fills the image height unless it would then be more than
        ``max_width_ratio`` times as wide as the image (its lower corners are cut off).
        """
        g = self.geom
        r_max = g.probe_radius_mm + g.depth_mm
        height = r_max - g.probe_radius_mm * np.cos(g.half_angle)
        width = 2 * r_max * np.sin(g.half_angle)
        return max(height / (self.size - self.top_margin_px - 4),
                   width / (self.max_width_ratio * self.size))

    @property
    def apex_px(self) -> tuple[float, float]:
        """(row, col) of the apex; it lies above the image when the probe arc is at the top."""
        top = self.geom.probe_radius_mm * np.cos(self.geom.half_angle)
        return self.top_margin_px - top / self.spacing_mm, (self.size - 1) / 2

    @cached_property
    def physical(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, z) in mm of each pixel, apex at the origin, z along the central beam."""
        row0, col0 = self.apex_px
        rows, cols = np.mgrid[0 : self.size, 0 : self.size].astype(float)
        return (cols - col0) * self.spacing_mm, (rows - row0) * self.spacing_mm

    @cached_property
    def polar(self) -> tuple[np.ndarray, np.ndarray]:
        """(radius mm, angle rad) of each pixel."""
        x, z = self.physical
        return np.hypot(x, z), np.arctan2(x, z)

    @cached_property
    def fan(self) -> np.ndarray:
        """Boolean mask of the pixels inside the sector."""
        r, th = self.polar
        g = self.geom
        return (r >= g.probe_radius_mm) & (r <= g.probe_radius_mm + g.depth_mm) & (
            np.abs(th) <= g.half_angle
        )

    def to_pixel(self, x_mm: float, z_mm: float) -> tuple[float, float]:
        """(row, col) of a physical point."""
        row0, col0 = self.apex_px
        return row0 + z_mm / self.spacing_mm, col0 + x_mm / self.spacing_mm

    def convert(self, polar_image: np.ndarray) -> np.ndarray:
        """Resample a (depth × line) image onto the fan; zero outside it.

        The image is first averaged along depth over one display pixel (anti-aliasing).
        """
        g = self.geom
        smooth = ndimage.uniform_filter1d(
            polar_image, size=max(1, int(round(self.spacing_mm / g.dr_mm))), axis=0
        )
        r, th = self.polar
        fan = self.fan
        ri = (r[fan] - g.probe_radius_mm) / g.dr_mm - 0.5
        ti = (th[fan] + g.half_angle) / g.dtheta - 0.5
        out = np.zeros((self.size, self.size))
        out[fan] = ndimage.map_coordinates(smooth, [ri, ti], order=1, mode="nearest")
        return out
