"""Feature tables round-trip through parquet with their provenance."""

from __future__ import annotations

import pandas as pd
import pytest

from eusgist.features.table import feature_columns, read_feature_table, write_feature_table


def _table() -> pd.DataFrame:
    return pd.DataFrame({"image": ["a.png", "b.png"], "label": ["GIST", "leiomyoma"],
                         "patient_id": ["p1", "p2"], "lesion_id": ["l1", "l2"],
                         "rad_original_firstorder_Mean": [1.5, 2.5],
                         "deep_resnet18_000": [0.1, 0.2]})


def test_round_trip_keeps_columns_values_and_provenance(tmp_path):
    prov = {"backbone": "resnet18", "radiomics_params_yaml": "# eus\nsetting: {}\n",
            "versions": {"timm": "1.0"}}
    path = write_feature_table(_table(), prov, tmp_path / "sub" / "f.parquet")
    df, got = read_feature_table(path)
    pd.testing.assert_frame_equal(df, _table())
    assert got == prov
    assert feature_columns(df) == ["rad_original_firstorder_Mean", "deep_resnet18_000"]
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_bad_tables_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"lacks identifier column\(s\) \['lesion_id'\]"):
        write_feature_table(_table().drop(columns="lesion_id"), {}, tmp_path / "f.parquet")
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        write_feature_table(_table(), {"x": object()}, tmp_path / "f.parquet")
    with pytest.raises(ValueError, match="not found"):
        read_feature_table(tmp_path / "missing.parquet")
