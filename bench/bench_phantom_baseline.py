"""How hard is the phantom? A plain radiomics baseline, and the generator's speed.

Generates a phantom data set, extracts pyradiomics first-order, shape2D and GLCM features
from each image and its mask (with the true pixel spacing), fits a standardised logistic
regression under 5-fold cross-validation grouped by patient (so every lesion's frames
stay on one side), averages each lesion's frame scores, and prints the lesion-level AUC
next to the AUC of the true long diameter alone. It also prints the CPU time per
rendered frame and the wall time of generation and feature extraction.

    .venv/bin/python bench/bench_phantom_baseline.py --n-patients 200 --seed 0 --jobs 2
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from joblib import Parallel, delayed
from PIL import Image
from radiomics import featureextractor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eusgist.phantom import GIST, generate_dataset, render_frame, sample_lesion

SETTINGS = {"force2D": True, "force2Ddimension": 0, "binWidth": 8, "label": 1,
            "minimumROIDimensions": 1}
FEATURE_CLASSES = ("firstorder", "shape2D", "glcm")


def _extractor() -> featureextractor.RadiomicsFeatureExtractor:
    extractor = featureextractor.RadiomicsFeatureExtractor(**SETTINGS)
    extractor.disableAllFeatures()
    for name in FEATURE_CLASSES:
        extractor.enableFeatureClassByName(name)
    return extractor


def _features(root: Path, image: str, mask: str, spacing: float) -> dict[str, float]:
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    img = sitk.GetImageFromArray(np.asarray(Image.open(root / image), dtype=np.float32)[None])
    msk = sitk.GetImageFromArray((np.asarray(Image.open(root / mask)) > 0).astype(np.uint8)[None])
    for im in (img, msk):
        im.SetSpacing((spacing, spacing, 1.0))
    result = _extractor().execute(img, msk)
    return {k: float(v) for k, v in result.items() if k.startswith("original_")}


def lesion_auc(df: pd.DataFrame, features: np.ndarray, seed: int = 0) -> float:
    """Lesion-level AUC of a standardised logistic regression, 5-fold CV grouped by patient."""
    y = (df["label"] == GIST).to_numpy(int)
    score = np.zeros(len(df))
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    for train, test in folds.split(features, y, df["patient_id"]):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
        score[test] = model.fit(features[train], y[train]).predict_proba(features[test])[:, 1]
    lesions = df.assign(y=y, score=score).groupby("lesion_id")[["y", "score"]].mean()
    return float(roc_auc_score(lesions["y"], lesions["score"]))


def cpu_seconds_per_frame(n: int = 20, seed: int = 0) -> float:
    """CPU time of :func:`render_frame` at the default settings (robust to a busy machine)."""
    rng = np.random.default_rng(seed)
    specs = [sample_lesion(rng, label) for label in ("GIST", "leiomyoma") * (n // 2)]
    start = time.process_time()
    for spec in specs:
        render_frame(spec, rng)
    return (time.process_time() - start) / len(specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the data set here (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp) / "phantom"
        start = time.perf_counter()
        manifest = generate_dataset(root, args.n_patients, args.seed, n_jobs=args.jobs,
                                    overwrite=True, progress=True)
        gen_s = time.perf_counter() - start
        df = pd.read_csv(manifest)
        start = time.perf_counter()
        rows = Parallel(n_jobs=args.jobs)(
            delayed(_features)(root, r.image, r.mask, r.spacing_mm) for r in df.itertuples()
        )
        ext_s = time.perf_counter() - start
    table = pd.DataFrame(rows).select_dtypes("number")
    table = table.loc[:, table.std() > 0]
    lesions = df.groupby("lesion_id").first()
    size_auc = roc_auc_score(lesions["label"] == GIST, lesions["size_mm"])
    print(f"patients {args.n_patients}, lesions {len(lesions)}, images {len(df)}, "
          f"GIST lesions {(lesions['label'] == GIST).sum()}")
    print(f"render_frame: {cpu_seconds_per_frame():.3f} s CPU per frame (default 256 px); "
          f"data set: {gen_s:.1f} s wall on {args.jobs} jobs incl. PNG writing")
    print(f"pyradiomics: {ext_s:.1f} s wall on {args.jobs} jobs, {table.shape[1]} features")
    print(f"AUC, true long diameter alone (lesion level): {size_auc:.3f}")
    print(f"AUC, radiomics + logistic regression (lesion level, 5-fold CV by patient): "
          f"{lesion_auc(df, table.to_numpy()):.3f}")


if __name__ == "__main__":
    main()
