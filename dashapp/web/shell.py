"""The app shell: navbar built from the page registry, page container, URL-state sync and
the app-wide error handler."""

from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashapp.web.messages import user_text
from dashapp.web.urlstate import build_query, merge_control_values, parse_query, state_id

log = logging.getLogger(__name__)

APP_TITLE = "Customer Segments & CLV"
PAGES_LOCATION = "_pages_location"  # the dcc.Location that Dash Pages routes on


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(
            dbc.NavLink(
                page["name"],
                href=page["relative_path"],
                active="exact",
                id={"kind": "nav", "path": page["path"]},
            )
        )
        for page in dash.page_registry.values()
        if page.get("nav", True)
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(APP_TITLE, href=dash.get_relative_path("/"), className="fw-bold"),
                dbc.NavbarToggler(id="navbar-toggler"),
                dbc.Collapse(
                    dbc.Nav(links, navbar=True, className="ms-auto"),
                    id="navbar-collapse",
                    navbar=True,
                ),
            ],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="mb-3",
    )


def layout() -> html.Div:
    return html.Div(
        [
            navbar(),
            dbc.Container(
                [
                    dbc.Alert(id="app-error", is_open=False, dismissable=True, color="danger"),
                    dcc.Store(id="session-uploads", storage_type="session"),
                    dash.page_container,
                ],
                fluid=True,
                className="pb-5",
            ),
        ]
    )


@callback(
    Output(PAGES_LOCATION, "search"),
    Input({"kind": "state", "key": ALL}, "value"),
    Input({"kind": "date", "key": ALL}, "date"),
    State(PAGES_LOCATION, "search"),
    prevent_initial_call=True,
)
def write_state_to_url(values, dates, current):
    """When the user changes a control, write every control's value to the query string.

    Dash also calls this when a page's controls are rendered (each new control counts as
    triggered); those calls carry several triggers and must not rewrite the URL, or every
    page load would re-render the page once more."""
    if len(ctx.triggered) != 1 or not isinstance(ctx.triggered_id, dict):
        return no_update
    key = ctx.triggered_id["key"]
    if build_query({key: ctx.triggered[0]["value"]}) == build_query(
        {key: parse_query(current).get(key)}
    ):
        return no_update  # a control echoing its URL value (date pickers do on mount)
    pairs = [(item["id"]["key"], item.get("value")) for item in ctx.inputs_list[0]]
    pairs += [(item["id"]["key"], item.get("value")) for item in ctx.inputs_list[1]]
    changed = ctx.triggered_id["key"] if isinstance(ctx.triggered_id, dict) else None
    search = build_query(merge_control_values(pairs, changed))
    return no_update if search == (current or "") else search


@callback(
    Output({"kind": "nav", "path": ALL}, "href"),
    Input(PAGES_LOCATION, "search"),
    State({"kind": "nav", "path": ALL}, "id"),
)
def carry_state_in_links(search, ids):
    """Navbar links keep the current query string, so filters follow the user across pages."""
    return [dash.get_relative_path(i["path"]) + (search or "") for i in ids]


@callback(
    Output(state_id("dataset"), "options"),
    Input("session-uploads", "data"),
    Input("filter-bar-ready", "children"),
    State(state_id("dataset"), "options"),
)
def offer_session_uploads(uploads, _ready, options):
    """Datasets uploaded in this browser session join the filter bar's dataset choices."""
    options = list(options or [])
    known = {o["value"] for o in options}
    extra = [
        {"label": u["label"], "value": u["id"]} for u in uploads or [] if u.get("id") not in known
    ]
    return options + extra if extra else no_update


@callback(
    Output("navbar-collapse", "is_open"),
    Input("navbar-toggler", "n_clicks"),
    State("navbar-collapse", "is_open"),
    prevent_initial_call=True,
)
def toggle_navbar(n, is_open):
    return not is_open


def on_callback_error(err: Exception):
    """App-wide handler: a failing callback shows a message instead of a stack trace."""
    from dashapp.ingest.loading import DataLoadError

    if isinstance(err, DataLoadError | ValueError):
        log.info("callback refused input: %s: %s", type(err).__name__, err)
    else:
        log.error("callback failed", exc_info=err)
    text = (
        user_text(err)
        if isinstance(err, DataLoadError | ValueError)
        else (
            "Something went wrong while computing this view. The error was logged; try other "
            "settings or reload the page."
        )
    )
    dash.set_props("app-error", {"children": text, "is_open": True})
