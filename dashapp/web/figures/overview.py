"""Figures of the Overview page."""

from __future__ import annotations

import pandas as pd

from dashapp.web.figures.base import COLORS, MUTED, PRIMARY, empty_figure, figure


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
        # Plotly picks the tick spacing from the width (every month on a wide screen, fewer on
        # a narrow one) instead of 27 labels piled on a phone
        # the first and last months' bars and no empty month beside them (the bars' explicit
        # widths make Plotly's autorange pad a month at each end)
        xaxis={"tickformat": "%b\n%Y", "type": "date", "range": _month_range(monthly)},
    )


def _month_range(monthly: pd.DataFrame) -> list[str]:
    """From half a month before the first bar's centre to half a month after the last's."""
    half = pd.Timedelta(days=16)
    first, last = monthly["month"].min(), monthly["month"].max()
    return [(first - half).strftime("%Y-%m-%d"), (last + half).strftime("%Y-%m-%d")]
