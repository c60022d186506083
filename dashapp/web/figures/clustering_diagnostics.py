"""Figures of the Clustering page's diagnostics: the elbow and silhouette curve (K-Means),
the k-distance curve (DBSCAN), the dendrogram (hierarchical) and the BIC curve (mixture)."""

from __future__ import annotations

import numpy as np

from dashapp.service import ClusterDiagnostics
from dashapp.web.figures.base import COLORS, PRIMARY, empty_figure, figure


# --------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------
def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _k_marker(k) -> list[dict]:
    if k is None:
        return []
    return [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": k,
            "x1": k,
            "y0": 0,
            "y1": 1,
            "line": {"color": COLORS[4], "dash": "dot", "width": 1.5},
        }
    ]


def _suggested_marker(diag: ClusterDiagnostics, yaxis: str) -> list[dict]:
    """A diamond on the curve at the k it favours (highest silhouette, lowest BIC)."""
    best = diag.suggestion
    if best is None:
        return []
    better = "highest" if best.measure == "silhouette" else "lowest"
    return [
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": [best.k],
            "y": [round(best.score, 4 if best.measure == "silhouette" else 1)],
            "yaxis": yaxis,
            "name": f"Suggested k = {best.k} ({better} {best.measure})",
            "text": [f"k = {best.k}"],
            "textposition": "top center",
            "marker": {"color": COLORS[3], "size": 13, "symbol": "diamond"},
            "hoverinfo": "skip",
        }
    ]


def elbow_figure(diag: ClusterDiagnostics) -> dict:
    """K-Means inertia (elbow) and silhouette over k; the chosen k marked."""
    curve = diag.curve
    k = diag.k
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": curve["k"].to_numpy(),
            "y": curve["inertia"].to_numpy(dtype=float).round(2),
            "name": "Inertia (left)",
            "line": {"color": PRIMARY},
            "hovertemplate": "k=%{x}: inertia %{y:,.0f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": curve["k"].to_numpy(),
            "y": curve["silhouette"].to_numpy(dtype=float).round(4),
            "name": "Silhouette (right)",
            "yaxis": "y2",
            "line": {"color": COLORS[1]},
            "hovertemplate": "k=%{x}: silhouette %{y:.3f}<extra></extra>",
        },
    ]
    data += _suggested_marker(diag, "y2")
    return figure(
        data,
        height=340,
        shapes=_k_marker(k),
        xaxis={"title": {"text": "Number of clusters k"}, "dtick": 1},
        yaxis={"title": {"text": "Inertia (within-cluster sum of squares)"}, "tickformat": ",.0f"},
        yaxis2={
            "title": {"text": "Silhouette"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "automargin": True,
            "tickformat": ".2f",
        },
        legend={"orientation": "h", "y": 1.12, "x": 0},
        margin={"l": 60, "r": 60, "t": 40, "b": 45},
    )


def kdistance_figure(diag: ClusterDiagnostics) -> dict:
    """Sorted distances to the k-th nearest neighbour, the knee and the eps used."""
    rank, dist = np.asarray(diag.curve["rank"]), np.asarray(diag.curve["distance"], dtype=float)
    knee_i = diag.extra["knee_index"]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": rank,
            "y": dist.round(4),
            "name": f"Distance to the {_ordinal(diag.extra['k'])} nearest neighbour "
            "(the customer counted)",
            "line": {"color": PRIMARY},
            "hovertemplate": "customer #%{x:,} (sorted): %{y:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": [knee_i],
            "y": [round(diag.extra["knee_eps"], 4)],
            "name": f"Knee: eps = {diag.extra['knee_eps']:.3f}",
            "marker": {"color": COLORS[3], "size": 11, "symbol": "diamond"},
            "hovertemplate": "knee at %{y:.3f}<extra></extra>",
        },
    ]
    eps = diag.extra["eps"]
    label = f"eps used = {eps:.3f}" + (
        " (automatic, at the knee)" if diag.extra["eps_auto"] else " (set by you)"
    )
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": eps,
            "y1": eps,
            "line": {"color": COLORS[4], "dash": "dash", "width": 1.5},
        }
    ]
    notes = [
        {
            "text": label,
            "xref": "paper",
            "yref": "y",
            "x": 0.01,
            "y": eps,
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 11, "color": COLORS[4]},
        }
    ]
    return figure(
        data,
        height=340,
        shapes=shapes,
        annotations=notes,
        xaxis={"title": {"text": "Customers, sorted by that distance"}, "tickformat": ",d"},
        yaxis={"title": {"text": "Distance (scaled feature units)"}},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        margin={"l": 60, "r": 20, "t": 40, "b": 45},
    )


