"""extract_features and the extract command: cache, parallelism, bad images, clusters."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eusgist.commands import extract as extract_cmd
from eusgist.data import read_manifest
from eusgist.features.pipeline import ExtractionSettings, extract_features
from eusgist.features.table import ID_COLUMNS, read_feature_table

RADIOMICS_ONLY = ExtractionSettings(radiomics="eus_original", backbones=())
#: One small CNN at a small input keeps these tests fast.
BOTH = ExtractionSettings(radiomics="eus_original", backbones=("resnet18",), pretrained=False,
                          input_size=64, batch_size=4)


def test_table_layout_and_provenance(dataset, tmp_path):
    manifest = read_manifest(dataset)
    result = extract_features(manifest, BOTH, cache_dir=tmp_path / "cache", n_jobs=1)
    df = result.table
    assert list(df.columns[:4]) == list(ID_COLUMNS) and len(df) == len(manifest)
    rad = [c for c in df.columns if c.startswith("rad_original_")]
    deep = [c for c in df.columns if c.startswith("deep_resnet18_")]
    assert len(rad) > 90 and len(deep) == 512 and df.shape[1] == 4 + len(rad) + len(deep)
    assert list(df.columns[4:]) == rad + deep
    assert np.isfinite(df[rad + deep].to_numpy()).all()
    pd.testing.assert_frame_equal(df[list(ID_COLUMNS)],
                                  manifest.table[list(ID_COLUMNS)].reset_index(drop=True))
    prov = result.provenance
    assert prov["radiomics"]["radiomics_params_name"] == "eus_original"
    assert prov["deep"]["resnet18"]["weights"] == "random"
    assert prov["crop_margin"] == 0.1 and prov["skipped"] == []
    assert result.stats["radiomics"] == {"computed": 6, "cached": 0, "failed": 0}


def test_rerun_hits_the_cache(dataset, tmp_path):
    manifest = read_manifest(dataset)
    first = extract_features(manifest, BOTH, cache_dir=tmp_path / "cache", n_jobs=1)
    again = extract_features(manifest, BOTH, cache_dir=tmp_path / "cache", n_jobs=1)
    assert again.stats == {"radiomics": {"computed": 0, "cached": 6, "failed": 0},
                           "deep-resnet18": {"computed": 0, "cached": 6, "failed": 0}}
    pd.testing.assert_frame_equal(again.table, first.table)
    # a changed setting (crop margin) recomputes the deep part only
    wider = dataclasses.replace(BOTH, margin=0.3)
    third = extract_features(manifest, wider, cache_dir=tmp_path / "cache", n_jobs=1)
    assert third.stats["radiomics"]["cached"] == 6
    assert third.stats["deep-resnet18"]["computed"] == 6


def test_corrupt_image_is_skipped_and_reported(dataset, tmp_path):
    (dataset.parent / "images" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (dataset.parent / "masks" / "4.png").unlink()
    manifest = read_manifest(dataset, check_files=False)
    result = extract_features(manifest, BOTH, cache_dir=None, n_jobs=1)
    assert list(result.table["image"]) == ["images/0.png", "images/1.png", "images/3.png",
                                           "images/5.png"]
    skipped = {s["image"]: s["error"] for s in result.provenance["skipped"]}
    assert set(skipped) == {"images/2.png", "images/4.png"}
    assert "2.png" in skipped["images/2.png"]
    assert "No such file" in skipped["images/4.png"] or "4.png" in skipped["images/4.png"]


def test_parallel_equals_serial(dataset):
    manifest = read_manifest(dataset)
    serial = extract_features(manifest, RADIOMICS_ONLY, n_jobs=1, backend="sequential")
    parallel = extract_features(manifest, RADIOMICS_ONLY, n_jobs=2, backend="loky")
    pd.testing.assert_frame_equal(parallel.table, serial.table)


def test_local_dask_cluster_equals_serial(dataset):
    distributed = pytest.importorskip("distributed")
    manifest = read_manifest(dataset)
    serial = extract_features(manifest, RADIOMICS_ONLY, n_jobs=1, backend="sequential")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        on_cluster = extract_features(manifest, RADIOMICS_ONLY, backend="dask")
    pd.testing.assert_frame_equal(on_cluster.table, serial.table)


def test_missing_cluster_package_is_a_clear_error(dataset, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ValueError, match="needs the 'ray' package"):
        extract_features(read_manifest(dataset), RADIOMICS_ONLY, backend="ray")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"supervision": "weak"}, "radiomics needs lesion masks"),
        ({"radiomics": None, "backbones": ()}, "nothing to extract"),
        ({"backbones": ("resnet18", "resnet34"), "checkpoint": "x.safetensors"},
         "exactly one backbone"),
        ({"margin": -1.0}, "margin must be >= 0"),
        ({"radiomics": None, "supervision": "weak", "context": True},
         "need lesion ROIs"),
        ({"radiomics": None, "supervision": "weak", "segmenter": "busi-boxseg-lite0"},
         "need lesion ROIs"),
        ({"backbones": (), "context": True}, "frame context needs a backbone"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExtractionSettings(**kwargs)


def _args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    extract_cmd.add_arguments(parser)
    argv = ["--manifest", str(overrides.pop("manifest")), "--out", str(overrides.pop("out"))]
    return parser.parse_args(argv + overrides.pop("extra", []))


def test_command_writes_a_feature_table(dataset, tmp_path):
    out = tmp_path / "features.parquet"
    args = _args(manifest=dataset, out=out,
                 extra=["--radiomics", "eus_original", "--backbones", "resnet18", "--random-init",
                        "--input-size", "64", "--n-jobs", "1", "--cache", str(tmp_path / "c"),
                        "--quiet"])
    assert extract_cmd.run(args) == 0
    df, prov = read_feature_table(out)
    assert len(df) == 6 and prov["deep"]["resnet18"]["input_size"] == [3, 64, 64]
    assert prov["radiomics"]["radiomics_params_yaml"].startswith("#")


def test_command_weak_supervision_needs_no_masks(dataset, tmp_path):
    frame = pd.read_csv(dataset)
    frame["mask"] = ""
    weak = dataset.parent / "weak.csv"
    frame.to_csv(weak, index=False)
    out = tmp_path / "weak.parquet"
    args = _args(manifest=weak, out=out,
                 extra=["--supervision", "weak", "--random-init", "--input-size", "64",
                        "--no-cache", "--quiet"])
    assert extract_cmd.run(args) == 0
    df, prov = read_feature_table(out)
    assert prov["radiomics"] is None and not any(c.startswith("rad_") for c in df.columns)
    assert len(df) == 6


def test_command_bad_manifest_is_a_value_error(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("image,label\nx.png,GIST\n")
    with pytest.raises(ValueError):
        extract_cmd.run(_args(manifest=bad, out=tmp_path / "o.parquet", extra=["--quiet"]))


def test_real_busi_images(busi_manifest_path):
    manifest = read_manifest(busi_manifest_path).subset([0, 1])
    result = extract_features(manifest, RADIOMICS_ONLY, n_jobs=1, backend="sequential")
    df = result.table
    assert len(df) == 2 and result.provenance["skipped"] == []
    assert (df["rad_original_shape2D_PixelSurface"] > 100).all()  # real lesions, 0/255 masks
    assert np.isfinite(df.filter(like="rad_").to_numpy()).all()
