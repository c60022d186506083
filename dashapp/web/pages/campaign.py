"""Campaign planner: pick a target (segments, clusters, P(alive) and CLV ranges) and an
offer, see the expected incremental revenue, cost and ROI with an interval, download the
target list with its random control group; later, upload that list back with the start day
and see what the campaign did, target against control."""

from __future__ import annotations

import base64
import binascii
import io

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashapp import service
from dashapp.ingest.loading import DataLoadError
from dashapp.service import ParamError, params
from dashapp.service.exports import csv_download
from dashapp.service.views import campaign as views
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    download_button,
    empty_state,
    filter_bar,
    filters_from,
    frame_table,
    kpi_card,
    labelled,
    page_header,
    section,
    static_block,
)
from dashapp.web.controls import as_input, as_state, control, hidden, param_alert
from dashapp.web.format import money, number, percent
from dashapp.web.outputs import kept_outputs

dash.register_page(
    __name__,
    path="/campaign",
    name="Campaigns",
    order=7.5,
    title="Campaign planner · Customer Segments & CLV",
)

#: The Action list's CLV and clustering settings, carried from the URL like on that page.
SETTINGS = (*params.CLV_VALUE_PARAMS[:4], params.CLUSTER_METHOD, params.CLUSTER_K)
TARGET, OFFER = params.CAMPAIGN_TARGET_PARAMS, params.CAMPAIGN_OFFER_PARAMS
#: Largest list accepted back for tracking.
MAX_LIST_BYTES = 5_000_000


def _target(query: dict) -> html.Div:
    """Whom to target: RFM segments, clusters and the P(alive) and CLV ranges."""
    segments, *ranges = TARGET
    return html.Div(
        [
            dbc.Row(control(segments, query.get(segments.key), className="mb-2")),
            dbc.Row(
                [
                    labelled(
                        "Clusters (none = all)",
                        dcc.Dropdown(
                            id="cp-clusters",
                            multi=True,
                            options=[],
                            value=[],
                            placeholder="All clusters",
                        ),  # fmt: skip
                        md=4,
                        className="mb-2",
                    ),
                    *(control(p, query.get(p.key), md=2, xs=6, className="mb-2") for p in ranges),
                ]
            ),
        ]
    )


def layout(**query):
    carried = html.Div([hidden(p, query.get(p.key)) for p in SETTINGS], hidden=True)
    target = _target(query)
    offer = dbc.Row([control(p, query.get(p.key), md=True, xs=6, className="mb-2") for p in OFFER])
    start = params.CAMPAIGN_START
    tracking = html.Div(
        [
            dbc.Row(
                [
                    control(start, query.get(start.key), md=3, className="mb-2"),
                    labelled(
                        "Target and control list (the CSV downloaded above)",
                        dcc.Upload(
                            html.Div(["Drop the list here or ", html.A("choose the file")]),
                            id="cp-upload",
                            max_size=MAX_LIST_BYTES,
                            accept=".csv,text/csv",
                            className="border rounded p-2 text-center small",
                        ),
                        md=6,
                        className="mb-2",
                    ),
                ]
            ),
            html.Div(id="cp-tracking"),
        ]
    )
    return html.Div(
        [
            page_header(
                "Campaign planner",
                "Choose whom to target and what the offer costs; see the expected return, "
                "and download the list with a random control group to measure it later.",
            ),
            filter_bar(**query),
            carried,
            html.Div(id="cp-message"),
            section("Target", target),
            section("Offer", offer, note="Defaults: " + params.CAMPAIGN_DEFAULTS_SOURCE),
            section(
                "Expected outcome",
                html.Div(
                    [
                        html.Div(id="cp-outcome"),
                        download_button(
                            "cp", "Download the target and control list (CSV)", className="mt-2"
                        ),
                    ]
                ),
                note="Incremental purchases = treated customers x response rate x uplift, "
                "each worth the customer's own average order value; profit = revenue x the "
                "margin; ROI = (profit - cost) / cost. The interval (95%) is the chance part "
                "given these assumptions, not the uncertainty of the assumptions.",
            ),
            section(
                "Tracking: what did the campaign do?",
                tracking,
                note="Revenue and purchase invoices per customer from the start day to the "
                "last invoice, target minus control, with Welch's 95% interval. Customers of "
                "the list who bought nothing count as zero.",
            ),
        ]
    )


PLAN_INPUTS = [
    *FILTER_INPUTS,
    *(as_input(p) for p in TARGET),
    Input("cp-clusters", "value"),
    *(as_input(p) for p in OFFER),
    *(as_input(p) for p in SETTINGS),
]
PLAN_STATES = [
    *FILTER_STATES,
    *(as_state(p) for p in TARGET),
    State("cp-clusters", "value"),
    *(as_state(p) for p in OFFER),
    *(as_state(p) for p in SETTINGS),
]


