"""The classifier registry: every registered classifier builds, fits, stores and explains;
a new one is one module (here: a spec defined in this test) and nothing else."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from eusgist.bundles.tabular import load_bundle, save_bundle
from eusgist.cli import main
from eusgist.errors import EusgistError
from eusgist.explain import METHODS, background_sample, explain
from eusgist.models import classifiers
from eusgist.models.classifiers import (
    ClassifierSpec,
    ClassifierState,
    get_classifier,
    list_classifiers,
    register_classifier,
)
from eusgist.models.classifiers.shapley import INTERVENTIONAL_METHOD, interventional_shap
from eusgist.models.portable import PortableModel
from eusgist.models.synthetic import synthetic_feature_table
from eusgist.models.tabular import build_pipeline, feature_columns, fit_model, param_grid


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return synthetic_feature_table(n_lesions=24, n_rad=12, n_deep=12, seed=8)


def _fitted(name: str, table: pd.DataFrame):
    """A pipeline of ``name`` fitted at its first grid point (few trees: fast)."""
    spec = get_classifier(name)
    pipe = build_pipeline(name, seed=0)
    pipe.set_params(**{k: v[0] for k, v in spec.grid.items()})
    if "n_estimators" in pipe["clf"].get_params():
        pipe.set_params(clf__n_estimators=20)
    x = table[feature_columns(list(table.columns), "combined")]
    y = (table["label"] == "GIST").to_numpy(int)
    return pipe.fit(x, y, **spec.fit_params(table["lesion_id"].to_numpy())), x


def _check_classifier(name: str, table: pd.DataFrame) -> None:
    pipe, x = _fitted(name, table)
    proba = pipe.predict_proba(x)
    assert proba.shape == (len(x), 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)

    # safe storage: JSON metadata, numeric arrays, optional bytes; identical after a round trip
    portable = PortableModel.from_pipeline(pipe, name)
    meta, arrays, raw = portable.to_state()
    json.dumps(meta)
    assert all(a.dtype.kind in "fiu" for a in arrays.values())
    assert raw is None or isinstance(raw, bytes)
    stored = PortableModel.from_state(json.loads(json.dumps(meta)), arrays, raw)
    np.testing.assert_array_equal(stored.predict_proba(table), portable.predict_proba(table))
    np.testing.assert_allclose(portable.predict_proba(table), proba[:, 1], atol=1e-9)

    # SHAP: one value per selected feature, additive in the method's space
    rows = table.iloc[:6]
    expl = explain(stored, rows, background_sample(stored, table, n=12))
    assert expl.values.shape == (6, len(stored.features)) and np.isfinite(expl.values).all()
    assert expl.space == METHODS[name][1]
    np.testing.assert_allclose(expl.base_value + expl.values.sum(axis=1), expl.output, atol=1e-6)
    p = stored.predict_proba(rows)
    expected = p if expl.space == "probability" else logit(p)
    np.testing.assert_allclose(expl.output, expected, atol=1e-5)


@pytest.mark.parametrize("name", list_classifiers())
def test_every_registered_classifier_fits_stores_and_explains(name, table):
    _check_classifier(name, table)


def test_unknown_names_fail_in_one_place_naming_the_known_ones():
    known = str(list(list_classifiers()))
    for call in (lambda: get_classifier("lightgbm"), lambda: build_pipeline("lightgbm"),
                 lambda: param_grid("lightgbm"),
                 lambda: PortableModel.from_state({"classifier": "lightgbm"}, {}, None)):
        with pytest.raises(EusgistError, match=r"unknown classifier type 'lightgbm'") as err:
            call()
        assert known in str(err.value)


def test_registration_refuses_duplicates_and_bad_names():
    with pytest.raises(EusgistError, match="already registered"):
        register_classifier(get_classifier("svm"))
    with pytest.raises(EusgistError, match="without '-'"):
        register_classifier(ClassifierSpec(**{**vars(get_classifier("rf")), "name": "r-f"}))


# ---------------------------------------------------------------- adding a classifier
def _lr_store(clf: LogisticRegression) -> ClassifierState:
    return ClassifierState({"coef": clf.coef_[0].astype(np.float64)},
                           {"intercept": float(clf.intercept_[0])})


def _lr_load(state: ClassifierState, n: int) -> None:
    if state.arrays["coef"].shape != (n,):
        raise EusgistError(f"coefficients {state.arrays['coef'].shape} do not fit {n} features")


LOGREG = ClassifierSpec(
    name="logreg",
    build=lambda seed: LogisticRegression(C=1.0, random_state=seed),
    grid={"select__C": [0.2], "clf__C": [0.1, 1.0]},
    store=_lr_store,
    load=_lr_load,
    proba=lambda model, x: expit(x @ model.arrays["coef"] + model.params["intercept"]),
    shap_method=INTERVENTIONAL_METHOD,
    shap_space="probability",
    shap=lambda model, x, bg, seed: interventional_shap(model.output, x, bg, seed),
    required_arrays=("coef",),
    required_params=("intercept",),
)


@pytest.fixture()
def logreg(monkeypatch: pytest.MonkeyPatch) -> ClassifierSpec:
    """LOGREG registered for one test (the registry is restored afterwards)."""
    monkeypatch.setattr(classifiers, "_REGISTRY", dict(classifiers._REGISTRY))
    return register_classifier(LOGREG)


def test_a_registered_classifier_trains_stores_and_explains(logreg, table):
    assert list_classifiers()[-1] == "logreg" and "logreg" in METHODS
    _check_classifier("logreg", table)
    y = (table["label"] == "GIST").to_numpy(int)
    model = fit_model(table, y, table["lesion_id"], modality="combined", classifier="logreg",
                      n_splits=3)
    assert model.name == "combined-logreg" and model.cv_auc > 0.6


def test_a_registered_classifier_goes_through_the_train_command_and_a_bundle(
    logreg, table, tmp_path
):
    features = tmp_path / "features.parquet"
    table.to_parquet(features)
    out = tmp_path / "combined-logreg"
    assert main(["train", "--features", str(features), "--out", str(out), "--modalities",
                 "combined", "--classifiers", "svm,logreg", "--select", "combined-logreg",
                 "--cv-folds", "3", "--shap-rows", "5"]) == 0
    bundle = load_bundle(out)
    assert bundle.card["classifier"] == "logreg"
    assert bundle.predict_proba(table).shape == (len(table),)
    again = save_bundle(tmp_path / "copy", bundle.model, name="copy", classes=bundle.classes,
                        threshold=bundle.threshold, input_features=list(bundle.model.features),
                        background=bundle.background)
    np.testing.assert_array_equal(load_bundle(again).predict_proba(table),
                                  bundle.predict_proba(table))
    assert len(bundle.explain(table.iloc[:1])) == len(bundle.model.features)
