"""Figures of the CLV page: CLV distribution, Pareto curve, top customers, tracking plot,
P(alive) grid and the Gamma-Gamma independence scatter. They format and lay out; they never
compute analytics (binning a histogram for display is the most they do)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashapp.service.selection import range_token, token, top_token
from dashapp.web.figures.base import (
    COLORS,
    MUTED,
    PRIMARY,
    RED_YELLOW_GREEN,
    empty_figure,
    figure,
    log_axis,
    log_histogram,
    rounded,
)

ACTUAL_COLOR = PRIMARY


MODEL_COLOR = COLORS[3]


# --------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------
def clv_distribution(
    customers: pd.DataFrame, currency: str = "£", horizon_months: int = 12
) -> dict:
    """Histogram of predicted CLV on log-spaced bins (log x axis). Customers whose CLV rounds
    below one currency unit cannot sit on a log axis; their number is stated on the chart."""
    values = customers["clv"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    shown = values[values >= 1.0]
    if shown.size == 0:
        return empty_figure("No customer has a predicted CLV of at least 1 " + currency)
    counts, edges = log_histogram(shown, bins=40)
    mids = np.sqrt(edges[:-1] * edges[1:])
    median = float(np.median(values))
    below = int((values < 1.0).sum())
    note = f"median {currency}{median:,.0f}"
    if below:
        note += f" · {below:,} customer{'s' if below != 1 else ''} below {currency}1 not shown"
    return figure(
        [
            {
                "type": "bar",
                "x": rounded(mids, 2),
                "y": counts.tolist(),
                "width": rounded(np.diff(edges), 2),
                "marker": {"color": PRIMARY},
                "name": "Customers",
                # bin edges for the hover; last: the bin's customers (components.drill),
                # the last bin closed at the top like np.histogram's
                "customdata": [
                    [round(float(lo)), round(float(hi)), range_token("clv", lo, top)]
                    for lo, hi, top in zip(edges[:-1], edges[1:], [*edges[1:-1], None], strict=True)
                ],
                "hovertemplate": currency
                + "%{customdata[0]:,.0f} – "
                + currency
                + "%{customdata[1]:,.0f}: %{y:,} customers<extra></extra>",
            }
        ],
        height=340,
        bargap=0.02,
        showlegend=False,
        xaxis=log_axis(
            edges,
            title={"text": f"Predicted CLV, next {horizon_months} months ({currency}, log scale)"},
        ),
        yaxis={"title": {"text": "Customers"}},
        shapes=[
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": median,
                "x1": median,
                "y0": 0,
                "y1": 1,
                "line": {"color": COLORS[4], "dash": "dash", "width": 1.5},
            }
        ],
        annotations=[
            {
                "text": note,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1.02,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": "#555"},
            }
        ],
        margin={"l": 60, "r": 20, "t": 36, "b": 50},
    )


def pareto_curve(pareto: pd.DataFrame, top20: float | None = None) -> dict:
    """Cumulative share of predicted CLV and of historic revenue by share of customers
    (largest first), with the equal-share diagonal and the top 20%'s share marked."""
    x = rounded(pareto["customer_share"] * 100, 2)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": [0, 100],
            "y": [0, 100],
            "name": "Equal shares",
            "line": {"color": MUTED, "dash": "dot", "width": 1},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": rounded(pareto["revenue_share"] * 100, 2),
            "name": "Historic net revenue",
            "customdata": [top_token("monetary", round(v, 1)) if v >= 0.1 else "" for v in x],
            "line": {"color": COLORS[2], "width": 2},
            "hovertemplate": "Top %{x:.1f}% of customers: %{y:.1f}% of historic revenue"
            "<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": rounded(pareto["clv_share"] * 100, 2),
            "name": "Predicted CLV",
            "customdata": [top_token("clv", round(v, 1)) if v >= 0.1 else "" for v in x],
            "line": {"color": COLORS[1], "width": 3},
            "hovertemplate": "Top %{x:.1f}% of customers: %{y:.1f}% of predicted CLV"
            "<extra></extra>",
        },
    ]
    annotations = []
    if top20 is not None and np.isfinite(top20):
        annotations.append(
            {
                "x": 20,
                "y": 100 * top20,
                "xref": "x",
                "yref": "y",
                "text": f"top 20% hold {100 * top20:.0f}% of predicted CLV",
                "showarrow": True,
                "arrowhead": 2,
                "ax": 60,
                "ay": 30,
                "font": {"size": 12},
            }
        )
    return figure(
        data,
        height=340,
        annotations=annotations,
        xaxis={
            "title": {"text": "Share of customers, largest first (%)"},
            "range": [0, 100],
            "ticksuffix": "%",
        },
        yaxis={"title": {"text": "Cumulative share (%)"}, "range": [0, 102], "ticksuffix": "%"},
        legend={"orientation": "h", "y": -0.25, "x": 0},
        margin={"l": 60, "r": 20, "t": 20, "b": 60},
    )


