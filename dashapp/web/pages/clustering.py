"""Clustering: K-Means, DBSCAN, hierarchical and Gaussian-mixture segments of the customers,
named by value, with the PCA view, profiles, diagnostics and the customers of a cluster.

Every control lives in the URL (``cl_*`` keys). A click on a cluster (a scatter point, a
treemap tile, a profile row, an agreement cell) lists its customers in the grid, shown as the
removable chip every page uses (``components.drill``, URL key ``cl_sel``; an old link's
``cl_cluster`` opens the same selection). Callbacks are split so that a selection (display
only) reads the memoized clustering instead of fitting again, and the method's diagnostic
curve is computed by its own callback, only for the selected method and only while its panel
is open. The grid pages through the server (only the rows shown travel).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import (
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

from dashapp import service
from dashapp.service import ParamError, params
from dashapp.service.params import Param
from dashapp.service.selection import parse, select_or_all, token
from dashapp.service.views.stories import cluster_story
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    download_button,
    empty_state,
    filter_bar,
    filters_from,
    graph,
    output_block,
    page_header,
    paged_grid,
    section,
    serve_rows,
    side_by_side,
    static_block,
)
from dashapp.web.components.clustering import (
    DIAG_NOTES,
    DRILL_LABELS,
    K_BUTTON_HIDDEN,
    grid_columns,
    k_advice,
    metrics_panel,
    summary_line,
)
from dashapp.web.components.drill import (
    drill_down,
    selection_chip,
    selection_input,
    selection_state,
    selection_words,
)
from dashapp.web.components.exporting import grid_export
from dashapp.web.components.story import cluster_text, page_href, story_card
from dashapp.web.controls import as_input, as_state, control, param_alert
from dashapp.web.figures.base import empty_figure
from dashapp.web.figures.clustering import (
    TREEMAP_MIN_SHARE,
    agreement_heatmap,
    pca_scatter,
    profile_heatmap,
    revenue_treemap,
)
from dashapp.web.figures.clustering_diagnostics import diagnostics_figure
from dashapp.web.outputs import kept_outputs
from dashapp.web.urlstate import state_id

dash.register_page(
    __name__,
    path="/clustering",
    name="Clustering",
    order=4,
    title="Clustering · Customer Segments & CLV",
)


def _shown(method: str, param: Param) -> dict:
    """Only the parameters the method uses are shown."""
    return {} if param in params.METHOD_PARAMS.get(method, ()) else {"display": "none"}


def _controls(raw: dict) -> dbc.Card:
    """The clustering controls, from their declarations, starting at the URL's values."""
    method = raw.get(params.CLUSTER_METHOD.key) or params.CLUSTER_METHOD.default
    widths = {"cl_method": 3, "cl_k": 2, "cl_eps": 2, "cl_min_samples": 2, "cl_linkage": 2,
              "cl_cov": 2, "cl_features": 5, "cl_transform": 3, "cl_scale": 4}  # fmt: skip
    method_params = {p for ps in params.METHOD_PARAMS.values() for p in ps}

    def one(param: Param) -> dbc.Col:
        extra = {}
        if param in method_params:
            extra = {"id": f"cl-param-{param.arg.replace('covariance_type', 'cov')}",
                     "style": _shown(method, param)}  # fmt: skip
        select = param.kind == "choice" and len(param.choices) > 3
        small = {"className": "small"} if param.kind in ("choice", "choices") and not select else {}
        return control(param, raw.get(param.key), select=select, widget_kwargs=small,
                       md=widths[param.key], **extra)  # fmt: skip

    first = params.CLUSTER_PARAMS[:6]
    second = (params.CLUSTER_FEATURES, params.CLUSTER_TRANSFORM, params.CLUSTER_SCALE)
    note = html.Div(
        "Features are transformed with a signed log1p and scaled by default: frequency and "
        "monetary have heavy tails (a few customers buy 100+ times), which would otherwise "
        "dominate the distances. Clusters are named and listed by median monetary (spend per "
        "customer; ties by frequency, then recency), never by their number.",
        className="small text-muted mt-1",
    )
    rows = [
        dbc.Row([one(p) for p in first], className="g-2 mb-2"),
        dbc.Row([one(p) for p in second], className="g-2"),
        note,
    ]
    return dbc.Card(dbc.CardBody(rows), className="mb-3")


