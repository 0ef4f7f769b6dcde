"""SHAP explanations: additive in the explained space, readable names, top-20 summary."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from eusgist.explain import (
    EXACT_MAX_FEATURES,
    METHODS,
    Explanation,
    background_sample,
    explain,
    masked_game,
    readable_name,
    shap_summary,
)
from eusgist.models.classifiers import list_classifiers
from eusgist.models.classifiers.shapley import exact_shapley, permutation_shapley
from eusgist.models.classifiers.svm import svm_game
from eusgist.models.portable import PortableModel
from eusgist.models.synthetic import synthetic_feature_table
from eusgist.models.tabular import fit_model

GRIDS = {
    "svm": {"select__C": [0.2]},
    "svm-wide": {"select__C": [5.0]},  # keeps many features: the permutation estimator
    "rf": {"select__C": [0.2], "clf__n_estimators": [30]},
    "xgboost": {"select__C": [0.2], "clf__n_estimators": [30]},
}


@pytest.fixture(scope="module")
def table():
    return synthetic_feature_table(n_lesions=30, n_rad=30, n_deep=30, seed=5)


@pytest.fixture(scope="module", params=list(GRIDS))
def portable(request, table):
    classifier = request.param.split("-")[0]
    y = (table["label"] == "GIST").to_numpy(int)
    model = fit_model(table, y, table["lesion_id"], modality="combined", classifier=classifier,
                      grid=GRIDS[request.param], n_splits=3)
    if request.param == "svm-wide":  # too many features to enumerate: the permutation path
        assert len(model.selected_features) > EXACT_MAX_FEATURES
    return PortableModel.from_pipeline(model.pipeline, classifier)


def test_shap_values_add_up_to_the_model_output(portable, table):
    rows = table.iloc[:8]
    expl = explain(portable, rows, background_sample(portable, table, n=20))
    assert expl.values.shape == (8, len(portable.features))
    np.testing.assert_allclose(expl.base_value + expl.values.sum(axis=1), expl.output, atol=1e-5)
    if expl.space == "probability":
        np.testing.assert_allclose(expl.output, portable.predict_proba(rows), atol=1e-12)
    else:  # XGBoost margin: the log-odds of the probability
        p = portable.predict_proba(rows)
        np.testing.assert_allclose(expl.output, np.log(p / (1 - p)), atol=1e-5)
    contributions = expl.contributions(0)
    assert len(contributions) == len(portable.features)
    assert abs(contributions[0][2]) == pytest.approx(np.abs(expl.values[0]).max())


def test_permutation_estimate_matchesexact_shapley():
    rng = np.random.default_rng(0)
    w = rng.normal(size=5)

    def f(x):
        return np.tanh(x @ w) + x[:, 0] * x[:, 1]

    x, bg = rng.normal(size=(3, 5)), rng.normal(size=(12, 5))
    exact = exact_shapley(masked_game(f, bg), x)
    approx = permutation_shapley(masked_game(f, bg), x, np.random.default_rng(1))
    np.testing.assert_allclose(exact.sum(axis=1), f(x) - f(bg).mean(), atol=1e-12)
    np.testing.assert_allclose(approx.sum(axis=1), f(x) - f(bg).mean(), atol=1e-12)
    np.testing.assert_allclose(approx, exact, atol=0.15)
    # a linear model has the closed form w_j (x_j - mean bg_j)
    exact_lin = exact_shapley(masked_game(lambda z: z @ w, bg), x)
    np.testing.assert_allclose(exact_lin, w * (x - bg.mean(axis=0)), atol=1e-12)


@pytest.mark.parametrize("portable", ["svm", "svm-wide"], indirect=True)
def test_fast_svm_game_equals_the_definition(portable, table):
    x = portable.standardise(portable.raw_matrix(table.iloc[:3]))
    bg = portable.standardise(background_sample(portable, table, n=15))
    masks = np.random.default_rng(3).random((40, x.shape[1])) < 0.5
    for row in x:
        np.testing.assert_allclose(svm_game(portable, bg)(row, masks),
                                   masked_game(portable.output, bg)(row, masks), atol=1e-10)


def test_methods_are_a_view_of_the_registry():
    assert list(METHODS) == list(list_classifiers())
    assert METHODS["xgboost"][1] == "log-odds" and "lightgbm" not in METHODS


def test_the_package_does_not_import_torch():
    """eusgist.explain re-exports the tabular names only; Grad-CAM (torch) is a submodule."""
    import subprocess
    import sys

    code = "import sys, eusgist.explain; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("column", "readable"),
    [
        ("rad_original_glcm_Contrast", "GLCM contrast (original)"),
        ("rad_original_firstorder_10Percentile", "first-order 10 percentile (original)"),
        ("rad_wavelet-LH_glszm_SmallAreaLowGrayLevelEmphasis",
         "GLSZM small area low gray level emphasis (wavelet LH)"),
        ("rad_original_shape2D_MajorAxisLength", "shape 2D major axis length (original)"),
        ("rad_log-sigma-1-0-mm-3D_glrlm_RunEntropy", "GLRLM run entropy (LoG sigma 1.0 mm)"),
        ("rad_original_glcm_MCC", "GLCM MCC (original)"),
        ("deep_resnet18_042", "deep feature 42 (resnet18)"),
        ("deep_vit_small_patch16_224_005", "deep feature 5 (vit_small_patch16_224)"),
        ("age", "age"),
    ],
)
def test_readable_names(column, readable):
    assert readable_name(column) == readable


def test_summary_writes_top_20_png_and_csv(tmp_path):
    rng = np.random.default_rng(2)
    features = tuple(f"rad_original_glcm_Feature{i}" for i in range(25))
    values = rng.choice([-1.0, 1.0], size=(15, 25)) * np.arange(1, 26)
    data = rng.normal(size=(15, 25))
    expl = Explanation(features, values, 0.5, data, 0.5 + values.sum(1), "probability")
    png, table = shap_summary(expl, tmp_path / "shap", title="combined SVM")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20
    assert rows[0]["feature"] == "rad_original_glcm_Feature24"
    assert rows[0]["readable_name"] == "GLCM feature 24 (original)"
    assert float(rows[0]["mean_abs_shap"]) >= float(rows[-1]["mean_abs_shap"])
