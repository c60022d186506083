"""Figure builders of the Clustering page: plain Plotly figure dicts (see ``figures.figure``).

They receive the plain results of ``service.cluster_view`` / ``service.cluster_diagnostics``
and compute nothing analytical. Numeric arrays are passed as numpy arrays: Dash serialises
them with orjson in one step, where a Python list of 5,000 floats is walked element by
element.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashapp.analytics.clustering import OUTLIER_NAME
from dashapp.service import ClusterView
from dashapp.service.selection import token
from dashapp.web.figures.base import SEQUENTIAL, empty_figure, figure
from dashapp.web.format import money

#: Colours of the clusters in display order (most valuable first). Red is reserved for the
#: Outliers so that they stand out on every chart.
CLUSTER_COLORS = [
    "#18bc9c",
    "#2c3e50",
    "#3498db",
    "#f39c12",
    "#8e44ad",
    "#16a085",
    "#d35400",
    "#7f8c8d",
    "#5dade2",
    "#27ae60",
]
OUTLIER_COLOR = "#e74c3c"
#: Smallest tile of the revenue treemap, as a share of the total.
TREEMAP_MIN_SHARE = 0.03
#: Diverging scale of the profile heatmap: worse than the other clusters (orange) .. better
#: (blue), white at the average.
DIVERGING = [[0.0, "#d35400"], [0.5, "#f7f7f7"], [1.0, "#2c7fb8"]]
FEATURE_LABELS = {
    "recency": "recency",
    "frequency": "frequency",
    "monetary": "monetary",
    "tenure": "tenure",
    "aov": "avg order value",
}


def cluster_colors(names) -> dict[str, str]:
    """Cluster name -> colour, by display position; the Outliers always red."""
    colors, i = {}, 0
    for name in names:
        if name == OUTLIER_NAME:
            colors[name] = OUTLIER_COLOR
        else:
            colors[name] = CLUSTER_COLORS[i % len(CLUSTER_COLORS)]
            i += 1
    return colors


def _loadings_text(features, component) -> str:
    """``+monetary +frequency -recency``: the features that weigh on a principal component."""
    weights = np.asarray(component, dtype=float)
    if not len(weights) or not np.any(weights):
        return ""
    order = np.argsort(-np.abs(weights))
    top = [j for j in order if abs(weights[j]) >= 0.3 * np.abs(weights).max()][:3]
    return " ".join(
        f"{'+' if weights[j] > 0 else '−'}{FEATURE_LABELS.get(features[j], features[j])}"
        for j in top
    )


def _pca_titles(view: ClusterView) -> list[str]:
    """The two axis titles: the component's share of variance and the features that weigh
    on it, on two lines (on a phone one line runs past both ends of the axis)."""
    evr, feats, comps = view.explained_variance, view.features, view.components
    titles = []
    for j in range(2):
        load = _loadings_text(feats, comps[j]) if j < len(comps) else ""
        titles.append(
            f"PC{j + 1} ({100 * evr[j]:.1f}% of variance)" + (f"<br>{load}" if load else "")
        )
    return titles


def pca_scatter(view: ClusterView, currency: str = "£") -> dict:
    """Customers on the first two principal components, one WebGL trace per cluster (in
    display order, empty clusters included so that trace number = cluster position). A click
    on a point lists its cluster: the trace carries the selection once, in ``meta``
    (``components.drill``), not in each of its thousands of points."""
    pts: pd.DataFrame = view.scatter
    names = view.names
    colors = cluster_colors(names)
    sizes = dict(zip(view.profiles["cluster"], view.profiles["size"], strict=True))
    codes = pts["cluster"].cat.codes.to_numpy()
    x_all = pts["pc1"].to_numpy(dtype=float).round(4)
    y_all = pts["pc2"].to_numpy(dtype=float).round(4)
    ids = pts["customer_id"].to_numpy(dtype=object)
    hover = np.column_stack(
        [
            pts["recency"].to_numpy(dtype=float),
            pts["frequency"].to_numpy(dtype=float),
            pts["monetary"].to_numpy(dtype=float).round(2),
        ]
    )
    data = []
    for pos, name in enumerate(names):
        sel = codes == pos
        outlier = name == OUTLIER_NAME
        data.append(
            {
                "type": "scattergl",
                "mode": "markers",
                "name": f"{name} ({sizes.get(name, 0):,})",
                "x": x_all[sel],
                "y": y_all[sel],
                "text": ids[sel].tolist(),
                "customdata": np.ascontiguousarray(hover[sel]),
                "meta": {"selection": token(cluster=name)},
                "marker": {
                    "color": colors[name],
                    "size": 8 if outlier else 5,
                    "opacity": 0.95 if outlier else 0.55,
                    "symbol": "x" if outlier else "circle",
                },
                "hovertemplate": f"<b>Customer %{{text}}</b> · {name}<br>"
                "Recency %{customdata[0]:,.0f} days<br>"
                "Frequency %{customdata[1]:,.0f} invoices<br>"
                f"Monetary {currency}%{{customdata[2]:,.2f}}<extra></extra>",
            }
        )
    titles = _pca_titles(view)
    layout = {
        "height": 480,
        "xaxis": {"title": {"text": titles[0]}, "zeroline": False},
        "yaxis": {"title": {"text": titles[1]}, "zeroline": False},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "margin": {"l": 75, "r": 20, "t": 50, "b": 65},
        "uirevision": "pca",
        "modebar": {"orientation": "v"},
        "meta": {"method": view.method, "n_customers": view.n_customers},
    }
    if view.scatter_sampled:
        kept = "; every Outlier kept" if OUTLIER_NAME in names else ""
        layout["annotations"] = [
            {
                "text": f"{len(pts):,} of {view.n_customers:,} customers shown "
                f"(sample stratified by cluster{kept})",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 1,
                "y": 0,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"size": 11, "color": "#7b8a8b"},
                "bgcolor": "rgba(255,255,255,0.8)",
            }
        ]
    return figure(data, **layout)


def revenue_treemap(profiles: pd.DataFrame, currency: str = "£") -> dict:
    """Revenue by cluster. Tiles are sized by net revenue, but never below
    :data:`TREEMAP_MIN_SHARE` of the total, so that a small cluster (or one whose net revenue
    is <= 0, or the Outliers) never disappears; the text and hover give the real values."""
    if profiles.empty:
        return empty_figure("No clusters")
    colors = cluster_colors(profiles["cluster"])
    revenue = profiles["revenue"].to_numpy(dtype=float)
    positive = np.clip(revenue, 0, None)
    floor = max(positive.sum(), 1.0) * TREEMAP_MIN_SHARE
    values = np.maximum(positive, floor).round(2)
    root = "All customers"
    hover = [
        f"{money(r, currency)} · {s:.1%} of revenue<br>{n:,} customers ({c:.1%})"
        for r, s, n, c in zip(
            revenue, profiles["revenue_share"], profiles["size"], profiles["share"], strict=True
        )
    ]
    # small tiles get a short text, so that their name still fits
    text = [
        f"<b>{name}</b><br>{h}" if share >= 0.3 else f"<b>{name}</b><br>{share:.1%}"
        for name, h, share in zip(
            profiles["cluster"],
            hover,
            np.nan_to_num(profiles["revenue_share"].to_numpy(float)),
            strict=True,
        )
    ]
    return figure(
        [
            {
                "type": "treemap",
                "branchvalues": "total",
                "labels": [root, *profiles["cluster"]],
                "parents": ["", *([root] * len(profiles))],
                "values": [float(values.sum()), *values.tolist()],
                "text": ["", *text],
                # the hover text, and what a click on the tile lists (components.drill)
                "customdata": [
                    ["", ""],
                    *(
                        [h, token(cluster=c)]
                        for h, c in zip(hover, profiles["cluster"], strict=True)
                    ),
                ],  # fmt: skip
                "marker": {"colors": ["#ffffff", *[colors[c] for c in profiles["cluster"]]]},
                "texttemplate": "%{text}",
                "hovertemplate": "<b>%{label}</b><br>%{customdata[0]}<extra></extra>",
                "textfont": {"color": "white"},
                "sort": False,
                "maxdepth": 2,
                "root": {"color": "white"},
                "pathbar": {"visible": False},
            }
        ],
        height=380,
        margin={"l": 5, "r": 5, "t": 10, "b": 5},
    )


_PROFILE_COLUMNS = (
    # column, header, higher is better, formatter(value, currency)
    ("revenue_share", "Revenue share", True, lambda v, c: f"{100 * v:.1f}%"),
    ("recency_median", "Median recency (days)", False, lambda v, c: f"{v:,.0f}"),
    (
        "frequency_median",
        "Median frequency (invoices)",
        True,
        lambda v, c: f"{v:,.1f}".rstrip("0").rstrip("."),
    ),
    ("monetary_median", "Median monetary", True, lambda v, c: money(v, c)),
    ("tenure_median", "Median tenure (days)", True, lambda v, c: f"{v:,.0f}"),
    ("aov_median", "Median avg order value", True, lambda v, c: money(v, c)),
)


def profile_heatmap(profiles: pd.DataFrame, currency: str = "£") -> dict:
    """Cluster profiles: real values as text; colour = the value standardised across the
    clusters, oriented so that blue is better on every column (recency: fewer days). The
    rows are labelled with the cluster's customers (count and share)."""
    cols = [spec for spec in _PROFILE_COLUMNS if spec[0] in profiles.columns]
    if profiles.empty or not cols:
        return empty_figure("No clusters")
    z, text = [], []
    for col, _, better_high, fmt in cols:
        v = profiles[col].to_numpy(dtype=float)
        sd = np.nanstd(v)
        std = (v - np.nanmean(v)) / sd if sd > 0 else np.zeros_like(v)
        z.append(np.clip(std if better_high else -std, -2, 2))
        text.append([fmt(x, currency) if np.isfinite(x) else "—" for x in v])
    z = np.array(z).T
    text = np.array(text, dtype=object).T.tolist()
    headers = [h.replace(" (", "<br>(") for _, h, _, _ in cols]
    rows = [
        f"{name} · {size:,} ({share:.0%})"
        for name, size, share in zip(
            profiles["cluster"], profiles["size"], profiles["share"], strict=True
        )
    ]
    return figure(
        [
            {
                "type": "heatmap",
                "z": z.round(3),
                "x": headers,
                "y": rows,
                "text": text,
                "texttemplate": "%{text}",
                "textfont": {"size": 12},
                "colorscale": DIVERGING,
                "zmin": -2,
                "zmax": 2,
                "zmid": 0,
                "xgap": 2,
                "ygap": 2,
                # a click on a row lists that cluster's customers (components.drill)
                "customdata": [[token(cluster=c)] * len(headers) for c in profiles["cluster"]],
                "colorbar": {
                    "title": {"text": "vs other<br>clusters"},
                    "tickvals": [-2, 0, 2],
                    "ticktext": ["worse", "average", "better"],
                    "thickness": 12,
                },
                "hovertemplate": "%{y} · %{x}: %{text}<extra></extra>",
            }
        ],
        height=max(220, 70 + 42 * len(rows)),
        margin={"l": 190, "r": 20, "t": 70, "b": 10},
        xaxis={"side": "top", "tickangle": 0},
        yaxis={"autorange": "reversed"},
    )


