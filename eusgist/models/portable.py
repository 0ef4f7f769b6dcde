"""A fitted tabular model reduced to plain arrays: small, exact and safe to store.

Inside a fitted pipeline, imputation, the variance and correlation filters and the L1
selector only pick columns, and the scaler is element-wise, so inference needs just the
selected input columns, their medians, means and scales, and the classifier's state
(:class:`~eusgist.models.classifiers.ClassifierState`: support vectors and Platt sigmoid
for the SVM, node arrays for the random forest, the native XGBoost model, ...).
:class:`PortableModel` holds exactly that, predicts with the registered classifier's
numpy code (:mod:`eusgist.models.classifiers`) and round-trips through
:meth:`~PortableModel.to_state`/:meth:`~PortableModel.from_state` as JSON-able metadata,
named float64/int64 arrays and optional native bytes (XGBoost UBJ), so that loading a
stored model never unpickles or executes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.pipeline import Pipeline

from eusgist.errors import EusgistError
from eusgist.models.classifiers import ClassifierState, get_classifier
from eusgist.models.classifiers.rf import TREE_ARRAYS

__all__ = ["TREE_ARRAYS", "PortableModel"]

PIPELINE_STEPS: tuple[str, ...] = ("impute", "variance", "decorrelate", "scale", "select", "clf")
_STANDARDISATION = ("median", "mean", "scale")


@dataclass(frozen=True, eq=False)
class PortableModel:
    """Inference-only form of a fitted pipeline.

    Attributes
    ----------
    classifier : str
        A registered classifier name (:func:`~eusgist.models.classifiers.list_classifiers`).
    features : tuple of str
        The input columns the model reads (the selected subset), in model order.
    median, mean, scale : ndarray of shape (n_features,)
        Imputation value and standardisation of each feature.
    arrays : dict of str to ndarray
        Classifier arrays (SVM: ``support_vectors``, ``dual_coef``; random forest:
        :data:`TREE_ARRAYS` and ``tree_offsets``).
    params : dict
        Scalar classifier parameters (SVM: ``gamma``, ``intercept``, ``platt_a``,
        ``platt_b``).
    raw : bytes or None
        Native model bytes (XGBoost UBJ), stored as they are.
    native : object or None
        The model the classifier's ``load`` made of its state (XGBoost: the booster).
    """

    classifier: str
    features: tuple[str, ...]
    median: NDArray[np.float64]
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    arrays: dict[str, NDArray[Any]] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    raw: bytes | None = None
    native: Any = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, classifier: str) -> PortableModel:
        """Reduce a pipeline built by :func:`eusgist.models.tabular.build_pipeline`.

        The classifier's state goes through its registered ``store`` and ``load``, so this
        model predicts exactly as the stored one will.
        """
        spec = get_classifier(classifier)
        if tuple(pipeline.named_steps) != PIPELINE_STEPS:
            raise EusgistError(
                f"expected pipeline steps {PIPELINE_STEPS}, got {tuple(pipeline.named_steps)}"
            )
        imputer, scaler = pipeline["impute"], pipeline["scale"]
        features = tuple(str(n) for n in pipeline[:-1].get_feature_names_out())
        medians = dict(zip(imputer.feature_names_in_, imputer.statistics_, strict=True))
        scaled = pipeline[:3].get_feature_names_out()
        means = dict(zip(scaled, scaler.mean_, strict=True))
        scales = dict(zip(scaled, scaler.scale_, strict=True))
        state = spec.store(pipeline["clf"])
        return cls(
            classifier=classifier,
            features=features,
            median=np.array([medians[f] for f in features], dtype=np.float64),
            mean=np.array([means[f] for f in features], dtype=np.float64),
            scale=np.array([scales[f] for f in features], dtype=np.float64),
            arrays=state.arrays,
            params=state.params,
            raw=state.raw,
            native=spec.load(state, len(features)),
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
        return get_classifier(self.classifier).proba(self, x)

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Positive-class probability of each row of ``frame``."""
        return self.output(self.standardise(self.raw_matrix(frame)))

    # ------------------------------------------------------------------ storage
    def to_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]], bytes | None]:
        """``(metadata, arrays, raw)``: JSON-able dict, named arrays, native bytes or None."""
        meta = {
            "classifier": self.classifier,
            "features": list(self.features),
            "params": dict(self.params),
        }
        arrays = {"median": self.median, "mean": self.mean, "scale": self.scale, **self.arrays}
        return meta, arrays, self.raw

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], raw: bytes | None
    ) -> PortableModel:
        """Rebuild from :meth:`to_state` output, checking kinds, names and shapes.

        Raises
        ------
        ValueError
            Unknown classifier, missing array or parameter, or inconsistent shapes.
        """
        spec = get_classifier(meta.get("classifier"))  # type: ignore[arg-type]
        features = meta.get("features")
        if not (isinstance(features, list) and features
                and all(isinstance(f, str) for f in features)):
            raise EusgistError("'features' must be a non-empty list of column names")
        absent = [n for n in (*_STANDARDISATION, *spec.required_arrays) if n not in arrays]
        if absent:
            raise EusgistError(f"missing array(s) {absent}")
        n = len(features)
        for name in _STANDARDISATION:
            if arrays[name].shape != (n,):
                raise EusgistError(
                    f"array {name!r} has shape {arrays[name].shape}; "
                    f"expected ({n},) for {n} features"
                )
        params = {str(k): float(v) for k, v in dict(meta.get("params", {})).items()}
        missing = [p for p in spec.required_params if p not in params]
        if missing:
            raise EusgistError(f"missing {spec.name} parameter(s) {missing}")
        extra = {k: np.asarray(v) for k, v in arrays.items() if k not in _STANDARDISATION}
        state = ClassifierState(extra, params, raw)
        native = spec.load(state, n)
        return cls(
            spec.name, tuple(features), arrays["median"], arrays["mean"], arrays["scale"],
            extra, params, raw, native,
        )
