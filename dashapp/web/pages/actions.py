"""Action list: every customer with segment, cluster, P(alive), predicted CLV, the
recommended action and the value at stake, as one CSV to hand to a CRM team."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from dashapp import service
from dashapp.service.exports import to_safe_csv
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    data_grid,
    filter_bar,
    filters_from,
    message,
    money_column,
    number_column,
    page_header,
    section,
)
from dashapp.web.figures import money, number
from dashapp.web.urlstate import number_or, state_id

dash.register_page(
    __name__,
    path="/actions",
    name="Action list",
    order=7,
    title="Action list · Customer Segments & CLV",
)

PREVIEW_ROWS = 500
# The action list reuses the CLV and clustering pages' settings (same URL keys), so the
# list matches what those pages show.
SETTINGS = [
    Input(state_id("clv_model"), "value"),
    Input(state_id("clv_horizon"), "value"),
    Input(state_id("clv_margin"), "value"),
    Input(state_id("clv_discount"), "value"),
    Input(state_id("cl_method"), "value"),
    Input(state_id("cl_k"), "value"),
]


def layout(
    clv_model="bgnbd",
    clv_horizon=12,
    clv_margin=30,
    clv_discount=10,
    cl_method="kmeans",
    cl_k=4,
    **query,
):
    currency = service.currency(query.get("dataset"))
    hidden = html.Div(
        [
            dcc.Input(id=state_id("clv_model"), value=clv_model, type="hidden"),
            dcc.Input(id=state_id("clv_horizon"), value=str(clv_horizon), type="hidden"),
            dcc.Input(id=state_id("clv_margin"), value=str(clv_margin), type="hidden"),
            dcc.Input(id=state_id("clv_discount"), value=str(clv_discount), type="hidden"),
            dcc.Input(id=state_id("cl_method"), value=cl_method, type="hidden"),
            dcc.Input(id=state_id("cl_k"), value=str(cl_k), type="hidden"),
        ],
        hidden=True,
    )
    columns = [
        {"field": "customer_id", "headerName": "Customer", "pinned": "left", "minWidth": 110},
        money_column("value_at_stake", "Value at stake", currency),
        money_column("clv", "Predicted CLV", currency),
        number_column("p_alive", "P(alive)", 3),
        {"field": "segment", "headerName": "RFM segment", "minWidth": 150},
        {"field": "cluster", "headerName": "Cluster", "minWidth": 130},
        {
            "field": "recommended_action",
            "headerName": "Recommended action",
            "minWidth": 320,
            "tooltipField": "recommended_action",
        },
        number_column("recency", "Recency (days)"),
        number_column("frequency", "Orders"),
        money_column("monetary", "Monetary", currency),
    ]
    return html.Div(
        [
            page_header(
                "Action list",
                "Who to contact first: customers sorted by the value at "
                "stake, with their segment, cluster and the recommended action.",
            ),
            filter_bar(**query),
            hidden,
            html.Div(id="actions-settings", className="small text-muted mb-2"),
            html.Div(id="actions-message"),
            section(
                "Customers by value at stake",
                html.Div(
                    [
                        dbc.Button(
                            "Download the action list (CSV)",
                            id="actions-download-btn",
                            color="primary",
                            size="sm",
                            className="mb-2",
                        ),
                        dcc.Download(id="actions-download"),
                        dcc.Loading(data_grid("actions-grid", columns), delay_show=200),
                    ]
                ),
                note="Value at stake = predicted CLV × (1 − P(alive)): the predicted value weighted "
                "by the chance that the customer is already lost. The CSV has every customer; "
                f"the table shows the first {PREVIEW_ROWS}. Cells a spreadsheet would run as "
                "formulas are neutralised.",
            ),
        ]
    )


def _list(dataset, start, end, countries, model, horizon, margin, discount, method, k):
    return service.action_list(
        filters_from(dataset, start, end, countries),
        model or "bgnbd",
        number_or(horizon, 12, int),
        number_or(margin, 30.0),
        number_or(discount, 10.0),
        method or "kmeans",
        number_or(k, 4, int),
    )


@callback(
    Output("actions-grid", "rowData"),
    Output("actions-settings", "children"),
    Output("actions-message", "children"),
    *FILTER_INPUTS,
    *SETTINGS,
)
def update_actions(dataset, start, end, countries, model, horizon, margin, discount, method, k):
    try:
        result = _list(dataset, start, end, countries, model, horizon, margin, discount, method, k)
    except ValueError as exc:
        return [], None, message(str(exc), "danger")
    label = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}.get(model or "bgnbd", model)
    settings = (
        f"Model {label} + Gamma-Gamma, horizon {number_or(horizon, 12, int)} months, margin "
        f"{number_or(margin, 30.0):g}%, discount {number_or(discount, 10.0):g}% a year; clusters: "
        f"{method or 'kmeans'}, k = {number_or(k, 4, int)} (change them on the CLV and "
        "Clustering pages)."
    )
    if result["reason"]:
        return [], settings, message(result["reason"])
    table = result["table"]
    currency = service.currency(dataset)
    total = table["value_at_stake"].sum()
    notes = [
        html.P(
            [
                html.Strong(number(len(table))),
                " customers; total value at stake ",
                html.Strong(money(total, currency)),
                ".",
            ],
            className="mb-1",
        )
    ]
    notes += [html.P(n, className="small text-muted mb-1") for n in result["notes"]]
    return service.records(table.head(PREVIEW_ROWS)), settings, html.Div(notes)


@callback(
    Output("actions-download", "data"),
    Input("actions-download-btn", "n_clicks"),
    *FILTER_STATES,
    *[dash.State(i.component_id, i.component_property) for i in SETTINGS],
    prevent_initial_call=True,
)
def download_actions(
    n_clicks, dataset, start, end, countries, model, horizon, margin, discount, method, k
):
    try:
        result = _list(dataset, start, end, countries, model, horizon, margin, discount, method, k)
    except ValueError:
        return no_update
    if result["reason"]:
        return no_update
    return {
        "content": to_safe_csv(result["table"]),
        "filename": "action_list.csv",
        "type": "text/csv",
    }
