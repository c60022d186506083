"""Figure builders: plain functions from result frames to Plotly figures.

One Plotly template matches the app's Bootstrap theme (Flatly). Builders use
``plotly.graph_objects`` directly (plotly.express costs tens of milliseconds per figure) and
never compute analytics: they receive results from the service layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRIMARY = "#2c3e50"
COLORS = [
    "#2c3e50",
    "#18bc9c",
    "#3498db",
    "#f39c12",
    "#e74c3c",
    "#8e44ad",
    "#16a085",
    "#d35400",
    "#7f8c8d",
    "#27ae60",
    "#c0392b",
]
MUTED = "#b4bcc2"
FONT = "Lato, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
_AXIS = {
    "gridcolor": "#ebf0f8",
    "linecolor": "#ebf0f8",
    "zerolinecolor": "#ebf0f8",
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 12},
}

#: The app's Plotly template (matches the Flatly Bootstrap theme). Figures are plain dicts:
#: building ``plotly.graph_objects`` figures validates every property and costs 20-30 ms per
#: figure, more than the whole computation behind a view.
TEMPLATE = {
    "layout": {
        "colorway": COLORS,
        "font": {"family": FONT, "size": 13, "color": "#212529"},
        "hoverlabel": {"font": {"family": FONT}, "align": "left"},
        "hovermode": "closest",
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "title": {"font": {"size": 15}, "x": 0.02},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "legend": {"orientation": "h", "y": 1.1, "x": 0},
    }
}


def figure(data: list[dict], **layout) -> dict:
    """A Plotly figure as a dict, with the app template."""
    return {"data": data, "layout": {"template": TEMPLATE, **layout}}


def money(value: float, currency: str = "£", decimals: int = 0) -> str:
    """``£1,234,567`` style text; negative as ``-£12``; NaN as an em dash."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}{currency}{abs(value):,.{decimals}f}"


def number(value: float, decimals: int = 0) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:,.{decimals}f}"


def percent(value: float, decimals: int = 1) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{100 * value:.{decimals}f}%"


def empty_figure(message: str = "", height: int = 320) -> dict:
    layout = {"height": height, "xaxis": {"visible": False}, "yaxis": {"visible": False}}
    if message:
        layout["annotations"] = [
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": "#7b8a8b"},
            }
        ]
    return figure([], **layout)


def monthly_revenue(monthly: pd.DataFrame, currency: str = "£") -> dict:
    """Bars of net revenue per month; months only partly covered are drawn lighter and
    named in the legend, so a short last month is not read as a collapse in sales."""
    if monthly.empty:
        return empty_figure("No invoices in this range")
    partial = monthly["partial"].to_numpy(dtype=bool)
    data = []
    for is_partial, name, color in (
        (False, "Net revenue", PRIMARY),
        (True, "Partial month (data or filter covers part of it)", MUTED),
    ):
        part = monthly[partial == is_partial]
        if part.empty:
            continue
        data.append(
            {
                "type": "bar",
                "x": part["month"].dt.strftime("%Y-%m-%d").tolist(),
                "y": part["revenue"].round(2).tolist(),
                "name": name,
                "marker": {"color": color},
                # explicit widths: a one-bar trace on a date axis is otherwise 1 ms wide
                "width": (part["month"].dt.days_in_month * 0.8 * 86_400_000).tolist(),
                "hovertemplate": "%{x|%b %Y}"
                + (" (partial)" if is_partial else "")
                + "<br>Net revenue "
                + currency
                + "%{y:,.0f}<extra></extra>",
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "of which identified customers",
            "x": monthly["month"].dt.strftime("%Y-%m-%d").tolist(),
            "y": monthly["customer_revenue"].round(2).tolist(),
            "line": {"color": COLORS[1], "width": 2},
            "hovertemplate": "Identified customers " + currency + "%{y:,.0f}<extra></extra>",
        }
    )
    return figure(
        data,
        height=360,
        bargap=0.15,
        barmode="overlay",
        yaxis={"title": {"text": f"Net revenue ({currency})"}, "tickformat": ",.0f"},
        xaxis={"dtick": "M1", "tickformat": "%b\n%Y", "type": "date"},
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
                "colorscale": "Blues",
                "colorbar": {"title": {"text": label}},
                "hovertemplate": "R=%{y}, F=%{x}<br>%{text}<extra></extra>",
                "xgap": 2,
                "ygap": 2,
            }
        ],
        height=460,
        xaxis={"title": {"text": "F score (5 = most frequent)"}, "dtick": 1},
        yaxis={"title": {"text": "R score (5 = most recent)"}, "dtick": 1},
    )


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
                "customdata": np.stack(
                    [data["customers"], np.round(data["revenue_share"] * 100, 2)], axis=1
                ).tolist(),
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
    return figure(
        [
            {
                "type": "bar",
                "y": segments,
                "x": np.round(data["customer_share"] * 100, 2).tolist(),
                "orientation": "h",
                "name": "% of customers",
                "marker": {"color": PRIMARY},
                "hovertemplate": "%{y}: %{x:.1f}% of customers<extra></extra>",
            },
            {
                "type": "bar",
                "y": segments,
                "x": np.round(data["revenue_share"] * 100, 2).tolist(),
                "orientation": "h",
                "name": "% of revenue",
                "marker": {"color": COLORS[1]},
                "hovertemplate": "%{y}: %{x:.1f}% of revenue<extra></extra>",
            },
        ],
        height=420,
        barmode="group",
        xaxis={"title": {"text": "Share (%)"}, "ticksuffix": "%"},
        margin={"l": 140, "r": 20, "t": 40, "b": 40},
    )


def log_histogram(values: np.ndarray, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges of the positive values on log-spaced bins."""
    positive = values[values > 0]
    if len(positive) == 0:
        return np.zeros(0, dtype=int), np.zeros(1)
    lo, hi = np.log10(positive.min()), np.log10(positive.max())
    edges = (
        np.logspace(lo, hi + 1e-9, bins + 1)
        if hi > lo
        else np.array([positive.min(), positive.min() * 1.01])
    )
    counts, edges = np.histogram(positive, bins=edges)
    return counts, edges


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
            **({"type": "log"} if i else {}),
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
