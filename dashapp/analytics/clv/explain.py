"""Exact SHAP values of a scikit-learn HistGradientBoosting model (path-dependent TreeSHAP
by enumeration of feature subsets).

For a coalition ``S`` of features, the value of one tree is its path-dependent expectation
(Lundberg et al. 2020, "From local explanations to global understanding with explainable AI
for trees", Algorithm 1, the default of ``shap.TreeExplainer``): at a split on a feature in
``S`` follow the customer's branch, otherwise take both branches weighted by the share of
training samples that went each way. The model's value ``v(S)`` is the sum over trees plus
the baseline; the Shapley value of feature ``i`` is
``sum_{S without i} |S|! (M-|S|-1)! / M! (v(S + i) - v(S))``.

Shapley values add up over trees, and a feature a tree never splits on is a dummy player of
that tree's game: so each tree's game is played on its own features only (``k <= 14`` with
15 leaves, usually 4-8), enumerating its ``2^k`` coalitions, vectorised over customers and
coalitions at once (one pass over the tree's nodes with an array of shape (customers,
coalitions)). The model may have any number of features. Values are on the model's raw
scale (log of expected purchases for the Poisson loss); they add up to
``raw prediction - base value`` for every customer (local accuracy, checked in the tests).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = ["tree_shap", "MAX_TREE_FEATURES"]

#: Most distinct features one tree may split on (2^14 = 16,384 coalitions; a tree of at
#: most 15 leaves has at most 14 splits).
MAX_TREE_FEATURES = 14


@functools.cache
def _coalitions(k: int) -> np.ndarray:
    """All subsets of ``range(k)`` as a boolean matrix (2^k, k): row ``j`` holds the bits of
    ``j``, so the empty set is row 0 and adding feature ``i`` to row ``j`` gives row
    ``j | 2^i``. Made once per ``k`` (read-only)."""
    idx = np.arange(2**k)
    out = ((idx[:, None] >> np.arange(k)[None, :]) & 1).astype(bool)
    out.flags.writeable = False
    return out


@functools.cache
def _subset_weights(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The size of each coalition ``j`` (its bits set) and the Shapley weight of a coalition
    of size ``s``, ``s! (k-s-1)! / k!``, made once per ``k`` (read-only)."""
    size = _coalitions(k).sum(axis=1)
    weight = np.array(
        [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    )
    size.flags.writeable = weight.flags.writeable = False
    return size, weight


def _tree_values(nodes: np.ndarray, X: np.ndarray, local: dict[int, int], masks: np.ndarray):
    """Path-dependent expectation of one tree for every customer and coalition of the
    tree's own features (``local``: model feature -> bit): (n, 2^k)."""
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
        known = masks[:, local[f]][None, :]
        w_left = np.where(known, w * goes_left[:, None], w * share)
        w_right = np.where(known, w * ~goes_left[:, None], w * (1.0 - share))
        stack.append((left, w_left))
        stack.append((right, w_right))
    return out


def _shapley(v: np.ndarray, k: int) -> np.ndarray:
    """Shapley values (n, k) of the games ``v`` (n, 2^k) indexed by coalition bits."""
    idx = np.arange(2**k)
    size, weight = _subset_weights(k)
    phi = np.zeros((v.shape[0], k))
    for i in range(k):
        without = idx[(idx >> i) & 1 == 0]
        phi[:, i] = (v[:, without | (1 << i)] - v[:, without]) @ weight[size[without]]
    return phi


def tree_shap(model: Any, X: np.ndarray) -> tuple[np.ndarray, float]:
    """SHAP values (n, m) of a fitted ``HistGradientBoostingRegressor`` for the rows of
    ``X`` (n, m), and the base value (the value of the empty coalition, the same for every
    customer). Raw scale: ``base + values.sum(axis=1) == model._raw_predict(X)``."""
    X = np.asarray(X, dtype=np.float64)
    n, m = X.shape
    if any(getattr(p, "nodes", None) is None for it in model._predictors for p in it):
        raise TypeError("the model has no tree nodes to explain")
    if any(bool(p.nodes["is_categorical"].any()) for it in model._predictors for p in it):
        raise ValueError("categorical splits are not supported")
    phi = np.zeros((n, m))
    base = float(np.ravel(model._baseline_prediction)[0])
    for iteration in model._predictors:
        for predictor in iteration:
            nodes = predictor.nodes
            used = np.unique(nodes["feature_idx"][~nodes["is_leaf"].astype(bool)])
            k = len(used)
            if k > MAX_TREE_FEATURES:
                raise ValueError(f"a tree splits on more than {MAX_TREE_FEATURES} features")
            local = {int(f): b for b, f in enumerate(used)}
            v = _tree_values(nodes, X, local, _coalitions(k))
            base += float(v[0, 0])
            if k:
                phi[:, used] += _shapley(v, k)
    return phi, base
