"""One customer: purchase timeline, RFM over time, predicted purchases, CLV and P(alive) over
time, country and the recommended action. Reached at /customer?id=<id> or /customer/<id>,
from the search box, or by clicking a customer id in a grid."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, html, no_update

from dashapp import service
from dashapp.service import ParamError, params
from dashapp.service.views import customer as views
from dashapp.web.components import (
    FILTER_INPUTS,
    data_grid,
    empty_state,
    filter_bar,
    filters_from,
    frame_table,
    graph,
    kpi_card,
    money_column,
    number_column,
    on_demand_panel,
    output_block,
    page_header,
    progress,
    progress_note,
    section,
    side_by_side,
)
from dashapp.web.controls import as_input, control, hidden, on_demand, param_alert
from dashapp.web.figures import customer as figures
from dashapp.web.figures.base import empty_figure
from dashapp.web.format import money, number, percent
from dashapp.web.outputs import kept_outputs

dash.register_page(
    __name__,
    path="/customer",
    path_template="/customer/<customer_id>",
    name="Customer",
    order=6,
    title="Customer · Customer Segments & CLV",
)

#: Carried from the URL (the CLV page's settings, the RFM page's cut points), hidden.
CARRIED = (*views.CLV_SETTINGS, *params.RFM_CUTS)
INPUTS = [*FILTER_INPUTS, as_input(params.CUSTOMER_ID), *(as_input(p) for p in CARRIED)]


def layout(customer_id=None, id=None, **query):  # noqa: A002 (the URL key is "id")
    currency = service.currency(query.get("dataset"))
    wanted = id if id not in (None, "") else customer_id
    carried = html.Div([hidden(p, query.get(p.key)) for p in CARRIED], hidden=True)
    search = dbc.Row(
        control(
            params.CUSTOMER_ID,
            wanted,
            label="Customer id (type and press Enter)",
            md=4,
        ),
        className="g-2 mb-3",
    )
    invoice_columns = [
        {"field": "invoice_date", "headerName": "Date", "minWidth": 150},
        {"field": "invoice", "headerName": "Invoice"},
        {"field": "kind", "headerName": "Kind"},
        money_column("revenue", "Net revenue", currency, 2),
        number_column("lines", "Lines"),
        {"field": "country", "headerName": "Country"},
    ]
    return html.Div(
        [
            page_header(
                "Customer",
                "One customer in detail: purchases and returns, RFM over time, what the "
                "purchase model expects, and what to do.",
            ),
            filter_bar(**query),
            search,
            carried,
            html.Div(id="cust-message"),
            progress_note(
                "cust-progress",
                "Computing this customer's scores over time, the purchase model's predictions "
                "and the machine-learned explanation… in progress.",
            ),
            output_block("cust-cards"),
            section(
                "Purchase timeline",
                graph("cust-timeline", 300),
                note="One point per invoice, net of the returns matched to it; returns "
                "(cancellation invoices) are red crosses below zero.",
            ),
            side_by_side(
                section(
                    "RFM scores over time",
                    graph("cust-rfm", 300),
                    note="Scored again as of each month end among all customers then, with the "
                    "RFM page's rules; the hover names the segment.",
                ),
                section(
                    "P(alive) and expected purchases over time",
                    graph("cust-alive", 300),
                    note="The purchase model fitted on the whole range, applied to the "
                    "customer's purchases up to each month end.",
                ),
            ),
            _explanation_section(),
            side_by_side(
                _products_column(),
                section("Invoices", data_grid("cust-invoices", invoice_columns)),
                left_width=5,
            ),
        ]
    )


def _products_column() -> html.Div:
    """The customer's top products, and below them their top product types."""
    return html.Div(
        [
            section(
                "Top products",
                output_block("cust-products"),
                note="By net revenue (returns netted); a stock code's most frequent description.",
            ),
            section(
                "Top product types",
                output_block("cust-types"),
                note="Derived from the descriptions (the last word once colours, patterns and "
                "sizes are dropped): approximate, the data have no category column.",
            ),
        ]
    )


#: The explanation panel's button while the panel is closed.
EXPLAIN_SHOW = "Explain this forecast"


def _explanation_section():
    """The machine-learned forecast taken apart, computed when its panel is opened (a
    filtered view trains its model first, ~0.5 s of server CPU at full scale; the default
    view's model is kept): a note (how it was trained, or why there is no explanation) and
    the waterfall. Once opened it stays open for the next customers searched."""
    body = html.Div(
        [html.Div(id="cust-explain-note"), graph("cust-explain", 330)],
        id="cust-explain-box",
    )
    return section(
        "Why the machine-learned model expects this",
        on_demand_panel("cust-explain", EXPLAIN_SHOW, body),
        note="Computed when shown. Gradient boosting's forecast of this customer's purchase "
        "days, taken apart with exact SHAP values: from the average customer's forecast, each "
        "feature's step (largest first, the smallest grouped) up to this customer's. "
        "The model works on the log scale, so each step is a factor, shown here in "
        "purchase days in this order. Its horizon is the default holdout's length.",
    )


