"""Cohorts: monthly acquisition cohorts, customer and revenue retention, cumulative revenue
per acquired customer."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Output, callback, html

from dashapp import service
from dashapp.web.components import (
    FILTER_INPUTS,
    empty_state,
    filter_bar,
    filters_from,
    graph,
    loading,
    page_header,
    section,
)
from dashapp.web.figures.base import empty_figure
from dashapp.web.figures.cohorts import cohort_heatmap, cohort_sizes, cumulative_revenue
from dashapp.web.format import money, number, percent

dash.register_page(
    __name__, path="/cohorts", name="Cohorts", order=3, title="Cohorts · Customer Segments & CLV"
)

MARKS_NOTE = (
    "‡ marks the first cohort (outlined): the data start in that month, so its "
    "'new' customers include everyone who had bought before the data begin "
    "(left-censored). Hatched cells fall in the last calendar month, which the data "
    "cover only in part, so they understate that month. Empty cells are not observed "
    "yet."
)


def layout(**query):
    return html.Div(
        [
            page_header(
                "Cohorts",
                "Customers grouped by the month of their first purchase: how "
                "many come back, and how much revenue they bring, month by "
                "month.",
            ),
            filter_bar(**query),
            html.Div(id="cohorts-message"),
            loading("cohorts-summary"),
            section(
                "Customer retention (% of the cohort buying in month k)",
                graph("cohorts-retention", 640),
                note=MARKS_NOTE,
            ),
            section(
                "Revenue retention (net revenue in month k as % of month 0)",
                graph("cohorts-revenue", 640),
                note=MARKS_NOTE + " Above 100% means the cohort spent more that month than in "
                "its first month; the colour scale stops at the 98th "
                "percentile so that a few such cells do not wash out the "
                "rest.",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Cumulative net revenue per acquired customer",
                            graph("cohorts-cumulative", 380),
                            note="One line per cohort (older cohorts darker, ‡ dotted); the "
                            "bold line averages the cohorts weighted by size, leaving "
                            "out the left-censored cohort and partial months.",
                        ),
                        lg=7,
                    ),
                    dbc.Col(
                        section(
                            "Cohort sizes",
                            graph("cohorts-sizes", 380),
                            note="New customers per month; the left-censored first cohort is grey.",
                        ),
                        lg=5,
                    ),
                ]
            ),
        ]
    )


def _summary(view: service.CohortsView, currency: str):
    t = view.tables
    keep = ~t.left_censored.to_numpy(dtype=bool)
    month1 = t.retention[1] if 1 in t.retention.columns else None
    text = [
        html.Strong(number(int(t.sizes.sum()))),
        " customers in ",
        html.Strong(number(len(t.sizes))),
        " monthly cohorts, ",
        f"{t.first_month} to {t.last_month}",
    ]
    if month1 is not None:
        ok = keep & month1.notna().to_numpy() & ~t.partial_cells[1].to_numpy(dtype=bool)
        if ok.any():
            w = t.sizes.to_numpy()[ok]
            rate = float(np.average(month1.to_numpy()[ok], weights=w))
            text += [
                " · month-1 retention ",
                html.Strong(percent(rate)),
                " (size-weighted, without the ‡ cohort)",
            ]
    avg = view.average
    if (
        avg is not None
        and 11 in avg.index
        and np.isfinite(avg.loc[11, "cumulative_revenue_per_customer"])
    ):
        text += [
            " · revenue per customer after 12 months ",
            html.Strong(money(avg.loc[11, "cumulative_revenue_per_customer"], currency)),
        ]
    if t.last_month_partial:
        text += [f" · the last month ({t.last_month}) is partial: data end {t.data_end:%Y-%m-%d}"]
    return html.P(text + ["."], className="mb-2", id="cohorts-summary-text")


@callback(
    Output("cohorts-retention", "figure"),
    Output("cohorts-revenue", "figure"),
    Output("cohorts-cumulative", "figure"),
    Output("cohorts-sizes", "figure"),
    Output("cohorts-summary", "children"),
    Output("cohorts-message", "children"),
    *FILTER_INPUTS,
)
def update_cohorts(dataset, start, end, countries):
    currency = service.currency(dataset)
    view = service.cohorts_view(filters_from(dataset, start, end, countries))
    if view.reason:
        blank = empty_figure("No cohorts")
        return blank, blank, blank, blank, None, empty_state(view.reason)
    t = view.tables
    return (
        cohort_heatmap(t.retention, t, title="", zmax=None, hover_value="customers active"),
        cohort_heatmap(
            t.revenue_retention,
            t,
            title="",
            zmax=None,
            hover_value="revenue vs month 0",
        ),
        cumulative_revenue(t, view.average, currency),
        cohort_sizes(t),
        _summary(view, currency),
        None,
    )
