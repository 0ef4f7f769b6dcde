"""Registry of the tabular classifiers: one module per classifier, one lookup for all code.

As timm's ``register_model``/``create_model``: each module (:mod:`.svm`, :mod:`.xgboost`,
:mod:`.rf`) registers a :class:`ClassifierSpec` saying how to build the estimator, what to
tune, how to store a fitted one without pickle, how the stored form predicts and how its
predictions are explained. Pipelines, training, portable storage, SHAP and the command-line
defaults all go through :func:`get_classifier`, the one place an unknown name fails.

Adding a classifier is one module that calls :func:`register_classifier` (listed in
:data:`_BUILTINS` when it ships with eusgist, or imported by the code that uses it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from eusgist.errors import EusgistError

if TYPE_CHECKING:
    from eusgist.models.portable import PortableModel

__all__ = [
    "ClassifierSpec",
    "ClassifierState",
    "ShapResult",
    "get_classifier",
    "list_classifiers",
    "register_classifier",
]

#: ``(values (n, k), base value, output (n,))`` in the classifier's explained space.
ShapResult = tuple[NDArray[np.float64], float, NDArray[np.float64]]


@dataclass(frozen=True)
class ClassifierState:
    """A fitted classifier as plain data: what a bundle stores (no pickle, no code).

    Attributes
    ----------
    arrays : dict of str to ndarray
        Named float64/int64 arrays (safetensors).
    params : dict of str to float
        Scalar parameters (JSON).
    raw : bytes or None
        A native, non-executable model file (XGBoost UBJ), or None.
    """

    arrays: dict[str, NDArray[Any]] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass(frozen=True)
class ClassifierSpec:
    """Everything eusgist needs to know about one classifier.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"svm"``; the ``classifier`` of model names and bundles.
    build : callable ``(seed) -> estimator``
        An unfitted scikit-learn classifier, the last (``clf``) step of the pipeline.
    grid : mapping
        Tuning grid over pipeline parameters (``select__C``, ``clf__...``).
    store : callable ``(fitted estimator) -> ClassifierState``
        The estimator reduced to arrays, scalars and optional native bytes.
    load : callable ``(state, n_features) -> object``
        Checks a stored state (shapes, kinds) and returns the native model it needs to
        predict (e.g. an XGBoost booster) or None; raises :class:`EusgistError`.
    proba : callable ``(model, x) -> ndarray``
        Positive-class probability of standardised rows ``x`` of a :class:`PortableModel`.
    shap_method, shap_space : str
        How SHAP values are computed (model card text) and the output space they explain
        (``"probability"`` or ``"log-odds"``).
    shap : callable ``(model, x, background, seed) -> ShapResult``
        SHAP values of standardised rows against a standardised background.
    required_arrays, required_params : tuple of str
        Names a stored state must hold (checked before :attr:`load`).
    fit_groups : bool
        Whether ``fit`` takes the rows' lesion ids (``clf__groups``).
    selects : bool
        Whether the L1 selector picks its columns (False: it reads every column).
    column_names : bool
        Whether ``fit`` needs a data frame with the column names.
    """

    name: str
    build: Callable[[int], Any]
    grid: Mapping[str, Sequence[Any]]
    store: Callable[[Any], ClassifierState]
    load: Callable[[ClassifierState, int], Any]
    proba: Callable[[PortableModel, NDArray[np.float64]], NDArray[np.float64]]
    shap_method: str
    shap_space: str
    shap: Callable[[PortableModel, NDArray[np.float64], NDArray[np.float64], int], ShapResult]
    required_arrays: tuple[str, ...] = ()
    required_params: tuple[str, ...] = ()
    fit_groups: bool = False
    selects: bool = True
    column_names: bool = False

    def param_grid(self) -> dict[str, list[Any]]:
        """A fresh copy of :attr:`grid` for :class:`~sklearn.model_selection.GridSearchCV`."""
        return {k: list(v) for k, v in self.grid.items()}

    def fit_params(self, groups: NDArray[Any]) -> dict[str, Any]:
        """Per-row fit parameters of the pipeline (sliced per fold by scikit-learn)."""
        return {"clf__groups": groups} if self.fit_groups else {}


_REGISTRY: dict[str, ClassifierSpec] = {}


def register_classifier(spec: ClassifierSpec) -> ClassifierSpec:
    """Add ``spec`` to the registry and return it.

    Raises
    ------
    EusgistError
        A classifier of that name is already registered, or the name has a ``-`` (model
        names are ``<modality>-<classifier>``) or a ``,`` (command-line lists).
    """
    if spec.name in _REGISTRY:
        raise EusgistError(f"classifier {spec.name!r} is already registered")
    if not spec.name or any(c in spec.name for c in "-, "):
        raise EusgistError(f"classifier name {spec.name!r} must be non-empty, without '-', ',' "
                           "or spaces")
    if spec.shap_space not in ("probability", "log-odds"):
        raise EusgistError(f"{spec.name}: SHAP space must be 'probability' or 'log-odds', "
                           f"not {spec.shap_space!r}")
    _REGISTRY[spec.name] = spec
    return spec


def get_classifier(name: str) -> ClassifierSpec:
    """The registered classifier called ``name``.

    Raises
    ------
    EusgistError
        Unknown name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise EusgistError(
            f"unknown classifier type {name!r}; this version knows {list(_REGISTRY)}"
        ) from None


def list_classifiers() -> tuple[str, ...]:
    """Names of the registered classifiers, in registration order (the default list)."""
    return tuple(_REGISTRY)


#: The classifier modules shipped with eusgist, imported (registered) in this order.
_BUILTINS: tuple[str, ...] = ("svm", "xgboost", "rf", "logistic")
for _module in _BUILTINS:
    import_module(f"{__name__}.{_module}")
