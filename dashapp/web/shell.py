"""The app shell: navbar built from the page registry, page container, URL-state sync
(clientside, ``assets/urlstate.js``) and the app-wide error handler."""

from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    dcc,
    html,
    no_update,
)

from dashapp.web.components import FILTER_BAR_DATASET
from dashapp.web.messages import user_text
from dashapp.web.urlstate import state_id

log = logging.getLogger(__name__)

APP_TITLE = "Customer Segments & CLV"
PAGES_LOCATION = "_pages_location"  # the dcc.Location that Dash Pages routes on
PAGE_RELOAD = "page-reload"  # a store whose change makes the router render the page again


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
                    dcc.Store(id=PAGE_RELOAD),
                    dash.page_container,
                ],
                fluid=True,
                className="pb-5",
            ),
        ]
    )


#: What Dash Pages' router listens to (``Dash(routing_callback_inputs=...)``): the pathname
#: and the page-reload store. The search is only read: writing the controls' values into the
#: URL must not render the page again (which would also run every page callback twice).
ROUTER_INPUTS = {
    "search_": State(PAGES_LOCATION, "search"),
    "_reload": Input(PAGE_RELOAD, "data"),
}

# The URL follows the controls in the browser (assets/urlstate.js), with no server request.
clientside_callback(
    ClientsideFunction("urlstate", "write"),
    Output(PAGES_LOCATION, "search"),
    Input({"kind": "state", "key": ALL}, "value"),
    Input({"kind": "date", "key": ALL}, "date"),
    State(PAGES_LOCATION, "search"),
    prevent_initial_call=True,
)

# Back / forward buttons change the search under a page: render it again from the URL when a
# control no longer shows the URL's value. So does choosing another dataset (the filter bar's
# dates and countries are the dataset's).
clientside_callback(
    ClientsideFunction("urlstate", "follow"),
    Output(PAGE_RELOAD, "data"),
    Input(PAGES_LOCATION, "search"),
    Input(PAGES_LOCATION, "pathname"),
    State({"kind": "state", "key": ALL}, "value"),
    State({"kind": "date", "key": ALL}, "date"),
    State(PAGE_RELOAD, "data"),
    State({**FILTER_BAR_DATASET, "key": ALL}, "data"),
    prevent_initial_call=True,
)

# Navbar links keep the current query string, so filters follow the user across pages.
clientside_callback(
    ClientsideFunction("urlstate", "links"),
    Output({"kind": "nav", "path": ALL}, "href"),
    Input(PAGES_LOCATION, "search"),
    State({"kind": "nav", "path": ALL}, "href"),
)


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
