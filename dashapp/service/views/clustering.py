"""The Clustering page: clusters of the customers, their profiles, diagnostics and agreement
with the RFM segments (engine: :mod:`dashapp.analytics.clustering`).

Memo keys are simple values: method, k, eps, min_samples, linkage, covariance type,
transform, scale and a tuple of feature names. Parameters are validated against their
declarations (:mod:`dashapp.service.params`) and those a method ignores are set to None
(:func:`cluster_params`), so K-Means with any eps shares one cache entry. An engine error
(fewer customers than clusters, all identical...) becomes the view's ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from dashapp.analytics import clustering
from dashapp.analytics.rfm import SEGMENT_ORDER
from dashapp.service import params
from dashapp.service.caching import COMPUTE_LOCK, memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View, empty_reason
from dashapp.service.views.rfm import rfm_table

#: Most points the PCA scatter receives: a sample stratified by cluster, every Outlier kept.
SCATTER_MAX_POINTS = 5_000
#: Points of the k-distance curve sent to the browser (the knee is always one of them).
KDIST_PLOT_POINTS = 800
#: Elbow / silhouette curve (K-Means) and BIC curve (mixture) over these k, on samples.
DIAG_KS = tuple(range(clustering.MIN_K, clustering.MAX_K + 1))
ELBOW_MAX_POINTS = 5_000
ELBOW_SILHOUETTE_SAMPLE = 1_000
BIC_MAX_POINTS = 3_000
#: Customer-table columns the page can cluster on or shows, in canonical order.
CLUSTER_FEATURES = ("recency", "frequency", "monetary", "tenure", "aov")
_TABLE_COLUMNS = ("recency", "frequency", "monetary", "tenure", "aov", "segment")


@dataclass(frozen=True, kw_only=True)
class ClusterView(View):
    """One clustering of the filtered customers.

    ``params`` (the parameters used, e.g. the eps chosen at the knee), ``names`` (cluster
    names in display order, "Outliers" last when present), ``diagnostics`` (silhouette,
    davies_bouldin, calinski_harabasz, n_outliers, ari_vs_segments, bic...; NaN where
    undefined), ``explained_variance`` and ``components`` of the PCA view, ``customers``
    (customer_id, cluster (ordered categorical), segment, recency, frequency, monetary,
    tenure, aov, pc1, pc2), ``scatter`` (at most :data:`SCATTER_MAX_POINTS` of them,
    stratified by cluster, every Outlier kept), ``profiles`` (size, share, revenue,
    revenue_share, value_rank, medians per cluster), ``agreement`` (customers per cluster and
    RFM segment), ``k_distance`` (DBSCAN: the plotted curve) and ``as_of``.
    """

    method: str
    method_label: str
    n_customers: int
    params: dict = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    n_clusters: int = 0
    approximate: bool = False
    n_fit: int = 0
    note: str = ""
    diagnostics: dict = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    explained_variance: list[float] = field(default_factory=list)
    components: list[list[float]] = field(default_factory=list)
    customers: pd.DataFrame | None = None
    scatter: pd.DataFrame | None = None
    scatter_sampled: bool = False
    profiles: pd.DataFrame | None = None
    agreement: pd.DataFrame | None = None
    k_distance: dict | None = None
    as_of: pd.Timestamp | None = None


@dataclass(frozen=True, kw_only=True)
class ClusterDiagnostics(View):
    """The method's diagnostic curve. ``kind`` is ``"elbow"`` (K-Means: ``curve`` with k,
    inertia, silhouette), ``"k_distance"`` (DBSCAN: ``curve`` with the plotted k-distance
    curve, the knee and eps in ``extra``), ``"dendrogram"`` (hierarchical: ``extra`` holds
    icoord, dcoord, color_list, cut_height, linkage) or ``"bic"`` (mixture: ``curve`` with
    k, bic, aic). ``n_points`` of ``n_total`` customers were used."""

    kind: str
    k: int | None = None
    curve: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    n_points: int | None = None
    n_total: int | None = None
    suggestion: Any = None  # clustering.KSuggestion for the chosen k, or None


def cluster_params(
    method=params.CLUSTER_METHOD.default,
    k=params.CLUSTER_K.default,
    eps=None,
    min_samples=None,
    linkage=params.CLUSTER_LINKAGE.default,
    covariance_type=params.CLUSTER_COVARIANCE.default,
    transform=params.CLUSTER_TRANSFORM.default,
    scale=params.CLUSTER_SCALE.default,
    features=params.CLUSTER_FEATURES.default,
) -> tuple:
    """Validated, canonical ``(method, k, eps, min_samples, linkage, covariance_type,
    transform, scale, features)``: names lower-cased and de-aliased, features in canonical
    order, and the parameters the method does not use set to None (so they share a cache
    entry). A bad value raises :class:`~dashapp.service.params.ParamError`."""
    method = params.CLUSTER_METHOD.parse(method)
    raw = dict(
        k=k,
        eps=eps,
        min_samples=min_samples,
        linkage=linkage,
        covariance_type=covariance_type,
    )
    used = {p.arg for p in params.METHOD_PARAMS[method]}
    by_arg = {p.arg: p for p in params.CLUSTER_PARAMS}
    values = {arg: by_arg[arg].parse(v) if arg in used else None for arg, v in raw.items()}
    return (
        method,
        values["k"],
        values["eps"],
        values["min_samples"],
        values["linkage"],
        values["covariance_type"],
        params.CLUSTER_TRANSFORM.parse(transform),
        params.CLUSTER_SCALE.parse(scale),
        params.CLUSTER_FEATURES.parse(features),
    )


def cluster_view(filters: Filters, *args: Any, **kwargs: Any) -> ClusterView:
    """Cluster the customers of ``filters`` (arguments as :func:`cluster_params`; memoized
    per canonical parameters, computed once however many callbacks ask at the same time)."""
    return _cluster_view(filters, *cluster_params(*args, **kwargs))


@memoized
def _cluster_view(
    dataset,
    version,
    start,
    end,
    countries,
    rules,
    method,
    k,
    eps,
    min_samples,
    linkage,
    covariance_type,
    transform,
    scale,
    features,
) -> ClusterView:
    scored = rfm_table(Filters.of(dataset, start, end, countries, rules))
    base = dict(
        method=method,
        method_label=clustering.METHOD_LABELS.get(method, str(method)),
        n_customers=len(scored),
    )
    if scored.empty:
        return ClusterView(reason=empty_reason(0), **base)
    # the segment stays out of the engine: its crosstab of text labels costs 10-20 ms of the
    # 150 ms budget at 6,000 customers; the agreement is counted below on integer codes
    columns = [f for f in features if f in scored.columns]
    columns += [c for c in _TABLE_COLUMNS if c in scored.columns and c != "segment"]
    table = scored[list(dict.fromkeys(columns))]
    kwargs = {
        "k": k,
        "eps": eps,
        "min_samples": min_samples,
        "linkage": linkage,
        "covariance_type": covariance_type,
    }
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    try:
        with COMPUTE_LOCK:
            res = clustering.cluster_customers(
                table, method, transform=transform, scale=scale, features=features, **kwargs
            )
    except clustering.ClusteringError as exc:
        return ClusterView(reason=str(exc), **base)
    return _assemble(res, table, scored, base)


def _assemble(res, table: pd.DataFrame, scored: pd.DataFrame, base: dict) -> ClusterView:
    """The view of a clustering result: customers with their cluster and PCA coordinates,
    the scatter sample, profiles and agreement with the RFM segments."""
    names = list(res.names)
    customers = pd.DataFrame(
        {"customer_id": table.index.astype(str).to_numpy(), "cluster": res.labels.array}
    )
    for col in _TABLE_COLUMNS:
        if col in scored.columns:
            customers[col] = scored[col].to_numpy()
    customers["pc1"] = res.coords[:, 0]
    customers["pc2"] = res.coords[:, 1]
    codes = customers["cluster"].cat.codes.to_numpy()
    outliers = clustering.OUTLIER_NAME
    outlier_code = names.index(outliers) if outliers in names else None
    rows = clustering.stratified_sample(codes, SCATTER_MAX_POINTS, keep=outlier_code)
    profiles = res.profiles.reset_index()
    profiles["cluster"] = profiles["cluster"].astype(str)
    profiles["value_rank"] = profiles["value_rank"].astype("float64")
    diagnostics = _plain(res.diagnostics)
    agreement = None
    if "segment" in scored.columns:
        agreement, diagnostics["ari_vs_segments"] = clustering.segment_agreement(
            codes, names, scored["segment"], SEGMENT_ORDER
        )
    return ClusterView(
        **base,
        params=_plain(res.params),
        names=names,
        n_clusters=int(res.n_clusters),
        approximate=bool(res.approximate),
        n_fit=int(res.n_fit),
        note=res.note,
        diagnostics=diagnostics,
        features=list(res.feature_spec.features),
        explained_variance=[float(v) for v in res.explained_variance_ratio],
        components=res.pca_components.tolist(),
        customers=customers,
        scatter=customers.iloc[rows].reset_index(drop=True),
        scatter_sampled=len(rows) < len(customers),
        profiles=profiles,
        agreement=agreement,
        k_distance=_kdist_plot(res.k_distance, res.params) if res.k_distance else None,
        as_of=scored.attrs.get("as_of"),
    )


def _kdist_plot(kd, used: dict) -> dict:
    """The DBSCAN k-distance curve thinned to :data:`KDIST_PLOT_POINTS` points (knee kept)."""
    m = len(kd.distances)
    pos = np.linspace(0, m - 1, min(m, KDIST_PLOT_POINTS)).round().astype(int)
    pos = np.unique(np.concatenate([pos, [kd.knee_index]]))
    return {
        "rank": pos,
        "distance": kd.distances[pos].astype(float),
        "knee_index": int(kd.knee_index),
        "knee_eps": float(kd.eps),
        "eps": float(used.get("eps", kd.eps)),
        "eps_auto": bool(used.get("eps_auto")),
        "k": int(kd.k),
        "n_points": int(kd.n_points),
        "n_total": int(kd.n_total),
    }


def _plain(mapping: dict) -> dict:
    """Numpy scalars -> Python numbers, tuples -> lists (for display and pickling)."""
    out = {}
    for key, value in mapping.items():
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def cluster_diagnostics(filters: Filters, *args: Any, **kwargs: Any) -> ClusterDiagnostics:
    """The method's diagnostic curve (arguments as :func:`cluster_params`), computed only for
    that method, each memoized on the parameters it depends on."""
    (method, k, eps, min_samples, linkage, cov, transform, scale, features) = cluster_params(
        *args, **kwargs
    )
    # The page asks for the clustering and its diagnostics at the same moment: the clustering
    # (what the user waits for) comes first -- memoized, and computed once however many
    # callbacks ask (single flight) -- then the curve.
    view = cluster_view(
        filters, method, k, eps, min_samples, linkage, cov, transform, scale, features
    )
    if method == "dbscan":
        if view.reason:
            return ClusterDiagnostics(kind="k_distance", reason=view.reason)
        kd = dict(view.k_distance or {})
        curve = pd.DataFrame({"rank": kd.pop("rank"), "distance": kd.pop("distance")})
        return ClusterDiagnostics(
            kind="k_distance",
            curve=curve,
            extra=kd,
            n_points=kd["n_points"],
            n_total=kd["n_total"],
        )
    if method == "kmeans":
        out = _elbow_view(filters, transform, scale, features)
    elif method == "hierarchical":
        out = _dendrogram_view(filters, transform, scale, features, linkage, k)
    else:
        out = _bic_view(filters, transform, scale, features, cov)
    return out if out.reason else _with_k(out, k)


def _with_k(diag: ClusterDiagnostics, k: int | None) -> ClusterDiagnostics:
    """The curve with the chosen k and the k the curve favours (elbow and BIC curves)."""
    return replace(diag, k=k, suggestion=clustering.suggest_k(diag.curve, diag.kind, k))


def _feature_matrix(filters: Filters, transform, scale, features) -> np.ndarray:
    """Feature matrix of the filtered customers (raises ClusteringError)."""
    scored = rfm_table(filters)
    if len(scored) < 2:
        raise clustering.ClusteringError(
            empty_reason(len(scored), 2) or "At least two customers are needed."
        )
    X, spec = clustering.build_features(scored, features, transform, scale)
    if len(spec.constant) == len(spec.features):
        raise clustering.ClusteringError(
            "All customers have identical values of "
            f"{', '.join(spec.features)}: there is nothing to cluster."
        )
    return X


@memoized
def _elbow_view(dataset, version, start, end, countries, rules, transform, scale, features):
    filters = Filters.of(dataset, start, end, countries, rules)
    try:
        X = _feature_matrix(filters, transform, scale, features)
        with COMPUTE_LOCK:
            curve = clustering.elbow_curve(
                X, DIAG_KS, max_points=ELBOW_MAX_POINTS, silhouette_sample=ELBOW_SILHOUETTE_SAMPLE
            )
    except clustering.ClusteringError as exc:
        return ClusterDiagnostics(kind="elbow", reason=str(exc))
    n_points = int(curve["n_points"].iloc[0])
    return ClusterDiagnostics(kind="elbow", curve=curve, n_points=n_points, n_total=len(X))


@memoized
def _dendrogram_view(
    dataset, version, start, end, countries, rules, transform, scale, features, linkage, k
):
    filters = Filters.of(dataset, start, end, countries, rules)
    try:
        X = _feature_matrix(filters, transform, scale, features)
        with COMPUTE_LOCK:
            cut = k if isinstance(k, int) and 2 <= k < len(X) else None
            d = clustering.dendrogram_data(X, linkage or "ward", k=cut)
    except clustering.ClusteringError as exc:
        return ClusterDiagnostics(kind="dendrogram", reason=str(exc))
    extra = {key: d[key] for key in ("icoord", "dcoord", "color_list", "cut_height")}
    return ClusterDiagnostics(
        kind="dendrogram",
        extra={**extra, "linkage": d["method"]},
        n_points=d["n_points"],
        n_total=d["n_total"],
    )


@memoized
def _bic_view(dataset, version, start, end, countries, rules, transform, scale, features, cov):
    filters = Filters.of(dataset, start, end, countries, rules)
    try:
        X = _feature_matrix(filters, transform, scale, features)
        with COMPUTE_LOCK:
            curve = clustering.bic_curve(X, DIAG_KS, cov, max_points=BIC_MAX_POINTS)
    except clustering.ClusteringError as exc:
        return ClusterDiagnostics(kind="bic", reason=str(exc))
    return ClusterDiagnostics(
        kind="bic",
        curve=curve,
        extra={"covariance_type": cov},
        n_points=int(curve.attrs["n_points"]),
        n_total=len(X),
    )
