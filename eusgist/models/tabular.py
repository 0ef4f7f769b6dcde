"""Tabular classifiers on radiomics, deep or combined features (zhao2026).

Every model is one :class:`~sklearn.pipeline.Pipeline`:
median imputation → zero-variance filter → correlation filter → standardisation →
L1 (LASSO) selection → classifier (calibrated RBF SVM, XGBoost, random forest: any
classifier registered in :mod:`eusgist.models.classifiers`), so all preprocessing is fitted
on training folds only. Hyper-parameters are tuned by grouped (lesion-level) stratified
cross-validation on the training split; rows are images, and the decision threshold is
chosen on lesion-level (mean-aggregated) out-of-fold scores.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from eusgist.data import train_test_split, validate_manifest
from eusgist.errors import EusgistError
from eusgist.features.table import DEEP_PREFIX, ID_COLUMNS, RAD_PREFIX, SEG_PREFIX
from eusgist.models.classifiers import get_classifier, list_classifiers
from eusgist.models.classifiers.svm import CalibratedSVC
from eusgist.models.selectors import CorrelationFilter, L1Selector
from eusgist.stats import aggregate_by_lesion, youden_threshold

log = logging.getLogger(__name__)

__all__ = [
    "ALL_MODALITIES",
    "CLASSIFIERS",
    "MODALITIES",
    "CalibratedSVC",
    "FittedModel",
    "build_pipeline",
    "feature_columns",
    "fit_model",
    "lesion_split",
    "param_grid",
]

#: Feature-column prefix of each single modality; "combined" uses both.
MODALITY_PREFIXES: dict[str, tuple[str, ...]] = {
    "radiomics": (RAD_PREFIX,),
    "deep": (DEEP_PREFIX,),
    "combined": (RAD_PREFIX, DEEP_PREFIX),
    # what a box gives: deep features of the crop (and frame) + the segmenter's outline
    "deepseg": (DEEP_PREFIX, SEG_PREFIX),
}
#: Every modality a model can be trained on.
ALL_MODALITIES: tuple[str, ...] = tuple(MODALITY_PREFIXES)
#: zhao2026's modalities: what ``train`` and the paper report compare by default.
MODALITIES: tuple[str, ...] = ("radiomics", "deep", "combined")
#: zhao2026's classifiers, trained by default (any registered one can be named, see
#: :func:`~eusgist.models.classifiers.list_classifiers`).
CLASSIFIERS: tuple[str, ...] = ("svm", "xgboost", "rf")


def feature_columns(columns: Sequence[str], modality: str) -> list[str]:
    """The feature columns a modality uses, in table order.

    Raises
    ------
    ValueError
        Unknown modality, or no column with the modality's prefix.
    """
    if modality not in MODALITY_PREFIXES:
        raise EusgistError(f"unknown modality {modality!r}; choose from {list(ALL_MODALITIES)}")
    prefixes = MODALITY_PREFIXES[modality]
    missing = [p for p in prefixes if not any(str(c).startswith(p) for c in columns)]
    if missing:
        raise EusgistError(
            f"modality {modality!r} needs {' and '.join(p + '*' for p in missing)} columns; "
            "the feature table has none"
        )
    return [str(c) for c in columns if str(c).startswith(prefixes)]


def lesion_split(
    frame: pd.DataFrame,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    positive_label: str | None = None,
    name: str = "feature table",
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, str]]:
    """Validate a feature table and split it by lesion (stratified, :mod:`eusgist.data`).

    Returns
    -------
    train, test : pandas.DataFrame
        Row subsets (fresh index); no lesion appears in both.
    classes : (negative, positive)
        Class names; label 1 is ``classes[1]``.

    Raises
    ------
    ValueError
        Missing identifier columns, one class, a lesion with two labels, too few lesions...
    """
    missing = [c for c in ID_COLUMNS if c not in frame.columns]
    if missing:
        raise EusgistError(f"{name}: missing column(s) {missing}; required: {list(ID_COLUMNS)}")
    # a table of ROI variants repeats images: each row stands for its own (unnamed) ROI
    ids = frame[list(ID_COLUMNS)].assign(mask=[f"roi{i}" for i in range(len(frame))])
    manifest = validate_manifest(
        ids, Path("."), name=name, positive_label=positive_label, check_files=False
    )
    train_rows, test_rows = train_test_split(
        manifest, test_size=test_size, group="lesion", seed=seed
    )
    train = frame.iloc[train_rows].reset_index(drop=True)
    test = frame.iloc[test_rows].reset_index(drop=True)
    return train, test, manifest.classes


def build_pipeline(
    classifier: str, *, seed: int = 0, corr_threshold: float = 0.9, max_features: int = 30
) -> Pipeline:
    """An unfitted pipeline ending in ``classifier`` (a registered classifier name).

    A classifier that reads every column (``spec.selects`` false) gets no L1 selection; one
    that needs the column names (``spec.column_names``) gets data frames.
    """
    spec = get_classifier(classifier)
    select = (L1Selector(C=0.1, max_features=max_features, random_state=seed) if spec.selects
              else "passthrough")
    pipeline = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("variance", VarianceThreshold(0.0)),
            ("decorrelate", CorrelationFilter(corr_threshold)),
            ("scale", StandardScaler()),
            ("select", select),
            ("clf", spec.build(seed)),
        ]
    )
    return pipeline.set_output(transform="pandas") if spec.column_names else pipeline


def param_grid(classifier: str) -> dict[str, list[Any]]:
    """The small tuning grid of ``classifier`` (selector strength × classifier capacity)."""
    return get_classifier(classifier).param_grid()


def _n_splits(y: NDArray[np.int64], groups: NDArray[Any], wanted: int) -> int:
    per_class = min(len(set(groups[y == c])) for c in (0, 1))
    if per_class < 2:
        raise EusgistError(
            f"only {per_class} lesion(s) in one class of the training split; need at least 2"
        )
    return min(wanted, per_class)


@dataclass
class FittedModel:
    """A tuned, fitted pipeline and what was learnt about it on the training split.

    Attributes
    ----------
    modality, classifier : str
    pipeline : sklearn.pipeline.Pipeline
        Refitted on the whole training split with the best parameters.
    feature_names : list of str
        The input columns, in order.
    best_params : dict
        Winning grid point.
    cv_auc : float
        Mean grouped-CV image-level AUC of the winning grid point.
    oof_proba : ndarray
        Out-of-fold (grouped CV) probabilities of the training images.
    threshold : float
        Youden-optimal threshold on lesion-mean out-of-fold probabilities.
    """

    modality: str
    classifier: str
    pipeline: Pipeline
    feature_names: list[str]
    best_params: dict[str, Any]
    cv_auc: float
    oof_proba: NDArray[np.float64]
    threshold: float

    @property
    def name(self) -> str:
        """``"<modality>-<classifier>"``, e.g. ``"combined-svm"``."""
        return f"{self.modality}-{self.classifier}"

    @property
    def selected_features(self) -> list[str]:
        """Input columns the fitted selector kept, in pipeline order."""
        return [str(n) for n in self.pipeline[:-1].get_feature_names_out()]

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Probability of the positive class for each row of ``frame``."""
        return self.pipeline.predict_proba(frame[self.feature_names])[:, 1]


