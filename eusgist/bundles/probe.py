"""Bundles check themselves: a stored probe input and the output the model gave when saved.

Checksums prove that a bundle's files are the ones written; they cannot prove that this
installation rebuilds the same model from them (another library version, a different
pretrained source, a backbone re-created differently). So a bundle stores a small probe —
one preprocessed input and the model's output on it — in ``probe.safetensors`` (listed with
its checksum in the card), and loading recomputes the output and refuses the bundle with a
:class:`~eusgist.errors.BundleError` when it differs beyond floating-point noise.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from eusgist.errors import BundleError

log = logging.getLogger(__name__)

PROBE = "probe.safetensors"
#: Seed of the probe input (a standard-normal tensor in the model's preprocessed space).
PROBE_SEED = 20261207
#: Allowed difference |got - want| <= ATOL + RTOL * |want| (float32 on CPU reproduces to
#: ~1e-6; other CPUs and GPUs (TF32, cuDNN) to ~1e-3; a wrong model is off by ~1).
ATOL = {"cpu": 1e-3, "cuda": 2e-2}
RTOL = {"cpu": 1e-3, "cuda": 2e-2}


def probe_input(shape: tuple[int, ...]) -> NDArray[np.float32]:
    """The deterministic probe input of ``shape`` (numpy's PCG64 is the same everywhere)."""
    return np.random.default_rng(PROBE_SEED).standard_normal(shape).astype(np.float32)


def write_probe(folder: Path, arrays: dict[str, NDArray[np.floating]]) -> Path:
    """Write ``probe.safetensors`` (pairs ``<what>_input`` / ``<what>_output``)."""
    path = folder / PROBE
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()},
              str(path))
    return path


def read_probe(folder: Path) -> dict[str, NDArray[np.float32]] | None:
    """The stored probe arrays, or None when the bundle has none (bundles before probes)."""
    path = folder / PROBE
    if not path.is_file():
        return None
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{PROBE}: not a readable probe ({exc})") from exc


def check_probe(bundle: str, what: str, got: NDArray[np.floating],
                want: NDArray[np.floating], *, device: str = "cpu") -> None:
    """Raise BundleError when ``got`` is not ``want`` within the device's tolerance."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    want = np.asarray(want, dtype=np.float64).reshape(-1)
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    if got.shape != want.shape:
        raise BundleError(f"{bundle}: self-check failed: the {what} gives {got.size} values, "
                          f"the stored probe {want.size}")
    excess = np.abs(got - want) - (ATOL[kind] + RTOL[kind] * np.abs(want))
    if not np.all(np.isfinite(got)) or np.any(excess > 0):
        worst = float(np.nanmax(np.abs(got - want))) if np.all(np.isfinite(got)) else np.nan
        raise BundleError(
            f"{bundle}: self-check failed: the {what} differs from the output stored when the "
            f"bundle was saved (max difference {worst:.3g}). The weights, the libraries or "
            "the pretrained source do not rebuild the saved model; retrain or reinstall the "
            "versions in the card.")
    log.debug("%s: %s probe ok (max difference %.2g)", bundle, what,
              float(np.max(np.abs(got - want))) if got.size else 0.0)
