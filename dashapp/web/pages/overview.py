"""Overview: KPIs, monthly revenue and the cleaning ledger for the filtered data."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Output, callback, dcc, html

from dashapp import service
from dashapp.web.components import (
    FILTER_INPUTS,
    empty_state,
    filter_bar,
    filters_from,
    graph,
    kpi_card,
    ledger_table,
    loading,
    page_header,
    section,
)
from dashapp.web.figures.overview import monthly_revenue
from dashapp.web.format import money, number, percent

dash.register_page(
    __name__, path="/", name="Overview", order=0, title="Overview · Customer Segments & CLV"
)


def layout(**query):
    return html.Div(
        [
            page_header(
                "Overview",
                "Revenue, customers and orders after cleaning, and what the "
                "cleaning did to the data.",
            ),
            filter_bar(**query),
            html.Div(id="overview-message"),
            dcc.Loading(html.Div(id="overview-kpis"), type="dot", delay_show=200),
            section(
                "Monthly net revenue",
                graph("overview-trend"),
                note="Net of returns. Lines without a customer id count here but not in customer "
                "analytics.",
            ),
            section(
                "Cleaning ledger",
                loading("overview-ledger"),
                note="One row per rule: how many lines it touched and the money involved (GBP).",
            ),
        ]
    )


@callback(
    Output("overview-kpis", "children"),
    Output("overview-trend", "figure"),
    Output("overview-ledger", "children"),
    Output("overview-message", "children"),
    *FILTER_INPUTS,
)
def update_overview(dataset, start, end, countries):
    filters = filters_from(dataset, start, end, countries)
    result = service.overview(filters)
    k = result.kpis
    currency = service.currency(dataset)
    cards = dbc.Row(
        [
            dbc.Col(
                kpi_card(
                    "Net revenue",
                    money(k.net_revenue, currency),
                    f"returns {money(k.cancellation_revenue, currency)}",
                    id_="kpi-revenue",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card("Customers", number(k.customers), "with a purchase", id_="kpi-customers"),
                md=True,
            ),
            dbc.Col(
                kpi_card("Orders", number(k.orders), "purchase invoices", id_="kpi-orders"),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Average order value",
                    money(k.aov, currency, 2),
                    "per invoice, not per line",
                    id_="kpi-aov",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Repeat customers",
                    percent(k.repeat_rate),
                    "2+ orders in the range",
                    id_="kpi-repeat",
                ),
                md=True,
            ),
        ],
        className="g-3 mb-3",
        id="kpi-row",
    )
    note = None
    if k.orders == 0:
        note = empty_state(
            "No invoices match these filters. Widen the date range or clear the country filter."
        )
    rows_in, rows_out = result.rows_in, result.rows_out
    ledger = html.Div(
        [
            html.P(
                f"{number(rows_in)} lines read, {number(rows_out)} kept after cleaning "
                "(the ledger covers the whole dataset; the filters apply after cleaning).",
                className="small",
            ),
            *(
                html.P(text, className="small text-warning-emphasis", id="overview-data-note")
                for text in service.dataset_notes(filters.dataset)
            ),
            ledger_table(result.ledger, currency),
        ]
    )
    return cards, monthly_revenue(result.monthly, currency), ledger, note
