"""Figures of the Cohorts page: retention heatmaps, cumulative revenue, cohort sizes."""

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
    rounded,
)

HATCH_COLOR = COLORS[3]  # orange: visible on light and dark cells


# --------------------------------------------------------------------------------------
# Cohorts
# --------------------------------------------------------------------------------------
def _cohort_labels(tables) -> list[str]:
    labels = []
    for period, censored in zip(tables.sizes.index, tables.left_censored, strict=True):
        labels.append(f"{period.strftime('%Y-%m')}{' ‡' if censored else ''}")
    return labels


# One figure literal: the heatmap, its hatched partial cells and the censored-cohort outline
# are layered on each other and read best together.
def cohort_heatmap(
    values: pd.DataFrame,
    tables,
    *,
    title: str,
    percent_scale: float = 100.0,
    zmax: float | None = None,
    hover_value: str = "retention",
) -> dict:
    """Cohort x months-since-acquisition heatmap (cohorts top to bottom, oldest first).

    Cells in the partial last calendar month are hatched; the left-censored first cohort is
    labelled with ‡ and outlined. ``values`` are shares (multiplied by ``percent_scale``)."""
    if values is None or values.empty:
        return empty_figure("No cohorts")
    z = values.to_numpy(dtype=float) * percent_scale
    labels = _cohort_labels(tables)
    n_rows, n_cols = z.shape
    ks = [int(k) for k in values.columns]
    sizes = tables.sizes.to_numpy()
    text = [["" if np.isnan(v) else str(round(v)) for v in row] for row in z]  # no "-0"
    # each cell's customers, for the drill-down (components.drill); a heatmap cell's
    # customdata must be plain text for Dash to pass it on with a click
    cohorts = [str(c) for c in tables.sizes.index.astype(str)]
    custom = [[f"{token(cohort=c)};months_active:has{k}" for k in ks] for c in cohorts]
    about = [[f"Cohort {label} ({int(size):,} customers)"] * n_cols
             for label, size in zip(labels, sizes, strict=True)]  # fmt: skip
    later = z[:, 1:] if n_cols > 1 else z
    auto_max = float(np.nanpercentile(later, 98)) if np.isfinite(later).any() else 100.0
    data = [
        {
            "type": "heatmap",
            "x": ks,
            "y": list(range(n_rows)),
            "z": np.round(z, 2),
            "text": text,
            "texttemplate": "%{text}",
            "textfont": {"size": 9},
            "customdata": custom,
            "hovertext": about,
            "colorscale": SEQUENTIAL,
            "zmin": 0,
            "zmax": zmax if zmax is not None else auto_max,
            "colorbar": {"title": {"text": "%"}, "ticksuffix": "%", "len": 0.8},
            "hovertemplate": "%{hovertext}<br>month %{x} "
            "after acquisition: " + hover_value + " %{z:.1f}%<extra></extra>",
            "xgap": 1,
            "ygap": 1,
            "name": "",
        }
    ]
    partial = tables.partial_cells.to_numpy(dtype=bool)
    rows, cols = np.nonzero(partial)
    if rows.size:
        data.append(
            {
                "type": "bar",
                "x": [ks[c] for c in cols],
                "y": [1.0] * rows.size,
                "base": [float(r) - 0.5 for r in rows],
                "width": 1.0,
                "name": "partial month",
                "marker": {
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 0},
                    "pattern": {"shape": "/", "fgcolor": HATCH_COLOR, "size": 6, "solidity": 0.3},
                },
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    shapes = []
    censored_rows = np.flatnonzero(tables.left_censored.to_numpy(dtype=bool))
    for r in censored_rows:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "y",
                "x0": -0.5,
                "x1": n_cols - 0.5,
                "y0": r - 0.5,
                "y1": r + 0.5,
                "line": {"color": COLORS[4], "width": 1.5, "dash": "dot"},
            }
        )
    return figure(
        data,
        height=max(320, 24 * n_rows + 120),
        title={"text": title},
        barmode="overlay",
        showlegend=False,
        shapes=shapes,
        xaxis={
            "title": {"text": "Months since acquisition"},
            "dtick": 1,
            "range": [-0.5, n_cols - 0.5],
            "side": "top",
        },
        yaxis={
            "title": {"text": "Acquisition cohort (first purchase month)"},
            "tickmode": "array",
            "tickvals": list(range(n_rows)),
            "ticktext": labels,
            "autorange": "reversed",
        },
        margin={"l": 110, "r": 20, "t": 90, "b": 20},
    )


