"""eusgist.phantom: priors, physics sanity, geometry, the data set contract, difficulty, CLI."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eusgist.cli import main
from eusgist.phantom import (
    GIST,
    LEIOMYOMA,
    MANIFEST_COLUMNS,
    PRIORS,
    FrameMeta,
    LesionSpec,
    PhantomConfig,
    generate_dataset,
    render_frame,
    sample_frame_params,
    sample_lesion,
)
from eusgist.phantom.dataset import patient_labels
from eusgist.phantom.physics import RAYLEIGH_SNR, SectorGeometry, envelope, simulate_rf

SMALL = PhantomConfig(image_size=160, n_lines=192)
"""A cheaper scanner for tests that need many frames."""


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A four-patient phantom with overlays, at the default size."""
    out = tmp_path_factory.mktemp("tiny")
    generate_dataset(out, 4, seed=11, images_per_lesion=(1, 2), lesions_per_patient=(1, 2))
    return out


# -- priors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("label", [GIST, LEIOMYOMA])
def test_prior_counts_add_up_to_the_table_1_cohort(label: str) -> None:
    prior = PRIORS[label]
    for counts in (prior.sex, prior.location, prior.origin_layer, prior.echo_pattern,
                   prior.echo_level, prior.shape, prior.growth_pattern, prior.border):
        assert sum(counts.values()) == prior.n


def test_sampled_lesions_follow_table_1() -> None:
    rng = np.random.default_rng(0)
    gist = [sample_lesion(rng, GIST) for _ in range(1500)]
    lm = [sample_lesion(rng, LEIOMYOMA) for _ in range(1500)]
    assert not any(s.origin_layer == "muscularis_mucosae" for s in gist)
    assert np.mean([s.origin_layer == "muscularis_mucosae" for s in lm]) == pytest.approx(
        26 / 73, abs=0.04)
    assert np.mean([s.size_mm for s in gist]) == pytest.approx(23.9, rel=0.08)
    assert np.mean([s.size_mm for s in lm]) == pytest.approx(9.6, rel=0.08)
    assert np.mean([s.echo_pattern == "heterogeneous" for s in gist]) == pytest.approx(
        40 / 69, abs=0.04)
    assert np.mean([s.shape == "fusiform" for s in lm]) == pytest.approx(22 / 73, abs=0.04)
    assert all(s.growth_pattern == "intraluminal" for s in lm
               if s.origin_layer == "muscularis_mucosae")


def test_unknown_label_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown label 'lipoma'"):
        sample_lesion(np.random.default_rng(0), "lipoma")


# -- physics --------------------------------------------------------------------------------
def test_speckle_envelope_is_rayleigh_in_homogeneous_tissue() -> None:
    geom = SectorGeometry(probe_radius_mm=6, depth_mm=30, fan_angle_deg=90, n_lines=384,
                          frequency_mhz=7.5)
    amplitude = np.full((geom.n_samples, geom.n_lines), 2.0)
    env = envelope(simulate_rf(amplitude, geom, np.random.default_rng(1)))
    inner = env[100:-100, 40:-40]
    assert inner.mean() / inner.std() == pytest.approx(RAYLEIGH_SNR, abs=0.12)
    assert np.mean(inner**2) == pytest.approx(2 * 2.0**2, rel=0.1)  # analytic signal: 2 × RF power


def _lesion(**changes: object) -> LesionSpec:
    """A large, round, homogeneous GIST straight under the probe, with ``changes``."""
    spec = sample_lesion(np.random.default_rng(3), GIST)
    plain = dict(shape="round", aspect=1.1, tilt_deg=0.0, harmonics=(), echo_db=-12.0,
                 heterogeneity_db=0.5, cysts=(), cystic=False, calcifications=(),
                 calcification=False, origin_layer="muscularis_propria", growth_pattern="mixed")
    return replace(spec, **(plain | changes))


def _ray_mean(image: np.ndarray, mask: np.ndarray, meta: FrameMeta, point: tuple[float, float],
              start_mm: float, stop_mm: float, lateral_mm: float) -> float:
    """Mean grey along the beam through ``point``, from ``start_mm`` to ``stop_mm`` beyond it,
    shifted sideways by ``lateral_mm``; every sample must lie inside the lesion."""
    apex = np.array(meta.apex_px)
    ray = np.array(point) - apex
    r0, theta = np.hypot(*ray), np.arctan2(ray[1], ray[0])
    radii = r0 + np.arange(start_mm, stop_mm, 0.25) / meta.spacing_mm
    th = theta + lateral_mm / (r0 * meta.spacing_mm)
    pts = apex[:, None] + radii * np.array([[np.cos(th)], [np.sin(th)]])
    assert mask[tuple(np.round(pts).astype(int))].all()
    return float(ndimage.map_coordinates(image.astype(float), pts, order=1).mean())