def _plan(dataset, start, end, countries, *values) -> views.Plan:
    n_t, n_o = len(TARGET), len(OFFER)
    target, clusters = values[:n_t], values[n_t]
    offer, settings = values[n_t + 1 : n_t + 1 + n_o], values[n_t + 1 + n_o :]
    return views.campaign_plan(
        filters_from(dataset, start, end, countries), target, offer, clusters or (), settings
    )


def _outcome(plan: views.Plan, currency: str) -> html.Div:
    o = plan.outcome
    assert o is not None and plan.customers is not None
    n_control = int((plan.customers["group"] == "control").sum())

    def span(low: float, high: float, fmt) -> str:
        return f"95%: {fmt(low)} to {fmt(high)}"

    cards = [
        ("Targeted", number(o.treated), f"+ {number(n_control)} held out as control"),
        ("Cost", money(o.cost, currency), "offer cost x targeted"),
        (
            "Incremental revenue",
            money(o.revenue, currency),
            span(o.revenue_low, o.revenue_high, lambda v: money(v, currency)),
        ),
        (
            "Incremental profit",
            money(o.profit, currency),
            span(o.profit_low, o.profit_high, lambda v: money(v, currency)),
        ),
        ("ROI", percent(o.roi), span(o.roi_low, o.roi_high, percent)),
    ]
    row = dbc.Row(
        [dbc.Col(kpi_card(t, v, h), md=True, xs=6, className="mb-2") for t, v, h in cards]
    )
    text = (
        f"{number(plan.n_matching)} of {number(plan.n_customers)} customers match the target; "
        f"{number(o.orders, 1)} incremental purchases expected."
    )
    notes = [html.P(n, className="small text-muted mb-1") for n in plan.notes]
    return static_block(html.Div([row, html.P(text, id="cp-summary", className="mb-1"), *notes]))


@callback(
    Output("cp-outcome", "children"),
    Output("cp-message", "children"),
    Output("cp-clusters", "options"),
    *PLAN_INPUTS,
)
@kept_outputs
def update_plan(dataset, start, end, countries, *values):
    try:
        plan = _plan(dataset, start, end, countries, *values)
    except ParamError as exc:
        return None, param_alert(exc), no_update
    except ValueError as exc:
        return None, dbc.Alert(str(exc), color="warning", className="my-2"), no_update
    options = [{"label": c, "value": c} for c in plan.clusters]
    if plan.reason:
        return empty_state(plan.reason), None, options
    return _outcome(plan, service.currency(dataset)), None, options


@callback(
    Output("cp-download", "data"),
    Input("cp-download-btn", "n_clicks"),
    *PLAN_STATES,
    prevent_initial_call=True,
)
def download_list(n_clicks, dataset, start, end, countries, *values):
    try:
        plan = _plan(dataset, start, end, countries, *values)
    except ValueError:  # ParamError included: the page already shows the message
        return no_update
    if plan.reason or plan.customers is None:
        return no_update
    return csv_download(plan.customers, "campaign_target_control.csv")


def _uploaded(contents: str) -> pd.DataFrame:
    try:
        raw = base64.b64decode(contents.split(",", 1)[1], validate=True)
        return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (IndexError, binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"The list is not a readable CSV file ({exc}).") from None


@callback(
    Output("cp-tracking", "children"),
    as_input(params.CAMPAIGN_START),
    Input("cp-upload", "contents"),
    State("cp-upload", "filename"),
    *FILTER_STATES,
)
def update_tracking(start_day, contents, filename, dataset, start, end, countries):
    if not contents:
        return empty_state("Upload the list downloaded above and pick the start day.")
    currency = service.currency(dataset)
    try:
        target, control_ids = views.read_groups(_uploaded(contents))
        effect = views.campaign_effect(
            filters_from(dataset, start, end, countries), start_day, target, control_ids
        )
    except ParamError as exc:
        return param_alert(exc)
    except (ValueError, DataLoadError) as exc:
        return dbc.Alert(f"{filename or 'The list'}: {exc}", color="warning", className="my-2")
    rows = []
    for m, fmt in ((effect.revenue, lambda v: money(v, currency, 2)),
                   (effect.purchases, lambda v: number(v, 3))):  # fmt: skip
        rows.append(
            {
                "Per customer": m.name.capitalize(),
                "Target": fmt(m.target_mean),
                "Control": fmt(m.control_mean),
                "Difference": fmt(m.per_customer),
                "95% interval": f"{fmt(m.low)} to {fmt(m.high)}",
                "Campaign total": fmt(m.total),
            }
        )
    color = {"raised": "success", "lowered": "danger"}.get(effect.revenue.verdict, "secondary")
    block = html.Div(
        [
            dbc.Alert(effect.verdict, color=color, className="my-2", id="cp-verdict"),
            html.P(
                f"{number(effect.n_target)} target and {number(effect.n_control)} control "
                "customers.",
                className="small text-muted mb-1",
            ),
            frame_table(pd.DataFrame(rows)),  # responsive: it scrolls sideways on a phone
        ]
    )
    return static_block(block)