def layout(
    cl_method=None,
    cl_k=None,
    cl_eps=None,
    cl_min_samples=None,
    cl_linkage=None,
    cl_cov=None,
    cl_transform=None,
    cl_scale=None,
    cl_features=None,
    cl_sel=None,
    cl_cluster=None,
    **query,
):
    currency = service.currency(query.get("dataset"))
    raw = (cl_method, cl_k, cl_eps, cl_min_samples, cl_linkage, cl_cov, cl_transform, cl_scale,
           cl_features)  # fmt: skip
    return html.Div(
        [
            page_header(
                "Clustering",
                "Customers grouped by K-Means, DBSCAN, hierarchical "
                "clustering or a Gaussian mixture on their RFM features; clusters are "
                "named from their value.",
            ),
            filter_bar(**query),
            _controls({p.key: v for p, v in zip(params.CLUSTER_PARAMS, raw, strict=True)}),
            html.Div(id="cl-message"),
            output_block("cl-story"),
            html.Div([html.Div(id="cl-summary"), html.Div(id="cl-note")]),
            *_result_sections(),
            _customers_section(
                cl_sel or (token(cluster=cl_cluster) if cl_cluster else None), currency
            ),  # fmt: skip
        ]
    )


def _result_sections() -> list:
    scatter = section(
        "Customers on the first two principal components",
        graph("cl-scatter", 480),
        note="Colour = cluster; hover for the customer. Click a point to "
        "list its cluster's customers below.",
    )
    treemap = section(
        "Revenue by cluster",
        graph("cl-treemap", 380),
        note=f"Tile size = net revenue (at least {TREEMAP_MIN_SHARE:.1%} of "
        "the area, so that no cluster disappears). Click a tile to "
        "list its customers.",
    )
    profiles = section(
        "Cluster profiles",
        graph("cl-profiles", 260, phone_width=720),
        note="Values are the real medians; colour compares each column across the "
        "clusters (standardised), oriented so that blue is better: more recent, "
        "more frequent, more spend, longer tenure. Click a row to list its customers.",
    )
    # Computed when opened (the elbow / BIC loops over k cost 0.1-0.7 s): a settings change
    # while the panel is closed sends no request for it (assets/switches.js, "gate").
    diagnostics = section(
        "Diagnostics",
        html.Div(
            [
                dbc.Button(
                    "Show the method's diagnostic curve",
                    id="cl-diag-toggle",
                    color="primary",
                    outline=True,
                    size="sm",
                ),
                dcc.Store(id="cl-diag-request"),
                dbc.Collapse(
                    [
                        graph("cl-diagnostics", 340),
                        html.Div(
                            [
                                html.Span(id="cl-k-advice"),
                                dbc.Button(
                                    id="cl-k-use",
                                    color="primary",
                                    size="sm",
                                    className="ms-2 py-0",
                                    style={"display": "none"},
                                ),
                                dcc.Store(id="cl-k-suggested"),
                            ],
                            className="small my-1",
                        ),  # fmt: skip
                        output_block("cl-diag-note", className="small text-muted"),
                    ],
                    id="cl-diag-panel",
                    is_open=False,
                    className="mt-2",
                ),
            ]
        ),
        note="Elbow and silhouette curve (K-Means), k-distance curve (DBSCAN), dendrogram "
        "(hierarchical) or BIC over k (Gaussian mixture), computed when shown.",
    )
    agreement = section(
        "Agreement with the RFM segments",
        graph("cl-agreement", 300, phone_width=760),
        note="Each row: how a cluster's customers spread over the RFM segments "
        "(share of the cluster, customers in brackets). Click a cell to list those customers.",
    )
    return [
        side_by_side(scatter, treemap, 8),
        profiles,
        side_by_side(section("Cluster quality", output_block("cl-metrics")), diagnostics, 4),
        agreement,
    ]


def _customers_section(selection, currency: str) -> dbc.Card:
    header = dbc.Row(
        [
            dbc.Col(
                selection_chip(
                    "cl",
                    selection,
                    "Click a cluster (a point, a tile, a profile row) to list its customers.",
                ),
                md=9,
            ),
            dbc.Col(
                html.Div(download_button("cl", "Download CSV"), className="text-md-end"), md=3
            ),  # fmt: skip
        ],
        className="g-2",
    )
    return section(
        "Customers and their clusters",
        html.Div(
            [
                header,
                html.Div(id="cl-grid-title", className="small text-muted mb-2"),
                paged_grid("cl-grid", grid_columns(currency)),
            ]  # fmt: skip
        ),
        note="Largest spend first. The CSV holds the customers listed (the current filters "
        "and selection), with the grid's columns; cells that a spreadsheet would run as a "
        "formula are neutralised.",
    )


