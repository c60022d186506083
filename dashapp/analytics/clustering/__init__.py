"""Customer clustering on RFM features (pure: pandas, numpy, scipy, scikit-learn).

Clusters the customer table (``rfm.customer_rfm``: one row per customer, indexed by
``customer_id``) with K-Means, DBSCAN, hierarchical (agglomerative) clustering or a Gaussian
mixture, and names the clusters from the data, never from the arbitrary cluster numbers.

Pipeline of :func:`cluster_customers`
-------------------------------------
1. Sort the customers by ``customer_id`` (so the result does not depend on row order), check
   the input and the parameters (:class:`ClusteringError` with a plain-language message).
2. :func:`build_features`: take the feature columns (default recency, frequency, monetary),
   apply a *signed* ``log1p`` (``sign(x) * log1p(|x|)``: heavy tails are the rule, and the few
   customers whose returns exceed their purchases keep a negative, ordered value instead of
   becoming NaN) and scale (standard, robust or none).
3. Fit the method. The expensive ones are fitted on a deterministic random sample when there
   are more customers than ``max_exact`` (Ward on n customers holds an n x n distance matrix;
   DBSCAN's neighbour lists grow ~n^2 with a wide eps); the other customers are then assigned
   (nearest sampled customer, nearest core sample within eps, or the mixture's prediction) and
   :attr:`ClusterResult.note` says so in plain language.
4. Rank the clusters by value in original units (:func:`value_ranking`) and name them from
   :data:`VOCABULARY`; DBSCAN noise is the visible group ``"Outliers"``.
5. Diagnostics (silhouette on a sample of at most 2,000 customers, Davies-Bouldin,
   Calinski-Harabasz, BIC for the mixture), 2-D PCA coordinates, cluster profiles and the
   agreement with the RFM segments.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial import cKDTree
from scipy.stats import rankdata
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
)
from sklearn.mixture import GaussianMixture
from threadpoolctl import ThreadpoolController

__all__ = [
    "COVARIANCE_TYPES",
    "DEFAULT_FEATURES",
    "LINKAGES",
    "MAX_K",
    "METHODS",
    "METHOD_LABELS",
    "METHOD_MAX_EXACT",
    "MIN_K",
    "OUTLIER_NAME",
    "POTENTIAL_FALLBACK",
    "POTENTIAL_NAME",
    "SCALES",
    "TRANSFORMS",
    "VOCABULARY",
    "ClusterResult",
    "ClusteringError",
    "FeatureSpec",
    "KDistance",
    "build_features",
    "cluster_customers",
    "cluster_names",
    "dendrogram_data",
    "elbow_curve",
    "k_distance",
    "silhouette",
    "value_ranking",
]

# --------------------------------------------------------------------------------------------
# Vocabulary and constants (data, so that docs and the UI can render them)
# --------------------------------------------------------------------------------------------

#: Cluster names by number of clusters, most valuable first (see :func:`cluster_names`).
#: ``"Potential Value"`` is not simply a rank: among the clusters that would take the names from
#: the "Potential Value" position onwards (the low-value tail), the one whose customers bought
#: most recently (lowest median recency) is "Potential Value" -- low value so far but still
#: active (median recency at most the median of all customers), typically new customers; the
#: others keep their value order. If no low-value cluster is that recent, the slot is called
#: ``"Modest Value"`` (:data:`POTENTIAL_FALLBACK`) and the names follow the value order.
#: More than 10 clusters (DBSCAN only) are named ``"Value tier 1"`` .. ``"Value tier n"``.
VOCABULARY: dict[int, tuple[str, ...]] = {
    1: ("Main Group",),
    2: ("High Value", "Low Value"),
    3: ("High Value", "Medium Value", "Low Value"),
    4: ("High Value", "Medium Value", "Potential Value", "Low Value"),
    5: ("Top Value", "High Value", "Medium Value", "Potential Value", "Low Value"),
    6: (
        "Top Value",
        "High Value",
        "Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    7: (
        "Top Value",
        "High Value",
        "Upper Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    8: (
        "Top Value",
        "Very High Value",
        "High Value",
        "Upper Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    9: (
        "Top Value",
        "Very High Value",
        "High Value",
        "Upper Medium Value",
        "Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    10: (
        "Top Value",
        "Very High Value",
        "High Value",
        "Upper Medium Value",
        "Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
        "Lowest Value",
    ),
}
#: Name of the DBSCAN noise group (label -1): customers in no dense neighbourhood, often the
#: biggest spenders. It is always shown (last in display order), never dropped.
OUTLIER_NAME = "Outliers"
#: The vocabulary entry chosen by recency rather than by value rank (see :data:`VOCABULARY`).
POTENTIAL_NAME = "Potential Value"
#: Name of the "Potential Value" slot when no low-value cluster is recently active.
POTENTIAL_FALLBACK = "Modest Value"

METHODS = ("kmeans", "dbscan", "hierarchical", "gmm")
METHOD_LABELS = {
    "kmeans": "K-Means",
    "dbscan": "DBSCAN",
    "hierarchical": "Hierarchical (agglomerative)",
    "gmm": "Gaussian mixture",
}
_METHOD_ALIASES = {
    "k-means": "kmeans",
    "k_means": "kmeans",
    "agglomerative": "hierarchical",
    "ward": "hierarchical",
    "gaussian_mixture": "gmm",
    "gaussian mixture": "gmm",
}
#: Largest number of customers each method is fitted on directly; above it the model is fitted
#: on a deterministic random sample of that many customers and the others are assigned.
#: ``None``: always exact. Measured on 2 cores: Ward on 2,000 points ~50 ms (6,000: ~2 s);
#: DBSCAN on 10,000 ~0.1 s with the knee eps (60,000: 0.5-0.9 s and ~0.5 GB of neighbour
#: lists); a full-covariance mixture on 20,000 ~0.2 s (60,000: ~0.5 s).
METHOD_MAX_EXACT: dict[str, int | None] = {
    "kmeans": None,
    "dbscan": 10_000,
    "hierarchical": 2_000,
    "gmm": 20_000,
}
LINKAGES = ("ward", "average", "complete", "single")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
TRANSFORMS = ("log1p", "none")
SCALES = ("standard", "robust", "none")
DEFAULT_FEATURES = ("recency", "frequency", "monetary")
MIN_K, MAX_K = 2, 10

#: BLAS / OpenMP threads while fitting. These problems are small (n x 3): on 2 cores one thread
#: is as fast as two when idle (K-Means at 60,000: 44 ms vs 89 ms) and 2-5x faster when other
#: processes (web workers, tests) compete for the cores. Applied with threadpoolctl for the
#: duration of a call (process-wide while it runs); None leaves the libraries' defaults.
MAX_THREADS: int | None = 1
KMEANS_N_INIT = 3  # deterministic (fixed random_state); more inits barely change the inertia
SILHOUETTE_SAMPLE = 2_000  # silhouette is O(s^2): ~30 ms on 2,000 points, ~0.9 s on 5,000
KDIST_MAX_POINTS = 10_000
DENDROGRAM_MAX_POINTS = 500
DBSCAN_PAIR_BUDGET = 10_000_000  # neighbour pairs held at once (~80 MB of int64 indices)
_MIN_MAX_EXACT = 100

# value columns used to rank clusters: (column, higher_is_better)
_VALUE_COLUMNS = (("monetary", True), ("frequency", True), ("recency", False))


class ClusteringError(ValueError):
    """A user mistake (input or parameter) explained in plain language."""


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    """How the feature matrix was built from the customer table.

    Attributes
    ----------
    features : tuple of str
        Customer-table columns used, in column order of ``X``.
    transform : {"log1p", "none"}
        ``"log1p"`` is the signed log1p ``sign(x) * log1p(|x|)``: equal to ``log1p`` for
        non-negative values (recency in days, frequency in invoices, monetary in GBP) and
        order-preserving for the few customers with net revenue <= 0.
    scale : {"standard", "robust", "none"}
        ``"standard"``: subtract the mean, divide by the standard deviation (ddof=0).
        ``"robust"``: subtract the median, divide by the inter-quartile range (falls back to
        the standard deviation where the IQR is 0). A constant column is divided by 1.
    center : ndarray of shape (n_features,)
        Subtracted after the transform (transformed units).
    scale_ : ndarray of shape (n_features,)
        Divisor after centering (transformed units).
    n_nonpositive : dict of str to int
        Customers with a value <= 0 per feature (e.g. monetary <= 0 GBP: returns netted).
    constant : tuple of str
        Features with no variation (they contribute nothing to the distances).
    """

    features: tuple[str, ...]
    transform: str
    scale: str
    center: np.ndarray
    scale_: np.ndarray
    n_nonpositive: dict[str, int] = field(default_factory=dict)
    constant: tuple[str, ...] = ()

    def apply(self, customers: pd.DataFrame) -> np.ndarray:
        """Transform other customers with the stored centre and scale.

        Parameters
        ----------
        customers : DataFrame of shape (n_customers, ...)
            Must hold the columns in :attr:`features`.

        Returns
        -------
        X : ndarray of shape (n_customers, n_features), float64
        """
        raw = _feature_values(customers, self.features)
        return (_transform(raw, self.transform) - self.center) / self.scale_


def _feature_values(customers: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    missing = [f for f in features if f not in customers.columns]
    if missing:
        raise ClusteringError(
            f"The customer table has no column {', '.join(map(repr, missing))}; "
            f"available: {', '.join(map(str, customers.columns))}."
        )
    cols = []
    for f in features:
        s = customers[f]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise ClusteringError(f"Column {f!r} is not numeric, it cannot be clustered.")
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = int((~np.isfinite(v)).sum())
        if bad:
            raise ClusteringError(
                f"{bad:,} customer(s) have a missing or infinite {f!r}; drop or fill them first."
            )
        cols.append(v)
    return np.column_stack(cols) if cols else np.empty((len(customers), 0))


def _transform(raw: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log1p":
        return np.sign(raw) * np.log1p(np.abs(raw))
    return raw.astype(float, copy=True)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ClusteringError(f"Unknown {name} {value!r}; choose one of {', '.join(choices)}.")
    return value.lower()


def _check_features(features: Any) -> tuple[str, ...]:
    if isinstance(features, str):
        features = (features,)
    try:
        feats = tuple(features)
    except TypeError:
        raise ClusteringError("features must be a list of column names.") from None
    if not feats:
        raise ClusteringError("Choose at least one feature to cluster on.")
    if len(set(feats)) != len(feats):
        raise ClusteringError(f"A feature is listed twice: {feats}.")
    return feats


def build_features(
    customers: pd.DataFrame,
    features: Sequence[str] = DEFAULT_FEATURES,
    transform: str = "log1p",
    scale: str = "standard",
) -> tuple[np.ndarray, FeatureSpec]:
    """Feature matrix for clustering, rows in the order of ``customers``.

    Parameters
    ----------
    customers : DataFrame of shape (n_customers, ...)
        Customer table indexed by ``customer_id`` with numeric feature columns (recency in
        days, frequency in invoices, monetary in GBP, tenure in days, aov in GBP, clv in GBP).
    features : sequence of str, default ("recency", "frequency", "monetary")
        Columns to cluster on.
    transform : {"log1p", "none"}, default "log1p"
        ``"log1p"`` applies the signed log1p ``sign(x) * log1p(|x|)`` (heavy tails; customers
        with monetary <= 0 stay ordered below the others instead of becoming NaN).
    scale : {"standard", "robust", "none"}, default "standard"
        See :class:`FeatureSpec`.

    Returns
    -------
    X : ndarray of shape (n_customers, n_features), float64
        Transformed, scaled features (dimensionless).
    spec : FeatureSpec
        What was done, with the centre and scale (to transform other customers alike).

    Raises
    ------
    ClusteringError
        Missing / non-numeric / non-finite columns, unknown transform or scale.
    """
    if not isinstance(customers, pd.DataFrame):
        raise ClusteringError("customers must be a pandas DataFrame (the customer table).")
    feats = _check_features(features)
    transform = _check_choice("transform", transform, TRANSFORMS)
    scale = _check_choice("scale", scale, SCALES)
    raw = _feature_values(customers, feats)
    n_nonpositive = {f: int((raw[:, j] <= 0).sum()) for j, f in enumerate(feats)}
    T = _transform(raw, transform)
    d = T.shape[1]
    if len(T) == 0 or scale == "none":
        center, div = np.zeros(d), np.ones(d)
    elif scale == "standard":
        center, div = T.mean(axis=0), T.std(axis=0)
    else:
        center = np.median(T, axis=0)
        q75, q25 = np.percentile(T, [75, 25], axis=0)
        div = q75 - q25
        div = np.where(div > 0, div, T.std(axis=0))
    spread = (T.max(axis=0) - T.min(axis=0)) if len(T) else np.zeros(d)
    constant = tuple(f for j, f in enumerate(feats) if spread[j] == 0)
    div = np.where((div > 0) & np.isfinite(div), div, 1.0)
    X = (T - center) / div
    spec = FeatureSpec(
        features=feats,
        transform=transform,
        scale=scale,
        center=np.asarray(center, float),
        scale_=np.asarray(div, float),
        n_nonpositive=n_nonpositive,
        constant=constant,
    )
    return X, spec


# --------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------


def value_ranking(medians: pd.DataFrame) -> pd.DataFrame:
    """Rank clusters by value from their medians in original units.

    Parameters
    ----------
    medians : DataFrame of shape (n_clusters, ...)
        One row per cluster with some of ``monetary`` (GBP), ``frequency`` (invoices),
        ``recency`` (days); at least one of them (else the first column, higher = better).

    Returns
    -------
    DataFrame of shape (n_clusters, 2), same index
        ``value_rank`` (int, 1 = most valuable) and ``value_score`` (float in [0, 1], 1 = best
        on every criterion). The score is the mean of the clusters' ranks on median monetary
        (higher is better), median frequency (higher) and median recency (lower is better),
        rescaled to [0, 1]; ties are broken by monetary, frequency, recency, then index.
    """
    cols = [(c, hib) for c, hib in _VALUE_COLUMNS if c in medians.columns]
    if not cols:
        if medians.shape[1] == 0:
            raise ClusteringError("Nothing to rank clusters by.")
        cols = [(medians.columns[0], True)]
    k = len(medians)
    # oriented so that lower is better for every criterion
    vals = [
        (-1.0 if hib else 1.0) * medians[c].to_numpy(dtype=float, na_value=np.nan)
        for c, hib in cols
    ]
    mean_rank = np.mean([rankdata(v, method="average") for v in vals], axis=0) if k else np.empty(0)
    score = 1.0 - (mean_rank - 1.0) / (k - 1) if k > 1 else np.ones(k)
    # lexsort: last key is primary -> mean rank, then criteria in order, then position
    pos = np.lexsort([np.arange(k), *reversed(vals), mean_rank])
    rank = np.empty(k, dtype=int)
    rank[pos] = np.arange(1, k + 1)
    return pd.DataFrame({"value_rank": rank, "value_score": score}, index=medians.index)


def cluster_names(medians: pd.DataFrame, recent_days: float | None = None) -> pd.Series:
    """Name clusters from their medians (original units), using :data:`VOCABULARY`.

    Parameters
    ----------
    medians : DataFrame of shape (n_clusters, ...)
        Per-cluster medians of monetary (GBP), frequency (invoices), recency (days); outliers
        (DBSCAN noise) must not be included.
    recent_days : float, optional
        Recency (days) at or below which a cluster counts as still active, for
        ``"Potential Value"``; :func:`cluster_customers` passes the median recency of all
        clustered customers. Default: the median of the clusters' median recencies.

    Returns
    -------
    Series of str, same index, the cluster names. Clusters are ranked by
    :func:`value_ranking` and given the names of ``VOCABULARY[n_clusters]`` in that order,
    except ``"Potential Value"``: among the clusters ranked at or below its position (the
    low-value tail), the one with the lowest median recency takes it if that recency is
    <= ``recent_days`` (low value so far, but active: typically new customers); when no
    low-value cluster is that recent, the slot is named :data:`POTENTIAL_FALLBACK` and the
    tail keeps its value order. More than 10 clusters: "Value tier 1".."Value tier n".
    """
    k = len(medians)
    if k == 0:
        return pd.Series([], index=medians.index, dtype=object)
    rank = value_ranking(medians)["value_rank"].to_numpy()
    by_rank = list(np.argsort(rank, kind="mergesort"))  # positions, most valuable first
    names = np.empty(k, dtype=object)
    vocab = VOCABULARY.get(k)
    if vocab is None:
        for r, p in enumerate(by_rank, start=1):
            names[p] = f"Value tier {r}"
        return pd.Series(names, index=medians.index)
    vocab = list(vocab)
    ordered = by_rank
    if POTENTIAL_NAME in vocab:
        pp = vocab.index(POTENTIAL_NAME)
        tail = by_rank[pp:]
        chosen = None
        if "recency" in medians.columns:
            rec = medians["recency"].to_numpy(float)
            limit = float(np.median(rec)) if recent_days is None else float(recent_days)
            # most recent customers in the low-value tail; ties -> the more valuable one
            best = min(tail, key=lambda p: (rec[p], tail.index(p)))
            if rec[best] <= limit:
                chosen = best
        if chosen is None:
            vocab[pp] = POTENTIAL_FALLBACK
        else:
            ordered = by_rank[:pp] + [chosen] + [p for p in tail if p != chosen]
    for name, p in zip(vocab, ordered, strict=True):
        names[p] = name
    return pd.Series(names, index=medians.index)


# --------------------------------------------------------------------------------------------
# Diagnostics curves
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KDistance:
    """Sorted k-nearest-neighbour distances, for choosing DBSCAN's eps.

    Attributes
    ----------
    distances : ndarray of shape (n_points,)
        Distance of each point to its ``k``-th nearest neighbour counting the point itself
        (as DBSCAN's ``min_samples`` does), sorted ascending, in feature units.
    k : int
        ``min_samples`` (2 when ``min_samples`` is 1: the distance to the nearest other point).
    knee_index : int
        Index in ``distances`` of the knee: the point farthest below the chord from the first
        to the last point once both axes are scaled to [0, 1] ("kneedle").
    eps : float
        ``distances[knee_index]`` (made strictly positive): the default eps.
    n_points, n_total : int
        Points used and points given (``n_points < n_total`` when sampled).
    """

    distances: np.ndarray
    k: int
    knee_index: int
    eps: float
    n_points: int
    n_total: int

    @property
    def sampled(self) -> bool:
        """True when the curve was computed on a sample."""
        return self.n_points < self.n_total


def _rng_sample(n: int, size: int, random_state: int) -> np.ndarray:
    """Sorted indices of a deterministic random sample (all of range(n) if size >= n)."""
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=size, replace=False))


def _knee(y: np.ndarray) -> int:
    m = len(y)
    if m < 3 or y[-1] <= y[0]:
        return m - 1
    x = np.linspace(0.0, 1.0, m)
    yn = (y - y[0]) / (y[-1] - y[0])
    return int(np.argmax(x - yn))


def _check_2d(X: Any, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] == 0:
        raise ClusteringError(f"{name} must be a 2-D array of shape (n_customers, n_features).")
    if not np.isfinite(X).all():
        raise ClusteringError(f"{name} holds missing or infinite values.")
    return X


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ClusteringError(f"{name} must be a whole number, got {value!r}.")
    value = int(value)
    if value < low or (high is not None and value > high):
        rng = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ClusteringError(f"{name} must be {rng}, got {value}.")
    return value


def k_distance(
    X: np.ndarray, min_samples: int, *, max_points: int = KDIST_MAX_POINTS, random_state: int = 0
) -> KDistance:
    """Sorted k-distance curve and its knee (default DBSCAN eps).

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features)
        Feature matrix (e.g. from :func:`build_features`).
    min_samples : int
        DBSCAN's ``min_samples`` (the point itself included); ``k`` of the k-distance.
    max_points : int, default 10,000
        Above this, the curve is computed on a deterministic random sample of that many rows
        (a sample is sparser than the full data, so its distances are larger).
    random_state : int, default 0

    Returns
    -------
    KDistance
    """
    X = _check_2d(X)
    min_samples = _check_int("min_samples", min_samples, 1)
    max_points = _check_int("max_points", max_points, 2)
    n = len(X)
    if n < 2:
        raise ClusteringError("At least 2 customers are needed for a k-distance curve.")
    Xs = X[_rng_sample(n, max_points, random_state)]
    return _k_distance_tree(Xs, cKDTree(Xs), min_samples, n)


def _k_distance_tree(Xs: np.ndarray, tree: cKDTree, min_samples: int, n: int) -> KDistance:
    k = min(max(min_samples, 2), len(Xs))  # min_samples=1: nearest other customer
    d, _ = tree.query(Xs, k=k)
    kd = np.sort(d[:, -1] if d.ndim == 2 else d)
    knee = _knee(kd)
    eps = float(kd[knee])
    if eps <= 0:
        positive = kd[kd > 0]
        eps = float(positive[0]) if len(positive) else 1e-9
    return KDistance(distances=kd, k=k, knee_index=knee, eps=eps, n_points=len(Xs), n_total=n)


def silhouette(X: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient (same definition as scikit-learn's ``silhouette_score``).

    Computed with one dense distance matrix: meant for samples of a few thousand points.

    Parameters
    ----------
    X : ndarray of shape (n_points, n_features)
    labels : ndarray of shape (n_points,), int
        Between 2 and n_points - 1 distinct labels.

    Returns
    -------
    float in [-1, 1]; points alone in their cluster count as 0.
    """
    X = np.asarray(X, dtype=float)
    uniq, code = np.unique(np.asarray(labels), return_inverse=True)
    n, k = len(X), len(uniq)
    if not 2 <= k <= n - 1:
        raise ClusteringError("The silhouette needs between 2 and n - 1 clusters.")
    # dense distances in float32 via one GEMM: ~3x faster than scipy's cdist; errors stay
    # below ~1e-3 feature units, negligible for a mean silhouette (tests: within 1e-5)
    X32 = (X - X.mean(axis=0)).astype(np.float32)
    sq = np.einsum("ij,ij->i", X32, X32)
    D = X32 @ (-2.0 * X32.T)
    D += sq[:, None]
    D += sq[None, :]
    np.maximum(D, 0, out=D)
    np.sqrt(D, out=D)
    np.fill_diagonal(D, 0)
    onehot = np.zeros((n, k), dtype=np.float32)
    onehot[np.arange(n), code] = 1.0
    sums = (D @ onehot).astype(float)  # (n, k): sum of distances to each cluster
    counts = onehot.sum(axis=0, dtype=float)
    own = counts[code]
    rows = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = sums[rows, code] / (own - 1)
        mean_other = sums / counts
    mean_other[rows, code] = np.inf
    b = mean_other.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (b - a) / np.maximum(a, b)
    s = np.where((own > 1) & np.isfinite(s), s, 0.0)
    return float(s.mean())


