"""Slow, obviously correct references for the fast statistics, shared as fixtures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from eusgist import stats

DATA = Path(__file__).parent / "data"


def _kernel(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """psi(x, y) for every positive x (rows) and negative y (columns): 1, 1/2 or 0."""
    diff = pos[:, None] - neg[None, :]
    return (diff > 0) + 0.5 * (diff == 0)


def naive_auc(y: np.ndarray, s: np.ndarray) -> float:
    """AUC by counting all positive-negative pairs."""
    y, s = np.asarray(y), np.asarray(s, float)
    return float(_kernel(s[y == 1], s[y == 0]).mean())


def naive_delong(y: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and DeLong covariance from the explicit structural components
    V10(x_i) = mean_j psi(x_i, y_j), V01(y_j) = mean_i psi(x_i, y_j) (DeLong et al. 1988)."""
    y = np.asarray(y)
    v10, v01, aucs = [], [], []
    for s in scores:
        s = np.asarray(s, float)
        k = _kernel(s[y == 1], s[y == 0])
        aucs.append(k.mean())
        v10.append(k.mean(axis=1))
        v01.append(k.mean(axis=0))
    v10, v01 = np.array(v10), np.array(v01)
    m, n = v10.shape[1], v01.shape[1]
    s10 = (v10 - v10.mean(1, keepdims=True)) @ (v10 - v10.mean(1, keepdims=True)).T / (m - 1)
    s01 = (v01 - v01.mean(1, keepdims=True)) @ (v01 - v01.mean(1, keepdims=True)).T / (n - 1)
    return np.array(aucs), s10 / m + s01 / n


@pytest.fixture(scope="session")
def reference() -> SimpleNamespace:
    return SimpleNamespace(auc=naive_auc, delong=naive_delong)


@pytest.fixture(scope="session")
def asah() -> pd.DataFrame:
    """pROC's aSAH data set (113 patients with aneurysmal subarachnoid haemorrhage)."""
    return pd.read_csv(DATA / "asah.csv")


@pytest.fixture(scope="session")
def proc_cases() -> pd.DataFrame:
    return pd.read_csv(DATA / "proc_cases.csv")


@pytest.fixture(scope="session")
def proc_reference() -> dict:
    return json.loads((DATA / "proc_reference.json").read_text())


RTOL = 1e-9  # pROC agreement: far tighter than the 6 significant digits asked for


def _close(ours: float, theirs: float | None, what: str) -> None:
    theirs = math.nan if theirs is None else theirs
    assert ours == pytest.approx(theirs, rel=RTOL, abs=1e-12, nan_ok=True), what


def compare_with_proc(cases: pd.DataFrame, ref: dict) -> int:
    """Check every number in a pROC reference JSON; return how many were compared."""
    checked = 0
    for case in ref["cases"]:
        d = cases[cases["case"] == case["case"]]
        s1, s2 = d[d["sample"] == 1], d[d["sample"] == 2]
        for col in ("a", "b"):
            r = case[col]
            for level, key in ((0.95, "ci95"), (0.90, "ci90")):
                got = stats.roc_auc_ci(s1["y"], s1[col], level=level)
                name = f"{case['case']} {col} {key}"
                _close(got.auc, r["auc"], name + " auc")
                _close(got.se, r["se"], name + " se")
                _close(got.lo, r[key][0], name + " lo")
                _close(got.hi, r[key][1], name + " hi")
                checked += 4
        for level, key in ((0.95, "ci95"), (0.90, "ci90")):
            t = stats.delong_test(s1["y"], s1["a"], s1["b"], level=level)
            name = f"{case['case']} paired {key}"
            _close(t.z, case["paired"]["z"], name + " z")
            _close(t.p_value, case["paired"]["p_value"], name + " p")
            _close(t.lo, case["paired"][key][0], name + " lo")
            _close(t.hi, case["paired"][key][1], name + " hi")
            checked += 4
        if "unpaired" in case:
            u = stats.delong_test_unpaired(s1["y"], s1["a"], s2["y"], s2["a"])
            name = f"{case['case']} unpaired"
            _close(u.z, case["unpaired"]["t"], name + " t")
            _close(u.df, case["unpaired"]["df"], name + " df")
            _close(u.p_value, case["unpaired"]["p_value"], name + " p")
            checked += 3
    return checked


@pytest.fixture(scope="session")
def proc_check():
    """The function that checks our numbers against a pROC reference JSON."""
    return compare_with_proc
