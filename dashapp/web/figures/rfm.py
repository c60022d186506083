"""Figures of the RFM page: the R x F grid, segment treemap and bars, distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashapp.service.selection import token
from dashapp.web.figures.base import (
    COLORS,
    MUTED,
    PRIMARY,
    SEQUENTIAL,
    empty_figure,
    figure,
    log_axis,
    log_histogram,
)

# --------------------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------------------
SEGMENT_COLORS = {
    "Champions": "#18bc9c",
    "Loyal Customers": "#16a085",
    "Potential Loyalists": "#3498db",
    "New Customers": "#5dade2",
    "Promising": "#85c1e9",
    "Need Attention": "#f39c12",
    "About To Sleep": "#f5b041",
    "At Risk": "#e67e22",
    "Can't Lose Them": "#e74c3c",
    "Hibernating": "#95a5a6",
}


def rf_heatmap(
    counts: np.ndarray,
    revenue: np.ndarray,
    cells: np.ndarray,
    show: str = "customers",
    currency: str = "£",
) -> dict:
    """5x5 R x F grid: colour = customers (or revenue), text = segment name and values."""
    z = counts if show == "customers" else np.round(revenue, 2)
    label = "Customers" if show == "customers" else f"Revenue ({currency})"
    text = [
        [
            f"{cells[r, f]}<br>{counts[r, f]:,} cust.<br>{currency}{revenue[r, f]:,.0f}"
            for f in range(5)
        ]
        for r in range(5)
    ]
    return figure(
        [
            {
                "type": "heatmap",
                "z": z.tolist(),
                "x": [1, 2, 3, 4, 5],
                "y": [1, 2, 3, 4, 5],
                "text": text,
                "texttemplate": "%{text}",
                "textfont": {"size": 10},
                # the customers of a cell, for the drill-down (components.drill)
                "customdata": [
                    [token(r_score=r + 1, f_score=f + 1) for f in range(5)] for r in range(5)
                ],
                "colorscale": SEQUENTIAL,
                "colorbar": {"title": {"text": label}},
                "hovertemplate": "R=%{y}, F=%{x}<br>%{text}<extra></extra>",
                "xgap": 2,
                "ygap": 2,
            }
        ],
        height=460,
        xaxis={"title": {"text": "F score (5 = most frequent)"}, "dtick": 1},
        yaxis={"title": {"text": "R score (5 = most recent)"}, "dtick": 1},
        # on a phone (assets/switches.js): each cell shows its customer count alone (segment
        # and revenue move to the hover) and the colour bar lies below the grid
        meta={"narrow": {"data": [narrow_cells(counts, text, label)], "layout": {"height": 420}}},
    )


def narrow_cells(counts: np.ndarray, text: list[list[str]], label: str) -> dict:
    """Trace overrides of the R x F grid on a phone: a cell about 30 px wide holds a count."""
    return {
        "text": [[f"{counts[r, f]:,}" for f in range(5)] for r in range(5)],
        "hovertext": text,
        "hovertemplate": "R=%{y}, F=%{x}<br>%{hovertext}<extra></extra>",
        "textfont": {"size": 12},
        "colorbar": {
            "orientation": "h",
            "thickness": 10,
            "y": -0.32,
            "yanchor": "top",
            "title": {"side": "top"},
        },  # fmt: skip
    }


def segment_treemap(summary: pd.DataFrame, currency: str = "£") -> dict:
    data = summary[summary["customers"] > 0]
    if data.empty or data["revenue"].clip(lower=0).sum() <= 0:
        return empty_figure("No revenue to show")
    return figure(
        [
            {
                "type": "treemap",
                "labels": data["segment"].tolist(),
                "parents": [""] * len(data),
                "values": data["revenue"].clip(lower=0).round(2).tolist(),
                "marker": {"colors": [SEGMENT_COLORS.get(s, MUTED) for s in data["segment"]]},
                "customdata": [
                    [int(n), round(float(share) * 100, 2), token(segment=segment)]
                    for n, share, segment in zip(
                        data["customers"], data["revenue_share"], data["segment"], strict=True
                    )
                ],
                "texttemplate": "<b>%{label}</b><br>"
                + currency
                + "%{value:,.0f}<br>%{customdata[1]:.1f}%",
                "hovertemplate": "%{label}<br>" + currency + "%{value:,.0f} revenue<br>"
                "%{customdata[0]:,} customers<extra></extra>",
                "sort": True,
            }
        ],
        height=420,
        margin={"l": 5, "r": 5, "t": 10, "b": 5},
    )


def segment_bars(summary: pd.DataFrame) -> dict:
    data = summary.iloc[::-1]
    segments = data["segment"].tolist()
    picks = [token(segment=segment) for segment in segments]  # drill-down (components.drill)
    return figure(
        [
            {
                "type": "bar",
                "y": segments,
                "x": np.round(data["customer_share"] * 100, 2).tolist(),
                "orientation": "h",
                "name": "% of customers",
                "customdata": picks,
                "marker": {"color": PRIMARY},
                "hovertemplate": "%{y}: %{x:.1f}% of customers<extra></extra>",
            },
            {
                "type": "bar",
                "y": segments,
                "x": np.round(data["revenue_share"] * 100, 2).tolist(),
                "orientation": "h",
                "name": "% of revenue",
                "customdata": picks,
                "marker": {"color": COLORS[1]},
                "hovertemplate": "%{y}: %{x:.1f}% of revenue<extra></extra>",
            },
        ],
        height=420,
        barmode="group",
        xaxis={"title": {"text": "Share (%)"}, "ticksuffix": "%"},
        margin={"l": 140, "r": 20, "t": 40, "b": 40},
    )


def rfm_distributions(scored: pd.DataFrame, currency: str = "£") -> dict:
    """Histograms of recency, frequency and monetary side by side. Frequency and monetary
    are heavy-tailed, so they are binned on a log scale."""
    titles = (
        "Recency (days)",
        "Frequency (invoices, log scale)",
        f"Monetary ({currency}, log scale, > 0)",
    )
    domains = ((0.0, 0.29), (0.355, 0.645), (0.71, 1.0))
    counts, edges = np.histogram(scored["recency"].to_numpy(dtype=float), bins=40)
    data = [
        {
            "type": "bar",
            "x": ((edges[:-1] + edges[1:]) / 2).tolist(),
            "y": counts.tolist(),
            "width": np.diff(edges).tolist(),
            "marker": {"color": PRIMARY},
            "hovertemplate": "%{x:.0f} days: %{y} customers<extra></extra>",
        }
    ]
    layout = {"height": 320, "showlegend": False, "bargap": 0.05, "annotations": []}
    for i, metric in enumerate(("frequency", "monetary")):
        counts, edges = log_histogram(scored[metric].to_numpy(dtype=float))
        mids = np.sqrt(edges[:-1] * edges[1:])
        data.append(
            {
                "type": "bar",
                "x": mids.tolist(),
                "y": counts.tolist(),
                "width": np.diff(edges).tolist(),
                "marker": {"color": COLORS[i + 1]},
                "xaxis": f"x{i + 2}",
                "yaxis": f"y{i + 2}",
                "customdata": np.stack([edges[:-1], edges[1:]], axis=1).round(2).tolist(),
                "hovertemplate": "%{customdata[0]:,.0f}–%{customdata[1]:,.0f}: "
                "%{y} customers<extra></extra>",
            }
        )
    for i, (title, domain) in enumerate(zip(titles, domains, strict=True)):
        suffix = "" if i == 0 else str(i + 1)
        layout[f"xaxis{suffix}"] = {
            "domain": domain,
            "anchor": f"y{suffix}",
            **(log_axis(scored[("frequency", "monetary")[i - 1]]) if i else {}),
        }
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            **({"title": {"text": "Customers"}} if i == 0 else {}),
        }
        layout["annotations"].append(
            {
                "text": title,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": sum(domain) / 2,
                "y": 1.0,
                "yanchor": "bottom",
                "font": {"size": 13},
            }
        )
    return figure(data, **layout)
