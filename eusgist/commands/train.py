"""``train``: tabular models (radiomics / deep / combined × registered classifiers) into a bundle.

Parses the options and calls :func:`eusgist.models.train.train_tabular`, which splits by
lesion, tunes, compares and writes the chosen model's bundle, comparison and SHAP summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eusgist.commands._options import add_outside_root_option
from eusgist.errors import EusgistError
from eusgist.models.classifiers import list_classifiers
from eusgist.models.tabular import ALL_MODALITIES, CLASSIFIERS, MODALITIES

NAME = "train"
HELP = "Train tabular models on radiomics/deep/combined features and write a model bundle."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Input table (or manifest), output bundle, model grid and split options."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", type=Path, help="feature table (parquet) from `extract`")
    source.add_argument("--manifest", type=Path,
                        help="dataset manifest CSV: extract default features first (cached)")
    parser.add_argument("--out", required=True, type=Path, help="bundle folder, e.g. weights/NAME")
    parser.add_argument("--modalities", default=",".join(MODALITIES),
                        help=f"comma-separated: {', '.join(ALL_MODALITIES)} (default: "
                             f"{', '.join(MODALITIES)}; deepseg = deep + segmenter features)")
    parser.add_argument("--classifiers", default=",".join(CLASSIFIERS),
                        help=f"comma-separated: {', '.join(list_classifiers())} (default: "
                             f"{', '.join(CLASSIFIERS)})")
    parser.add_argument("--select", default="best", metavar="BEST|MODALITY-CLASSIFIER",
                        help="model to bundle: 'best' (highest training-CV AUC; the test split "
                        "is never used to choose) or a name such as combined-svm")
    parser.add_argument("--seed", type=int, default=0, help="split, CV and model seed")
    parser.add_argument("--test-size", type=float, default=0.2, help="test share of lesions")
    parser.add_argument("--cv-folds", type=int, default=5, help="grouped CV folds for tuning")
    parser.add_argument("--positive-label", default=None, help="positive class (default: GIST)")
    parser.add_argument("--radiomics-params", type=Path, default=None,
                        help="pyradiomics YAML to ship (default: the table's provenance)")
    parser.add_argument("--backbone-weights", type=Path, default=None,
                        help="fine-tuned backbone .safetensors to ship with the bundle")
    parser.add_argument("--source", default=None, help="training data description for the card")
    parser.add_argument("--shap-rows", type=int, default=100,
                        help="test images explained in the SHAP summary (default 100)")
    add_outside_root_option(parser)


def _names(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise EusgistError(
            f"--{what}: unknown {unknown or 'empty list'}; choose from {list(allowed)}"
        )
    return tuple(dict.fromkeys(names))


def run(args: argparse.Namespace) -> int:
    """Train, compare, bundle; return 0."""
    from eusgist.models.train import TrainOptions, load_training_table, train_tabular

    options = TrainOptions(
        out=args.out,
        modalities=_names(args.modalities, ALL_MODALITIES, "modalities"),
        classifiers=_names(args.classifiers, list_classifiers(), "classifiers"),
        select="best" if args.select.lower() == "best" else args.select,
        seed=args.seed,
        test_size=args.test_size,
        cv_folds=args.cv_folds,
        positive_label=args.positive_label,
        radiomics_params=args.radiomics_params,
        backbone_weights=args.backbone_weights,
        source=args.source,
        shap_rows=args.shap_rows,
    )
    options.check()  # before reading or extracting anything
    table = load_training_table(features=args.features, manifest=args.manifest,
                                positive_label=args.positive_label,
                                allow_outside_root=args.allow_outside_root)
    train_tabular(table, options)
    return 0