def top_customers(top: pd.DataFrame, currency: str = "£", horizon_months: int = 12) -> dict:
    """Horizontal bars of the customers with the highest predicted CLV (best at the top)."""
    if top is None or top.empty:
        return empty_figure("No customers")
    data = top.iloc[::-1]
    labels = [f"#{r} · {c}" for r, c in zip(data["rank"], data["customer_id"], strict=True)]
    custom = (
        np.stack(
            [
                data["p_alive"],
                data["expected_purchases"],
                data["expected_aov"],
                data["monetary"],
                data["orders"],
            ],
            axis=1,
        )
        .round(3)
        .tolist()
    )
    # last item: the customer, for the drill-down (components.drill)
    custom = [
        [*row, token(customer_id=c)] for row, c in zip(custom, data["customer_id"], strict=True)
    ]
    return figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "y": labels,
                "x": rounded(data["clv"], 2),
                # each bar says its value: one large customer must not leave the others
                # as unreadable slivers
                "text": [f"{currency}{v:,.0f}" for v in data["clv"]],
                "textposition": "outside",
                "cliponaxis": False,
                "marker": {"color": COLORS[1]},
                "customdata": custom,
                "hovertemplate": "%{y}<br>Predicted CLV " + currency + "%{x:,.0f}<br>"
                "P(alive) %{customdata[0]:.2f} · expected purchases %{customdata[1]:.1f}"
                "<br>Expected order value " + currency + "%{customdata[2]:,.0f}<br>"
                "Historic net revenue " + currency + "%{customdata[3]:,.0f} in "
                "%{customdata[4]} orders<extra></extra>",
            }
        ],
        height=max(300, 22 * len(data) + 80),
        showlegend=False,
        xaxis={
            "title": {"text": f"Predicted CLV, next {horizon_months} months ({currency})"},
            "tickformat": ",.0f",
            # room for the largest bar's label
            "range": [0, 1.2 * float(max(data["clv"].max(), 0.0) or 1.0)],
        },
        yaxis={"type": "category", "tickfont": {"size": 11}},
        margin={"l": 110, "r": 20, "t": 10, "b": 50},
    )


