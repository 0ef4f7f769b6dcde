"""Feature tables: one row per image, identifiers then features, provenance in the file.

A table has the columns ``image, label, patient_id, lesion_id`` (copied from the
manifest) followed by feature columns: ``rad_<pyradiomics name>`` and
``deep_<backbone>_<index>`` (``deep_frame_<backbone>_<index>``: the whole frame), and
``seg_<name>`` (:mod:`eusgist.segment.shape`). Provenance (settings, library versions, backbone, weights,
input size, crop margin, skipped images) is stored as JSON in the parquet schema's
key-value metadata under :data:`METADATA_KEY`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from eusgist.errors import EusgistError

#: Columns copied from the manifest, in this order, before the features.
ID_COLUMNS: tuple[str, ...] = ("image", "label", "patient_id", "lesion_id")
#: Prefix of radiomics feature columns.
RAD_PREFIX = "rad_"
#: Prefix of deep feature columns.
DEEP_PREFIX = "deep_"
#: Prefix of segmenter (box → outline) feature columns (:mod:`eusgist.segment.shape`).
SEG_PREFIX = "seg_"
#: Parquet key-value metadata key holding the provenance JSON.
METADATA_KEY = b"eusgist.features"


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The feature columns of a table (radiomics, deep, segmenter), in table order."""
    return [c for c in df.columns if c.startswith((RAD_PREFIX, DEEP_PREFIX, SEG_PREFIX))]


def write_feature_table(df: pd.DataFrame, provenance: Mapping[str, Any], path: str | Path) -> Path:
    """Write a feature table to parquet with `provenance` in its metadata.

    Raises
    ------
    ValueError
        If an identifier column is missing or `provenance` is not JSON-serialisable.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    missing = [c for c in ID_COLUMNS if c not in df.columns]
    if missing:
        raise EusgistError(f"feature table lacks identifier column(s) {missing}")
    try:
        blob = json.dumps(dict(provenance), sort_keys=True)
    except TypeError as exc:
        raise EusgistError(f"provenance is not JSON-serialisable: {exc}") from exc
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = blob.encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table.replace_schema_metadata(meta), tmp)
    tmp.replace(path)
    return path


def read_feature_table(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a table written by :func:`write_feature_table`.

    Returns
    -------
    tuple
        ``(DataFrame, provenance dict)``; the dict is empty for a parquet file without it.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise EusgistError(f"feature table not found: {path}")
    table = pq.read_table(path)
    blob = (table.schema.metadata or {}).get(METADATA_KEY)
    provenance = json.loads(blob) if blob else {}
    return table.to_pandas(), provenance
