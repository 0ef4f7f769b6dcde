"""Write a synthetic data set in the manifest format (see docs/design.md, "Dataset manifest")."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy
from joblib import Parallel, delayed
from PIL import Image
from tqdm import tqdm

from eusgist import __version__
from eusgist.errors import EusgistError
from eusgist.phantom.lesion import LesionSpec, PatientSpec, sample_lesion, sample_patient
from eusgist.phantom.overlay import draw_overlays
from eusgist.phantom.priors import GIST, LEIOMYOMA
from eusgist.phantom.render import PhantomConfig, render_frame, sample_frame_params

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"
PROVENANCE_NAME = "phantom.json"
MANIFEST_COLUMNS: tuple[str, ...] = (
    "image", "mask", "label", "patient_id", "lesion_id",
    # lesion level (guo2024 Table 1 attributes)
    "size_mm", "location", "echo_pattern", "echo_level", "shape", "origin_layer",
    "growth_pattern", "border", "lobulated", "calcification", "cystic", "age", "sex",
    # frame level
    "frame", "depth_mm", "frequency_mhz", "gain_db", "angle_deg", "spacing_mm", "section_mm",
    "caliper_mm",
)
"""Manifest columns, in order; ``caliper_mm`` is empty on frames without calipers."""
_OUTPUTS = ("images", "masks", MANIFEST_NAME, PROVENANCE_NAME)

Row = dict[str, str | int | float]


def _check_range(name: str, value: tuple[int, int]) -> None:
    lo, hi = value
    if not 1 <= lo <= hi:
        raise EusgistError(f"{name} must be (low, high) with 1 <= low <= high, got {value}")


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise EusgistError(f"output path {out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise EusgistError(
                f"output folder {out_dir} is not empty; pass --overwrite (overwrite=True) "
                "to replace an earlier phantom there"
            )
        for name in _OUTPUTS:
            path = out_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(exist_ok=True)


def _lesion_row(patient: PatientSpec, lesion_id: str, spec: LesionSpec) -> Row:
    return {
        "label": spec.label, "patient_id": patient.patient_id, "lesion_id": lesion_id,
        "size_mm": spec.size_mm, "location": spec.location, "echo_pattern": spec.echo_pattern,
        "echo_level": spec.echo_level, "shape": spec.shape, "origin_layer": spec.origin_layer,
        "growth_pattern": spec.growth_pattern, "border": spec.border,
        "lobulated": int(spec.lobulated), "calcification": int(spec.calcification),
        "cystic": int(spec.cystic), "age": patient.age, "sex": patient.sex,
    }


def _make_patient(
    out_dir: Path, index: int, label: str, seed: int, config: PhantomConfig,
    images_per_lesion: tuple[int, int], lesions_per_patient: tuple[int, int], overlays: bool,
) -> list[Row]:
    """Simulate and write every frame of one patient; return its manifest rows.

    Randomness comes only from ``(seed, index)``, so patients can be made in any order or
    in parallel with identical results. Overlays draw from their own stream: turning them
    off changes nothing else.
    """
    sim_seq, overlay_seq = np.random.SeedSequence([seed, index]).spawn(2)
    rng, overlay_rng = np.random.default_rng(sim_seq), np.random.default_rng(overlay_seq)
    patient = sample_patient(rng, label, f"P{index + 1:04d}")
    rows: list[Row] = []
    for j in range(int(rng.integers(lesions_per_patient[0], lesions_per_patient[1] + 1))):
        lesion_id = f"{patient.patient_id}-L{j + 1}"
        spec = sample_lesion(rng, label)
        base = _lesion_row(patient, lesion_id, spec)
        for k in range(int(rng.integers(images_per_lesion[0], images_per_lesion[1] + 1))):
            params = sample_frame_params(spec, rng, config, first=k == 0)
            image, mask, meta = render_frame(spec, rng, config, params=params)
            calipers = bool(overlay_rng.random() < config.caliper_probability)
            caliper_mm = None
            if overlays:
                image, caliper_mm = draw_overlays(image, meta, overlay_rng, calipers=calipers)
            name = f"{lesion_id}_{k}.png"
            Image.fromarray(image).save(out_dir / "images" / name)
            Image.fromarray(mask.astype(np.uint8) * 255).save(out_dir / "masks" / name)
            rows.append(base | {
                "image": f"images/{name}", "mask": f"masks/{name}", "frame": k,
                "depth_mm": params.depth_mm, "frequency_mhz": params.frequency_mhz,
                "gain_db": round(params.gain_db, 1), "angle_deg": round(params.pose.angle_deg, 1),
                "spacing_mm": round(meta.spacing_mm, 5), "section_mm": round(meta.section_mm, 1),
                "caliper_mm": "" if caliper_mm is None else caliper_mm,
            })
    return rows


def patient_labels(n_patients: int, seed: int, gist_fraction: float) -> list[str]:
    """Exactly ``round(n_patients * gist_fraction)`` GIST patients, in seeded random order."""
    n_gist = int(round(n_patients * gist_fraction))
    labels = np.array([GIST] * n_gist + [LEIOMYOMA] * (n_patients - n_gist))
    return [str(x) for x in np.random.default_rng(seed).permutation(labels)]


def _provenance(seed: int, n_patients: int, config: PhantomConfig, **options: object) -> str:
    info = {
        "generator": "eusgist.phantom", "eusgist": __version__, "numpy": np.__version__,
        "scipy": scipy.__version__, "seed": seed, "n_patients": n_patients,
        "priors": "guo2024 Table 1 (eusgist.phantom.priors)", "options": options,
        "config": asdict(config),
    }
    return json.dumps(info, indent=2, sort_keys=True) + "\n"


def generate_dataset(
    out_dir: str | Path,
    n_patients: int,
    seed: int,
    *,
    config: PhantomConfig = PhantomConfig(),
    images_per_lesion: tuple[int, int] = (2, 4),
    lesions_per_patient: tuple[int, int] = (1, 2),
    gist_fraction: float = 0.5,
    overlays: bool = True,
    overwrite: bool = False,
    n_jobs: int = 1,
    progress: bool = False,
) -> Path:
    """Simulate ``n_patients`` patients into ``out_dir``; return the manifest's path.

    Each patient has one label (every lesion of a patient is of the same class) and a
    uniform number of lesions in ``lesions_per_patient``, each with a uniform number of
    frames in ``images_per_lesion``. Files: ``images/<lesion_id>_<k>.png`` (8-bit grey),
    ``masks/<lesion_id>_<k>.png`` (0/255), ``manifest.csv`` (:data:`MANIFEST_COLUMNS`) and
    ``phantom.json`` (settings and versions). The same arguments give byte-identical files,
    whatever ``n_jobs``. With ``overwrite``, earlier phantom outputs in ``out_dir`` are
    replaced; other files there are left alone.
    """
    if isinstance(n_patients, bool) or not isinstance(n_patients, int) or n_patients < 1:
        raise EusgistError(f"n_patients must be a positive integer, got {n_patients!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise EusgistError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= gist_fraction <= 1.0:
        raise EusgistError(f"gist_fraction must be in [0, 1], got {gist_fraction}")
    _check_range("images_per_lesion", images_per_lesion)
    _check_range("lesions_per_patient", lesions_per_patient)
    out = Path(out_dir)
    _prepare_out_dir(out, overwrite)
    labels = patient_labels(n_patients, seed, gist_fraction)
    jobs = (
        delayed(_make_patient)(out, i, label, seed, config, images_per_lesion,
                               lesions_per_patient, overlays)
        for i, label in enumerate(labels)
    )
    results: Iterator[list[Row]] = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    rows = [row for patient in tqdm(results, total=n_patients, desc="phantom", unit="patient",
                                    disable=not progress) for row in patient]
    manifest = out / MANIFEST_NAME
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (out / PROVENANCE_NAME).write_text(_provenance(
        seed, n_patients, config, images_per_lesion=list(images_per_lesion),
        lesions_per_patient=list(lesions_per_patient), gist_fraction=gist_fraction,
        overlays=overlays,
    ))
    log.info("phantom: %d images of %d patients in %s", len(rows), n_patients, out)
    return manifest