def _straight_frames(spec: LesionSpec, n: int) -> Iterator[tuple[np.ndarray, np.ndarray, FrameMeta]]:
    rng = np.random.default_rng(5)
    for _ in range(n):
        params = sample_frame_params(spec, rng, PhantomConfig(), first=True)  # largest section
        params = replace(params, pose=replace(params.pose, angle_deg=0.0, offset_mm=0.0))
        yield render_frame(spec, rng, params=params)


def test_calcification_casts_an_acoustic_shadow() -> None:
    spec = _lesion(size_mm=26.0, calcification=True, calcifications=((0.0, -0.2, 1.0),))
    shadow, beside = [], []
    for image, mask, meta in _straight_frames(spec, 3):
        calc = meta.calcifications_px[0]
        shadow.append(_ray_mean(image, mask, meta, calc, 2, 6, 0.0))
        beside += [_ray_mean(image, mask, meta, calc, 2, 6, dx) for dx in (-3.5, 3.5)]
    assert np.mean(shadow) < 0.6 * np.mean(beside)


def test_cyst_shows_posterior_enhancement() -> None:
    spec = _lesion(size_mm=36.0, cystic=True, cysts=((0.0, 0.0, 0.3),))
    behind, beside = [], []
    for image, mask, meta in _straight_frames(spec, 3):
        centre = meta.lesion_centre_px
        behind.append(_ray_mean(image, mask, meta, centre, 6, 9, 0.0))
        beside += [_ray_mean(image, mask, meta, centre, 6, 9, dx) for dx in (-7.5, 7.5)]
    assert np.mean(behind) > 1.1 * np.mean(beside)


# -- frames ---------------------------------------------------------------------------------
@pytest.mark.parametrize("label", [GIST, LEIOMYOMA])
def test_frame_geometry(label: str) -> None:
    rng = np.random.default_rng(2)
    for _ in range(3):
        image, mask, meta = render_frame(sample_lesion(rng, label), rng)
        assert image.dtype == np.uint8 and mask.dtype == bool
        assert image.shape == mask.shape == meta.fan.shape == (256, 256)
        assert mask.sum() > 10
        assert not (mask & ~meta.fan).any()
        assert not image[~meta.fan].any()
        assert meta.spacing_mm > 0 and meta.section_mm > 0


# -- the data set ---------------------------------------------------------------------------
def test_manifest_contract(tiny: Path) -> None:
    from eusgist.data import read_manifest

    with (tiny / "manifest.csv").open() as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == MANIFEST_COLUMNS
    assert header[:5] == ["image", "mask", "label", "patient_id", "lesion_id"]
    table = read_manifest(tiny / "manifest.csv", positive_label=GIST).table
    assert set(table["label"]) <= {GIST, LEIOMYOMA}
    assert table.groupby("patient_id")["label"].nunique().max() == 1
    for row in table.itertuples():
        image = np.asarray(Image.open(tiny / row.image))
        mask = np.asarray(Image.open(tiny / row.mask))
        assert image.dtype == np.uint8 and image.ndim == 2
        assert mask.shape == image.shape
        assert set(np.unique(mask)) == {0, 255}
        assert row.image == f"images/{row.lesion_id}_{row.frame}.png"
    assert (table["spacing_mm"].astype(float) > 0).all()


def test_same_seed_gives_identical_files_serial_or_parallel(tmp_path: Path) -> None:
    kwargs = dict(images_per_lesion=(1, 1), lesions_per_patient=(1, 2), config=SMALL)
    generate_dataset(tmp_path / "a", 3, seed=4, **kwargs)
    generate_dataset(tmp_path / "b", 3, seed=4, n_jobs=2, **kwargs)
    generate_dataset(tmp_path / "c", 3, seed=5, **kwargs)
    a, b, c = (_files(tmp_path / k) for k in "abc")
    assert a == b
    assert a["manifest.csv"] != c["manifest.csv"]


def test_overlays_touch_images_only(tmp_path: Path) -> None:
    kwargs = dict(images_per_lesion=(2, 2), lesions_per_patient=(1, 1), config=SMALL)
    generate_dataset(tmp_path / "on", 2, seed=8, overlays=True, **kwargs)
    generate_dataset(tmp_path / "off", 2, seed=8, overlays=False, **kwargs)
    on, off = _files(tmp_path / "on"), _files(tmp_path / "off")
    assert {k: v for k, v in on.items() if k.startswith("masks")} == {
        k: v for k, v in off.items() if k.startswith("masks")}
    assert all(on[k] != off[k] for k in on if k.startswith("images"))
    manifest_on = pd.read_csv(tmp_path / "on" / "manifest.csv").drop(columns="caliper_mm")
    manifest_off = pd.read_csv(tmp_path / "off" / "manifest.csv")
    assert manifest_off["caliper_mm"].isna().all()
    pd.testing.assert_frame_equal(manifest_on, manifest_off.drop(columns="caliper_mm"))