CLUSTER_INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in params.CLUSTER_PARAMS)]
CLUSTER_STATES = [*FILTER_STATES, *(as_state(p) for p in params.CLUSTER_PARAMS)]


def _view(dataset, start, end, countries, *controls) -> service.ClusterView:
    """The clustering for the filter bar and the page's controls (ParamError names a bad
    one)."""
    return service.cluster_view(filters_from(dataset, start, end, countries), *controls)


@callback(
    Output("cl-summary", "children"),
    Output("cl-note", "children"),
    Output("cl-message", "children"),
    Output("cl-scatter", "figure"),
    Output("cl-treemap", "figure"),
    Output("cl-profiles", "figure"),
    Output("cl-metrics", "children"),
    Output("cl-agreement", "figure"),
    Output(state_id("cl_eps"), "placeholder"),
    Output(state_id("cl_min_samples"), "placeholder"),
    Output("cl-story", "children"),
    *CLUSTER_INPUTS,
)
@kept_outputs
def update_clustering(dataset, start, end, countries, *controls):
    currency = service.currency(dataset)
    try:
        view = _view(dataset, start, end, countries, *controls)
    except ParamError as exc:
        return (no_update,) * 2 + (param_alert(exc),) + (no_update,) * 7 + (None,)
    if view.reason:
        blank = empty_figure("No clusters")
        return (
            None,
            None,
            empty_state(view.reason),
            empty_figure(view.reason, 480),
            blank,
            blank,
            None,
            blank,
            "automatic",
            "automatic",
            None,
        )
    p = view.params
    approx = view.approximate
    hint = ""
    if view.method == "dbscan" and view.n_clusters == 1:
        hint = (
            " DBSCAN found a single dense group: these customers form one continuum at "
            "this eps. Lower eps (or min_samples) to split it, or try another method."
        )
    note = static_block(
        dbc.Alert(
            [
                html.Strong("Approximation: " if approx else "How: "),
                view.note,
                html.Strong(hint) if hint else None,
            ],
            color="info" if approx else "light",
            className="py-2 small mb-2",
            id="cl-approx-note" if approx else "cl-fit-note",
        )
    )
    eps_ph = f"automatic ({p['eps']:.3g})" if p.get("eps_auto") else "automatic"
    ms_ph = f"automatic ({p['min_samples']})" if view.method == "dbscan" else "automatic"
    return (
        summary_line(view),
        note,
        None,
        pca_scatter(view, currency),
        revenue_treemap(view.profiles, currency),
        profile_heatmap(view.profiles, currency),
        metrics_panel(view),
        agreement_heatmap(view.agreement, view.diagnostics.get("ari_vs_segments")),
        eps_ph,
        ms_ph,
        _story(view, dataset, start, end, countries, controls),
    )


def _story(view, dataset, start, end, countries, controls) -> dbc.Card:
    """The page's story; its link lists the most valuable cluster's customers."""
    story = cluster_story(view.profiles, view.names, view.diagnostics)
    sentences, step, link = cluster_text(story, view.method_label)
    query = {"dataset": dataset, "start": start, "end": end, "countries": countries,
             **{p.key: v for p, v in zip(params.CLUSTER_PARAMS, controls, strict=True)},
             "cl_sel": story.best.selection}  # fmt: skip
    return story_card(sentences, step, page_href("/clustering", query), link)


clientside_callback(
    ClientsideFunction("switches", "toggle"),
    Output("cl-diag-panel", "is_open"),
    Output("cl-diag-toggle", "children"),
    Input("cl-diag-toggle", "n_clicks"),
    State("cl-diag-panel", "is_open"),
    prevent_initial_call=True,
)
# The settings reach the diagnostics only while the panel is open.
clientside_callback(
    ClientsideFunction("switches", "gate"),
    Output("cl-diag-request", "data"),
    Input("cl-diag-panel", "is_open"),
    *CLUSTER_INPUTS,
    State("cl-diag-request", "data"),
)


