"""Volume models (``train-cnn --dims 3d | 2d-slice``) through inference, scoring and the CLI.

Two tiny bundles are trained once, for one epoch, on 20 two-phase NIfTI volumes 16×32×32:
a two-phase R3D-18 and a 2d-slice CNN. Their ``test_predictions.csv`` holds what training
scored; inference must reproduce it.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from joblib import parallel_config
from PIL import Image

from eusgist import inference
from eusgist.cli import main
from eusgist.data import read_manifest, write_manifest
from eusgist.inference.batch import score_dataset
from eusgist.models.cnn import CNNConfig, train_cnn

SHAPE = (16, 32, 32)
PHASES = ("arterial", "venous")


def write_volumes(root: Path, phases: tuple[str, ...] = PHASES, n: int = 20) -> Path:
    """``n`` lesions, one NIfTI volume per phase and a mask each; positives hold a brighter
    blob. The ``image`` column is the first phase. Returns the manifest's path."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    zz, yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    rows = []
    for i in range(n):
        positive = i % 2 == 1
        cz, cy, cx = rng.integers(6, 10), *rng.integers(12, 20, size=2)
        blob = (((zz - cz) / 4) ** 2 + ((yy - cy) / 6) ** 2 + ((xx - cx) / 6) ** 2) <= 1
        row = {"mask": f"mask{i}.nii.gz", "label": "GIST" if positive else "leiomyoma",
               "patient_id": f"p{i}", "lesion_id": f"l{i}"}
        for k, phase in enumerate(phases or ("image",)):
            volume = rng.normal(50, 10, SHAPE) + blob * (150 if positive else 30) / (k + 1)
            sitk.WriteImage(sitk.GetImageFromArray(volume.astype(np.float32)),
                            str(root / f"{phase}{i}.nii.gz"))
            row[f"image_{phase}" if phases else "image"] = f"{phase}{i}.nii.gz"
        if phases:
            row["image"] = row[f"image_{phases[0]}"]
        sitk.WriteImage(sitk.GetImageFromArray(blob.astype(np.uint8)), str(root / row["mask"]))
        rows.append(row)
    return write_manifest(pd.DataFrame(rows), root / "manifest.csv")