def _silhouette(
    X: np.ndarray, labels: np.ndarray, random_state: int, sample_size: int = SILHOUETTE_SAMPLE
) -> tuple[float, int]:
    """Silhouette of the non-noise points, on a deterministic sample. Returns (value, size)."""
    keep = np.flatnonzero(labels >= 0)
    idx = keep[_rng_sample(len(keep), sample_size, random_state)]
    lab = labels[idx]
    n_lab = len(np.unique(lab))
    if n_lab < 2 or n_lab > len(idx) - 1:
        return float("nan"), len(idx)
    return silhouette(X[idx], lab), len(idx)


def elbow_curve(
    X: np.ndarray,
    ks: Iterable[int] = range(2, 11),
    *,
    random_state: int = 0,
    max_points: int = 10_000,
    silhouette_sample: int = SILHOUETTE_SAMPLE,
) -> pd.DataFrame:
    """K-Means inertia and silhouette per number of clusters (elbow / silhouette plot).

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features)
    ks : iterable of int, default range(2, 11)
    random_state : int, default 0
    max_points : int, default 10,000
        Above this, K-Means is fitted on a deterministic random sample of that many rows.
    silhouette_sample : int, default 2,000
        Silhouette sample size (of the points fitted).

    Returns
    -------
    DataFrame with one row per k
        ``k`` (int), ``inertia`` (float: within-cluster sum of squared distances of the points
        fitted, feature units squared; scaled up by n_customers / n_points when sampled so
        the level matches the full data), ``silhouette`` (float in [-1, 1], NaN if undefined)
        and ``n_points`` (int, rows fitted).
    """
    X = _check_2d(X)
    ks = sorted({_check_int("k", k, 1) for k in ks})
    if not ks:
        raise ClusteringError("Give at least one number of clusters.")
    n = len(X)
    Xs = X[_rng_sample(n, max_points, random_state)]
    m = len(Xs)
    with _threads():
        return _elbow(Xs, ks, n, m, random_state, silhouette_sample)


