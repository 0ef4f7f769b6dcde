"""A fitted tabular model reduced to plain arrays: small, exact and safe to store.

Inside a fitted pipeline, imputation, the variance and correlation filters and the L1
selector only pick columns, and the scaler is element-wise, so inference needs just the
selected input columns, their medians, means and scales, and the classifier's parameters:
support vectors and Platt sigmoid (SVM), node arrays (random forest) or the native XGBoost
model. :class:`PortableModel` holds exactly that, predicts with numpy (RF bit-for-bit as
scikit-learn, SVM to ~1e-12), and round-trips through :meth:`to_state`/:meth:`from_state`
as JSON-able metadata, named float64/int64 arrays and XGBoost UBJ bytes, so that loading
a stored model never unpickles or executes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial.distance import cdist
from scipy.special import expit
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from eusgist.errors import EusgistError
from eusgist.models.tabular import CLASSIFIERS

__all__ = ["PortableModel", "TREE_ARRAYS"]

PIPELINE_STEPS: tuple[str, ...] = ("impute", "variance", "decorrelate", "scale", "select", "clf")
#: Per-node arrays of the random-forest form, all trees concatenated.
TREE_ARRAYS: tuple[str, ...] = (
    "tree_left", "tree_right", "tree_feature", "tree_threshold", "tree_value", "tree_weight",
)
_REQUIRED_ARRAYS: dict[str, tuple[str, ...]] = {
    "svm": ("support_vectors", "dual_coef"),
    "rf": (*TREE_ARRAYS, "tree_offsets"),
    "xgboost": (),
}


@dataclass(frozen=True, eq=False)
class PortableModel:
    """Inference-only form of a fitted pipeline.

    Attributes
    ----------
    classifier : {"svm", "xgboost", "rf"}
    features : tuple of str
        The input columns the model reads (the selected subset), in model order.
    median, mean, scale : ndarray of shape (n_features,)
        Imputation value and standardisation of each feature.
    arrays : dict of str to ndarray
        Classifier parameters (see :data:`TREE_ARRAYS`; SVM: ``support_vectors``,
        ``dual_coef``).
    params : dict
        Scalar classifier parameters (SVM: ``gamma``, ``intercept``, ``platt_a``,
        ``platt_b``).
    booster : xgboost.XGBClassifier or None
        The XGBoost model (xgboost only).
    """

    classifier: str
    features: tuple[str, ...]
    median: NDArray[np.float64]
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    arrays: dict[str, NDArray[Any]] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    booster: XGBClassifier | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, classifier: str) -> PortableModel:
        """Reduce a pipeline built by :func:`eusgist.models.tabular.build_pipeline`."""
        if tuple(pipeline.named_steps) != PIPELINE_STEPS:
            raise EusgistError(
                f"expected pipeline steps {PIPELINE_STEPS}, got {tuple(pipeline.named_steps)}"
            )
        imputer, scaler, clf = pipeline["impute"], pipeline["scale"], pipeline["clf"]
        features = tuple(str(n) for n in pipeline[:-1].get_feature_names_out())
        medians = dict(zip(imputer.feature_names_in_, imputer.statistics_, strict=True))
        scaled = pipeline[:3].get_feature_names_out()
        means = dict(zip(scaled, scaler.mean_, strict=True))
        scales = dict(zip(scaled, scaler.scale_, strict=True))
        arrays, params, booster = _classifier_state(clf, classifier)
        return cls(
            classifier=classifier,
            features=features,
            median=np.array([medians[f] for f in features], dtype=np.float64),
            mean=np.array([means[f] for f in features], dtype=np.float64),
            scale=np.array([scales[f] for f in features], dtype=np.float64),
            arrays=arrays,
            params=params,
            booster=booster,
        )

    # ------------------------------------------------------------------ inference
    def raw_matrix(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """The model's input columns of ``frame`` as floats (NaN where missing).

        Raises
        ------
        ValueError
            When a required column is absent (the message names up to five).
        """
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise EusgistError(
                f"feature table lacks {len(missing)} required column(s): {missing[:5]}{more}"
            )
        return frame[list(self.features)].to_numpy(dtype=np.float64)

    def standardise(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        """Impute and standardise raw feature values (rows × :attr:`features`)."""
        x = np.where(np.isnan(raw), self.median, raw)
        x -= self.mean
        x /= self.scale
        return x

    def output(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Positive-class probability from standardised features."""
        if self.classifier == "svm":
            return expit(self.params["platt_a"] * self.svm_decision(x) + self.params["platt_b"])
        if self.classifier == "rf":
            return self._forest_proba(x)
        if self.booster is None:
            raise EusgistError("xgboost model without a booster")
        return self.booster.predict_proba(x)[:, 1].astype(np.float64)

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Positive-class probability of each row of ``frame``."""
        return self.output(self.standardise(self.raw_matrix(frame)))

    def svm_decision(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """RBF-SVM decision value of standardised features (positive favours class 1)."""
        distance = cdist(x, self.arrays["support_vectors"], "sqeuclidean")
        kernel = np.exp(-self.params["gamma"] * distance)
        return kernel @ self.arrays["dual_coef"] + self.params["intercept"]

    def tree_model(self) -> dict[str, Any]:
        """The forest in shap's custom-tree dictionary format (trees average to the output)."""
        offsets = self.arrays["tree_offsets"]
        n_trees = offsets.size - 1
        trees = []
        for t in range(n_trees):
            s = slice(offsets[t], offsets[t + 1])
            left = self.arrays["tree_left"][s]
            trees.append({
                "children_left": left,
                "children_right": self.arrays["tree_right"][s],
                "children_default": left,
                "features": self.arrays["tree_feature"][s],
                "thresholds": self.arrays["tree_threshold"][s],
                "values": self.arrays["tree_value"][s].reshape(-1, 1) / n_trees,
                "node_sample_weight": self.arrays["tree_weight"][s],
            })
        return {
            "trees": trees,
            "base_offset": 0.0,
            "tree_output": "probability",
            "objective": "binary_crossentropy",
            "input_dtype": np.float32,
            "internal_dtype": np.float64,
        }

    def _forest_proba(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        # scikit-learn compares float32 inputs with float64 thresholds and sums tree
        # probabilities in tree order before dividing: do the same for identical output.
        x32 = x.astype(np.float32).astype(np.float64)
        a = self.arrays
        offsets = a["tree_offsets"]
        rows = np.arange(x.shape[0])
        total = np.zeros(x.shape[0])
        for t in range(offsets.size - 1):
            base = offsets[t]
            node = np.zeros(x.shape[0], dtype=np.int64)
            while True:
                left = a["tree_left"][base + node]
                inner = left >= 0
                if not inner.any():
                    break
                idx = base + node[inner]
                go_left = x32[rows[inner], a["tree_feature"][idx]] <= a["tree_threshold"][idx]
                node[inner] = np.where(go_left, left[inner], a["tree_right"][idx])
            total += a["tree_value"][base + node]
        return total / (offsets.size - 1)

    # ------------------------------------------------------------------ storage
    def to_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]], bytes | None]:
        """``(metadata, arrays, xgboost_ubj)``: JSON-able dict, named arrays, bytes or None."""
        meta = {
            "classifier": self.classifier,
            "features": list(self.features),
            "params": dict(self.params),
        }
        arrays = {"median": self.median, "mean": self.mean, "scale": self.scale, **self.arrays}
        raw = None
        if self.booster is not None:
            raw = bytes(self.booster.get_booster().save_raw("ubj"))
        return meta, arrays, raw

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], xgboost_ubj: bytes | None
    ) -> PortableModel:
        """Rebuild from :meth:`to_state` output, checking kinds, names and shapes.

        Raises
        ------
        ValueError
            Unknown classifier, missing array or parameter, or inconsistent shapes.
        """
        kind = meta.get("classifier")
        if kind not in CLASSIFIERS:
            raise EusgistError(
                f"unknown classifier type {kind!r}; this version knows {list(CLASSIFIERS)}"
            )
        features = meta.get("features")
        if not (isinstance(features, list) and features
                and all(isinstance(f, str) for f in features)):
            raise EusgistError("'features' must be a non-empty list of column names")
        needed = ("median", "mean", "scale", *_REQUIRED_ARRAYS[kind])
        absent = [n for n in needed if n not in arrays]
        if absent:
            raise EusgistError(f"missing array(s) {absent}")
        n = len(features)
        for name in ("median", "mean", "scale"):
            if arrays[name].shape != (n,):
                raise EusgistError(
                    f"array {name!r} has shape {arrays[name].shape}; "
                    f"expected ({n},) for {n} features"
                )
        params = {str(k): float(v) for k, v in dict(meta.get("params", {})).items()}
        booster = None
        if kind == "svm":
            _check_svm(arrays, params, n)
        elif kind == "rf":
            _check_forest(arrays, n)
        else:
            if xgboost_ubj is None:
                raise EusgistError("xgboost model bytes missing")
            booster = XGBClassifier()
            booster.load_model(bytearray(xgboost_ubj))
            if booster.n_features_in_ != n:
                raise EusgistError(
                    f"xgboost model reads {booster.n_features_in_} features; metadata lists {n}"
                )
        extra = {
            k: np.asarray(v) for k, v in arrays.items() if k not in ("median", "mean", "scale")
        }
        return cls(
            kind, tuple(features), arrays["median"], arrays["mean"], arrays["scale"],
            extra, params, booster,
        )


