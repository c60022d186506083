"""Figures of the customer page: purchase timeline, RFM over time, P(alive) over time, and
the machine-learned forecast taken apart (a waterfall of SHAP contributions)."""

from __future__ import annotations

import textwrap

import pandas as pd

from dashapp.web.figures.base import COLORS, MUTED, empty_figure, figure, label_room, rounded
from dashapp.web.format import money, number, percent

#: The margins of the timeline and the two histories: room for the legend above the plot, the
#: axis titles and tick labels (Plotly abbreviates money to five characters or fewer), so
#: that each is laid out once (:func:`~dashapp.web.figures.base.label_room`).
TIME_CHART_MARGIN = {"l": 72, "r": 10, "t": 36, "b": 56}


def timeline(invoices: pd.DataFrame, currency: str = "£") -> dict:
    """One bar per invoice at its date (net revenue); cancellations (returns) in red below
    zero, marked with an ×."""
    if invoices is None or invoices.empty:
        return empty_figure("No invoices")
    days = invoices["invoice_date"].dt.strftime("%Y-%m-%d %H:%M")
    span = invoices["invoice_date"].max() - invoices["invoice_date"].min()
    returns = invoices["is_cancellation"].to_numpy(dtype=bool)
    data = []
    for label, mask, color in (("Purchase", ~returns, COLORS[1]), ("Return", returns, COLORS[4])):
        if not mask.any():
            continue
        part = invoices[mask]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label,
                "x": days[mask].tolist(),
                "y": part["revenue"].round(2).tolist(),
                "customdata": part[["invoice", "lines"]].astype(str).to_numpy().tolist(),
                "marker": {
                    "color": color,
                    "size": 9,
                    "symbol": "x" if label == "Return" else "circle",
                },
                "hovertemplate": f"{label} %{{customdata[0]}} (%{{customdata[1]}} lines)<br>"
                f"%{{x}}<br>{currency}%{{y:,.2f}}<extra></extra>",
            }
        )
    return figure(
        data,
        height=300,
        xaxis={"title": {"text": "Invoice date"}, "type": "date"},
        yaxis={"title": {"text": f"Net revenue ({currency})"}, "zeroline": True},
        # the last date label reaches past the plot; under a year Plotly writes the year on a
        # second line below the first label
        margin={**TIME_CHART_MARGIN, "r": 16, "b": 56 if span.days >= 365 else 70},
    )


def rfm_history(history: pd.DataFrame) -> dict:
    """R, F and M scores (1-5) as of each month end; the hover names the segment."""
    if history is None or history.empty:
        return empty_figure("No history")
    x = history["month_end"].dt.strftime("%Y-%m-%d").tolist()
    data = []
    for col, name, color in (
        ("r_score", "R", COLORS[0]),
        ("f_score", "F", COLORS[1]),
        ("m_score", "M", COLORS[3]),
    ):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"shape": "hv", "color": color},
                "name": name,
                "x": x,
                "y": history[col].tolist(),
                "customdata": history["state"].astype(str).tolist(),
                "hovertemplate": f"{name} %{{y}}<br>%{{x}}: %{{customdata}}<extra></extra>",
            }
        )
    return figure(
        data,
        height=300,
        xaxis={"title": {"text": "Month end"}},
        yaxis={"title": {"text": "Score (5 = best)"}, "range": [0.5, 5.5], "dtick": 1},
        margin=TIME_CHART_MARGIN,
    )


