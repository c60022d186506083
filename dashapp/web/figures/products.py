"""Figures of the Products page: top products by a measure, best customers' share of spend."""

from __future__ import annotations

import pandas as pd

from dashapp.web.figures.base import COLORS, MUTED, empty_figure, figure

#: Products per chart.
TOP = 15


def _names(rows: pd.DataFrame) -> list[str]:
    def short(text: str) -> str:  # one line above the bar, on a phone too
        return text if len(text) <= 40 else text[:39] + "…"

    return [f"{short(str(d))} ({c})" for c, d in
            zip(rows["stock_code"], rows["description"], strict=True)]  # fmt: skip


#: Height of one item (its label, then its bar), px.
ITEM_HEIGHT = 34


def _labelled_bars(names: list[str], traces: list[dict], **layout) -> dict:
    """Horizontal bars, each with its name written above it across the plot's width rather
    than as a tick label beside it: on a phone a column of 40-character tick labels left the
    bars a sliver and clipped the axis title. Item ``i`` sits at ``y = i`` (first at the top);
    its bars fill ``[i, i + 0.5]`` (two traces side by side when there are two) and its label
    sits just above. The hover shows the name (``hovertext``)."""
    n = len(names)
    width = 0.5 / len(traces)
    for k, trace in enumerate(traces):
        trace.update(
            type="bar", orientation="h", y=list(range(n)), hovertext=names,
            width=width, offset=k * width,
        )  # fmt: skip
    labels = [
        {
            "x": 0,
            "y": i,
            "xref": "paper",
            "yref": "y",
            "text": name,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 11},
        }  # fmt: skip
        for i, name in enumerate(names)
    ]
    return figure(
        traces,
        barmode="overlay",
        height=ITEM_HEIGHT * n + 90,
        annotations=labels,
        yaxis={"range": [n - 0.35, -0.75], "visible": False, "fixedrange": True},
        margin={"l": 10, "r": 10, "t": 10, "b": 50},
        **layout,
    )


def top_bars(table: pd.DataFrame, column: str, label: str, currency: str = "") -> dict:
    """The :data:`TOP` products by ``column``, largest at the top."""
    if table is None or table.empty:
        return empty_figure("No products")
    rows = table.sort_values([column, "stock_code"], ascending=[False, True]).head(TOP)
    unit = currency if column == "revenue" else ""
    trace = {
        "x": rows[column].tolist(),
        "marker": {"color": COLORS[2]},
        "hovertemplate": f"%{{hovertext}}<br>{label}: {unit}%{{x:,.0f}}<extra></extra>",
    }
    return _labelled_bars(
        _names(rows),
        [trace],
        xaxis={"title": {"text": f"{label} ({unit})" if unit else label}, "nticks": 6},
    )


def best_vs_rest(table: pd.DataFrame, best_label: str) -> dict:
    """The :data:`TOP` products with the largest share of the best customers' spend, that share
    beside the same product's share of everyone else's spend."""
    if table is None or table.empty or table["best_share"].isna().all():
        return empty_figure("No best customers under these filters")
    rows = table.sort_values(["best_share", "stock_code"], ascending=[False, True]).head(TOP)
    bars = []
    for col, name, color in (
        ("best_share", f"share of spend by {best_label}", COLORS[1]),
        ("rest_share", "share of the other customers' spend", MUTED),
    ):
        bars.append(
            {
                "name": name,
                "x": rows[col].round(5).tolist(),
                "marker": {"color": color},
                "hovertemplate": "%{hovertext}<br>%{x:.2%}" + f" ({name})<extra></extra>",
            }
        )
    fig = _labelled_bars(
        _names(rows),
        bars,
        xaxis={"title": {"text": "Share of spend"}, "tickformat": ".1%", "nticks": 6},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
    )
    fig["layout"]["height"] += 40  # the legend, above the bars
    fig["layout"]["margin"]["t"] = 50
    return fig


def type_bars(types: pd.DataFrame, currency: str = "") -> dict:
    """The :data:`TOP` product types by net revenue, largest at the top; the hover adds the
    customers, the products and the returns rate."""
    if types is None or types.empty:
        return empty_figure("No product types")
    rows = types.head(TOP)
    custom = list(
        zip(rows["customers"], rows["products"], rows["returns_rate"].fillna(0).round(4),
            strict=True)
    )  # fmt: skip
    trace = {
        "x": rows["revenue"].tolist(),
        "customdata": custom,
        "marker": {"color": COLORS[0]},
        "hovertemplate": f"%{{hovertext}}<br>Net revenue: {currency}%{{x:,.0f}}"
        "<br>%{customdata[0]:,} customers, %{customdata[1]:,} products"
        "<br>returns rate %{customdata[2]:.1%}<extra></extra>",
    }
    title = f"Net revenue ({currency})" if currency else "Net revenue"
    return _labelled_bars(
        [str(t) for t in rows["product_type"]],
        [trace],
        xaxis={"title": {"text": title}, "nticks": 6},
    )