def _classifier_state(
    clf: Any, classifier: str
) -> tuple[dict[str, NDArray[Any]], dict[str, float], XGBClassifier | None]:
    if classifier == "svm":
        svc = clf.svc_
        a, b = clf.calibration_
        arrays = {
            "support_vectors": np.asarray(svc.support_vectors_, dtype=np.float64),
            "dual_coef": np.asarray(svc.dual_coef_[0], dtype=np.float64),
        }
        params = {
            "gamma": float(svc._gamma),
            "intercept": float(svc.intercept_[0]),
            "platt_a": a,
            "platt_b": b,
        }
        return arrays, params, None
    if classifier == "rf":
        trees = [e.tree_ for e in clf.estimators_]
        sizes = np.array([0] + [t.node_count for t in trees], dtype=np.int64)
        positive = int(np.flatnonzero(clf.classes_ == clf.classes_[-1])[0])
        def cat(parts: list[NDArray[Any]], dtype: type) -> NDArray[Any]:
            return np.concatenate(parts).astype(dtype)

        arrays = {
            "tree_left": cat([t.children_left for t in trees], np.int64),
            "tree_right": cat([t.children_right for t in trees], np.int64),
            "tree_feature": cat([t.feature for t in trees], np.int64),
            "tree_threshold": cat([t.threshold for t in trees], np.float64),
            "tree_value": cat([t.value[:, 0, positive] for t in trees], np.float64),
            "tree_weight": cat([t.weighted_n_node_samples for t in trees], np.float64),
            "tree_offsets": np.cumsum(sizes),
        }
        return arrays, {}, None
    if classifier == "xgboost":
        return {}, {}, clf
    raise EusgistError(f"unknown classifier {classifier!r}; choose from {list(CLASSIFIERS)}")