def agreement_heatmap(agreement: pd.DataFrame | None, ari: float | None = None) -> dict:
    """Customers of each cluster by RFM segment; colour = share of the cluster's customers."""
    if agreement is None or agreement.empty:
        return empty_figure("No RFM segments to compare with")
    counts = agreement.to_numpy(dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, counts / totals, 0.0)
    text = [
        [f"{100 * s:.0f}%<br>({int(c):,})" if c else "" for s, c in zip(rs, rc, strict=True)]
        for rs, rc in zip(share, counts, strict=True)
    ]
    rows = [str(i) for i in agreement.index]
    layout = {
        "height": max(240, 90 + 42 * len(rows)),
        "margin": {"l": 130, "r": 20, "t": 30, "b": 90},
        "xaxis": {"tickangle": -30},
        "yaxis": {"autorange": "reversed"},
    }
    if ari is not None and np.isfinite(ari):
        layout["title"] = {
            "text": f"Adjusted Rand index vs RFM segments: {ari:.2f} "
            "(1 = same grouping, 0 = no better than chance)",
            "font": {"size": 12},
        }
        layout["margin"]["t"] = 50
    return figure(
        [
            {
                "type": "heatmap",
                "z": (100 * share).round(1),
                "x": list(agreement.columns),
                "y": rows,
                "text": text,
                "texttemplate": "%{text}",
                "textfont": {"size": 10},
                "colorscale": SEQUENTIAL,
                "zmin": 0,
                "zmax": 100,
                "xgap": 2,
                "ygap": 2,
                "colorbar": {
                    "title": {"text": "% of<br>cluster"},
                    "ticksuffix": "%",
                    "thickness": 12,
                },
                "hovertext": [[f"{int(c):,} customers" for c in rc] for rc in counts],
                # a click on a cell lists those customers (components.drill)
                "customdata": [
                    [token(cluster=r, segment=str(s)) for s in agreement.columns] for r in rows
                ],
                "hovertemplate": "%{y} → %{x}<br>%{hovertext} "
                "(%{z:.1f}% of the cluster)<extra></extra>",
            }
        ],
        **layout,
    )
