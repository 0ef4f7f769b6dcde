"""Smoke test of a running eusgist app through its API, as scripts/space-check.sh runs it.

    python scripts/space_smoke.py URL [--gpu-log FILE] [--database FILE]

Lists the models, predicts one example per bundle (from ``examples/``), evaluates a small
ZIP of the BUSI examples and saves one annotation. With ``--gpu-log`` (the fake ``spaces``
module's call log) it checks that Predict and Evaluate ran inside ``spaces.GPU``; with
``--database`` that the annotation reached that SQLite file. Exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from gradio_client import Client, handle_file

log = logging.getLogger("space_smoke")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ZIP_BUNDLE = "busi-radiomics-svm"
ANNOTATOR = "space-check"
FORM = ("body", "muscularis propria", "heterogeneous", "oval", 23.5, "no", "no", "yes")


def _rows(bundle: str) -> list[dict[str, str]]:
    with (EXAMPLES / bundle / "examples.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)
    log.info("ok: %s", what)


def list_models(client: Client) -> list[str]:
    listed = client.predict(api_name="/list_models")
    names = [m["name"] for m in listed if m["available"]]
    _check(bool(names), f"list_models: {len(names)} available ({', '.join(names)})")
    return names


def predict_examples(client: Client, names: list[str]) -> None:
    for name in names:
        if not (EXAMPLES / name / "examples.csv").is_file():
            log.warning("no examples/%s: not predicted", name)
            continue
        row = _rows(name)[0]
        folder = EXAMPLES / name
        label, decision, *_rest = client.predict(
            name, handle_file(str(folder / row["image"])), None,
            handle_file(str(folder / row["mask"])), "", None, api_name="/predict")
        probs = {c["label"]: c["confidence"] for c in label["confidences"]}
        _check(abs(sum(probs.values()) - 1) < 1e-6 and "threshold" in decision,
               f"predict {name} on {row['image']}: {label['label']} {probs}")


def evaluate_zip(client: Client, workdir: Path) -> None:
    rows = _rows(ZIP_BUNDLE)
    archive = workdir / "set.zip"
    folder = EXAMPLES / ZIP_BUNDLE
    with zipfile.ZipFile(archive, "w") as zf:
        lines = ["image,mask,label,patient_id,lesion_id"]
        for r in rows:
            stem = Path(r["image"]).stem
            lines.append(f"images/{r['image']},masks/{r['mask']},{r['label']},{stem},{stem}")
            zf.write(folder / r["image"], f"set/images/{r['image']}")
            zf.write(folder / r["mask"], f"set/masks/{r['mask']}")
        zf.writestr("set/manifest.csv", "\n".join(lines) + "\n")
    summary, performance, *_rest = client.predict(
        handle_file(str(archive)), [ZIP_BUNDLE], "youden", "wilson",
        api_name="/evaluate_images")
    _check(summary.startswith(f"**{len(rows)} cases")
           and performance["data"][0][0] == ZIP_BUNDLE,
           f"evaluate_images: {summary.splitlines()[0]}")


def save_annotation(client: Client) -> int:
    row = _rows(ZIP_BUNDLE)[0]
    folder = EXAMPLES / ZIP_BUNDLE
    upload = client.predict([handle_file(str(folder / row["image"]))], "", "", 0, ANNOTATOR,
                            api_name="/annotate_upload")
    image_id = int(re.search(r"image (\d+)", upload).group(1))
    client.predict(image_id, 1.0, ANNOTATOR, api_name="/annotate_load")
    editor = {"background": None, "layers": [handle_file(str(folder / row["mask"]))],
              "composite": None}
    status = client.predict(editor, ANNOTATOR, "GIST", True, *FORM, True, "",
                            api_name="/annotate_save")
    _check(f"Saved revision 1 of {ANNOTATOR}'s annotation" in status,
           f"annotate_save: {status}")
    return image_id


def check_gpu_log(path: Path) -> None:
    calls = {json.loads(line)["fn"] for line in path.read_text().splitlines() if line}
    _check({"predict_image", "evaluate_images"} <= calls,
           f"spaces.GPU wrapped the GPU handlers: {sorted(calls)}")


def check_database(path: Path, image_id: int) -> None:
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        names = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        _check(bool(names) and path.stat().st_size > 0,
               f"annotation database in the data folder: {path} (image {image_id})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--gpu-log", type=Path)
    parser.add_argument("--database", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="space_smoke: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request
    start = time.monotonic()
    client = Client(args.url, verbose=False)
    try:
        names = list_models(client)
        predict_examples(client, names)
        with tempfile.TemporaryDirectory() as tmp:
            evaluate_zip(client, Path(tmp))
        image_id = save_annotation(client)
        if args.gpu_log:
            check_gpu_log(args.gpu_log)
        if args.database:
            check_database(args.database, image_id)
    except Exception as exc:  # noqa: BLE001 - any failure ends the smoke test
        log.error("FAILED: %s: %s", type(exc).__name__, exc)
        return 1
    log.info("passed in %.0f s", time.monotonic() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