# One figure literal: the traces, the cut-off marker and the shaded holdout are easier to
# check against the chart when they are read together.
def tracking_plot(tracking: pd.DataFrame, calibration_end: str, cumulative: bool = False) -> dict:
    """Weekly (or cumulative) repeat purchases of the calibrated customers, actual vs the
    model, with the calibration cut-off marked and the holdout shaded."""
    if tracking is None or tracking.empty:
        return empty_figure("No repeat purchases to track")
    x = tracking.index.strftime("%Y-%m-%d").tolist()
    actual = tracking["actual_cumulative" if cumulative else "actual"]
    model = tracking["model_cumulative" if cumulative else "model"]
    what = "Cumulative repeat purchases" if cumulative else "Repeat purchases per week"
    last_end = tracking["period_end"].iloc[-1]
    cut = pd.Timestamp(calibration_end) + pd.Timedelta(days=1)  # the cut is end of that day
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": cut.strftime("%Y-%m-%d"),
            "x1": (last_end + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(243, 156, 18, 0.08)",
            "line": {"width": 0},
            "layer": "below",
        },
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": cut.strftime("%Y-%m-%d"),
            "x1": cut.strftime("%Y-%m-%d"),
            "y0": 0,
            "y1": 1,
            "line": {"color": COLORS[4], "dash": "dash", "width": 2},
        },
    ]
    annotations = [
        {
            "x": cut.strftime("%Y-%m-%d"),
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": f"calibration end {calibration_end} → holdout",
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 12, "color": COLORS[4]},
        }
    ]
    partial = (tracking["period_end"] - tracking.index).dt.days < 6
    if not cumulative and bool(partial.iloc[-1]):
        annotations.append(
            {
                "x": x[-1],
                "y": float(actual.iloc[-1]),
                "xref": "x",
                "yref": "y",
                "text": "last week partial",
                "showarrow": True,
                "ax": -50,
                "ay": -35,
                "xanchor": "right",
                "font": {"size": 11, "color": "#555"},
            }
        )
    hover = "%{x|%d %b %Y}: %{y:,.1f}<extra>%{fullData.name}</extra>"
    return figure(
        [
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": rounded(actual, 3),
                "name": "Actual",
                "line": {"color": ACTUAL_COLOR, "width": 2},
                "hovertemplate": hover,
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": rounded(model, 3),
                "name": "Model",
                "line": {"color": MODEL_COLOR, "width": 2, "dash": "dash"},
                "hovertemplate": hover,
            },
        ],
        height=360,
        shapes=shapes,
        annotations=annotations,
        hovermode="x unified",
        xaxis={"type": "date", "title": {"text": "Week starting"}},
        yaxis={"title": {"text": what}, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2, "x": 0},
        margin={"l": 60, "r": 20, "t": 40, "b": 60},
    )


def p_alive_heatmap(matrix: pd.DataFrame) -> dict:
    """P(alive) over repeat purchases x recency for a customer observed over the whole range
    (T = ``matrix.attrs["T"]`` weeks)."""
    if matrix is None or matrix.empty:
        return empty_figure("No fitted model")
    z = np.round(matrix.to_numpy(dtype=float) * 100, 1)
    if len(matrix.index) and matrix.index[0] == 0:
        z[0, 1:] = np.nan  # no repeat purchase means t_x = 0: the rest of that row cannot occur
    t_weeks = matrix.attrs.get("T", float(matrix.columns.max()))
    return figure(
        [
            {
                "type": "heatmap",
                "z": z,
                "x": matrix.columns.to_numpy(dtype=float),
                "y": matrix.index.to_numpy(dtype=int),
                "colorscale": RED_YELLOW_GREEN,
                "zmin": 0,
                "zmax": 100,
                "colorbar": {"title": {"text": "P(alive)"}, "ticksuffix": "%"},
                "hovertemplate": "%{y} repeat purchase days, last one at week %{x:.0f}"
                "<br>P(alive) %{z:.1f}%<extra></extra>",
            }
        ],
        height=360,
        xaxis={
            "title": {
                "text": f"Recency t_x: week of the last purchase (of T = "
                f"{t_weeks:.0f} weeks observed)"
            }
        },
        yaxis={"title": {"text": "Repeat purchase days x"}},
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
    )


def independence_scatter(points: pd.DataFrame, currency: str = "£") -> dict:
    """Repeat purchases vs mean spend per repeat purchase day (log y), one dot per repeat
    customer (a sample of at most 2,000)."""
    if points is None or points.empty:
        return empty_figure("No repeat customers with positive spend")
    rng = np.random.default_rng(0)  # jitter so that equal counts do not stack in one column
    jitter = rng.uniform(-0.25, 0.25, len(points))
    return figure(
        [
            {
                "type": "scatter",
                "mode": "markers",
                "x": rounded(points["frequency"] + jitter, 2),
                "y": rounded(points["monetary_value"], 2),
                "marker": {"color": PRIMARY, "opacity": 0.45, "size": 5},
                "hovertemplate": "%{x:.0f} repeat purchase days<br>mean spend "
                + currency
                + "%{y:,.0f}<extra></extra>",
            }
        ],
        height=340,
        showlegend=False,
        xaxis=log_axis(points["frequency"], title={"text": "Repeat purchase days x (log scale)"}),
        yaxis=log_axis(
            points["monetary_value"],
            title={"text": f"Mean spend per repeat day ({currency}, log scale)"},
        ),
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
    )