def alive_history(history: pd.DataFrame, horizon: int) -> dict:
    """P(alive) (left axis) and expected purchases over the horizon (right axis) as of each
    month end."""
    if history is None or "p_alive" not in history or history["p_alive"].isna().all():
        return empty_figure("No prediction")
    x = history["month_end"].dt.strftime("%Y-%m-%d").tolist()
    return figure(
        [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "P(alive)",
                "x": x,
                "y": history["p_alive"].round(4).tolist(),
                "hovertemplate": "P(alive) %{y:.1%}<br>%{x}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"Expected purchases, next {horizon} months",
                "x": x,
                "y": history["expected_purchases"].round(3).tolist(),
                "yaxis": "y2",
                "line": {"dash": "dot"},
                "hovertemplate": "%{y:.2f} purchases expected<br>%{x}<extra></extra>",
            },
        ],
        height=300,
        xaxis={"title": {"text": "As of month end"}},
        yaxis={"title": {"text": "P(alive)"}, "range": [0, 1.05], "tickformat": ".0%"},
        yaxis2={
            "title": {"text": "Purchases"},  # the legend says which and over what horizon
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickformat": ".1f",
        },
        margin={**TIME_CHART_MARGIN, "r": 68},  # the purchases' axis on the right
    )


#: Features shown one by one in the waterfall; the rest are grouped.
WATERFALL_TOP = 6
#: How the waterfall writes a feature's value.
_PERCENT = {"country_share", "top_product_share"}
_MONEY = {"mean_spend"}


def _value_text(feature: str, value: float, currency: str) -> str:
    if feature in _PERCENT:
        return percent(value, 0)
    if feature in _MONEY:
        return money(value, currency)
    if float(value).is_integer():
        return number(value)
    return number(value, 2 if abs(value) < 10 else 1)


def _wrapped(text: str, width: int = 26) -> str:
    """A label on lines of at most ``width`` characters (``<br>``): narrow screens."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def explanation_waterfall(
    explanation: pd.DataFrame | None,
    horizon_days: int,
    currency: str = "£",
    top: int = WATERFALL_TOP,
) -> dict:
    """Why the machine-learned model expects what it does of one customer: the average
    customer's forecast, each feature's step (largest first; beyond ``top`` grouped as
    "other N features"), the customer's forecast; in expected purchase days over the next
    ``horizon_days`` (the ``purchases`` column of :func:`dashapp.analytics.clv.ml.explain`)."""
    if explanation is None or explanation.empty:
        return empty_figure("No explanation")
    base = float(explanation.attrs["base_purchases"])
    prediction = float(explanation.attrs["prediction"])
    shown, rest = explanation.iloc[:top], explanation.iloc[top:]
    labels = ["Average customer"]
    labels += [
        _wrapped(f"{label} = {_value_text(f, v, currency)}")
        for f, label, v in zip(shown["feature"], shown["label"], shown["value"], strict=True)
    ]
    steps = [base, *shown["purchases"].tolist()]
    if len(rest):
        labels.append(f"other {len(rest)} feature{'s' if len(rest) > 1 else ''}")
        steps.append(float(rest["purchases"].sum()))
    labels.append("This customer")
    steps.append(prediction)
    measure = ["absolute"] + ["relative"] * (len(steps) - 2) + ["total"]
    text = [f"{base:.2f}"] + [f"{s:+.2f}" for s in steps[1:-1]] + [f"{prediction:.2f}"]
    return figure(
        [
            {
                "type": "waterfall",
                "orientation": "h",
                "y": labels,
                "x": rounded(steps, 4),
                "measure": measure,
                "text": text,
                "textposition": "auto",
                "cliponaxis": False,
                "increasing": {"marker": {"color": COLORS[1]}},
                "decreasing": {"marker": {"color": COLORS[4]}},
                "totals": {"marker": {"color": COLORS[0]}},
                "connector": {"line": {"color": MUTED}},
                "hovertemplate": "%{y}<br>%{text} purchase days<extra></extra>",
            }
        ],
        height=90 + 40 * len(labels),
        showlegend=False,
        xaxis={
            "title": {"text": f"Expected purchase days, next {horizon_days} days"},
            "rangemode": "tozero",
        },
        yaxis={"type": "category", "autorange": "reversed", "automargin": True},
        margin={"l": label_room(labels), "r": 20, "t": 10, "b": 56},
    )
