"""Figure builders: plain functions from result frames to Plotly figures.

One Plotly template matches the app's Bootstrap theme (Flatly). Builders use
``plotly.graph_objects`` directly (plotly.express costs tens of milliseconds per figure) and
never compute analytics: they receive results from the service layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

PRIMARY = "#2c3e50"
COLORS = ["#2c3e50", "#18bc9c", "#3498db", "#f39c12", "#e74c3c", "#8e44ad", "#16a085",
          "#d35400", "#7f8c8d", "#27ae60", "#c0392b"]
MUTED = "#b4bcc2"
FONT = "Lato, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.update(
    colorway=COLORS,
    font=dict(family=FONT, size=13, color="#212529"),
    margin=dict(l=50, r=20, t=40, b=40),
    hoverlabel=dict(font_family=FONT),
    title=dict(font=dict(size=15)),
)
pio.templates["dashapp"] = TEMPLATE


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


def empty_figure(message: str = "") -> go.Figure:
    fig = go.Figure(layout=dict(template="dashapp", height=320))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    if message:
        fig.add_annotation(text=message, showarrow=False, font=dict(size=14, color="#7b8a8b"),
                           xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def monthly_revenue(monthly: pd.DataFrame, currency: str = "£") -> go.Figure:
    """Bars of net revenue per month; months only partly covered are drawn lighter and
    labelled, so a short last month is not read as a collapse in sales."""
    if monthly.empty:
        return empty_figure("No invoices in this range")
    partial = monthly["partial"].to_numpy(dtype=bool)
    fig = go.Figure()
    for is_partial, name, color in ((False, "Net revenue", PRIMARY),
                                    (True, "Partial month (data or filter covers part of it)", MUTED)):
        part = monthly[partial == is_partial]
        if part.empty:
            continue
        fig.add_trace(go.Bar(
            x=part["month"], y=part["revenue"], marker_color=color, name=name,
            hovertemplate="%{x|%b %Y}" + (" (partial)" if is_partial else "")
                          + "<br>Net revenue " + currency + "%{y:,.0f}<extra></extra>",
        ))
    fig.add_trace(go.Scatter(
        x=monthly["month"], y=monthly["customer_revenue"], mode="lines+markers",
        name="of which identified customers", line=dict(color=COLORS[1], width=2),
        hovertemplate="Identified customers " + currency + "%{y:,.0f}<extra></extra>",
    ))
    fig.update_layout(template="dashapp", height=360, bargap=0.15, barmode="overlay",
                      yaxis=dict(title=f"Net revenue ({currency})", tickformat=",.0f"),
                      xaxis=dict(dtick="M1", tickformat="%b\n%Y"),
                      legend=dict(orientation="h", y=1.08, x=0))
    return fig


# --------------------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------------------
SEGMENT_COLORS = {
    "Champions": "#18bc9c", "Loyal Customers": "#16a085", "Potential Loyalists": "#3498db",
    "New Customers": "#5dade2", "Promising": "#85c1e9", "Need Attention": "#f39c12",
    "About To Sleep": "#f5b041", "At Risk": "#e67e22", "Can't Lose Them": "#e74c3c",
    "Hibernating": "#95a5a6",
}


def rf_heatmap(counts: np.ndarray, revenue: np.ndarray, cells: np.ndarray,
               show: str = "customers", currency: str = "£") -> go.Figure:
    """5x5 R x F grid: colour = customers (or revenue), text = segment name and value."""
    z = counts if show == "customers" else revenue
    label = "Customers" if show == "customers" else f"Revenue ({currency})"
    text = [[f"{cells[r, f]}<br>{counts[r, f]:,} cust.<br>{currency}{revenue[r, f]:,.0f}"
             for f in range(5)] for r in range(5)]
    fig = go.Figure(go.Heatmap(
        z=z, x=[1, 2, 3, 4, 5], y=[1, 2, 3, 4, 5], text=text, texttemplate="%{text}",
        textfont=dict(size=10), colorscale="Blues", colorbar=dict(title=label),
        hovertemplate="R=%{y}, F=%{x}<br>%{text}<extra></extra>", xgap=2, ygap=2,
    ))
    fig.update_layout(template="dashapp", height=460,
                      xaxis=dict(title="F score (5 = most frequent)", dtick=1),
                      yaxis=dict(title="R score (5 = most recent)", dtick=1))
    return fig


def segment_treemap(summary: pd.DataFrame, currency: str = "£") -> go.Figure:
    data = summary[summary["customers"] > 0]
    if data.empty or data["revenue"].clip(lower=0).sum() <= 0:
        return empty_figure("No revenue to show")
    values = data["revenue"].clip(lower=0)
    fig = go.Figure(go.Treemap(
        labels=data["segment"], parents=[""] * len(data), values=values,
        marker=dict(colors=[SEGMENT_COLORS.get(s, MUTED) for s in data["segment"]]),
        customdata=np.stack([data["customers"], data["revenue_share"] * 100], axis=1),
        texttemplate="<b>%{label}</b><br>" + currency + "%{value:,.0f}<br>%{customdata[1]:.1f}%",
        hovertemplate="%{label}<br>" + currency + "%{value:,.0f} revenue<br>%{customdata[0]:,} "
                      "customers<extra></extra>",
        sort=True,
    ))
    fig.update_layout(template="dashapp", height=420, margin=dict(l=5, r=5, t=10, b=5))
    return fig


def segment_bars(summary: pd.DataFrame) -> go.Figure:
    data = summary.iloc[::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=data["segment"], x=data["customer_share"] * 100, orientation="h",
                         name="% of customers", marker_color=PRIMARY,
                         hovertemplate="%{y}: %{x:.1f}% of customers<extra></extra>"))
    fig.add_trace(go.Bar(y=data["segment"], x=data["revenue_share"] * 100, orientation="h",
                         name="% of revenue", marker_color=COLORS[1],
                         hovertemplate="%{y}: %{x:.1f}% of revenue<extra></extra>"))
    fig.update_layout(template="dashapp", height=420, barmode="group",
                      xaxis=dict(title="Share (%)", ticksuffix="%"),
                      legend=dict(orientation="h", y=1.08, x=0),
                      margin=dict(l=140, r=20, t=40, b=40))
    return fig


def rfm_distributions(scored: pd.DataFrame, currency: str = "£") -> go.Figure:
    """Histograms of recency, frequency and monetary. Frequency and monetary are heavy-tailed,
    so they are binned on a log scale."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "Recency (days)", "Frequency (invoices, log scale)", f"Monetary ({currency}, log scale)"))
    fig.add_trace(go.Histogram(x=scored["recency"], nbinsx=40, marker_color=PRIMARY,
                               hovertemplate="%{x} days: %{y} customers<extra></extra>"), 1, 1)
    for col, metric in ((2, "frequency"), (3, "monetary")):
        values = scored[metric].to_numpy(dtype=float)
        positive = values[values > 0]
        if len(positive) == 0:
            continue
        lo, hi = np.log10(positive.min()), np.log10(positive.max())
        edges = np.logspace(lo, hi + 1e-9, 31) if hi > lo else np.array([positive.min(), positive.min() * 1.01])
        counts, edges = np.histogram(positive, bins=edges)
        mids = np.sqrt(edges[:-1] * edges[1:])
        fig.add_trace(go.Bar(x=mids, y=counts, width=np.diff(edges), marker_color=COLORS[col - 1],
                             customdata=np.stack([edges[:-1], edges[1:]], axis=1),
                             hovertemplate="%{customdata[0]:,.0f}–%{customdata[1]:,.0f}: "
                                           "%{y} customers<extra></extra>"), 1, col)
        fig.update_xaxes(type="log", row=1, col=col)
    fig.update_layout(template="dashapp", height=320, showlegend=False, bargap=0.05)
    fig.update_yaxes(title_text="Customers", row=1, col=1)
    return fig