def _check_svm(arrays: Mapping[str, NDArray[Any]], params: Mapping[str, float], n: int) -> None:
    missing = [p for p in ("gamma", "intercept", "platt_a", "platt_b") if p not in params]
    if missing:
        raise EusgistError(f"missing SVM parameter(s) {missing}")
    sv, dual = arrays["support_vectors"], arrays["dual_coef"]
    if sv.ndim != 2 or sv.shape[1] != n or dual.shape != (sv.shape[0],):
        raise EusgistError(
            f"support vectors {sv.shape} / dual coefficients {dual.shape} do not fit {n} features"
        )


def _check_forest(arrays: Mapping[str, NDArray[Any]], n: int) -> None:
    index_arrays = ("tree_left", "tree_right", "tree_feature", "tree_offsets")
    if not all(np.issubdtype(arrays[k].dtype, np.integer) for k in index_arrays):
        raise EusgistError(f"tree index arrays {index_arrays} must hold integers")
    offsets = arrays["tree_offsets"]
    n_nodes = arrays["tree_left"].shape[0]
    if offsets.ndim != 1 or offsets.size < 2 or offsets[0] != 0 or offsets[-1] != n_nodes:
        raise EusgistError("tree offsets do not match the node arrays")
    if any(arrays[name].shape != (n_nodes,) for name in TREE_ARRAYS):
        raise EusgistError("tree node arrays differ in length")
    left, right, feat = arrays["tree_left"], arrays["tree_right"], arrays["tree_feature"]
    inner = left >= 0
    counts = np.diff(offsets)
    sizes = np.repeat(counts, counts)
    local = np.arange(n_nodes) - np.repeat(offsets[:-1], counts)
    # Children come after their parent (as scikit-learn builds trees): no cycles, no escapes.
    if (
        np.any(left[inner] <= local[inner]) or np.any(right[inner] <= local[inner])
        or np.any(left[inner] >= sizes[inner]) or np.any(right[inner] >= sizes[inner])
        or np.any(feat[inner] < 0) or np.any(feat[inner] >= n)
    ):
        raise EusgistError(
            "tree nodes are inconsistent: a child before its parent or outside its tree, "
            f"or a feature outside the {n} features"
        )
