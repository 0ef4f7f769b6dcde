"""Tabular pipelines: no leakage, every modality × classifier learns, lesion splits hold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

from eusgist.models.portable import PortableModel
from eusgist.models.synthetic import synthetic_feature_table
from eusgist.models.tabular import (
    CLASSIFIERS,
    MODALITIES,
    build_pipeline,
    feature_columns,
    fit_model,
    lesion_split,
)
from eusgist.stats import aggregate_by_lesion

FAST_GRID = {
    "svm": {"select__C": [0.2]},
    "xgboost": {"select__C": [0.2], "clf__n_estimators": [40]},
    "rf": {"select__C": [0.2], "clf__n_estimators": [40]},
}


@pytest.fixture(scope="module")
def split():
    table = synthetic_feature_table(n_lesions=50, n_rad=30, n_deep=40, seed=3)
    train, test, classes = lesion_split(table, seed=0)
    return train, test, classes


def _y(frame, classes):
    return (frame["label"] == classes[1]).to_numpy(dtype=int)


def test_lesion_split_keeps_lesions_whole(split):
    train, test, classes = split
    assert classes == ("leiomyoma", "GIST")
    assert not set(train["lesion_id"]) & set(test["lesion_id"])
    assert 0.1 < len(set(test["lesion_id"])) / 50 < 0.3


def test_lesion_split_rejects_one_class():
    table = synthetic_feature_table(n_lesions=10)
    table["label"] = "GIST"
    with pytest.raises(ValueError, match="one class"):
        lesion_split(table)


def test_feature_columns_by_modality():
    cols = ["image", "rad_original_glcm_Contrast", "deep_resnet18_000", "label"]
    assert feature_columns(cols, "radiomics") == ["rad_original_glcm_Contrast"]
    assert feature_columns(cols, "combined") == ["rad_original_glcm_Contrast", "deep_resnet18_000"]
    with pytest.raises(ValueError, match=r"deep_\* columns"):
        feature_columns(["rad_x"], "deep")
    with pytest.raises(ValueError, match="unknown modality"):
        feature_columns(cols, "clinical")


def test_selection_inside_cv_does_not_leak_on_noise():
    """Pure noise: in-fold selection gives CV AUC near 0.5, selection on all rows does not."""
    table = synthetic_feature_table(n_lesions=60, max_images_per_lesion=2, n_rad=400, n_deep=0,
                                    signal=0.0, seed=11)
    cols = feature_columns(list(table.columns), "radiomics")
    x, y, groups = table[cols], (table["label"] == "GIST").to_numpy(int), table["lesion_id"]
    cv = StratifiedGroupKFold(4, shuffle=True, random_state=0)
    pipe = build_pipeline("svm", max_features=10)
    honest = cross_val_score(pipe, x, y, groups=groups, cv=cv, scoring="roc_auc",
                             params={"clf__groups": groups.to_numpy()}).mean()
    assert 0.3 < honest < 0.7
    # the same steps with the preprocessing fitted on all rows first (the mistake) look good
    prep = clone(pipe[:-1]).fit(x, y)
    leaky = cross_val_score(clone(pipe[-1]), prep.transform(x), y, groups=groups, cv=cv,
                            scoring="roc_auc").mean()
    assert leaky > honest + 0.15


@pytest.mark.parametrize("classifier", CLASSIFIERS)
@pytest.mark.parametrize("modality", MODALITIES)
def test_every_model_beats_chance_on_held_out_lesions(split, modality, classifier):
    train, test, classes = split
    model = fit_model(train, _y(train, classes), train["lesion_id"], modality=modality,
                      classifier=classifier, grid=FAST_GRID[classifier], n_splits=3)
    assert model.name == f"{modality}-{classifier}"
    assert all(f in model.feature_names for f in model.selected_features)
    assert 0.0 <= model.threshold <= 1.0 and model.oof_proba.shape == (len(train),)
    lesions = aggregate_by_lesion(test["lesion_id"], _y(test, classes), model.predict_proba(test))
    assert roc_auc_score(lesions.y_true, lesions.y_score) > 0.7
    # the portable (stored) form predicts the same: exactly for trees, ~1e-12 for the SVM
    portable = PortableModel.from_pipeline(model.pipeline, classifier)
    if classifier == "svm":
        np.testing.assert_allclose(portable.predict_proba(test), model.predict_proba(test),
                                   atol=1e-9)
    else:
        np.testing.assert_array_equal(portable.predict_proba(test), model.predict_proba(test))


def test_fit_model_needs_two_lesions_per_class(split):
    train, _, classes = split
    few = train[train["lesion_id"].isin(sorted(set(train["lesion_id"]))[:3])]
    with pytest.raises(ValueError, match="lesion"):
        fit_model(few, _y(few, classes), few["lesion_id"], modality="radiomics", classifier="svm")


def test_missing_values_are_imputed_identically(split):
    train, test, classes = split
    train, test = train.copy(), test.copy()
    col = "rad_original_firstorder_Mean"
    train.loc[::7, col] = np.nan
    test.loc[::3, col] = np.nan
    train["rad_all_missing"] = test["rad_all_missing"] = np.nan
    with pytest.warns(UserWarning, match="without any observed values"):
        model = fit_model(train, _y(train, classes), train["lesion_id"], modality="radiomics",
                          classifier="rf", grid=FAST_GRID["rf"], n_splits=3)
    portable = PortableModel.from_pipeline(model.pipeline, "rf")
    assert col in portable.features and "rad_all_missing" not in portable.features
    np.testing.assert_array_equal(portable.predict_proba(test), model.predict_proba(test))
