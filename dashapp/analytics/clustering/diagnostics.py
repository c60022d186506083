"""Diagnostics: the k-distance curve (DBSCAN's eps), the silhouette, the elbow curve
(K-Means), the BIC curve (Gaussian mixture), the dendrogram (hierarchical) and the quality scores
of a clustering (step 5 of :func:`~dashapp.analytics.clustering.engine.cluster_customers`:
silhouette on a sample of at most 2,000 customers, Davies-Bouldin, Calinski-Harabasz).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # loaded where used: scikit-learn and scipy cost ~55 MB per worker
    from scipy.spatial import cKDTree

from dashapp.analytics.clustering.features import (
    COVARIANCE_TYPES,
    LINKAGES,
    ClusteringError,
    _check_2d,
    _check_choice,
    _check_int,
)
from dashapp.analytics.clustering.sampling import _rng_sample, _threads

__all__ = [
    "DENDROGRAM_MAX_POINTS",
    "KDIST_MAX_POINTS",
    "SILHOUETTE_SAMPLE",
    "KDistance",
    "bic_curve",
    "dendrogram_data",
    "elbow_curve",
    "k_distance",
    "silhouette",
    "suggest_k",
]

SILHOUETTE_SAMPLE = 2_000  # silhouette is O(s^2): ~30 ms on 2,000 points, ~0.9 s on 5,000
KDIST_MAX_POINTS = 10_000
DENDROGRAM_MAX_POINTS = 500


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


def _knee(y: np.ndarray) -> int:
    m = len(y)
    if m < 3 or y[-1] <= y[0]:
        return m - 1
    x = np.linspace(0.0, 1.0, m)
    yn = (y - y[0]) / (y[-1] - y[0])
    return int(np.argmax(x - yn))


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
    from scipy.spatial import cKDTree

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
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

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
    from scipy.cluster import hierarchy

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


def bic_curve(
    X: np.ndarray,
    ks: Iterable[int],
    covariance_type: str,
    *,
    max_points: int,
    random_state: int = 0,
) -> pd.DataFrame:
    """BIC and AIC of a Gaussian mixture per number of components (the mixture's "elbow").

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features)
        Feature matrix (e.g. from :func:`build_features`).
    ks : iterable of int
        Numbers of components, each at least 1; computed in increasing order, once each.
    covariance_type : {"full", "tied", "diag", "spherical"}
    max_points : int
        Above this, the mixtures are fitted (and scored) on a deterministic random sample of
        that many rows.
    random_state : int, default 0
        Seeds the sample and the mixtures.

    Returns
    -------
    DataFrame with one row per k
        ``k`` (int), ``bic`` and ``aic`` (float, on the points fitted; lower is better; NaN
        when k is larger than the number of points). ``frame.attrs["n_points"]`` is the
        number of points fitted, ``frame.attrs["n_total"]`` the number of rows of ``X``.

    Raises
    ------
    ClusteringError
        Unknown covariance type, bad ``X``, ``ks`` or ``max_points``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    X = _check_2d(X)
    covariance_type = _check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
    ks = sorted({_check_int("k", k, 1) for k in ks})
    if not ks:
        raise ClusteringError("Give at least one number of clusters.")
    max_points = _check_int("max_points", max_points, 1)
    n = len(X)
    Xs = X[_rng_sample(n, max_points, random_state)]
    rows = []
    with _threads(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in ks:
            if k > len(Xs):
                rows.append((k, np.nan, np.nan))
                continue
            gm = GaussianMixture(
                n_components=k, covariance_type=covariance_type, random_state=random_state
            ).fit(Xs)
            rows.append((k, float(gm.bic(Xs)), float(gm.aic(Xs))))
    frame = pd.DataFrame(rows, columns=["k", "bic", "aic"])
    frame.attrs.update(n_points=len(Xs), n_total=n)
    return frame


def _scores(X: np.ndarray, labels: np.ndarray, random_state: int) -> dict[str, Any]:
    """Quality of a clustering, outliers (label -1) left out: ``silhouette`` (on a sample of
    at most :data:`SILHOUETTE_SAMPLE`), ``silhouette_sample_size``, ``davies_bouldin``,
    ``calinski_harabasz``; NaN where undefined."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    diag: dict[str, Any] = {}
    sil, sil_n = _silhouette(X, labels, random_state)
    diag["silhouette"], diag["silhouette_sample_size"] = sil, sil_n
    keep = labels >= 0
    if 2 <= len(np.unique(labels[keep])) <= int(keep.sum()) - 1:
        diag["davies_bouldin"] = float(davies_bouldin_score(X[keep], labels[keep]))
        diag["calinski_harabasz"] = float(calinski_harabasz_score(X[keep], labels[keep]))
    else:
        diag["davies_bouldin"] = diag["calinski_harabasz"] = float("nan")
    return diag


#: A chosen k is a poor fit when its silhouette is this much below the best k's ...
SILHOUETTE_GAP = 0.05
#: ... or its BIC this much above the lowest (a BIC difference above 10 is "very strong"
#: evidence for the lower one; Kass & Raftery 1995).
BIC_GAP = 10.0


@dataclass(frozen=True)
class KSuggestion:
    """The k a diagnostic curve favours: ``k`` with the best ``score`` of ``measure``
    ("silhouette", higher is better, or "BIC", lower is better); ``current_score`` is the
    chosen k's (NaN when the curve lacks it) and ``poor_fit`` says whether the chosen k
    falls short of the best by more than :data:`SILHOUETTE_GAP` / :data:`BIC_GAP`."""

    k: int
    measure: str
    score: float
    current_k: int | None
    current_score: float
    poor_fit: bool


def suggest_k(curve: pd.DataFrame, kind: str, current_k: int | None) -> KSuggestion | None:
    """The best k of an elbow curve (highest silhouette) or a BIC curve (lowest BIC); None
    for other curves or when no k has a finite score."""
    column = {"elbow": "silhouette", "bic": "bic"}.get(kind)
    if column is None or curve is None or column not in curve:
        return None
    ks = curve["k"].to_numpy(dtype=int)
    scores = curve[column].to_numpy(dtype=float)
    finite = np.isfinite(scores)
    if not finite.any():
        return None
    higher_is_better = column == "silhouette"
    best = int(np.nanargmax(np.where(finite, scores, -np.inf)) if higher_is_better
               else np.nanargmin(np.where(finite, scores, np.inf)))  # fmt: skip
    score = float(scores[best])
    at = np.flatnonzero(ks == current_k) if current_k is not None else np.array([], dtype=int)
    current = float(scores[at[0]]) if at.size else float("nan")
    gap = (score - current) if higher_is_better else (current - score)
    limit = SILHOUETTE_GAP if higher_is_better else BIC_GAP
    return KSuggestion(
        k=int(ks[best]),
        measure="silhouette" if higher_is_better else "BIC",
        score=score,
        current_k=current_k,
        current_score=current,
        poor_fit=bool(np.isfinite(gap) and gap > limit),
    )
