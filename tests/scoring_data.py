"""A small labelled image set (the shipped BUSI examples) as a manifest ZIP, for tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BUSI_BUNDLE = ROOT / "weights" / "busi-radiomics-svm"
BUSI_EXAMPLES = ROOT / "examples" / "busi-radiomics-svm"


def busi_examples_zip(path: Path, *, extra: dict[str, bytes] | None = None) -> Path:
    """Write the BUSI examples (2 benign, 2 malignant, with masks) as a dataset ZIP."""
    listing = pd.read_csv(BUSI_EXAMPLES / "examples.csv")
    rows = [{"image": f"images/{r.image}", "mask": f"masks/{r.mask}", "label": r.label,
             "patient_id": Path(r.image).stem, "lesion_id": Path(r.image).stem}
            for r in listing.itertuples()]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("set/manifest.csv", pd.DataFrame(rows).to_csv(index=False))
        for r in listing.itertuples():
            zf.write(BUSI_EXAMPLES / r.image, f"set/images/{r.image}")
            zf.write(BUSI_EXAMPLES / r.mask, f"set/masks/{r.mask}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path
