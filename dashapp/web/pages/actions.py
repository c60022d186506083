"""Action list: every customer with segment, cluster, P(alive), predicted CLV, the
recommended action and the value at stake, as one CSV to hand to a CRM team."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from dashapp import service
from dashapp.analytics import actions
from dashapp.service import ParamError, params
from dashapp.service.selection import select_or_all
from dashapp.service.views.stories import action_story
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    customer_column,
    empty_state,
    filter_bar,
    filters_from,
    money_column,
    number_column,
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
from dashapp.web.components.story import action_text, page_href, story_card
from dashapp.web.controls import as_input, as_state, hidden, param_alert
from dashapp.web.crm_export import crm_export, register_crm_export
from dashapp.web.format import money, number
from dashapp.web.outputs import kept_outputs

dash.register_page(
    __name__,
    path="/actions",
    name="Action list",
    order=7,
    title="Action list · Customer Segments & CLV",
)

# The action list reuses the CLV and clustering pages' settings (same URL keys, same
# declarations, same messages), so the list matches what those pages show.
SETTINGS = (
    *params.CLV_VALUE_PARAMS[:4], params.CLUSTER_METHOD, params.CLUSTER_K, params.CLV_CHURN
)  # fmt: skip


def layout(clv_model=None, clv_horizon=None, clv_margin=None, clv_discount=None,
           cl_method=None, cl_k=None, clv_churn=None, act_sel=None, **query):  # fmt: skip
    currency = service.currency(query.get("dataset"))
    raw = (clv_model, clv_horizon, clv_margin, clv_discount, cl_method, cl_k, clv_churn)
    carried = html.Div(
        [hidden(param, value) for param, value in zip(SETTINGS, raw, strict=True)], hidden=True
    )
    columns = _columns(currency)
    return html.Div(
        [
            page_header(
                "Action list",
                "Who to contact first: customers sorted by the value at "
                "stake, with their segment, cluster and the recommended action.",
            ),
            filter_bar(**query),
            carried,
            # the story first: what to do; then the totals, and how they were made
            html.Div(id="actions-story"),
            html.Div(id="actions-message"),
            html.Div(id="actions-settings", className="small text-muted mb-2"),
            section(
                "Customers by value at stake",
                html.Div(
                    [
                        selection_chip("act", act_sel),
                        dbc.Button(
                            "Download the action list (CSV)",
                            id="actions-download-btn",
                            color="primary",
                            size="sm",
                            className="mb-2",
                        ),
                        dcc.Download(id="actions-download"),
                        crm_export(),
                        paged_grid("actions-grid", columns),
                    ]
                ),
                note="Value at stake = value if still active × (1 − P(alive)): what the "
                "customer would bring over the horizon if still a customer, weighted by the "
                "chance that they have already gone (predicted CLV = value if still active × "
                "P(alive)). An active segment with P(alive) below "
                f"{actions.LAPSED_BELOW:.0%} is offered a win-back, not an upsell. The table "
                "and the CSV have every customer (or the selection shown above the table). "
                "Cells a spreadsheet would run as formulas are neutralised.",
            ),
        ]
    )


def _columns(currency: str) -> list[dict]:
    return [
        customer_column(),
        {**money_column("value_at_stake", "Value at stake", currency), "minWidth": 110},
        # what to do, next to who and how much: at 1440 px it was past the grid's right edge
        {
            "field": "recommended_action",
            "headerName": "Recommended action",
            "contentChars": actions.LONGEST_ACTION,  # on one line, never cut
            "tooltipField": "recommended_action",
        },
        {**money_column("clv", "Predicted CLV", currency), "minWidth": 115},
        {**money_column("clv_if_alive", "Value if still active", currency), "minWidth": 115},
        number_column("p_alive", "P(alive)", 3),
        {
            **number_column("p_churn", "P(churn)", 3),
            "minWidth": 120,
            "headerTooltip": "P(no purchase in the next H days), H = the CLV page's churn horizon",
        },
        {**number_column("p_not_alive", "P(not alive)", 3), "minWidth": 130},
        {"field": "segment", "headerName": "RFM segment", "minWidth": 150},
        {"field": "cluster", "headerName": "Cluster", "minWidth": 130},
        number_column("recency", "Recency (days)"),
        number_column("frequency", "Orders"),
        money_column("monetary", "Monetary", currency),
    ]


def _list(dataset, start, end, countries, *settings) -> service.ActionList:
    return service.action_list(filters_from(dataset, start, end, countries), *settings)


def _settings_text(settings: tuple) -> str:
    model, horizon, margin, discount, method, k, churn = (
        p.parse(v) for p, v in zip(SETTINGS, settings, strict=True)
    )
    label = dict(params.CLV_MODEL.choices)[model]
    clusters = method + (f", k = {k}" if method != "dbscan" else "")
    return (
        f"Model {label} + Gamma-Gamma, horizon {horizon} months, margin {margin:g}%, "
        f"discount {discount:g}% a year, churn horizon H = {churn} days; clusters: {clusters} (change them on the CLV and "
        "Clustering pages)."
    )


ACTION_INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in SETTINGS)]


def _grid_rows(dataset, start, end, countries, *settings):
    """The action list, largest value at stake first (the service pages, sorts and filters
    it)."""
    try:
        result = _list(dataset, start, end, countries, *settings)
    except ParamError:
        return None
    return None if result.reason else result.table


serve_rows("actions-grid", ACTION_INPUTS, _grid_rows, selection=selection_input("act"))
drill_down("act", (), _columns("£"), {"value_at_stake": "Value at stake"})


@callback(
    Output("actions-settings", "children"),
    Output("actions-message", "children"),
    Output("actions-story", "children"),
    *ACTION_INPUTS,
)
@kept_outputs
def update_actions(dataset, start, end, countries, *settings):
    try:
        result = _list(dataset, start, end, countries, *settings)
    except ParamError as exc:
        return None, param_alert(exc), None
    text = _settings_text(settings)
    if result.reason:
        return text, empty_state(result.reason), None
    table = result.table
    currency = service.currency(dataset)
    total = table["value_at_stake"].sum()
    notes: list = [
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
    if result.notes:  # how the models were fitted: one click away, not in the way
        notes.append(
            html.Details(
                [
                    html.Summary("How the value and the clusters were computed"),
                    *(html.P(n, className="mb-1") for n in result.notes),
                ],
                className="small text-muted mb-1",
            )  # fmt: skip
        )
    story = action_story(table)
    sentences, step, link = action_text(story, currency)
    query = {"dataset": dataset, "start": start, "end": end, "countries": countries,
             **{p.key: v for p, v in zip(SETTINGS, settings, strict=True)},
             "act_sel": story.head.selection}  # fmt: skip
    story_block = story_card(sentences, step, page_href("/actions", query), link)
    return text, html.Div(notes), story_block if story.head.customers else None


@callback(
    Output("actions-download", "data"),
    Input("actions-download-btn", "n_clicks"),
    *FILTER_STATES,
    *(as_state(p) for p in SETTINGS),
    selection_state("act"),
    prevent_initial_call=True,
)
def download_actions(n_clicks, dataset, start, end, countries, *settings_and_selection):
    *settings, sel = settings_and_selection
    try:
        result = _list(dataset, start, end, countries, *settings)
    except ParamError:
        return no_update
    if result.reason:
        return no_update
    currency = service.currency(dataset)
    return grid_export(
        select_or_all(result.table, sel),
        _columns(currency),
        title="Action list",
        page="actions",
        dataset=dataset or service.default_dataset_id(),
        start=start,
        end=end,
        countries=countries,
        currency=currency,
        selection=selection_words(sel, _columns(currency)),
        extra=[_settings_text(tuple(settings))],
    )


register_crm_export(_list, [*FILTER_STATES, *(as_state(p) for p in SETTINGS)])
