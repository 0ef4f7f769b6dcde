"""Flag rates of the out-of-domain gate of every gated bundle in a weights folder.

For each bundle with a ``domain`` card field (``fit-domain``) prints the share of images
flagged among:

* its own held-out test split (the split of its card, from the manifest it was fitted on);
* foreign images by kind: pydicom's bundled CT, MR, NM and secondary-capture examples and
  generated pictures (colour photographs, checkerboards, gradients, text, smooth
  radiograph-like images, flat fields), each with a central box (tests/foreign_images.py);
* pydicom's bundled ultrasound examples (other organs and machines);
* the other data set: phantom images scored by the BUSI bundles and BUSI images by the
  phantom bundle;

and the median time of one check (embedding of the crop and the frame + cheap checks).

    .venv/bin/python bench/bench_domain.py [--weights weights] \\
        [--busi ../shared/data/busi/manifest.csv] [--phantom /tmp/ph/manifest.csv]

(``python -m eusgist phantom --out /tmp/ph --n-patients 120 --seed 2026`` makes the phantom.)
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from foreign_images import foreign, other_ultrasound  # noqa: E402

from eusgist.bundles.card import CARD, ModelCard, read_json_object  # noqa: E402
from eusgist.data import read_manifest  # noqa: E402
from eusgist.inference.domain import DomainModel, embed, embedder, read_domain  # noqa: E402
from eusgist.inference.domain_fit import Measured, measure, train_test_rows  # noqa: E402

log = logging.getLogger("bench_domain")


def _measured(images: list, masks: list, boxes: list | None = None) -> list[Measured]:
    boxes = boxes or [None] * len(images)
    return [measure(im, m, b) for im, m, b in zip(images, masks, boxes, strict=True)]


class Set:
    """Images measured and embedded once, checked by every bundle."""

    def __init__(self, name: str, items: list[Measured], kinds: list[str],
                 names: list[str] | None = None) -> None:
        self.name, self.items, self.kinds = name, items, kinds
        self.names = names or [name] * len(items)
        self.emb = embed(embedder("cpu"), [m.crops for m in items])

    def flags(self, model: DomainModel, rows: np.ndarray | None = None) -> np.ndarray:
        rows = np.arange(len(self.items)) if rows is None else rows
        distances = model.gaussian.distance(self.emb[rows])
        return np.array([model.verdict(float(d), self.items[i].stats).out_of_domain
                         for i, d in zip(rows, distances, strict=True)])


def _manifest_set(name: str, path: Path, limit: int | None = None) -> tuple[Set, object]:
    manifest = read_manifest(path)
    rows = range(len(manifest)) if limit is None else range(min(limit, len(manifest)))
    items = _measured([manifest.image_path(i) for i in rows], [manifest.mask_path(i) for i in rows])
    return Set(name, items, [name] * len(items)), manifest


def _foreign_set(name: str, pictures: list) -> Set:
    items = _measured([p.image for p in pictures], [None] * len(pictures),
                      [p.box for p in pictures])
    return Set(name, items, [p.kind for p in pictures], [p.name for p in pictures])


def _rate(flags: np.ndarray) -> str:
    return f"{100 * flags.mean():5.1f}% ({int(flags.sum())}/{flags.size})"


def main() -> None:
    """Measure the image sets once, then print each gated bundle's flag rates."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--busi", type=Path, default=ROOT.parent / "shared/data/busi/manifest.csv")
    parser.add_argument("--phantom", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sets = {"busi": _manifest_set("BUSI", args.busi)}
    if args.phantom is not None:
        sets["phantom"] = _manifest_set("phantom", args.phantom)
    foreign_set = _foreign_set("foreign", foreign())
    ultrasound = _foreign_set("other ultrasound", other_ultrasound())
    for folder in sorted(p.parent for p in args.weights.glob(f"*/{CARD}")):
        card = read_json_object(folder / CARD)
        model = read_domain(folder, card)
        if model is None:
            continue
        info = card["domain"]
        own = "phantom" if "phantom" in folder.name else "busi"
        print(f"\n== {folder.name} (threshold {model.threshold:.2f}; fitted on "
              f"{info['fitted_on']['n_train']} training images)")
        print(f"  own training images, out of fold: "
              f"{100 * info['flag_rate']['train_out_of_fold']:5.1f}%")
        if own in sets:
            data, manifest = sets[own]
            test = train_test_rows(manifest, ModelCard.from_dict(card))[1]
            print(f"  own test split:                   {_rate(data.flags(model, test))}")
        flags = foreign_set.flags(model)
        print(f"  foreign images, all:              {_rate(flags)}")
        kinds = np.array(foreign_set.kinds)
        for kind in dict.fromkeys(foreign_set.kinds):
            print(f"    {kind:30s} {_rate(flags[kinds == kind])}")
        us = ultrasound.flags(model)
        detail = ", ".join(f"{name}: {'flagged' if f else 'passed'}"
                           for name, f in zip(ultrasound.names, us, strict=True))
        print(f"  other ultrasound (pydicom):       {_rate(us)}  {detail}")
        for other, (data, _) in sets.items():
            if other != own:
                print(f"  {data.name} images (other data):     {_rate(data.flags(model))}")
        _timing(model)


def _timing(model: DomainModel) -> None:
    """Median milliseconds of one check (after a warm-up)."""
    rng = np.random.default_rng(0)
    frame = np.clip(120 * rng.rayleigh(1.0, (480, 640)), 0, 255).astype(np.float32)
    roi = np.zeros(frame.shape, bool)
    roi[150:300, 200:400] = True
    model.check(frame, roi)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        model.check(frame, roi)
        times.append(1000 * (time.perf_counter() - start))
    print(f"  one check (640x480 frame, CPU):   {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
