"""Inputs of the clustering: its options, its error type, its checks and the feature matrix.

* The options of :func:`~dashapp.analytics.clustering.engine.cluster_customers`
  (:data:`METHODS`, :data:`LINKAGES`, :data:`COVARIANCE_TYPES`, ...), as data so that docs and
  the UI can render them, and :func:`_check_params`, which checks them.
* Step 2 of the pipeline: :func:`build_features` takes the feature columns (default recency,
  frequency, monetary), applies a *signed* ``log1p`` (``sign(x) * log1p(|x|)``: heavy tails are
  the rule, and the few customers whose returns exceed their purchases keep a negative, ordered
  value instead of becoming NaN) and scales (standard, robust or none).

The checks (``_check_*``) raise :class:`ClusteringError` with a plain-language message; the
other modules of the package share them. This module imports no other module of the package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COVARIANCE_TYPES",
    "DEFAULT_FEATURES",
    "LINKAGES",
    "MAX_K",
    "METHODS",
    "METHOD_ALIASES",
    "METHOD_LABELS",
    "METHOD_MAX_EXACT",
    "MIN_K",
    "SCALES",
    "TRANSFORMS",
    "ClusteringError",
    "FeatureSpec",
    "build_features",
]

# --------------------------------------------------------------------------------------------
# Options of cluster_customers (data, so that docs and the UI can render them)
# --------------------------------------------------------------------------------------------

METHODS = ("kmeans", "dbscan", "hierarchical", "gmm")
METHOD_LABELS = {
    "kmeans": "K-Means",
    "dbscan": "DBSCAN",
    "hierarchical": "Hierarchical (agglomerative)",
    "gmm": "Gaussian mixture",
}
#: Other spellings of the methods that :func:`_check_params` accepts (after lower-casing).
METHOD_ALIASES = {
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
_MIN_MAX_EXACT = 100


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
# Checks shared by the package
# --------------------------------------------------------------------------------------------


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


def _check_params(
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
) -> tuple[str, dict[str, Any], int | None, int | None]:
    """Checked ``(method, params, min_samples, max_exact)``; ``params`` holds the features,
    transform, scale, random_state and, per method, k, linkage and covariance_type."""
    if not isinstance(method, str):
        raise ClusteringError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    method = METHOD_ALIASES.get(method.strip().lower(), method.strip().lower())
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
    return method, params, min_samples, max_exact


def _customer_features(
    customers: Any,
    method: str,
    feats: tuple[str, ...],
    transform: str,
    scale: str,
    k: int | None,
    min_samples: int | None,
) -> tuple[pd.DataFrame, np.ndarray, FeatureSpec]:
    """The customers sorted by id, their feature matrix and its spec, after the checks that
    need the data (something to cluster, k <= customers, min_samples <= customers)."""
    cust = _check_customers(customers)
    n = len(cust)
    X, spec = build_features(cust, feats, transform, scale)
    if len(spec.constant) == len(feats):
        raise ClusteringError(
            "All customers have identical values of "
            f"{', '.join(feats)}: there is nothing to cluster."
        )
    if method != "dbscan":
        assert k is not None  # _check_params sets k for every method but DBSCAN
        if n < k:
            raise ClusteringError(
                f"There are fewer customers ({n}) than clusters ({k}); choose k <= {n}."
            )
        n_distinct = int((~pd.DataFrame(X).duplicated()).sum())
        if n_distinct < k:
            raise ClusteringError(
                f"Only {n_distinct} distinct customer profiles exist; choose k <= {n_distinct}."
            )
    elif min_samples is not None and min_samples > n:
        raise ClusteringError(
            f"min_samples ({min_samples}) is larger than the number of customers ({n})."
        )
    return cust, X, spec