def dendrogram_figure(diag: ClusterDiagnostics) -> dict:
    """The merge tree of a customer sample (one line per merge) and the cut for k clusters."""
    xs, ys = [], []
    for ic, dc in zip(diag.extra["icoord"], diag.extra["dcoord"], strict=True):
        xs.extend([*ic, None])
        ys.extend([*(round(v, 4) for v in dc), None])
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": xs,
            "y": ys,
            "name": "Merges",
            "line": {"color": PRIMARY, "width": 1},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    ]
    shapes, notes = [], []
    cut = diag.extra.get("cut_height")
    if cut is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "yref": "y",
                "x0": 0,
                "x1": 1,
                "y0": cut,
                "y1": cut,
                "line": {"color": COLORS[4], "dash": "dash", "width": 1.5},
            }
        )
        notes.append(
            {
                "text": f"cut into k = {diag.k} clusters",
                "xref": "paper",
                "yref": "y",
                "x": 1,
                "xanchor": "right",
                "y": cut,
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": COLORS[4]},
            }
        )
    return figure(
        data,
        height=340,
        shapes=shapes,
        annotations=notes,
        xaxis={
            "showticklabels": False,
            "showgrid": False,
            "title": {"text": f"{diag.n_points:,} customers (leaves)"},
        },
        yaxis={"title": {"text": f"Merge height ({diag.extra['linkage']} linkage)"}},
        margin={"l": 60, "r": 20, "t": 20, "b": 45},
    )


def bic_figure(diag: ClusterDiagnostics) -> dict:
    """BIC and AIC of the Gaussian mixture over k (lower is better); minimum and k marked."""
    curve = diag.curve
    ks = curve["k"].to_numpy()
    bic = curve["bic"].to_numpy(dtype=float)
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": ks,
            "y": bic.round(1),
            "name": "BIC",
            "line": {"color": PRIMARY},
            "hovertemplate": "k=%{x}: BIC %{y:,.0f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": ks,
            "y": curve["aic"].to_numpy(dtype=float).round(1),
            "name": "AIC",
            "line": {"color": COLORS[1], "dash": "dot"},
            "hovertemplate": "k=%{x}: AIC %{y:,.0f}<extra></extra>",
        },
    ]
    data += _suggested_marker(diag, "y")
    return figure(
        data,
        height=340,
        shapes=_k_marker(diag.k),
        xaxis={"title": {"text": "Number of components k"}, "dtick": 1},
        yaxis={
            "title": {
                "text": f"Information criterion ({diag.extra['covariance_type']} covariance)"
            },
            "tickformat": ",.0f",
        },
        legend={"orientation": "h", "y": 1.12, "x": 0},
        margin={"l": 70, "r": 20, "t": 40, "b": 45},
    )


def diagnostics_figure(diag: ClusterDiagnostics) -> dict:
    """The figure for a ``service.cluster_diagnostics`` result."""
    if diag.reason:
        return empty_figure(diag.reason, height=340)
    builder = {
        "elbow": elbow_figure,
        "k_distance": kdistance_figure,
        "dendrogram": dendrogram_figure,
        "bic": bic_figure,
    }.get(diag.kind)
    return builder(diag) if builder else empty_figure("No diagnostics", height=340)