def fit_model(
    frame: pd.DataFrame,
    y: ArrayLike,
    lesion_ids: ArrayLike,
    *,
    modality: str,
    classifier: str,
    seed: int = 0,
    n_splits: int = 5,
    grid: Mapping[str, list[Any]] | None = None,
) -> FittedModel:
    """Tune and fit one modality × classifier on image rows of the training split.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training rows with the modality's feature columns (other columns are ignored).
    y : array-like of 0/1
        Labels, 1 = positive class.
    lesion_ids : array-like
        Lesion of each row; cross-validation never splits a lesion.
    modality : {"radiomics", "deep", "combined", "deepseg"}
    classifier : str
        A registered classifier (:func:`~eusgist.models.classifiers.list_classifiers`).
    seed : int, default 0
    n_splits : int, default 5
        Grouped CV folds (fewer when a class has fewer lesions).
    grid : mapping, optional
        Tuning grid; defaults to :func:`param_grid`.

    Returns
    -------
    FittedModel
    """
    columns = feature_columns(list(frame.columns), modality)
    x = frame[columns]
    y_arr = np.asarray(y, dtype=np.int64)
    groups = np.asarray(lesion_ids)
    folds = _n_splits(y_arr, groups, n_splits)
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    search = GridSearchCV(
        build_pipeline(classifier, seed=seed),
        dict(grid if grid is not None else param_grid(classifier)),
        scoring="roc_auc",
        cv=cv,
        error_score="raise",
    )
    fit_params = get_classifier(classifier).fit_params(groups)
    search.fit(x, y_arr, groups=groups, **fit_params)
    oof = cross_val_predict(
        search.best_estimator_, x, y_arr, groups=groups, cv=cv, method="predict_proba",
        params=fit_params,
    )[:, 1]
    lesions = aggregate_by_lesion(groups, y_arr, oof)
    threshold = youden_threshold(lesions.y_true, lesions.y_score)
    model = FittedModel(
        modality=modality,
        classifier=classifier,
        pipeline=search.best_estimator_,
        feature_names=columns,
        best_params=dict(search.best_params_),
        cv_auc=float(search.best_score_),
        oof_proba=oof,
        threshold=threshold,
    )
    log.info(
        "%s: CV AUC %.3f with %s; %d of %d features kept",
        model.name, model.cv_auc, model.best_params, len(model.selected_features), len(columns),
    )
    return model
