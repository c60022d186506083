"""Figures of the Products page: top products by a measure, best customers' share of spend."""

from __future__ import annotations

import pandas as pd

from dashapp.web.figures.base import COLORS, MUTED, empty_figure, figure

#: Products per chart.
TOP = 15


def _names(rows: pd.DataFrame) -> list[str]:
    def short(text: str) -> str:  # long labels would leave no room for the bars on a phone
        return text if len(text) <= 26 else text[:25] + "…"

    return [f"{short(str(d))} ({c})" for c, d in
            zip(rows["stock_code"], rows["description"], strict=True)]  # fmt: skip


def top_bars(table: pd.DataFrame, column: str, label: str, currency: str = "") -> dict:
    """The :data:`TOP` products by ``column``, largest at the top."""
    if table is None or table.empty:
        return empty_figure("No products")
    rows = table.sort_values([column, "stock_code"], ascending=[False, True]).head(TOP)
    unit = currency if column == "revenue" else ""
    return figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "y": _names(rows),
                "x": rows[column].tolist(),
                "marker": {"color": COLORS[2]},
                "hovertemplate": f"%{{y}}<br>{label}: {unit}%{{x:,.0f}}<extra></extra>",
            }
        ],
        height=440,
        xaxis={"title": {"text": f"{label} ({unit})" if unit else label}},
        yaxis={"autorange": "reversed", "tickfont": {"size": 11}},
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
    )


def best_vs_rest(table: pd.DataFrame, best_label: str) -> dict:
    """The :data:`TOP` products with the largest share of the best customers' spend, that share
    beside the same product's share of everyone else's spend."""
    if table is None or table.empty or table["best_share"].isna().all():
        return empty_figure("No best customers under these filters")
    rows = table.sort_values(["best_share", "stock_code"], ascending=[False, True]).head(TOP)
    names = _names(rows)
    bars = []
    for col, name, color in (
        ("best_share", f"share of spend by {best_label}", COLORS[1]),
        ("rest_share", "share of the other customers' spend", MUTED),
    ):
        bars.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": name,
                "y": names,
                "x": rows[col].round(5).tolist(),
                "marker": {"color": color},
                "hovertemplate": "%{y}<br>%{x:.2%}" + f" ({name})<extra></extra>",
            }
        )
    return figure(
        bars,
        barmode="group",
        height=520,
        xaxis={"title": {"text": "Share of spend"}, "tickformat": ".1%"},
        yaxis={"autorange": "reversed", "tickfont": {"size": 11}},
        legend={"orientation": "h", "y": -0.12, "x": 0},
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
    )


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
    return figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "y": rows["product_type"].tolist(),
                "x": rows["revenue"].tolist(),
                "customdata": custom,
                "marker": {"color": COLORS[0]},
                "hovertemplate": f"%{{y}}<br>Net revenue: {currency}%{{x:,.0f}}"
                "<br>%{customdata[0]:,} customers, %{customdata[1]:,} products"
                "<br>returns rate %{customdata[2]:.1%}<extra></extra>",
            }
        ],
        height=520,
        xaxis={"title": {"text": f"Net revenue ({currency})" if currency else "Net revenue"}},
        yaxis={"autorange": "reversed", "tickfont": {"size": 11}},
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
    )
