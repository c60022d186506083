"""The clustering itself: :func:`cluster_customers` and its :class:`ClusterResult`.

Clusters the customer table (``rfm.customer_rfm``: one row per customer, indexed by
``customer_id``) with K-Means, DBSCAN, hierarchical (agglomerative) clustering or a Gaussian
mixture, and names the clusters from the data, never from the arbitrary cluster numbers.

Pipeline of :func:`cluster_customers`
-------------------------------------
1. Sort the customers by ``customer_id`` (so the result does not depend on row order), check
   the input and the parameters (:class:`ClusteringError` with a plain-language message).
2. :func:`build_features` (``features.py``): take the feature columns (default recency,
   frequency, monetary), apply a *signed* ``log1p`` (``sign(x) * log1p(|x|)``: heavy tails are
   the rule, and the few customers whose returns exceed their purchases keep a negative, ordered
   value instead of becoming NaN) and scale (standard, robust or none).
3. Fit the method. The expensive ones are fitted on a deterministic random sample when there
   are more customers than ``max_exact`` (Ward on n customers holds an n x n distance matrix;
   DBSCAN's neighbour lists grow ~n^2 with a wide eps); the other customers are then assigned
   (nearest sampled customer, nearest core sample within eps, or the mixture's prediction) and
   :attr:`ClusterResult.note` says so in plain language (``sampling.py``).
4. Rank the clusters by value in original units (:func:`value_ranking`) and name them from
   :data:`VOCABULARY`; DBSCAN noise is the visible group ``"Outliers"`` (``naming.py``).
5. Diagnostics (silhouette on a sample of at most 2,000 customers, Davies-Bouldin,
   Calinski-Harabasz, BIC for the mixture; ``diagnostics.py``), 2-D PCA coordinates, cluster
   profiles (``naming.py``) and the agreement with the RFM segments (``agreement.py``).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # loaded where used: scikit-learn and scipy cost ~55 MB per worker
    from scipy.spatial import cKDTree

from dashapp.analytics.clustering.agreement import _label_agreement
from dashapp.analytics.clustering.diagnostics import KDistance, _k_distance_tree, _scores
from dashapp.analytics.clustering.features import (
    DEFAULT_FEATURES,
    FeatureSpec,
    _check_params,
    _customer_features,
)
from dashapp.analytics.clustering.naming import RANKING_MEASURE, _name_clusters, _profiles
from dashapp.analytics.clustering.sampling import _nearest_assign, _rng_sample, _threads

__all__ = [
    "DBSCAN_PAIR_BUDGET",
    "KMEANS_N_INIT",
    "ClusterResult",
    "cluster_customers",
]

#: K-Means restarts run in batches of KMEANS_N_INIT k-means++ starts (seeds random_state,
#: random_state + 1, ...) until KMEANS_CONFIRMATIONS batches reach the same lowest inertia
#: (relative tolerance KMEANS_TOLERANCE), at most KMEANS_MAX_BATCHES batches. Three starts in
#: one batch landed 3.2 % above the best inertia at k = 4 on the 254-customer extract, and the
#: labels changed with the seed.
KMEANS_N_INIT = 10
KMEANS_CONFIRMATIONS = 2
KMEANS_MAX_BATCHES = 20
KMEANS_TOLERANCE = 1e-4
DBSCAN_PAIR_BUDGET = 10_000_000  # neighbour pairs held at once (~80 MB of int64 indices)


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


def _fit_kmeans(X, k, random_state):
    """Best of batches of k-means++ restarts, stopping once the lowest inertia has been
    reached by :data:`KMEANS_CONFIRMATIONS` independent batches (deterministic for a given
    ``random_state``). Returns the labels and ``inertia``, ``n_init`` (starts run) and
    ``confirmed`` (whether the lowest inertia was reproduced)."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    best = None
    hits = 0
    batches = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for batch in range(KMEANS_MAX_BATCHES):
            km = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=random_state + batch)
            km.fit(X)
            batches += 1
            if best is None or km.inertia_ < best.inertia_ * (1 - KMEANS_TOLERANCE):
                best, hits = km, 1
            elif km.inertia_ <= best.inertia_ * (1 + KMEANS_TOLERANCE):
                hits += 1
            if hits >= KMEANS_CONFIRMATIONS:
                break
    assert best is not None
    return best.labels_.astype(int), {
        "inertia": float(best.inertia_),
        "n_init": batches * KMEANS_N_INIT,
        "confirmed": hits >= KMEANS_CONFIRMATIONS,
    }