# --------------------------------------------------------------------------------------
# Model comparison and intervals
# --------------------------------------------------------------------------------------
def calibration_deciles(deciles: pd.DataFrame | None, winner: str | None = None) -> dict:
    """Mean forecast against mean actual holdout purchases per customer, by decile of the
    forecast, one line per candidate (the recommended one thicker) and the diagonal."""
    if deciles is None or deciles.empty:
        return empty_figure("No model could be compared")
    traces = []
    top = float(np.nanmax(deciles[["predicted", "actual"]].to_numpy(dtype=float)))
    traces.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [0, top],
            "y": [0, top],
            "line": {"color": MUTED, "dash": "dot", "width": 1},
            "name": "perfect forecast",
            "hoverinfo": "skip",
        }
    )
    for i, (key, group) in enumerate(deciles.groupby("model", sort=False)):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": rounded(group["predicted"], 3),
                "y": rounded(group["actual"], 3),
                "name": str(group["label"].iloc[0]) + (" (recommended)" if key == winner else ""),
                "line": {"color": COLORS[i % len(COLORS)], "width": 4 if key == winner else 2},
                "customdata": group["decile"].tolist(),
                "hovertemplate": "Decile %{customdata}: forecast %{x:.2f}, actual %{y:.2f} "
                "purchases per customer<extra>%{fullData.name}</extra>",
            }
        )
    return figure(
        traces,
        height=360,
        xaxis={"title": {"text": "Forecast holdout purchases per customer (decile mean)"}},
        yaxis={"title": {"text": "Actual (decile mean)"}},
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 60, "r": 20, "t": 10, "b": 90},
    )


def clv_interval_bars(customers: pd.DataFrame | None, currency: str = "£", n: int = 20) -> dict:
    """The customers with the highest predicted CLV with their intervals (error bars)."""
    if customers is None or customers.empty:
        return empty_figure("No intervals")
    data = customers.head(n).iloc[::-1]
    clv = data["clv"].to_numpy(dtype=float)
    positive = clv[clv > 0]
    # one very large customer would squash the others' bars: a log axis keeps them readable
    log = bool(positive.size > 1 and positive.max() / positive.min() > 10)
    return figure(
        [
            {
                "type": "scatter",
                "mode": "markers",
                "x": rounded(clv, 2),
                "y": [str(c) for c in data["customer_id"]],
                "marker": {"color": COLORS[1], "size": 9},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": rounded(data["clv_hi"].to_numpy(dtype=float) - clv, 2),
                    "arrayminus": rounded(clv - data["clv_lo"].to_numpy(dtype=float), 2),
                    "color": MUTED,
                },
                "customdata": np.stack([data["clv_lo"], data["clv_hi"]], axis=1).round(0).tolist(),
                "hovertemplate": "%{y}: "
                + currency
                + "%{x:,.0f} ("
                + currency
                + "%{customdata[0]:,.0f} – "
                + currency
                + "%{customdata[1]:,.0f})<extra></extra>",
            }
        ],
        height=max(300, 22 * len(data) + 80),
        showlegend=False,
        xaxis={
            "title": {"text": f"Predicted CLV with interval ({currency}{', log scale' * log})"},
            "tickformat": ",.0f",
            "type": "log" if log else "linear",
        },
        yaxis={"type": "category", "tickfont": {"size": 11}},
        margin={"l": 80, "r": 20, "t": 10, "b": 50},
    )


def shap_importance(importance: pd.DataFrame | None) -> dict:
    """The machine-learned model's global importance: mean |SHAP value| per feature."""
    if importance is None or importance.empty:
        return empty_figure("The machine-learned model could not be trained: see the notes")
    data = importance.iloc[::-1]
    return figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "y": list(data["label"]),
                "x": rounded(data["mean_abs_shap"], 4),
                "marker": {"color": COLORS[2]},
                "hovertemplate": "%{y}: mean |SHAP| %{x:.3f}<extra></extra>",
            }
        ],
        height=300,
        showlegend=False,
        xaxis={"title": {"text": "Mean |SHAP value| (log of expected purchases)"}},
        yaxis={"type": "category", "automargin": True},
        margin={"l": 10, "r": 20, "t": 10, "b": 50},
    )