def _cards(view: views.CustomerView, currency: str, horizon) -> html.Div:
    rfm, clv = view.rfm, view.clv
    assert rfm is not None
    cards = [
        kpi_card("Segment", str(rfm["segment"]), f"RFM {rfm['rfm_code']}", id_="cust-segment"),
        kpi_card(
            "Country",
            view.country,
            ", ".join(view.countries) if len(view.countries) > 1 else "",
            id_="cust-country",
        ),
        kpi_card(
            "Purchases",
            number(rfm["frequency"]),
            f"{money(rfm['monetary'], currency)} net; last {int(rfm['recency'])} days ago",
        ),
    ]
    if clv is not None:
        cards += [
            kpi_card("P(alive)", percent(clv["p_alive"]), "purchase model", id_="cust-palive"),
            kpi_card(
                "Predicted CLV",
                money(clv["clv"], currency),
                f"{clv['expected_purchases']:.1f} purchases expected in {horizon} months",
            ),
        ]
    row = dbc.Row([dbc.Col(c, xs=12, sm=6, lg=True, className="mb-2") for c in cards])
    action = dbc.Alert(
        [html.Strong("Recommended action: "), view.action, html.Br(), html.Small(view.why)],
        color="light",
        className="border mt-2",
        id="cust-action",
    )
    notes = [html.P(n, className="small text-muted mb-1") for n in view.notes]
    return html.Div([row, action, *notes])


@callback(
    Output("cust-cards", "children"),
    Output("cust-timeline", "figure"),
    Output("cust-rfm", "figure"),
    Output("cust-alive", "figure"),
    Output("cust-invoices", "rowData"),
    Output("cust-products", "children"),
    Output("cust-types", "children"),
    Output("cust-message", "children"),
    *INPUTS,
    running=progress("cust-progress"),
)
@kept_outputs
def update_customer(dataset, start, end, countries, customer_id, *settings):
    try:
        view = views.customer_view(
            filters_from(dataset, start, end, countries), customer_id, *settings
        )
    except ParamError as exc:
        return (no_update,) * 7 + (param_alert(exc),)
    if view.reason:
        blank = empty_figure("")
        return None, blank, blank, blank, [], None, None, empty_state(view.reason)
    currency = service.currency(dataset)
    horizon = params.CLV_HORIZON.parse(settings[1])
    invoices = view.invoices.copy()
    invoices["kind"] = invoices["is_cancellation"].map({True: "Return", False: "Purchase"})
    invoices["invoice_date"] = invoices["invoice_date"].dt.strftime("%Y-%m-%d %H:%M")
    rows = invoices.drop(columns="is_cancellation").iloc[::-1].to_dict("records")
    return (
        _cards(view, currency, horizon),
        figures.timeline(view.invoices, currency),
        figures.rfm_history(view.history),
        figures.alive_history(view.history, horizon),
        rows,
        _products(view.products, currency),
        _types(view.types, currency),
        None,
    )


EXPLAIN_INPUTS = [*FILTER_INPUTS, as_input(params.CUSTOMER_ID)]
on_demand("cust-explain", EXPLAIN_INPUTS)  # the filters and the id reach it only while open


@callback(
    Output("cust-explain", "figure"),
    Output("cust-explain-note", "children"),
    Input("cust-explain-request", "data"),
    *(State(i.component_id, i.component_property) for i in EXPLAIN_INPUTS),
    prevent_initial_call=True,
)
def update_customer_explanation(_request, dataset, start, end, countries, customer_id):
    """The waterfall, when its panel is open: it trains the machine-learned model for the
    filters (~0.5 s of CPU at full scale the first time), which the cards, timeline and RFM
    history need not wait for. A blank or unknown id, or a bad one, leaves it blank: the
    page's message says why."""
    try:
        view = views.customer_explanation_view(
            filters_from(dataset, start, end, countries), customer_id
        )
    except ParamError:
        return empty_figure(""), None
    if view.reason:
        return empty_figure(""), None
    if view.explanation is None:
        return empty_figure("No explanation: see the note above", 120), empty_state(view.note)
    attrs = view.explanation.attrs
    how = html.P(attrs.get("message", ""), className="small text-muted mb-1")
    currency = service.currency(dataset)
    return (
        figures.explanation_waterfall(view.explanation, attrs["horizon_days"], currency),
        how,
    )


def _products(top, currency: str):
    if top is None or top.empty:
        return html.P("No product lines for this customer.", className="text-muted")
    return frame_table(
        pd.DataFrame(
            {
                "Product": [
                    f"{d} ({c})" for c, d in zip(top["stock_code"], top["description"], strict=True)
                ],
                "Units": [number(v) for v in top["units"]],
                "Net revenue": [money(v, currency) for v in top["revenue"]],
            }
        ),  # fmt: skip
        id="cust-products-table",
    )


def _types(types, currency: str):
    if types is None or types.empty:
        return html.P("No product lines for this customer.", className="text-muted")
    return frame_table(
        pd.DataFrame(
            {
                "Type": types["product_type"],
                "Products": [number(v) for v in types["products"]],
                "Units": [number(v) for v in types["units"]],
                "Net revenue": [money(v, currency) for v in types["revenue"]],
            }
        ),
        id="cust-types-table",
    )