def _kmeans_note(n: int, extra: dict[str, Any]) -> str:
    """The page note of a K-Means fit: the starts run and whether the best was reproduced."""
    found = (
        f"the lowest inertia was reached by {KMEANS_CONFIRMATIONS} independent batches of "
        f"{KMEANS_N_INIT} starts"
        if extra["confirmed"]
        else "the lowest inertia was not reproduced by a second batch: other seeds may "
        "group some customers differently"
    )
    return (
        f"K-Means fitted on all {_fmt(n)} customers, best of {extra['n_init']} "
        f"k-means++ starts; {found}."
    )


def _fit_hierarchical(X, k, linkage, max_exact, random_state):
    from sklearn.cluster import AgglomerativeClustering

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
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

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
    from scipy.spatial import cKDTree
    from sklearn.cluster import DBSCAN

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


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _fmt(n: int) -> str:
    return f"{n:,}"


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


def _fit(
    method: str, X: np.ndarray, params: dict[str, Any], eps, min_samples, max_exact
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], KDistance | None, list[str]]:
    """Fit ``method`` (adding what it used to ``params``). Returns the fitted label per row
    of ``X`` (-1: noise), the rows fitted, the extra diagnostics, the k-distance curve (DBSCAN)
    and the notes in plain language."""
    k: int = params.get("k") or 0  # 0 for DBSCAN, which finds its clusters
    random_state = params["random_state"]
    linkage, covariance_type = params.get("linkage"), params.get("covariance_type")
    n = len(X)
    kd = None
    extra: dict[str, Any] = {}
    notes: list[str] = []
    if method == "kmeans":
        labels_raw, extra = _fit_kmeans(X, k, random_state)
        fit_idx = np.arange(n)
        params["n_init"] = extra["n_init"]
        notes.append(_kmeans_note(n, extra))
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
    return labels_raw, fit_idx, extra, kd, notes


def _cluster(customers, method, **options) -> ClusterResult:
    """:func:`cluster_customers` (``options``: its keyword arguments), threads already limited."""
    t0 = time.perf_counter()
    method, params, min_samples, max_exact = _check_params(method, **options)
    eps = options["eps"]
    feats, random_state = params["features"], params["random_state"]
    cust, X, spec = _customer_features(
        customers, method, feats, params["transform"], params["scale"], params.get("k"), min_samples
    )
    n = len(cust)
    labels_raw, fit_idx, extra, kd, notes = _fit(method, X, params, eps, min_samples, max_exact)
    approximate = len(fit_idx) < n

    # ---- naming ----------------------------------------------------------------------------
    names, ids_sorted, raw_ids, display_raw, ranking, medians, med_cols, has_noise = _name_clusters(
        cust, labels_raw, feats
    )

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
    diag.update(_scores(X, ids_sorted, random_state))
    sil, sil_n = diag["silhouette"], diag["silhouette_sample_size"]
    keep = ids_sorted >= 0
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
    if len(raw_ids) > 1 and "monetary" in cust.columns:
        notes.append(f"Clusters are named and listed by {RANKING_MEASURE}, highest first.")

    coords_sorted, evr, comps = _pca2(X)
    coords = coords_sorted[pos_in_sorted]

    # ---- profiles --------------------------------------------------------------------------
    grp_codes = np.where(ids_sorted >= 0, ids_sorted, len(names) - 1)
    profiles = _profiles(cust, grp_codes, names, display_raw, ranking, medians, med_cols, has_noise)

    agreement = None
    if "segment" in cust.columns:
        agreement, diag["ari_vs_segments"] = _label_agreement(cust["segment"], grp_codes, names)
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
