"""Cohorts: monthly acquisition cohorts, customer and revenue retention, cumulative revenue
per acquired customer."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, callback, html, no_update

from dashapp import service
from dashapp.service.selection import select_or_all
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    customer_column,
    download_button,
    empty_state,
    filter_bar,
    filters_from,
    graph,
    money_column,
    number_column,
    output_block,
    page_header,
    paged_grid,
    section,
    serve_rows,
)
from dashapp.web.components.drill import (
    drill_down,
    selection_chip,
    selection_input,
    selection_state,
    selection_words,
)
from dashapp.web.components.exporting import grid_export
from dashapp.web.figures.base import empty_figure
from dashapp.web.figures.cohorts import cohort_heatmap, cohort_sizes, cumulative_revenue
from dashapp.web.format import money, number, percent
from dashapp.web.outputs import kept_outputs

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


def _grid_columns(currency: str) -> list[dict]:
    return [
        customer_column(),
        {"field": "cohort", "headerName": "Cohort", "minWidth": 100},
        {"field": "months_active", "headerName": "Months with a purchase", "minWidth": 150},
        {"field": "first_purchase", "headerName": "First purchase"},
        {"field": "last_purchase", "headerName": "Last purchase"},
        number_column("orders", "Orders"),
        money_column("revenue", "Net revenue", currency),
    ]


#: What a click on a retention cell selects (components.drill).
DRILL_LABELS = {"cohort": "Cohort", "months_active": "bought in month"}


def layout(co_sel=None, **query):
    currency = service.currency(query.get("dataset"))
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
            output_block("cohorts-summary"),
            section(
                "Customer retention (% of the cohort buying in month k)",
                graph("cohorts-retention", 640, phone_width=980),
                note=MARKS_NOTE,
            ),
            section(
                "Revenue retention (net revenue in month k as % of month 0)",
                graph("cohorts-revenue", 640, phone_width=980),
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
            section(
                "Customers",
                html.Div(
                    [
                        selection_chip(
                            "co",
                            co_sel,
                            "Click a cell of a heatmap to list the cohort's customers who "
                            "bought in that month.",
                        ),
                        download_button("co", className="mb-2"),
                        paged_grid("co-grid", _grid_columns(currency)),
                    ]
                ),
                note="Months with a purchase count from the acquisition month (0). The CSV "
                "holds the customers listed.",
            ),
        ]
    )


def _grid_rows(dataset, start, end, countries):
    """Every customer with a cohort (the service pages, sorts and selects them)."""
    view = service.cohorts_view(filters_from(dataset, start, end, countries))
    return None if view.reason else view.customers


serve_rows("co-grid", FILTER_INPUTS, _grid_rows, selection=selection_input("co"))
drill_down("co", ("cohorts-retention", "cohorts-revenue"), _grid_columns("£"), DRILL_LABELS)


@callback(
    Output("co-download", "data"),
    Input("co-download-btn", "n_clicks"),
    *FILTER_STATES,
    selection_state("co"),
    prevent_initial_call=True,
)
def download_cohort_customers(n_clicks, dataset, start, end, countries, sel):
    view = service.cohorts_view(filters_from(dataset, start, end, countries))
    if view.reason:
        return no_update
    currency = service.currency(dataset)
    columns = _grid_columns(currency)
    return grid_export(
        select_or_all(view.customers, sel),
        columns,
        title="Cohorts, customers",
        page="cohorts",
        dataset=dataset or service.default_dataset_id(),
        start=start,
        end=end,
        countries=countries,
        currency=currency,
        selection=selection_words(sel, columns, DRILL_LABELS),
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
@kept_outputs
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