def cumulative_revenue(tables, average: pd.DataFrame | None, currency: str = "£") -> dict:
    """Cumulative net revenue per acquired customer by months since acquisition: one thin
    line per cohort (older cohorts darker) and the size-weighted average in bold."""
    cum = tables.cumulative_revenue_per_customer
    if cum.empty:
        return empty_figure("No cohorts")
    values = np.where(
        tables.partial_cells.to_numpy(dtype=bool),
        np.nan,  # would understate
        cum.to_numpy(dtype=float),
    )
    months = [int(k) for k in cum.columns]
    censored_rows = tables.left_censored.to_numpy(dtype=bool)
    n = len(cum)
    data = []
    for i, period in enumerate(cum.index):
        shade = 0.25 + 0.6 * (1 - i / max(n - 1, 1))
        trace = {
            "type": "scatter",
            "mode": "lines",
            "x": months,
            "y": rounded(values[i], 2),
            "name": period.strftime("%Y-%m"),
            "line": {"width": 1, "color": f"rgba(44, 62, 80, {shade:.2f})"},
            "hovertemplate": "Cohort %{fullData.name}, month %{x}: "
            + currency
            + "%{y:,.0f} per customer<extra></extra>",
            "showlegend": False,
        }
        if censored_rows[i]:  # existing customers of unknown age: far above the others, hidden
            trace.update(
                visible="legendonly",
                showlegend=True,
                name=trace["name"] + " ‡ left-censored (click to show)",
                line={"width": 1.5, "color": COLORS[4], "dash": "dot"},
            )
        data.append(trace)
    if average is not None and not average.empty:
        avg = average["cumulative_revenue_per_customer"]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [int(k) for k in avg.index],
                "y": rounded(avg, 2),
                "name": "Average of cohorts (size-weighted)",
                "line": {"width": 4, "color": COLORS[1]},
                "marker": {"size": 5},
                "customdata": average["cohorts"].tolist(),
                "hovertemplate": "Average, month %{x}: " + currency + "%{y:,.0f} per customer "
                "(%{customdata} cohorts)<extra></extra>",
            }
        )
    return figure(
        data,
        height=380,
        xaxis={"title": {"text": "Months since acquisition"}, "dtick": 3},
        yaxis={
            "title": {"text": f"Cumulative net revenue per customer ({currency})"},
            "tickformat": ",.0f",
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.22, "x": 0},
        margin={"l": 70, "r": 20, "t": 20, "b": 60},
    )


def cohort_sizes(tables) -> dict:
    """New customers per acquisition month; the left-censored first cohort in a muted colour."""
    sizes = tables.sizes
    if sizes.empty:
        return empty_figure("No cohorts")
    censored = tables.left_censored.to_numpy(dtype=bool)
    return figure(
        [
            {
                "type": "bar",
                "x": _cohort_labels(tables),
                "y": sizes.tolist(),
                "marker": {"color": [MUTED if c else PRIMARY for c in censored]},
                "hovertemplate": "%{x}: %{y:,} new customers<extra></extra>",
            }
        ],
        height=380,
        showlegend=False,
        xaxis={
            "title": {"text": "Acquisition cohort (‡ = left-censored)"},
            "type": "category",
            "tickangle": -60,
        },
        yaxis={"title": {"text": "Customers acquired"}, "tickformat": ",d"},
        margin={"l": 60, "r": 20, "t": 20, "b": 80},
    )
