"""XGBoost: stored as its native UBJ model file (data, not code), explained by Tree SHAP.

SHAP values explain the log-odds margin, which XGBoost's trees add up to exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from eusgist.errors import EusgistError
from eusgist.models.classifiers import (
    ClassifierSpec,
    ClassifierState,
    ShapResult,
    register_classifier,
)

if TYPE_CHECKING:
    from xgboost import XGBClassifier

    from eusgist.models.portable import PortableModel


def _build(seed: int) -> XGBClassifier:
    from xgboost import XGBClassifier  # imported when used: the registry stays light

    return XGBClassifier(
        n_estimators=150,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.8,
        tree_method="hist",
        n_jobs=1,
        random_state=seed,
    )


def _store(clf: XGBClassifier) -> ClassifierState:
    return ClassifierState(raw=bytes(clf.get_booster().save_raw("ubj")))


def _load(state: ClassifierState, n: int) -> XGBClassifier:
    if state.raw is None:
        raise EusgistError("xgboost model bytes missing")
    from xgboost import XGBClassifier

    booster = XGBClassifier()
    booster.load_model(bytearray(state.raw))
    if booster.n_features_in_ != n:
        raise EusgistError(
            f"xgboost model reads {booster.n_features_in_} features; metadata lists {n}"
        )
    return booster


def _proba(model: PortableModel, x: NDArray[np.float64]) -> NDArray[np.float64]:
    return model.native.predict_proba(x)[:, 1].astype(np.float64)


def _shap(
    model: PortableModel, x: NDArray[np.float64], background: NDArray[np.float64], seed: int
) -> ShapResult:
    import shap  # heavy: only when explaining

    explainer = shap.TreeExplainer(model.native)
    values = np.asarray(explainer.shap_values(x), dtype=np.float64)
    base = float(np.ravel(explainer.expected_value)[-1])
    margin = np.asarray(model.native.predict(x, output_margin=True), dtype=np.float64)
    return values, base, margin


SPEC = register_classifier(ClassifierSpec(
    name="xgboost",
    build=_build,
    grid={"select__C": [0.05, 0.2], "clf__max_depth": [2, 4]},
    store=_store,
    load=_load,
    proba=_proba,
    shap_method="Tree SHAP (exact, path-dependent)",
    shap_space="log-odds",
    shap=_shap,
))
