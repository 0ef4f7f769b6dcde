"""Random forest: stored as concatenated node arrays, explained by exact Tree SHAP.

The numpy forest predicts bit-for-bit as scikit-learn; the node arrays are checked on
load (children after their parent, features in range) so a stored forest cannot loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import RandomForestClassifier

from eusgist.errors import EusgistError
from eusgist.models.classifiers import (
    ClassifierSpec,
    ClassifierState,
    ShapResult,
    register_classifier,
)

if TYPE_CHECKING:
    from eusgist.models.portable import PortableModel

__all__ = ["TREE_ARRAYS", "tree_model"]

#: Per-node arrays of the stored forest, all trees concatenated.
TREE_ARRAYS: tuple[str, ...] = (
    "tree_left", "tree_right", "tree_feature", "tree_threshold", "tree_value", "tree_weight",
)


def _store(clf: RandomForestClassifier) -> ClassifierState:
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
    return ClassifierState(arrays)


def _load(state: ClassifierState, n: int) -> None:
    arrays = state.arrays
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


def _proba(model: PortableModel, x: NDArray[np.float64]) -> NDArray[np.float64]:
    # scikit-learn compares float32 inputs with float64 thresholds and sums tree
    # probabilities in tree order before dividing: do the same for identical output.
    x32 = x.astype(np.float32).astype(np.float64)
    a = model.arrays
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


def tree_model(model: PortableModel) -> dict[str, Any]:
    """The stored forest in shap's custom-tree dictionary format (trees average to the output)."""
    offsets = model.arrays["tree_offsets"]
    n_trees = offsets.size - 1
    trees = []
    for t in range(n_trees):
        s = slice(offsets[t], offsets[t + 1])
        left = model.arrays["tree_left"][s]
        trees.append({
            "children_left": left,
            "children_right": model.arrays["tree_right"][s],
            "children_default": left,
            "features": model.arrays["tree_feature"][s],
            "thresholds": model.arrays["tree_threshold"][s],
            "values": model.arrays["tree_value"][s].reshape(-1, 1) / n_trees,
            "node_sample_weight": model.arrays["tree_weight"][s],
        })
    return {
        "trees": trees,
        "base_offset": 0.0,
        "tree_output": "probability",
        "objective": "binary_crossentropy",
        "input_dtype": np.float32,
        "internal_dtype": np.float64,
    }


def _shap(
    model: PortableModel, x: NDArray[np.float64], background: NDArray[np.float64], seed: int
) -> ShapResult:
    import shap  # heavy: only when explaining

    explainer = shap.TreeExplainer(tree_model(model))
    values = np.asarray(explainer.shap_values(x), dtype=np.float64)
    base = float(np.ravel(explainer.expected_value)[-1])
    return values, base, model.output(x)


SPEC = register_classifier(ClassifierSpec(
    name="rf",
    build=lambda seed: RandomForestClassifier(
        n_estimators=100, max_features="sqrt", n_jobs=1, random_state=seed
    ),
    grid={"select__C": [0.05, 0.2], "clf__min_samples_leaf": [1, 5]},
    store=_store,
    load=_load,
    proba=_proba,
    shap_method="Tree SHAP (exact, path-dependent)",
    shap_space="probability",
    shap=_shap,
    required_arrays=(*TREE_ARRAYS, "tree_offsets"),
))
