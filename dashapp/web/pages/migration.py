"""Segment migration: how customers moved between RFM segments from one period to the next;
a click on a flow lists its customers (CSV)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashapp import service
from dashapp.service import ParamError, params
from dashapp.service.exports import csv_download
from dashapp.service.views import migration as views
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    customer_column,
    empty_state,
    filter_bar,
    filters_from,
    graph,
    message,
    money_column,
    output_block,
    page_header,
    paged_grid,
    section,
    serve_rows,
    side_by_side,
)
from dashapp.web.controls import as_input, as_state, control, hidden, param_alert
from dashapp.web.figures import migration as figures
from dashapp.web.figures.base import empty_figure
from dashapp.web.format import money, number
from dashapp.web.outputs import kept_outputs

dash.register_page(
    __name__,
    path="/migration",
    name="Migration",
    order=5,
    title="Segment migration · Customer Segments & CLV",
)

#: The page's own settings, then the RFM page's cut points (carried in the URL, hidden).
SETTINGS = (*params.MIG_PARAMS, *params.RFM_CUTS)
INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in SETTINGS)]
STATES = [*FILTER_STATES, *(as_state(p) for p in SETTINGS)]
FLOW_COLUMNS = ["customer_id", "from_state", "to_state", "from_rfm", "to_rfm", "revenue"]


def layout(mig_period=None, mig_from=None, mig_to=None, mig_window=None, r_cuts=None,
           f_cuts=None, m_cuts=None, **query):  # fmt: skip
    currency = service.currency(query.get("dataset"))
    controls = dbc.Row(
        [
            control(params.MIG_PERIOD, mig_period, md=4),
            control(params.MIG_FIRST, mig_from, md=3, sm=6),
            control(params.MIG_SECOND, mig_to, md=3, sm=6),
            control(params.MIG_WINDOW, mig_window, md=2),
        ],
        className="g-2",
    )
    carried = html.Div(
        [hidden(p, v) for p, v in zip(params.RFM_CUTS, (r_cuts, f_cuts, m_cuts), strict=True)],
        hidden=True,
    )
    return html.Div(
        [
            page_header(
                "Segment migration",
                "How customers moved between RFM segments from the end of one period to the "
                "end of the next; RFM is scored again as of each period's end with the RFM "
                "page's rules.",
            ),
            filter_bar(**query),
            dbc.Card(dbc.CardBody(controls), className="mb-3"),
            carried,
            html.Div(id="mig-message"),
            output_block("mig-summary"),
            side_by_side(
                section(
                    "Flows between segments",
                    graph("mig-sankey", 520, phone_width=640),
                    note="Left: segment at the end of the first period; right: at the end of "
                    "the second. Click a flow to list its customers.",
                ),
                section(
                    "Migration matrix (customers and revenue in the second period)",
                    graph("mig-matrix", 520, phone_width=760),
                    note="Click a cell to list its customers.",
                ),
            ),
            _flow_section(currency),
            side_by_side(
                section("Net change per segment", graph("mig-net", 380)),
                section(
                    "Segment sizes at each month end",
                    graph("mig-sizes", 380),
                    note="RFM scored again as of the end of every month of the date range.",
                ),
            ),
        ]
    )


def _flow_section(currency: str):
    columns = [
        customer_column(),
        {"field": "from_state", "headerName": "From", "minWidth": 140},
        {"field": "to_state", "headerName": "To", "minWidth": 140},
        {"field": "from_rfm", "headerName": "RFM before", "maxWidth": 110},
        {"field": "to_rfm", "headerName": "RFM after", "maxWidth": 110},
        money_column("revenue", "Revenue in the second period", currency),
    ]
    body = html.Div(
        [
            html.Div("Click a flow or a cell above.", id="mig-flow-title", className="mb-2"),
            dbc.Button(
                "Download these customers (CSV)",
                id="mig-download-btn",
                color="primary",
                size="sm",
                className="mb-2",
                disabled=True,
            ),
            dcc.Download(id="mig-download"),
            dcc.Store(id="mig-flow"),
            # hidden until a flow with customers is clicked (its grid answers only then)
            html.Div(paged_grid("mig-flow-grid", columns), id="mig-flow-box", hidden=True),
        ]
    )
    return section("Customers of the selected flow", body)


def _view(dataset, start, end, countries, *settings) -> views.MigrationView:
    return views.migration_view(filters_from(dataset, start, end, countries), *settings)


@callback(
    Output("mig-summary", "children"),
    Output("mig-sankey", "figure"),
    Output("mig-matrix", "figure"),
    Output("mig-net", "figure"),
    Output("mig-sizes", "figure"),
    Output("mig-message", "children"),
    *INPUTS,
)
@kept_outputs
def update_migration(dataset, start, end, countries, *settings):
    try:
        view = _view(dataset, start, end, countries, *settings)
    except ParamError as exc:
        return (no_update,) * 5 + (param_alert(exc),)
    if view.reason:
        blank = empty_figure("No customers")
        return None, blank, blank, blank, blank, empty_state(view.reason)
    currency = service.currency(dataset)
    p1, p2 = view.first, view.second
    assert p1 is not None and p2 is not None and view.customers is not None
    moved = int((view.customers["from_state"] != view.customers["to_state"]).sum())
    new = int((view.customers["from_state"] == views.mig.NEW).sum())
    summary = html.P(
        [
            html.Strong(p1.label),
            f" (to {p1.end:%Y-%m-%d}) against ",
            html.Strong(p2.label),
            f" (to {p2.end:%Y-%m-%d}): {number(len(view.customers))} customers, ",
            html.Strong(number(moved)),
            f" changed state ({number(new)} of them new); revenue in {p2.label} ",
            html.Strong(money(view.customers["revenue"].sum(), currency)),
            ".",
        ],
        className="mb-2",
    )
    notes = [message(n, "info") for n in view.notes]
    return (
        summary,
        figures.sankey(view.flows, p1.label, p2.label, currency),
        figures.matrix(view.counts, view.revenue, p1.label, p2.label, currency),
        figures.net_change(view.net),
        figures.sizes(view.sizes),
        html.Div(notes) if notes else None,
    )


def clicked_flow(trigger: str | None, sankey_click, matrix_click) -> list[str] | None:
    """``[from_state, to_state]`` of a click on a Sankey link or a matrix cell (None for a
    click on a node or nothing)."""
    click = sankey_click if trigger == "mig-sankey" else matrix_click
    points = (click or {}).get("points") or []
    if not points:
        return None
    point = points[0]
    if trigger == "mig-sankey":  # a link's label names its flow; a node's has no arrow
        label = point.get("label")
        parts = label.split(figures.FLOW_SEP) if isinstance(label, str) else []
        return parts if len(parts) == 2 else None
    if point.get("y") is None or point.get("x") is None:
        return None
    return [str(point["y"]), str(point["x"])]


@callback(
    Output("mig-flow", "data"),
    Input("mig-sankey", "clickData"),
    Input("mig-matrix", "clickData"),
    *INPUTS,
    prevent_initial_call=True,
)
def pick_flow(sankey_click, matrix_click, *_inputs):
    """The flow clicked last; changing the filters or settings clears it."""
    trigger = ctx.triggered_id
    if trigger not in ("mig-sankey", "mig-matrix"):
        return None
    return clicked_flow(trigger, sankey_click, matrix_click)


def _flow_rows(flow, dataset, start, end, countries, *settings):
    """The clicked flow's customers (served a block at a time: a flow can hold many
    thousands), its title, whether the download is off and whether the grid is hidden."""
    if not flow:
        return None, "Click a flow or a cell above.", True, True
    try:
        view = _view(dataset, start, end, countries, *settings)
    except ParamError:
        return None, "", True, True
    table = views.flow_customers(view, *flow)
    title = html.Span([html.Strong(f"{flow[0]} → {flow[1]}"), f": {number(len(table))} customers"])
    shown = table[FLOW_COLUMNS].fillna({"from_rfm": "", "to_rfm": ""})
    return (shown if len(table) else None), title, table.empty, table.empty


# a clicked flow refreshes the grid; a change of the filters or settings clears the flow
# (pick_flow), which refreshes it
serve_rows(
    "mig-flow-grid",
    [Input("mig-flow", "data")],
    _flow_rows,
    extra_outputs=(
        Output("mig-flow-title", "children"),
        Output("mig-download-btn", "disabled"),
        Output("mig-flow-box", "hidden"),
    ),
    states=tuple(STATES),
    answer_rows_only=True,
)


@callback(
    Output("mig-download", "data"),
    Input("mig-download-btn", "n_clicks"),
    State("mig-flow", "data"),
    *STATES,
    prevent_initial_call=True,
)
def download_flow(n_clicks, flow, dataset, start, end, countries, *settings):
    if not flow:
        return no_update
    try:
        view = _view(dataset, start, end, countries, *settings)
    except ParamError:
        return no_update
    table = views.flow_customers(view, *flow)
    if table.empty:
        return no_update
    return csv_download(table[FLOW_COLUMNS], "migration_flow.csv")
