"""Interventional Shapley values of any model against a background sample (pure numpy).

The value of a coalition of features is the model's mean output over the background rows
with the coalition's features set to the explained row's values. Up to
:data:`EXACT_MAX_FEATURES` features every coalition is enumerated; above that the values
are an antithetic permutation estimate (as shap's PermutationExplainer). Both are additive
by construction: ``base + values.sum(axis=1) == output``.
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial

import numpy as np
from numpy.typing import NDArray

from eusgist.errors import EusgistError

__all__ = [
    "EXACT_MAX_FEATURES",
    "INTERVENTIONAL_METHOD",
    "N_PERMUTATIONS",
    "Game",
    "exact_shapley",
    "interventional_shap",
    "masked_game",
    "permutation_shapley",
]

#: Up to this many selected features, Shapley values enumerate every coalition.
EXACT_MAX_FEATURES = 10
#: Permutations (each run forward and backward) of the estimator above that.
N_PERMUTATIONS = 10
#: Model-card description of :func:`interventional_shap`.
INTERVENTIONAL_METHOD = (
    f"interventional Shapley values against the stored background: exact up to "
    f"{EXACT_MAX_FEATURES} features, else {N_PERMUTATIONS} antithetic permutations"
)

#: A cooperative game: ``value(row, masks)`` is the model's expected output for each
#: coalition (row of ``masks``) with the coalition's features taken from ``row``.
Game = Callable[[NDArray[np.float64], NDArray[np.bool_]], NDArray[np.float64]]
Model = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def masked_game(f: Model, background: NDArray[np.float64]) -> Game:
    """The interventional game of any model ``f``: the mean of ``f`` over background rows
    with the coalition's features set to the explained row's values (the definition)."""

    def value(row: NDArray[np.float64], masks: NDArray[np.bool_]) -> NDArray[np.float64]:
        mixed = np.where(masks[:, None, :], row, background[None, :, :])
        return f(mixed.reshape(-1, row.size)).reshape(masks.shape[0], -1).mean(axis=1)

    return value


def interventional_shap(
    f: Model,
    x: NDArray[np.float64],
    background: NDArray[np.float64],
    seed: int,
    game: Callable[[NDArray[np.float64]], Game] | None = None,
) -> tuple[NDArray[np.float64], float, NDArray[np.float64]]:
    """``(values, base, output)`` of model ``f`` on rows ``x`` against ``background``.

    Parameters
    ----------
    f : callable
        The model output of rows (probability, usually).
    x, background : ndarray of shape (n, k), (m, k)
    seed : int
        Seed of the permutation estimator.
    game : callable ``(background) -> Game``, optional
        A faster game equal to :func:`masked_game` of ``f`` (the default).

    Raises
    ------
    EusgistError
        The background is empty or has another number of columns.
    """
    if background.ndim != 2 or background.shape[1] != x.shape[1] or background.shape[0] == 0:
        raise EusgistError(
            f"SHAP background has shape {background.shape}; expected (m, {x.shape[1]})"
        )
    value = game(background) if game is not None else masked_game(f, background)
    if x.shape[1] <= EXACT_MAX_FEATURES:
        values = exact_shapley(value, x)
    else:
        values = permutation_shapley(value, x, np.random.default_rng(seed))
    return values, float(np.mean(f(background))), f(x)


def permutation_shapley(
    game: Game, x: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Shapley values averaged over random feature orders and their reverses.

    Each order adds the features one by one and credits each with the change it makes,
    so every order's contributions sum to ``v(all) - v(none)`` (additive exactly).
    """
    n, k = x.shape
    values = np.zeros((n, k))
    steps = np.arange(k + 1)[:, None]
    for i in range(n):
        for _ in range(N_PERMUTATIONS):
            order = rng.permutation(k)
            for perm in (order, order[::-1]):
                rank = np.empty(k, dtype=np.int64)
                rank[perm] = np.arange(k)
                v = game(x[i], rank[None, :] < steps)
                values[i, perm] += np.diff(v)
    return values / (2 * N_PERMUTATIONS)


def exact_shapley(game: Game, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shapley values by enumerating all ``2**k`` coalitions."""
    n, k = x.shape
    codes = np.arange(2**k)
    masks = ((codes[:, None] >> np.arange(k)) & 1).astype(bool)  # coalition code -> members
    sizes = masks.sum(axis=1)
    weight = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
    values = np.empty((n, k))
    for i in range(n):
        v = game(x[i], masks)
        for j in range(k):
            without = codes[~masks[:, j]]
            values[i, j] = np.sum(weight[sizes[without]] * (v[without | (1 << j)] - v[without]))
    return values
