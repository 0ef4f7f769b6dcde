"""Copy a few TEST-split images of each shipped bundle's data into examples/<bundle>/.

Usage: python scripts/make_examples.py BUNDLE FEATURES.parquet MANIFEST.csv [--per-class 2]

The split is recomputed exactly as ``train`` made it (lesion-level, the card's seed and test
size), so the examples were never seen in training. Writes ``examples.csv`` with the image,
mask and pixel spacing (from the manifest's ``spacing_mm`` column when present).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from eusgist.data import read_manifest
from eusgist.features import read_feature_table
from eusgist.models.tabular import lesion_split

log = logging.getLogger("make_examples")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--per-class", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    card = json.loads((args.bundle / "model_card.json").read_text())
    split = card["training_data"]["split"]
    table, _ = read_feature_table(args.features)
    _, test, classes = lesion_split(table, test_size=split["test_size"], seed=split["seed"],
                                    positive_label=card["positive_class"])
    manifest = read_manifest(args.manifest, positive_label=card["positive_class"])
    rows = manifest.table.set_index("image").loc[test["image"]]
    picked = (rows.reset_index().drop_duplicates("lesion_id")
              .groupby("label", group_keys=False).head(args.per_class))
    out = ROOT / "examples" / args.bundle.name
    out.mkdir(parents=True, exist_ok=True)
    listing = []
    for rec in picked.to_dict("records"):
        stem = f"{rec['label']}_{Path(rec['image']).stem}"
        shutil.copyfile(manifest.root / rec["image"], out / f"{stem}.png")
        shutil.copyfile(manifest.root / rec["mask"], out / f"{stem}_mask.png")
        listing.append({"image": f"{stem}.png", "mask": f"{stem}_mask.png",
                        "spacing_mm": rec.get("spacing_mm", ""), "label": rec["label"]})
    pd.DataFrame(listing).to_csv(out / "examples.csv", index=False)
    log.info("wrote %d examples (classes %s) to %s", len(listing), classes, out)


if __name__ == "__main__":
    main()
