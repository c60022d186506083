"""Exact SHAP values of a scikit-learn HistGradientBoosting model (path-dependent TreeSHAP
by enumeration of feature subsets).

For a coalition ``S`` of features, the value of one tree is its path-dependent expectation
(Lundberg et al. 2020, "From local explanations to global understanding with explainable AI
for trees", Algorithm 1, the default of ``shap.TreeExplainer``): at a split on a feature in
``S`` follow the customer's branch, otherwise take both branches weighted by the share of
training samples that went each way. The model's value ``v(S)`` is the sum over trees plus
the baseline; the Shapley value of feature ``i`` is
``sum_{S without i} |S|! (M-|S|-1)! / M! (v(S + i) - v(S))``.

Enumerating the ``2^M`` coalitions is exact and, with the ``M <= 10`` features of
:mod:`dashapp.analytics.clv.ml`, vectorised over customers and coalitions at once: one pass
over each tree's nodes with an array of shape (customers, coalitions). Values are on the
model's raw scale (log of expected purchases for the Poisson loss); they add up to
``raw prediction - base value`` for every customer (local accuracy, checked in the tests).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["tree_shap", "MAX_FEATURES"]

#: Most features explained by enumeration (2^10 = 1,024 coalitions).
MAX_FEATURES = 10


def _coalitions(m: int) -> np.ndarray:
    """All subsets of ``range(m)`` as a boolean matrix (2^m, m), the empty set first."""
    idx = np.arange(2**m)
    return ((idx[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)


def _tree_values(nodes: np.ndarray, X: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Path-dependent expectation of one tree for every customer and coalition: (n, 2^m)."""
    n = X.shape[0]
    out = np.zeros((n, masks.shape[0]))
    stack = [(0, np.ones((n, masks.shape[0])))]
    while stack:
        node, w = stack.pop()
        rec = nodes[node]
        if rec["is_leaf"]:
            out += w * rec["value"]
            continue
        f = int(rec["feature_idx"])
        left, right = int(rec["left"]), int(rec["right"])
        x = X[:, f]
        goes_left = np.where(
            np.isnan(x), bool(rec["missing_go_to_left"]), x <= rec["num_threshold"]
        )
        share = nodes[left]["count"] / max(rec["count"], 1)
        known = masks[:, f][None, :]
        w_left = np.where(known, w * goes_left[:, None], w * share)
        w_right = np.where(known, w * ~goes_left[:, None], w * (1.0 - share))
        stack.append((left, w_left))
        stack.append((right, w_right))
    return out


def tree_shap(model: Any, X: np.ndarray) -> tuple[np.ndarray, float]:
    """SHAP values (n, m) of a fitted ``HistGradientBoostingRegressor`` for the rows of
    ``X`` (n, m), and the base value (the value of the empty coalition, the same for every
    customer). Raw scale: ``base + values.sum(axis=1) == model._raw_predict(X)``."""
    X = np.asarray(X, dtype=np.float64)
    n, m = X.shape
    if m > MAX_FEATURES:
        raise ValueError(f"exact SHAP by enumeration handles at most {MAX_FEATURES} features")
    if any(getattr(p, "nodes", None) is None for it in model._predictors for p in it):
        raise TypeError("the model has no tree nodes to explain")
    if any(bool(p.nodes["is_categorical"].any()) for it in model._predictors for p in it):
        raise ValueError("categorical splits are not supported")
    masks = _coalitions(m)
    v = np.full((n, masks.shape[0]), float(np.ravel(model._baseline_prediction)[0]))
    for iteration in model._predictors:
        for predictor in iteration:
            v += _tree_values(predictor.nodes, X, masks)
    size = masks.sum(axis=1)
    weight = np.array(
        [math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m) for k in range(m)]
    )
    index = {tuple(row): i for i, row in enumerate(masks)}
    phi = np.zeros((n, m))
    for i in range(m):
        without = np.flatnonzero(~masks[:, i])
        with_i = np.array([index[tuple(masks[j] | (np.arange(m) == i))] for j in without])
        phi[:, i] = (v[:, with_i] - v[:, without]) @ weight[size[without]]
    return phi, float(v[0, 0])
