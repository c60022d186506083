"""Figures of the Segment migration page: Sankey, matrix, net change, monthly sizes."""

from __future__ import annotations

import pandas as pd

from dashapp.analytics import migration as mig
from dashapp.web.figures.base import MUTED, SEQUENTIAL, empty_figure, figure, month_axis
from dashapp.web.figures.rfm import SEGMENT_COLORS

#: Between the two states in a link's label (no segment name contains it).
FLOW_SEP = " → "
STATE_COLORS = {**SEGMENT_COLORS, mig.NEW: "#8e44ad", mig.LAPSED: "#566573"}


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def sankey(flows: pd.DataFrame, first: str, second: str, currency: str = "£") -> dict:
    """Customers flowing from their state at the first period's end (left) to the second's
    (right). Each link's ``label`` is ``"<from_state> → <to_state>"``: a click reports it (a
    graph's click data keeps a point's plain values only), and the page lists the customers
    of that flow."""
    if flows is None or flows.empty:
        return empty_figure("No customers")
    left = [s for s in mig.STATES if s in set(flows["from_state"])]
    right = [s for s in mig.STATES if s in set(flows["to_state"])]
    labels = [f"{s} ({first})" for s in left] + [f"{s} ({second})" for s in right]
    colors = [STATE_COLORS.get(s, MUTED) for s in left + right]
    src = {s: i for i, s in enumerate(left)}
    dst = {s: len(left) + i for i, s in enumerate(right)}
    link = {
        "source": [src[s] for s in flows["from_state"]],
        "target": [dst[s] for s in flows["to_state"]],
        "value": flows["customers"].tolist(),
        "label": [
            f"{a}{FLOW_SEP}{b}" for a, b in zip(flows["from_state"], flows["to_state"], strict=True)
        ],  # fmt: skip
        "customdata": [
            [a, b, f"{currency}{r:,.0f}"]
            for a, b, r in zip(
                flows["from_state"], flows["to_state"], flows["revenue"], strict=True
            )
        ],
        "color": [_rgba(STATE_COLORS.get(s, MUTED), 0.35) for s in flows["from_state"]],
        "hovertemplate": "%{customdata[0]} → %{customdata[1]}<br>%{value:,} customers<br>"
        f"revenue in {second}: " + "%{customdata[2]}<extra>click to list them</extra>",
    }
    return figure(
        [
            {
                "type": "sankey",
                "arrangement": "snap",
                "node": {"label": labels, "color": colors, "pad": 12, "thickness": 14},
                "link": link,
            }
        ],
        height=520,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )


def matrix(counts: pd.DataFrame, revenue: pd.DataFrame, first: str, second: str,
           currency: str = "£") -> dict:  # fmt: skip
    """The migration matrix: rows = state at the first period's end, columns = at the second's;
    colour = customers, text = customers and revenue. Empty rows and columns are left out."""
    rows = [s for s in counts.index if counts.loc[s].sum() > 0]
    cols = [s for s in counts.columns if counts[s].sum() > 0]
    if not rows or not cols:
        return empty_figure("No customers")
    c = counts.loc[rows, cols]
    r = revenue.loc[rows, cols]
    text = [
        [
            f"{int(c.iat[i, j]):,}<br>{currency}{r.iat[i, j]:,.0f}" if c.iat[i, j] else ""
            for j in range(len(cols))
        ]
        for i in range(len(rows))
    ]
    return figure(
        [
            {
                "type": "heatmap",
                "z": c.to_numpy().tolist(),
                "x": cols,
                "y": rows,
                "text": text,
                "texttemplate": "%{text}",
                "textfont": {"size": 10},
                "colorscale": SEQUENTIAL,
                "showscale": False,
                "xgap": 1,
                "ygap": 1,
                "hovertemplate": f"%{{y}} ({first}) → %{{x}} ({second})<br>%{{z:,}} customers"
                "<extra>click to list them</extra>",
            }
        ],
        height=520,
        xaxis={"title": {"text": f"Segment at the end of {second}"}, "tickangle": -35},
        yaxis={"title": {"text": f"Segment at the end of {first}"}, "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )


def net_change(net: pd.DataFrame) -> dict:
    """Net change of customers per state (second end minus first end)."""
    shown = net[(net["customers_first"] > 0) | (net["customers_second"] > 0)]
    if shown.empty:
        return empty_figure("No customers")
    colors = ["#18bc9c" if v >= 0 else "#e74c3c" for v in shown["net_change"]]
    return figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "y": shown["state"].tolist(),
                "x": shown["net_change"].tolist(),
                "marker": {"color": colors},
                "customdata": shown[["customers_first", "customers_second"]].to_numpy().tolist(),
                "hovertemplate": "%{y}: %{x:+,}<br>%{customdata[0]:,} → %{customdata[1]:,}"
                "<extra></extra>",
            }
        ],
        height=380,
        xaxis={"title": {"text": "Net change (customers)"}, "zeroline": True},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 20, "t": 20, "b": 40},
    )


def sizes(monthly: pd.DataFrame) -> dict:
    """Customers per segment at each month end (stacked areas)."""
    if monthly is None or monthly.empty:
        return empty_figure("No customers")
    data = []
    # the columns as arrays once (a mask and a date format per state cost ~50 ms)
    states = monthly["state"].to_numpy(dtype=object)
    counts = monthly["customers"].to_numpy()
    days = monthly["month_end"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    for state in [s for s in mig.STATES if s != mig.NEW]:
        rows = states == state
        if counts[rows].sum() == 0:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "one",
                "name": state,
                "x": days[rows].tolist(),
                "y": counts[rows].tolist(),
                "line": {"width": 0.5, "color": STATE_COLORS.get(state, MUTED)},
                "hovertemplate": f"{state}<br>%{{x}}: %{{y:,}}<extra></extra>",
            }
        )
    return figure(
        data,
        height=380,
        xaxis={"title": {"text": "Month end"}, **month_axis(monthly["month_end"].nunique())},
        yaxis={"title": {"text": "Customers"}},
        # above the plot: Plotly makes room for it (below, at a fixed y, the nine segments
        # ran over the axis title on a phone)
        # two names a row at every width: a phone fitted one, in a scrolling box
        legend={
            "orientation": "h",
            "y": 1.02,
            "yanchor": "bottom",
            "x": 0,
            "entrywidth": 0.5,
            "entrywidthmode": "fraction",
        },  # fmt: skip
        margin={"l": 50, "r": 10, "t": 20, "b": 40},
    )