@callback(
    Output("cl-diagnostics", "figure"),
    Output("cl-diag-note", "children"),
    Output("cl-k-advice", "children"),
    Output("cl-k-use", "children"),
    Output("cl-k-use", "style"),
    Output("cl-k-suggested", "data"),
    Input("cl-diag-request", "data"),
    *CLUSTER_STATES,
    prevent_initial_call=True,
)
def update_cluster_diagnostics(_request, dataset, start, end, countries, *controls):
    try:
        diag = service.cluster_diagnostics(filters_from(dataset, start, end, countries), *controls)
    except ParamError:
        return (no_update,) * 6
    advice = k_advice(diag.suggestion) if not diag.reason else ("", "", K_BUTTON_HIDDEN)
    chosen = diag.suggestion.k if diag.suggestion is not None else None
    return (*_diagnostics(diag), *advice, chosen)


# One click on "Use k = ..." sets the k control (the URL and the page follow it).
clientside_callback(
    "function (n, k) { return n && k ? k : window.dash_clientside.no_update; }",
    Output(state_id("cl_k"), "value"),
    Input("cl-k-use", "n_clicks"),
    State("cl-k-suggested", "data"),
    prevent_initial_call=True,
)


def _diagnostics(diag) -> tuple:
    if diag.reason:
        return diagnostics_figure(diag), None
    n_points, n_total = diag.n_points, diag.n_total
    sample = (
        f", on a random sample of {n_points:,} of the {n_total:,} customers"
        if n_points and n_total and n_points < n_total
        else ""
    )
    text = DIAG_NOTES[diag.kind].format(
        sample=sample,
        k=diag.extra.get("k", diag.k),
        linkage=diag.extra.get("linkage"),
        cov=diag.extra.get("covariance_type"),
    )
    return diagnostics_figure(diag), text


#: The customers' columns the grid and the CSV show, largest spend first.
GRID_FIELDS = ["customer_id", "cluster", "segment", "recency", "frequency", "monetary", "tenure",
               "aov"]  # fmt: skip


def _grid_rows(dataset, start, end, countries, *controls_and_selection):
    """Every customer with their cluster, largest spend first (the service applies the
    selection, pages, sorts and filters them), and the grid's title: what is listed, or that
    the selected cluster does not exist with these settings. The clustering is memoized and
    computed once however many callbacks ask for it at the same time: this never fits again."""
    *controls, chosen = controls_and_selection
    try:
        view = _view(dataset, start, end, countries, *controls)
    except ParamError:
        return None, no_update
    if view.reason:
        return None, None
    rows = view.customers[GRID_FIELDS].astype({"cluster": str})
    rows = rows.sort_values("monetary", ascending=False, kind="stable")
    missing = [c.value for c in _clauses(chosen) if c.column == "cluster"
               and c.value not in view.names]  # fmt: skip
    if missing:
        title = (f"'{missing[0]}' is not a cluster with these settings (clusters: "
                 f"{', '.join(view.names)}): remove the selection (×) or click a cluster.")  # fmt: skip
    elif chosen:
        title = ""
    else:
        title = f"All {len(rows):,} customers with their cluster."
    return rows, title


def _clauses(text) -> tuple:
    try:
        return parse(text)
    except ValueError:
        return ()


serve_rows(
    "cl-grid",
    CLUSTER_INPUTS,
    _grid_rows,
    extra_outputs=(Output("cl-grid-title", "children"),),
    selection=selection_input("cl"),
    pass_selection=True,
)
drill_down("cl", ("cl-scatter", "cl-treemap", "cl-profiles", "cl-agreement"),
           grid_columns("£"), DRILL_LABELS)  # fmt: skip


@callback(
    Output("cl-download", "data"),
    Input("cl-download-btn", "n_clicks"),
    selection_state("cl"),
    *CLUSTER_STATES,
    prevent_initial_call=True,
)
def download_clusters(n_clicks, chosen, dataset, start, end, countries, *controls):
    """The customers listed (the cluster chosen by a click, or every customer with their
    cluster), with the grid's columns, in the grid's order."""
    try:
        view = _view(dataset, start, end, countries, *controls)
    except ParamError:
        return no_update
    if view.reason:
        return no_update
    currency = service.currency(dataset)
    table = view.customers.astype({"cluster": str})
    table = select_or_all(table.sort_values("monetary", ascending=False, kind="stable"), chosen)
    return grid_export(
        table,
        grid_columns(currency),
        selection=selection_words(chosen, grid_columns(currency), DRILL_LABELS),
        title=f"Clusters ({view.method_label}), customers",
        page=f"clusters-{view.method}",
        dataset=dataset or service.default_dataset_id(),
        start=start,
        end=end,
        countries=countries,
        currency=currency,
        as_of=view.as_of,
        extra=[f"Settings: {', '.join(f'{k} {v}' for k, v in view.params.items())}"],
    )