def _elbow(Xs, ks, n, m, random_state, silhouette_sample) -> pd.DataFrame:
    rows = []
    for k in ks:
        if k > m:
            rows.append((k, np.nan, np.nan, m))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            km = KMeans(n_clusters=k, n_init=1, random_state=random_state).fit(Xs)
        sil = (
            _silhouette(Xs, km.labels_, random_state, silhouette_sample)[0]
            if k >= 2
            else float("nan")
        )
        rows.append((k, float(km.inertia_) * n / m, sil, m))
    return pd.DataFrame(rows, columns=["k", "inertia", "silhouette", "n_points"])


def dendrogram_data(
    X: np.ndarray,
    linkage: str = "ward",
    *,
    k: int | None = None,
    max_points: int = DENDROGRAM_MAX_POINTS,
    random_state: int = 0,
    truncate_lastp: int | None = None,
) -> dict[str, Any]:
    """Dendrogram geometry for plotly (scipy ``linkage`` + ``dendrogram(no_plot=True)``).

    Parameters
    ----------
    X : ndarray of shape (n_points, n_features)
        Feature matrix or micro-cluster centroids.
    linkage : {"ward", "average", "complete", "single"}, default "ward"
    k : int, optional
        Colour the tree for a cut into ``k`` clusters and return the cut height.
    max_points : int, default 500
        Above this, a deterministic random sample of that many rows is used.
    random_state : int, default 0
    truncate_lastp : int, optional
        Show only the last ``p`` merges (scipy ``truncate_mode="lastp"``).

    Returns
    -------
    dict
        ``icoord``, ``dcoord`` (lists of 4-point x / y segments, one per merge: draw
        ``go.Scatter(x=icoord[i], y=dcoord[i])``; heights in feature units), ``ivl`` (leaf
        labels), ``leaves`` (row positions in the points used), ``color_list``, ``linkage``
        (ndarray of shape (n_points - 1, 4)), ``cut_height`` (float or None), ``n_points``,
        ``n_total``, ``method``.
    """
    X = _check_2d(X)
    linkage = _check_choice("linkage", linkage, LINKAGES)
    max_points = _check_int("max_points", max_points, 2)
    n = len(X)
    if n < 2:
        raise ClusteringError("At least 2 customers are needed for a dendrogram.")
    Xs = X[_rng_sample(n, max_points, random_state)]
    Z = hierarchy.linkage(Xs, method=linkage)
    cut = None
    kwargs: dict[str, Any] = {"no_plot": True}
    if k is not None:
        k = _check_int("k", k, 1, len(Xs))
        heights = Z[:, 2]
        lo = heights[-k] if k <= len(heights) else 0.0
        hi = heights[-k + 1] if k >= 2 else heights[-1]
        cut = float((lo + hi) / 2) if k >= 2 else float(hi)
        kwargs["color_threshold"] = cut
    if truncate_lastp is not None:
        kwargs.update(truncate_mode="lastp", p=_check_int("truncate_lastp", truncate_lastp, 2))
    dn = hierarchy.dendrogram(Z, **kwargs)
    return {
        "icoord": dn["icoord"],
        "dcoord": dn["dcoord"],
        "ivl": dn["ivl"],
        "leaves": dn["leaves"],
        "color_list": dn["color_list"],
        "linkage": Z,
        "cut_height": cut,
        "n_points": len(Xs),
        "n_total": n,
        "method": linkage,
    }


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class ClusterResult:
    """Outcome of :func:`cluster_customers`. Row order of every per-customer output is the
    row order of the input table.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    labels : Series of shape (n_customers,), ordered categorical
        Cluster name per customer (index ``customer_id``); categories in display order
        (most valuable first, ``"Outliers"`` last when present).
    cluster_ids : Series of shape (n_customers,), int
        Position of the customer's cluster in :attr:`names` (0 = first), -1 for outliers.
    names : tuple of str
        Cluster names in display order (``"Outliers"`` last when present).
    n_clusters : int
        Clusters found, outliers not counted.
    params : dict
        Parameters actually used (e.g. ``k``, ``eps`` chosen at the knee, ``min_samples``,
        ``linkage``, ``covariance_type``, ``features``, ``transform``, ``scale``,
        ``random_state``, ``max_exact``, ``n_init``).
    approximate : bool
        True when the model was fitted on a sample and the other customers assigned.
    n_fit : int
        Customers the model was fitted on.
    note : str
        Plain-language account of what was done (sampling, eps choice, outliers).
    diagnostics : dict
        ``silhouette`` (in [-1, 1], on ``silhouette_sample_size`` customers, outliers
        excluded), ``davies_bouldin`` (>= 0, lower is better), ``calinski_harabasz`` (higher
        is better), ``bic`` / ``aic`` (mixture only, on the customers fitted), ``inertia``
        (K-Means), ``n_outliers``, ``ari_vs_segments`` (adjusted Rand index against the RFM
        segments, when present), ``fit_seconds``; NaN where undefined.
    coords : ndarray of shape (n_customers, 2)
        Customers on the first two principal components of the feature matrix.
    explained_variance_ratio : ndarray of shape (2,)
    pca_components : ndarray of shape (2, n_features)
        Loadings of the two components on :attr:`FeatureSpec.features`.
    profiles : DataFrame of shape (n_groups, ...)
        Index: cluster name in display order. Columns ``cluster_id``, ``size``, ``share`` (of
        customers), ``revenue`` (sum of monetary, GBP), ``revenue_share``, ``value_rank``
        (1 = most valuable, NA for outliers), ``value_score`` ([0, 1]), then the median of
        ``recency`` (days), ``frequency`` (invoices), ``monetary`` (GBP), ``tenure`` (days),
        ``aov`` (GBP), ``clv`` (GBP) for the columns present, as ``<column>_median``.
    agreement : DataFrame or None
        Crosstab of customers, rows cluster names (display order), columns RFM segments,
        when the table has a ``segment`` column.
    feature_spec : FeatureSpec
    k_distance : KDistance or None
        DBSCAN only: the curve the eps was (or could have been) chosen from, on the points
        fitted.
    """

    method: str
    labels: pd.Series
    cluster_ids: pd.Series
    names: tuple[str, ...]
    n_clusters: int
    params: dict[str, Any]
    approximate: bool
    n_fit: int
    note: str
    diagnostics: dict[str, Any]
    coords: np.ndarray
    explained_variance_ratio: np.ndarray
    pca_components: np.ndarray
    profiles: pd.DataFrame
    agreement: pd.DataFrame | None
    feature_spec: FeatureSpec
    k_distance: KDistance | None = None

    def assignments(self) -> pd.DataFrame:
        """Per-customer table: ``cluster`` (name), ``cluster_id``, ``pc1``, ``pc2``.

        Returns
        -------
        DataFrame of shape (n_customers, 4), indexed by ``customer_id`` (input order).
        """
        return pd.DataFrame(
            {
                "cluster": self.labels,
                "cluster_id": self.cluster_ids,
                "pc1": self.coords[:, 0],
                "pc2": self.coords[:, 1],
            },
            index=self.labels.index,
        )


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