def train_bundle(manifest_path: Path, out: Path, **config: object) -> Path:
    """A tiny CNN bundle trained for one epoch (no augmentation, random init)."""
    settings = dict(volume_size=(8, 16, 16), pretrained=False, epochs=1, patience=10,
                    batch_size=8, augment="none", seed=0, arch="test_resnet", input_size=32)
    train_cnn(read_manifest(manifest_path), out, CNNConfig(**{**settings, **config}),
              manifest_path=manifest_path)
    return out


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The dataset and three bundles: two-phase 3D, 2d-slice, and the 2d-slice weights
    under a plain 2D card."""
    tmp = tmp_path_factory.mktemp("volume-models")
    manifest = write_volumes(tmp / "data")
    cnn3d = train_bundle(manifest, tmp / "r3d", dims="3d", phases=PHASES)
    sliced = train_bundle(manifest, tmp / "slice", dims="2d-slice")
    flat = shutil.copytree(sliced, tmp / "flat")
    card = json.loads((flat / "model_card.json").read_text())
    card["expects"]["dims"] = "2d"
    (flat / "model_card.json").write_text(json.dumps(card))
    return SimpleNamespace(manifest=manifest, root=manifest.parent, cnn3d=cnn3d, sliced=sliced,
                           flat=flat)


def _tested(bundle: Path) -> pd.DataFrame:
    """The bundle's test-split scores with each row's files (the data are ../data)."""
    table = read_manifest(bundle.parent / "data/manifest.csv").table
    return pd.read_csv(bundle / "test_predictions.csv").merge(table, on=["image", "lesion_id",
                                                                          "label"])


def _phases(root: Path, row: pd.Series) -> dict[str, Path]:
    return {phase: root / row[f"image_{phase}"] for phase in PHASES}


def test_3d_prediction_reproduces_the_training_score(volumes: SimpleNamespace) -> None:
    model = inference.load_model(volumes.cnn3d)
    assert (model.dims, model.phases) == ("3d", PHASES)
    for _, row in _tested(volumes.cnn3d).iterrows():
        pred = inference.predict(model, _phases(volumes.root, row), volumes.root / row["mask"])
        assert pred.positive_probability == pytest.approx(row["score"], abs=1e-4)
        assert pred.decision == (pred.classes[1] if pred.positive_probability >= pred.threshold
                                 else pred.classes[0])
        assert pred.gradcam is None and any("Grad-CAM is not available" in n for n in pred.notes)
        assert {"decode", "preprocess", "classifier"} <= set(pred.timings_ms)
        assert pred.device in ("cpu", "cuda")


def test_3d_prediction_takes_arrays_and_loaded_images(volumes: SimpleNamespace) -> None:
    from eusgist.io import read_image, read_mask

    row = _tested(volumes.cnn3d).iloc[0]
    paths = _phases(volumes.root, row)
    arrays = {p: read_image(f, allow_volume=True).array for p, f in paths.items()}
    loaded = {"venous": read_image(paths["venous"], allow_volume=True),
              "arterial": arrays["arterial"]}
    mask = read_mask(volumes.root / row["mask"], like=SHAPE).astype(np.uint8) * 255
    for image in (arrays, loaded):
        pred = inference.predict(volumes.cnn3d, image, mask, explain=False)
        assert pred.positive_probability == pytest.approx(row["score"], abs=1e-4)
        assert not pred.notes


def test_2d_slice_prediction_reproduces_the_training_score(volumes: SimpleNamespace) -> None:
    row = _tested(volumes.sliced).iloc[0]
    pred = inference.predict(volumes.sliced, volumes.root / row["image"],
                             volumes.root / row["mask"])
    assert pred.positive_probability == pytest.approx(row["score"], abs=1e-4)
    assert pred.gradcam is not None and pred.gradcam.ndim == 3
    assert any(n.startswith("Slice ") and "largest lesion area" in n for n in pred.notes)


def test_batch_scores_equal_the_training_scores(volumes: SimpleNamespace) -> None:
    for bundle in (volumes.cnn3d, volumes.sliced):
        tested = _tested(bundle)
        images = [_phases(volumes.root, r) if bundle == volumes.cnn3d
                  else volumes.root / r["image"] for _, r in tested.iterrows()]
        masks = [volumes.root / m for m in tested["mask"]]
        scores = inference.score_images(bundle, images, masks, n_jobs=1, batch_size=2)
        np.testing.assert_allclose(scores, tested["score"], atol=1e-4)


def test_score_dataset_reads_the_phase_columns_of_a_zip(volumes: SimpleNamespace,
                                                        tmp_path: Path) -> None:
    archive = tmp_path / "volumes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in volumes.root.iterdir():
            zf.write(path, f"set/{path.name}")
    names = [str(volumes.cnn3d), str(volumes.sliced)]
    with parallel_config(backend="threading"):  # process workers take ~20 s to start here
        table, manifest = score_dataset(archive, names, tmp_path / "work")
        folder, _ = score_dataset(volumes.root, names[:1], tmp_path / "unused")
    assert len(table) == len(manifest) == 20
    for name in names:
        tested = _tested(Path(name)).set_index("image")["score"]
        scored = table.set_index("image").loc[tested.index, name]
        np.testing.assert_allclose(scored, tested, atol=1e-4)
    np.testing.assert_allclose(folder[names[0]], table[names[0]], atol=1e-6)


def test_mismatches_are_refused_naming_both(volumes: SimpleNamespace, tmp_path: Path) -> None:
    row = _tested(volumes.cnn3d).iloc[0]
    phases, mask = _phases(volumes.root, row), volumes.root / row["mask"]
    flat = np.zeros(SHAPE[1:], np.uint8)
    flat[8:20, 8:20] = 200
    Image.fromarray(flat).save(tmp_path / "frame.png")
    small = np.ones((SHAPE[0], 8, 8), bool)
    short = np.ones((8, *SHAPE[1:]), np.float32)
    cases = [
        (volumes.flat, phases["arterial"], mask, {}, r"takes 2D images.*3D volume \(16×32×32\)"),
        (volumes.cnn3d, {**phases, "arterial": tmp_path / "frame.png"}, mask, {},
         r"takes 3D volumes.*frame.png is a 2D image"),
        (volumes.sliced, tmp_path / "frame.png", mask, {}, "takes 3D volumes .*'2d-slice'"),
        (volumes.cnn3d, phases["arterial"], mask, {}, "takes 2 phases"),
        (volumes.cnn3d, {"arterial": phases["arterial"]}, mask, {}, "takes phases"),
        (volumes.cnn3d, list(phases.values()), mask, {}, "mapping phase → volume"),
        (volumes.cnn3d, {**phases, "venous": short}, mask, {}, "phases must be volumes of one"),
        (volumes.cnn3d, phases, small, {}, r"mask shape \(16, 8, 8\) does not match"),
        (volumes.cnn3d, phases, np.zeros(SHAPE), {}, "mask is empty"),
        (volumes.cnn3d, phases, tmp_path / "frame.png", {}, "does not match"),
        (volumes.cnn3d, phases, None, {}, "trained on lesion ROIs: give a lesion mask volume"),
        (volumes.sliced, phases["arterial"], None, {"box": (1, 1, 9, 9)}, "not a box"),
    ]
    for bundle, image, roi, options, message in cases:
        with pytest.raises(ValueError, match=message):
            inference.predict(bundle, image, roi, explain=False, **options)
    with pytest.raises(ValueError, match="takes 2D images"):
        inference.score_images(volumes.flat, [phases["arterial"]], [mask], n_jobs=1)


def test_the_cli_predicts_volumes(volumes: SimpleNamespace, capsys: pytest.CaptureFixture[str],
                                  ) -> None:
    row = _tested(volumes.cnn3d).iloc[0]
    phases = [f"--phase={p}={f}" for p, f in _phases(volumes.root, row).items()]
    mask = str(volumes.root / row["mask"])
    assert main(["predict", "--model", str(volumes.cnn3d), *phases, "--mask", mask,
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["probabilities"]["GIST"] == pytest.approx(row["score"], abs=1e-4)
    assert report["gradcam_shape"] is None and "arterial=" in report["image"]
    sliced = _tested(volumes.sliced).iloc[0]
    assert main(["predict", "--model", str(volumes.sliced), str(volumes.root / sliced["image"]),
                 "--mask", str(volumes.root / sliced["mask"])]) == 0
    out = capsys.readouterr().out
    assert f"P(GIST) = {sliced['score']:.3f}" in out and "largest lesion area" in out
    for argv, message in [(phases[:1], "takes phases"),
                          ([str(volumes.root / row["image"]), *phases], "not both or neither"),
                          (["--phase=arterial=" + str(volumes.root / "none.nii")],
                           "arterial phase not found")]:
        assert main(["predict", "--model", str(volumes.cnn3d), *argv, "--mask", mask]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(volumes.cnn3d), "--phase", "arterial"])
    assert "expected PHASE=FILE" in capsys.readouterr().err