@pytest.mark.parametrize(("n", "fraction", "n_gist"), [(40, 0.3, 12), (7, 0.5, 4), (5, 0.0, 0)])
def test_class_balance_follows_the_argument(n: int, fraction: float, n_gist: int) -> None:
    labels = patient_labels(n, seed=1, gist_fraction=fraction)
    assert len(labels) == n and labels.count(GIST) == n_gist


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(n_patients=0), "n_patients must be a positive integer, got 0"),
    (dict(n_patients=-2), "n_patients must be a positive integer, got -2"),
    (dict(n_patients=2.5), "n_patients must be a positive integer"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(gist_fraction=1.5), "gist_fraction must be in"),
    (dict(images_per_lesion=(0, 2)), "images_per_lesion must be"),
    (dict(lesions_per_patient=(3, 2)), "lesions_per_patient must be"),
])
def test_bad_arguments_are_value_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = dict(n_patients=2, seed=0) | kwargs
    with pytest.raises(ValueError, match=message):
        generate_dataset(tmp_path / "out", args.pop("n_patients"), args.pop("seed"), **args)


def test_non_empty_folder_needs_overwrite(tmp_path: Path) -> None:
    kwargs = dict(images_per_lesion=(1, 1), lesions_per_patient=(1, 1), config=SMALL)
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty; pass --overwrite"):
        generate_dataset(tmp_path, 1, seed=0, **kwargs)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "stale.png").write_bytes(b"x")
    generate_dataset(tmp_path, 1, seed=0, overwrite=True, **kwargs)
    assert not (tmp_path / "images" / "stale.png").exists()
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="not a folder"):
        generate_dataset(tmp_path / "notes.txt", 1, seed=0, **kwargs)


# -- difficulty -----------------------------------------------------------------------------
def _handcrafted(image: np.ndarray, mask: np.ndarray, spacing: float) -> list[float]:
    """Size, shape, intensity and texture of the ROI: a small radiomics stand-in."""
    inside = mask > 0
    rows, cols = np.nonzero(inside)
    eig = np.sort(np.linalg.eigvalsh(np.cov(np.stack([rows, cols]))))
    major, minor = 4 * np.sqrt(np.maximum(eig[::-1], 1e-6)) * spacing
    values = image[inside].astype(float)
    ring = ndimage.binary_dilation(inside, iterations=5) & ~inside
    grad = np.abs(np.diff(image.astype(float), axis=1))[inside[:, 1:] & inside[:, :-1]]
    return [np.log(inside.sum() * spacing**2), np.log(major), minor / major, values.mean(),
            values.std(), values.mean() - image[ring].mean(), grad.mean() if grad.size else 0.0]


def test_a_simple_radiomics_baseline_is_good_but_not_perfect(tmp_path: Path) -> None:
    manifest = generate_dataset(tmp_path, 90, seed=2024, config=SMALL, overlays=False,
                                images_per_lesion=(1, 1), lesions_per_patient=(1, 1), n_jobs=2)
    df = pd.read_csv(manifest)
    x = np.array([
        _handcrafted(np.asarray(Image.open(tmp_path / r.image)),
                     np.asarray(Image.open(tmp_path / r.mask)), r.spacing_mm)
        for r in df.itertuples()
    ])
    y = (df["label"] == GIST).to_numpy(int)
    score = np.zeros(len(df))
    for train, test in StratifiedGroupKFold(5, shuffle=True, random_state=0).split(
            x, y, df["patient_id"]):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        score[test] = model.fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    lesion = df.assign(y=y, score=score).groupby("lesion_id")[["y", "score"]].mean()
    auc = roc_auc_score(lesion["y"], lesion["score"])
    assert 0.65 < auc < 0.97, auc


# -- command line ---------------------------------------------------------------------------
def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["phantom", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--n-patients" in out and "--seed" in out and "--overwrite" in out


def test_cli_writes_a_data_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ph"
    code = main(["phantom", "--out", str(out), "--n-patients", "2", "--seed", "3",
                 "--images-per-lesion", "1", "--lesions-per-patient", "1", "--image-size", "128"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out / "manifest.csv")
    assert len(pd.read_csv(out / "manifest.csv")) == 2
    assert Image.open(out / "images" / "P0001-L1_0.png").size == (128, 128)


@pytest.mark.parametrize(("argv", "message"), [
    (["--n-patients", "0"], "n_patients must be a positive integer, got 0"),
    (["--n-patients", "-4"], "n_patients must be a positive integer, got -4"),
    (["--n-patients", "2", "--image-size", "10"], "image_size must be at least 64"),
])
def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["phantom", "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_cli_refuses_a_non_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_text("")
    assert main(["phantom", "--out", str(tmp_path), "--n-patients", "1"]) == 2
    assert "--overwrite" in capsys.readouterr().err