def _pca2(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First two principal components (deterministic signs: largest loading positive)."""
    n, d = X.shape
    Xc = X - X.mean(axis=0)
    cov = (Xc.T @ Xc) / max(n - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[order], 0, None), vecs[:, order]
    comps = np.zeros((2, d))
    evr = np.zeros(2)
    total = vals.sum()
    for j in range(min(2, d)):
        v = vecs[:, j]
        if v[np.argmax(np.abs(v))] < 0:
            v = -v
        comps[j] = v
        evr[j] = vals[j] / total if total > 0 else 0.0
    return Xc @ comps.T, evr, comps


def _nearest_assign(
    X_ref: np.ndarray, lab_ref: np.ndarray, X_rest: np.ndarray, max_dist: float | None = None
) -> np.ndarray:
    """Label of the nearest reference point (-1 if farther than ``max_dist``)."""
    if len(X_rest) == 0:
        return np.empty(0, dtype=int)
    if len(X_ref) == 0:
        return np.full(len(X_rest), -1)
    tree = cKDTree(X_ref)
    if max_dist is None:
        _, j = tree.query(X_rest, k=1)
        return lab_ref[j]
    dist, j = tree.query(X_rest, k=1, distance_upper_bound=max_dist * (1 + 1e-12))
    out = np.full(len(X_rest), -1)
    ok = np.isfinite(dist)
    out[ok] = lab_ref[j[ok]]
    return out


def _fit_kmeans(X, k, random_state):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=random_state).fit(X)
    return km.labels_.astype(int), {"inertia": float(km.inertia_)}


def _fit_hierarchical(X, k, linkage, max_exact, random_state):
    n = len(X)
    idx = _rng_sample(n, max_exact, random_state)
    model = AgglomerativeClustering(n_clusters=k, linkage=linkage)
    lab_s = model.fit_predict(X[idx]).astype(int)
    if len(idx) == n:
        return lab_s, idx
    labels = np.empty(n, dtype=int)
    labels[idx] = lab_s
    rest = np.setdiff1d(np.arange(n), idx, assume_unique=True)
    labels[rest] = _nearest_assign(X[idx], lab_s, X[rest])
    return labels, idx


def _fit_gmm(X, k, covariance_type, max_exact, random_state):
    n = len(X)
    idx = _rng_sample(n, max_exact, random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(
            n_components=k, covariance_type=covariance_type, random_state=random_state, n_init=1
        ).fit(X[idx])
    labels = gm.predict(X).astype(int)
    Xf = X[idx]
    extra = {
        "bic": float(gm.bic(Xf)),
        "aic": float(gm.aic(Xf)),
        "converged": bool(gm.converged_),
        "n_iter": int(gm.n_iter_),
    }
    return labels, idx, extra


def _mean_neighbours(
    X: np.ndarray, tree: cKDTree, eps: float, random_state: int, probes: int = 256
) -> float:
    """Mean number of points within eps (the point included), from a few probe points."""
    p = X[_rng_sample(len(X), probes, random_state)]
    return float(np.mean(tree.query_ball_point(p, eps, return_length=True)))


def _fit_dbscan(X, eps, min_samples, max_exact, random_state):
    """DBSCAN, on a sample when large or when neighbour lists would exceed the budget."""
    n = len(X)
    idx = _rng_sample(n, max_exact, random_state)
    Xs = X[idx]
    tree = cKDTree(Xs)
    kd = _k_distance_tree(Xs, tree, min_samples, len(Xs))
    eps_auto = eps is None
    eps_used = kd.eps if eps_auto else float(eps)
    shrunk = False
    mean_nb = _mean_neighbours(Xs, tree, eps_used, random_state)
    if len(idx) * mean_nb > DBSCAN_PAIR_BUDGET:
        # neighbour counts grow ~linearly with the sample size at fixed eps
        size = int(math.sqrt(DBSCAN_PAIR_BUDGET * len(idx) / mean_nb))
        size = max(size, min(len(idx), 2 * min_samples + 1))
        idx = idx[_rng_sample(len(idx), size, random_state)]
        shrunk = True
        kd = _k_distance_tree(X[idx], cKDTree(X[idx]), min_samples, len(idx))
        if eps_auto:
            eps_used = kd.eps
    db = DBSCAN(eps=eps_used, min_samples=min_samples, algorithm="kd_tree").fit(X[idx])
    lab_s = db.labels_.astype(int)
    labels = np.empty(n, dtype=int)
    labels[idx] = lab_s
    if len(idx) < n:
        rest = np.setdiff1d(np.arange(n), idx, assume_unique=True)
        core = db.core_sample_indices_
        labels[rest] = _nearest_assign(X[idx][core], lab_s[core], X[rest], max_dist=eps_used)
    return labels, idx, eps_used, eps_auto, kd, shrunk


def _check_customers(customers: Any) -> pd.DataFrame:
    if not isinstance(customers, pd.DataFrame):
        raise ClusteringError("customers must be a pandas DataFrame (the customer table).")
    n = len(customers)
    if n == 0:
        raise ClusteringError("There are no customers to cluster.")
    if n == 1:
        raise ClusteringError("There is only one customer: clustering needs at least two.")
    if not customers.index.is_unique:
        dup = customers.index[customers.index.duplicated()][:3].tolist()
        raise ClusteringError(f"Customer ids must be unique; repeated: {', '.join(map(str, dup))}.")
    try:
        order = np.argsort(customers.index.to_numpy(), kind="mergesort")
    except TypeError:
        order = np.argsort(customers.index.astype(str).to_numpy(), kind="mergesort")
    return customers.iloc[order]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _fmt(n: int) -> str:
    return f"{n:,}"


_CONTROLLER: list[ThreadpoolController] = []


def _threads():
    """Context limiting BLAS / OpenMP threads to :data:`MAX_THREADS` (cached library scan)."""
    if not MAX_THREADS:
        return nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())  # scanning the libraries takes ~4 ms
    return _CONTROLLER[0].limit(limits=MAX_THREADS)


def cluster_customers(
    customers: pd.DataFrame,
    method: str = "kmeans",
    *,
    k: int = 4,
    eps: float | None = None,
    min_samples: int | None = None,
    linkage: str = "ward",
    covariance_type: str = "full",
    features: Sequence[str] = DEFAULT_FEATURES,
    transform: str = "log1p",
    scale: str = "standard",
    random_state: int = 0,
    max_exact: int | None = None,
) -> ClusterResult:
    """Cluster customers on (log-scaled) RFM features and name the clusters by value.

    Parameters
    ----------
    customers : DataFrame of shape (n_customers, ...)
        Customer table indexed by unique ``customer_id``: ``recency`` (days), ``frequency``
        (invoices), ``monetary`` (GBP, may be <= 0), optionally ``tenure`` (days), ``aov``
        (GBP), ``clv`` (GBP) and ``segment`` (RFM segment name, for :attr:`agreement`).
        Row order does not matter: rows are sorted by customer id before fitting.
    method : {"kmeans", "dbscan", "hierarchical", "gmm"}, default "kmeans"
    k : int, default 4
        Number of clusters, 2..10 (kmeans, hierarchical, gmm).
    eps : float, optional
        DBSCAN neighbourhood radius in feature units (scaled space). Default: the knee of the
        k-distance curve of the customers fitted (:func:`k_distance`).
    min_samples : int, optional
        DBSCAN core-point threshold, the point itself included. Default ``max(5,
        2 * n_features)``.
    linkage : {"ward", "average", "complete", "single"}, default "ward"
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
    features, transform, scale
        See :func:`build_features`.
    random_state : int, default 0
        Seeds K-Means / the mixture and the samples; same input, same result.
    max_exact : int, optional
        Fit on all customers up to this many, else on a deterministic random sample of this
        many and assign the others. Default per method: :data:`METHOD_MAX_EXACT` (K-Means is
        always exact). At least 100.

    Returns
    -------
    ClusterResult

    Raises
    ------
    ClusteringError
        Unknown method / option, bad parameter values, fewer customers (or distinct
        customers) than clusters, a single customer, all customers identical.
    """
    with _threads():
        return _cluster(
            customers,
            method,
            k=k,
            eps=eps,
            min_samples=min_samples,
            linkage=linkage,
            covariance_type=covariance_type,
            features=features,
            transform=transform,
            scale=scale,
            random_state=random_state,
            max_exact=max_exact,
        )


def _cluster(
    customers,
    method,
    *,
    k,
    eps,
    min_samples,
    linkage,
    covariance_type,
    features,
    transform,
    scale,
    random_state,
    max_exact,
) -> ClusterResult:
    t0 = time.perf_counter()
    if not isinstance(method, str):
        raise ClusteringError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    method = _METHOD_ALIASES.get(method.strip().lower(), method.strip().lower())
    if method not in METHODS:
        raise ClusteringError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    random_state = _check_int("random_state", random_state, 0)
    feats = _check_features(features)
    transform = _check_choice("transform", transform, TRANSFORMS)
    scale = _check_choice("scale", scale, SCALES)
    params: dict[str, Any] = {
        "features": feats,
        "transform": transform,
        "scale": scale,
        "random_state": random_state,
    }
    if method != "dbscan":
        k = _check_int("k (number of clusters)", k, MIN_K, MAX_K)
        params["k"] = k
    if method == "hierarchical":
        params["linkage"] = linkage = _check_choice("linkage", linkage, LINKAGES)
    if method == "gmm":
        params["covariance_type"] = covariance_type = _check_choice(
            "covariance_type", covariance_type, COVARIANCE_TYPES
        )
    if method == "dbscan":
        if eps is not None and (
            isinstance(eps, bool)
            or not isinstance(eps, (int, float, np.number))
            or not math.isfinite(float(eps))
            or float(eps) <= 0
        ):
            raise ClusteringError(f"eps must be a positive number, got {eps!r}.")
        if min_samples is None:
            min_samples = max(5, 2 * len(feats))
        min_samples = _check_int("min_samples", min_samples, 1)
    if max_exact is None:
        max_exact = METHOD_MAX_EXACT[method]
    else:
        max_exact = _check_int("max_exact", max_exact, _MIN_MAX_EXACT)

    cust = _check_customers(customers)
    n = len(cust)
    X, spec = build_features(cust, feats, transform, scale)
    if len(spec.constant) == len(feats):
        raise ClusteringError(
            "All customers have identical values of "
            f"{', '.join(feats)}: there is nothing to cluster."
        )
    if method != "dbscan":
        if n < k:
            raise ClusteringError(
                f"There are fewer customers ({n}) than clusters ({k}); choose k <= {n}."
            )
        n_distinct = int((~pd.DataFrame(X).duplicated()).sum())
        if n_distinct < k:
            raise ClusteringError(
                f"Only {n_distinct} distinct customer profiles exist; choose k <= {n_distinct}."
            )
    elif min_samples > n:
        raise ClusteringError(
            f"min_samples ({min_samples}) is larger than the number of customers ({n})."
        )

    kd = None
    extra: dict[str, Any] = {}
    notes: list[str] = []
    if method == "kmeans":
        labels_raw, extra = _fit_kmeans(X, k, random_state)
        fit_idx = np.arange(n)
        params["n_init"] = KMEANS_N_INIT
        notes.append(f"K-Means fitted on all {_fmt(n)} customers.")
    elif method == "hierarchical":
        params["max_exact"] = max_exact
        labels_raw, fit_idx = _fit_hierarchical(X, k, linkage, max_exact, random_state)
        if len(fit_idx) < n:
            notes.append(
                f"Hierarchical clustering ({linkage} linkage) was fitted on a random sample of "
                f"{_fmt(len(fit_idx))} of the {_fmt(n)} customers (exact clustering needs an "
                f"n x n distance matrix); each other customer joined the cluster of the most "
                f"similar sampled customer."
            )
        else:
            notes.append(f"Hierarchical clustering ({linkage} linkage) on all {_fmt(n)} customers.")
    elif method == "gmm":
        params["max_exact"] = max_exact
        labels_raw, fit_idx, extra = _fit_gmm(X, k, covariance_type, max_exact, random_state)
        if len(fit_idx) < n:
            notes.append(
                f"The Gaussian mixture ({covariance_type} covariance) was fitted on a random "
                f"sample of {_fmt(len(fit_idx))} of the {_fmt(n)} customers; every customer "
                f"was then given its most likely component."
            )
        else:
            notes.append(
                f"Gaussian mixture ({covariance_type} covariance) fitted on all "
                f"{_fmt(n)} customers."
            )
        if len(np.unique(labels_raw)) < k:
            notes.append(
                f"Only {len(np.unique(labels_raw))} of the {k} mixture components hold customers."
            )
        if not extra["converged"]:
            notes.append("The mixture did not fully converge; treat it with care.")
    else:
        params["max_exact"] = max_exact
        labels_raw, fit_idx, eps_used, eps_auto, kd, shrunk = _fit_dbscan(
            X, eps, min_samples, max_exact, random_state
        )
        params.update(eps=eps_used, min_samples=min_samples, eps_auto=eps_auto)
        where = (
            f"all {_fmt(n)} customers"
            if len(fit_idx) == n
            else f"a random sample of {_fmt(len(fit_idx))} of the {_fmt(n)} customers"
        )
        eps_txt = (
            f"eps = {eps_used:.3g}, chosen at the knee of the distances to the "
            f"{_ordinal(min_samples)} nearest neighbour, counting the customer itself"
            if eps_auto
            else f"eps = {eps_used:.3g}"
        )
        notes.append(f"DBSCAN ({eps_txt}, min_samples = {min_samples}) fitted on {where}.")
        if len(fit_idx) < n:
            why = (
                "neighbour lists would not fit the memory budget with this eps"
                if shrunk
                else "neighbour lists grow with the square of the number of customers"
            )
            notes.append(
                f"Sampled because {why}; each other customer joined the cluster of the "
                f"nearest core customer within eps, or the Outliers. A sample is sparser "
                f"than all customers, so a given eps finds somewhat more outliers."
            )
    approximate = len(fit_idx) < n

    # ---- naming ----------------------------------------------------------------------------
    raw_ids = np.unique(labels_raw[labels_raw >= 0])
    value_cols = [c for c, _ in _VALUE_COLUMNS if c in cust.columns] or [feats[0]]
    med_cols = [
        c
        for c in ("recency", "frequency", "monetary", "tenure", "aov", "clv")
        if c in cust.columns and pd.api.types.is_numeric_dtype(cust[c])
    ]
    for c in value_cols:
        if c not in med_cols:
            med_cols.append(c)
    medians = (
        pd.DataFrame(cust[med_cols].to_numpy(dtype=float, na_value=np.nan), columns=med_cols)
        .groupby(labels_raw)
        .median()
    )
    cl_medians = medians.loc[medians.index >= 0]
    recent_days = (
        float(np.nanmedian(cust["recency"].to_numpy(float)[labels_raw >= 0]))
        if "recency" in cust.columns and len(raw_ids)
        else None
    )
    names_by_raw = cluster_names(cl_medians[value_cols], recent_days)
    ranking = (
        value_ranking(cl_medians[value_cols])
        if len(cl_medians)
        else pd.DataFrame({"value_rank": [], "value_score": []})
    )
    vocab_order = [
        POTENTIAL_FALLBACK
        if nm == POTENTIAL_NAME and POTENTIAL_FALLBACK in set(names_by_raw)
        else nm
        for nm in VOCABULARY.get(len(raw_ids), ())
    ]
    if vocab_order:
        display_raw = sorted(raw_ids, key=lambda r: vocab_order.index(names_by_raw[r]))
    else:
        display_raw = sorted(raw_ids, key=lambda r: ranking.loc[r, "value_rank"])
    names = [names_by_raw[r] for r in display_raw]
    has_noise = bool((labels_raw < 0).any())
    if has_noise:
        names.append(OUTLIER_NAME)
    id_map = np.full(int(labels_raw.max()) + 2 if len(labels_raw) else 1, -1)
    for pos, r in enumerate(display_raw):
        id_map[r + 1] = pos
    ids_sorted = id_map[labels_raw + 1]

    # back to the input row order
    pos_in_sorted = cust.index.get_indexer(customers.index)
    ids = ids_sorted[pos_in_sorted]
    cat = pd.Categorical.from_codes(
        np.where(ids >= 0, ids, len(names) - 1) if has_noise else ids,
        categories=names,
        ordered=True,
    )
    labels = pd.Series(cat, index=customers.index, name="cluster")
    cluster_ids = pd.Series(ids, index=customers.index, name="cluster_id")

    # ---- diagnostics -----------------------------------------------------------------------
    diag: dict[str, Any] = {"n_outliers": int((labels_raw < 0).sum())}
    sil, sil_n = _silhouette(X, ids_sorted, random_state)
    diag["silhouette"], diag["silhouette_sample_size"] = sil, sil_n
    keep = ids_sorted >= 0
    if 2 <= len(np.unique(ids_sorted[keep])) <= int(keep.sum()) - 1:
        diag["davies_bouldin"] = float(davies_bouldin_score(X[keep], ids_sorted[keep]))
        diag["calinski_harabasz"] = float(calinski_harabasz_score(X[keep], ids_sorted[keep]))
    else:
        diag["davies_bouldin"] = diag["calinski_harabasz"] = float("nan")
    diag.update(extra)
    if sil_n < int(keep.sum()) and np.isfinite(sil):
        notes.append(f"Silhouette computed on a random sample of {_fmt(sil_n)} customers.")
    if has_noise:
        noise_n = diag["n_outliers"]
        share = f"{noise_n / n:.1%}" if noise_n / n >= 0.001 else "under 0.1%"
        notes.append(
            f"{_fmt(noise_n)} customers ({share}) are Outliers: no dense neighbourhood around "
            f"them (often the most extreme customers, such as the biggest spenders)."
        )
    if method == "dbscan" and len(raw_ids) == 0:
        notes.append("Every customer is an outlier: increase eps or lower min_samples.")

    coords_sorted, evr, comps = _pca2(X)
    coords = coords_sorted[pos_in_sorted]

    # ---- profiles --------------------------------------------------------------------------
    grp_codes = np.where(ids_sorted >= 0, ids_sorted, len(names) - 1)
    prof_idx = pd.CategoricalIndex(names, categories=names, ordered=True, name="cluster")
    size = np.bincount(grp_codes, minlength=len(names))
    cols: dict[str, Any] = {
        "cluster_id": np.array([-1 if nm == OUTLIER_NAME else i for i, nm in enumerate(names)]),
        "size": size,
        "share": size / n,
    }
    if "monetary" in cust.columns and pd.api.types.is_numeric_dtype(cust["monetary"]):
        mon = np.nan_to_num(cust["monetary"].to_numpy(dtype=float, na_value=np.nan))
        rev = np.bincount(grp_codes, weights=mon, minlength=len(names))
        total = float(mon.sum())
        cols["revenue"] = rev
        cols["revenue_share"] = rev / total if total else np.full(len(names), np.nan)
    vr = np.full(len(names), -1, dtype=int)
    vs = np.full(len(names), np.nan)
    for pos, r in enumerate(display_raw):
        vr[pos] = int(ranking.loc[r, "value_rank"])
        vs[pos] = float(ranking.loc[r, "value_score"])
    cols["value_rank"] = pd.array(np.where(vr > 0, vr, 0), dtype="Int64")
    cols["value_rank"][vr < 0] = pd.NA
    cols["value_score"] = vs
    med_disp = medians.reindex(list(display_raw) + ([-1] if has_noise else []))
    for c in med_cols:
        cols[f"{c}_median"] = med_disp[c].to_numpy()
    if "clv" in cust.columns and pd.api.types.is_numeric_dtype(cust["clv"]):
        clv = np.nan_to_num(cust["clv"].to_numpy(dtype=float, na_value=np.nan))
        clv_tot = float(clv.sum())
        clv_sum = np.bincount(grp_codes, weights=clv, minlength=len(names))
        cols["clv_share"] = clv_sum / clv_tot if clv_tot else np.full(len(names), np.nan)
    profiles = pd.DataFrame(cols, index=prof_idx)

    agreement = None
    if "segment" in cust.columns:
        seg = cust["segment"]
        lab_sorted = pd.Categorical.from_codes(grp_codes, categories=names, ordered=True)
        agreement = pd.crosstab(
            pd.Series(lab_sorted, index=cust.index, name="cluster"),
            seg.rename("segment"),
            dropna=False,
        )
        agreement = agreement.reindex(names, fill_value=0)
        agreement.index = pd.CategoricalIndex(
            agreement.index, categories=names, ordered=True, name="cluster"
        )
        ok = seg.notna().to_numpy()
        diag["ari_vs_segments"] = (
            float(adjusted_rand_score(seg.astype(str)[ok], grp_codes[ok]))
            if ok.sum() >= 2
            else float("nan")
        )
    diag["fit_seconds"] = time.perf_counter() - t0

    return ClusterResult(
        method=method,
        labels=labels,
        cluster_ids=cluster_ids,
        names=tuple(names),
        n_clusters=len(raw_ids),
        params=params,
        approximate=approximate,
        n_fit=len(fit_idx),
        note=" ".join(notes),
        diagnostics=diag,
        coords=coords,
        explained_variance_ratio=evr,
        pca_components=comps,
        profiles=profiles,
        agreement=agreement,
        feature_spec=spec,
        k_distance=kd,
    )
