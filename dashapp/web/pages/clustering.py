"""Clustering: K-Means, DBSCAN, hierarchical and Gaussian-mixture segments of the customers,
named by value, with the PCA view, profiles, diagnostics and the customers of a cluster.

Every control lives in the URL (``cl_*`` keys). Callbacks are split so that choosing the
cluster shown in the grid (display only) reads the memoized clustering instead of fitting
again, and the method's diagnostic curve is computed by its own callback, only for the
selected method.
"""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashapp import service
from dashapp.analytics import clustering
from dashapp.service.exports import to_safe_csv
from dashapp.web.components import (
    FILTER_INPUTS,
    data_grid,
    filter_bar,
    filters_from,
    labelled,
    message,
    money_column,
    number_column,
    page_header,
    section,
)
from dashapp.web.figures import empty_figure, number
from dashapp.web.figures.clustering import (
    TREEMAP_MIN_SHARE,
    agreement_heatmap,
    diagnostics_figure,
    pca_scatter,
    profile_heatmap,
    revenue_treemap,
)
from dashapp.web.urlstate import date_id, split_list, state_id

dash.register_page(
    __name__,
    path="/clustering",
    name="Clustering",
    order=4,
    title="Clustering · Customer Segments & CLV",
)

DEFAULT_K = 4
FEATURE_OPTIONS = [
    {"label": "Recency", "value": "recency"},
    {"label": "Frequency", "value": "frequency"},
    {"label": "Monetary", "value": "monetary"},
    {"label": "Tenure", "value": "tenure"},
    {"label": "Avg order value", "value": "aov"},
]
#: URL keys of the page's controls, in the order the callbacks receive them.
KEYS = (
    "cl_method",
    "cl_k",
    "cl_eps",
    "cl_min_samples",
    "cl_linkage",
    "cl_cov",
    "cl_transform",
    "cl_scale",
    "cl_features",
)
#: Which parameter controls each method uses (the others are hidden).
METHOD_PARAMS = {
    "kmeans": {"k"},
    "dbscan": {"eps", "min_samples"},
    "hierarchical": {"k", "linkage"},
    "gmm": {"k", "cov"},
}
EXPORT_COLUMNS = [
    "customer_id",
    "cluster",
    "segment",
    "recency",
    "frequency",
    "monetary",
    "tenure",
    "aov",
    "pc1",
    "pc2",
]
METRIC_HELP = {
    "silhouette": (
        "Silhouette",
        "−1 to 1, higher is better: how much closer customers are to "
        "their own cluster than to the next one.",
    ),
    "davies_bouldin": (
        "Davies-Bouldin",
        "0 or more, lower is better: average similarity of each cluster to its most similar one.",
    ),
    "calinski_harabasz": (
        "Calinski-Harabasz",
        "Higher is better: spread between clusters relative to the spread within them.",
    ),
}


def _num(value, kind=float):
    """A number from the URL / an input; blank -> None; text that is no number stays text
    (the engine then explains what is wrong)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        number_ = float(value)
    except (TypeError, ValueError):
        return value
    if kind is int:
        return int(number_) if math.isfinite(number_) and number_ == int(number_) else value
    return number_


def _params(method, k, eps, min_samples, linkage, cov, transform, scale, features) -> tuple:
    """Control values -> ``service.cluster_view`` parameters (defaults for blanks)."""
    k = _num(k, int)
    feats = split_list(features) or list(clustering.DEFAULT_FEATURES)
    return (
        method or "kmeans",
        DEFAULT_K if k is None else k,
        _num(eps),
        _num(min_samples, int),
        linkage or "ward",
        cov or "full",
        transform or "log1p",
        scale or "standard",
        tuple(feats),
    )


def _shown(method: str, param: str) -> dict:
    return {} if param in METHOD_PARAMS.get(method, set()) else {"display": "none"}


def _radio(key, value, options, inline=True):
    return dbc.RadioItems(
        id=state_id(key), value=value, inline=inline, options=options, className="small"
    )


def _controls(method, k, eps, min_samples, linkage, cov, transform, scale, features):
    method = method if method in clustering.METHODS else "kmeans"
    row1 = dbc.Row(
        [
            labelled(
                "Method",
                dbc.Select(
                    id=state_id("cl_method"),
                    value=method,
                    size="sm",
                    options=[
                        {"label": clustering.METHOD_LABELS[m], "value": m}
                        for m in clustering.METHODS
                    ],
                ),
                md=3,
            ),
            labelled(
                f"Clusters k ({clustering.MIN_K}-{clustering.MAX_K})",
                dbc.Input(
                    id=state_id("cl_k"),
                    type="number",
                    value=_num(k, int) or DEFAULT_K,
                    size="sm",
                    min=clustering.MIN_K,
                    max=clustering.MAX_K,
                    step=1,
                    debounce=True,
                ),
                md=2,
                id="cl-param-k",
                style=_shown(method, "k"),
            ),
            labelled(
                "eps (blank = automatic)",
                dbc.Input(
                    id=state_id("cl_eps"),
                    type="number",
                    value=_num(eps),
                    size="sm",
                    min=0,
                    step="any",
                    debounce=True,
                    placeholder="automatic",
                ),
                md=2,
                id="cl-param-eps",
                style=_shown(method, "eps"),
            ),
            labelled(
                "min_samples (blank = automatic)",
                dbc.Input(
                    id=state_id("cl_min_samples"),
                    type="number",
                    value=_num(min_samples, int),
                    size="sm",
                    min=1,
                    step=1,
                    debounce=True,
                    placeholder="automatic",
                ),
                md=2,
                id="cl-param-min_samples",
                style=_shown(method, "min_samples"),
            ),
            labelled(
                "Linkage",
                dbc.Select(
                    id=state_id("cl_linkage"),
                    value=linkage or "ward",
                    size="sm",
                    options=[{"label": v, "value": v} for v in clustering.LINKAGES],
                ),
                md=2,
                id="cl-param-linkage",
                style=_shown(method, "linkage"),
            ),
            labelled(
                "Covariance type",
                dbc.Select(
                    id=state_id("cl_cov"),
                    value=cov or "full",
                    size="sm",
                    options=[{"label": v, "value": v} for v in clustering.COVARIANCE_TYPES],
                ),
                md=2,
                id="cl-param-cov",
                style=_shown(method, "cov"),
            ),
        ],
        className="g-2 mb-2",
    )
    row2 = dbc.Row(
        [
            labelled(
                "Features (none ticked = R, F, M)",
                dbc.Checklist(
                    id=state_id("cl_features"),
                    value=split_list(features) or list(clustering.DEFAULT_FEATURES),
                    options=FEATURE_OPTIONS,
                    inline=True,
                    className="small",
                ),
                md=5,
            ),
            labelled(
                "Transform",
                _radio(
                    "cl_transform",
                    transform or "log1p",
                    [
                        {"label": "log1p (heavy tails)", "value": "log1p"},
                        {"label": "none", "value": "none"},
                    ],
                ),
                md=3,
            ),
            labelled(
                "Scaling",
                _radio(
                    "cl_scale",
                    scale or "standard",
                    [
                        {"label": "standard", "value": "standard"},
                        {"label": "robust", "value": "robust"},
                        {"label": "none", "value": "none"},
                    ],
                ),
                md=4,
            ),
        ],
        className="g-2",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                row1,
                row2,
                html.Div(
                    "Features are transformed with a signed log1p and scaled by default: frequency and "
                    "monetary have heavy tails (a few customers buy 100+ times), which would otherwise "
                    "dominate the distances. Clusters are named by value (median monetary, frequency, "
                    "recency), never by their number.",
                    className="small text-muted mt-1",
                ),
            ]
        ),
        className="mb-3",
    )


def _graph(id_, height=320):
    return dcc.Loading(
        dcc.Graph(id=id_, figure=empty_figure(height=height), config={"displaylogo": False}),
        delay_show=200,
    )


def _grid_columns(currency: str) -> list[dict]:
    return [
        {"field": "customer_id", "headerName": "Customer", "pinned": "left", "minWidth": 110},
        {"field": "cluster", "headerName": "Cluster", "minWidth": 140},
        {"field": "segment", "headerName": "RFM segment", "minWidth": 150},
        number_column("recency", "Recency (days)"),
        number_column("frequency", "Frequency (invoices)"),
        money_column("monetary", "Monetary", currency),
        number_column("tenure", "Tenure (days)"),
        money_column("aov", "Avg order value", currency),
    ]


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
    cl_cluster=None,
    **query,
):
    currency = service.currency(query.get("dataset"))
    return html.Div(
        [
            page_header(
                "Clustering",
                "Customers grouped by K-Means, DBSCAN, hierarchical "
                "clustering or a Gaussian mixture on their RFM features; clusters are "
                "named from their value.",
            ),
            filter_bar(**query),
            _controls(
                cl_method,
                cl_k,
                cl_eps,
                cl_min_samples,
                cl_linkage,
                cl_cov,
                cl_transform,
                cl_scale,
                cl_features,
            ),
            html.Div(id="cl-message"),
            dcc.Loading(
                html.Div([html.Div(id="cl-summary"), html.Div(id="cl-note")]), delay_show=200
            ),
            dcc.Store(id="cl-names"),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Customers on the first two principal components",
                            _graph("cl-scatter", 480),
                            note="Colour = cluster; hover for the customer. Click a point to "
                            "list its cluster's customers below.",
                        ),
                        lg=8,
                    ),
                    dbc.Col(
                        section(
                            "Revenue by cluster",
                            _graph("cl-treemap", 380),
                            note=f"Tile size = net revenue (at least {TREEMAP_MIN_SHARE:.1%} of "
                            "the area, so that no cluster disappears). Click a tile to "
                            "list its customers.",
                        ),
                        lg=4,
                    ),
                ]
            ),
            section(
                "Cluster profiles",
                _graph("cl-profiles", 260),
                note="Values are the real medians; colour compares each column across the "
                "clusters (standardised), oriented so that blue is better: more recent, "
                "more frequent, more spend, longer tenure.",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Cluster quality",
                            dcc.Loading(html.Div(id="cl-metrics"), delay_show=200),
                        ),
                        lg=4,
                    ),
                    dbc.Col(
                        section(
                            "Diagnostics",
                            html.Div(
                                [
                                    _graph("cl-diagnostics", 340),
                                    dcc.Loading(
                                        html.Div(id="cl-diag-note", className="small text-muted"),
                                        delay_show=200,
                                    ),
                                ]
                            ),
                        ),
                        lg=8,
                    ),
                ]
            ),
            section(
                "Agreement with the RFM segments",
                _graph("cl-agreement", 300),
                note="Each row: how a cluster's customers spread over the RFM segments "
                "(share of the cluster, customers in brackets).",
            ),
            section(
                "Customers of a cluster",
                html.Div(
                    [
                        dbc.Row(
                            [
                                # the URL's choice is an option from the start (the real options, with
                                # sizes, come with the clustering): a dropdown drops a value it cannot show
                                labelled(
                                    "Cluster",
                                    dcc.Dropdown(
                                        id=state_id("cl_cluster"),
                                        value=cl_cluster,
                                        clearable=True,
                                        options=[{"label": cl_cluster, "value": cl_cluster}]
                                        if cl_cluster
                                        else [],
                                        placeholder="most valuable cluster",
                                    ),
                                    md=4,
                                ),
                                dbc.Col(
                                    html.Div(id="cl-grid-title", className="small text-muted mt-4"),
                                    md=5,
                                ),
                                dbc.Col(
                                    html.Div(
                                        [
                                            dbc.Button(
                                                "Download CSV (all customers)",
                                                id="cl-download-btn",
                                                color="primary",
                                                size="sm",
                                            ),
                                            dcc.Download(id="cl-download"),
                                        ],
                                        className="text-md-end mt-4",
                                    ),
                                    md=3,
                                ),
                            ],
                            className="g-2 mb-2",
                        ),
                        dcc.Loading(data_grid("cl-grid", _grid_columns(currency)), delay_show=200),
                    ]
                ),
                note="The CSV holds every customer of the current filters with their cluster; "
                "cells that a spreadsheet would run as a formula are neutralised.",
            ),
        ]
    )


CLUSTER_INPUTS = [*FILTER_INPUTS, *(Input(state_id(key), "value") for key in KEYS)]
CLUSTER_STATES = [
    State(state_id("dataset"), "value"),
    State(date_id("start"), "date"),
    State(date_id("end"), "date"),
    State(state_id("countries"), "value"),
    *(State(state_id(key), "value") for key in KEYS),
]


def _view(dataset, start, end, countries, *controls) -> dict:
    return service.cluster_view(filters_from(dataset, start, end, countries), *_params(*controls))


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _metric_card(title, value, hint):
    return html.Div(
        [
            html.Div(
                [
                    html.Span(title, className="fw-bold"),
                    html.Span(value, className="float-end fs-5 cl-metric-value"),
                ]
            ),
            html.Div(hint, className="small text-muted"),
        ],
        className="border-bottom py-2",
    )


def _metrics(view: dict):
    d = view["diagnostics"]
    sample = d.get("silhouette_sample_size")
    cards = []
    for key, (title, hint) in METRIC_HELP.items():
        digits = 0 if key == "calinski_harabasz" else 3
        value = d.get(key)
        if value is None or not math.isfinite(value):
            hint += " Undefined here: it needs at least two clusters (Outliers left out)."
        elif key == "silhouette" and sample and sample < view["n_customers"]:
            hint += f" On a random sample of {sample:,} customers."
        cards.append(_metric_card(title, _fmt(value, digits), hint))
    if view["method"] == "gmm" and "bic" in d:
        cards.append(
            _metric_card(
                "BIC",
                _fmt(d["bic"], 0),
                "Bayesian information criterion of the mixture (lower is "
                "better; compare across k in the diagnostics).",
            )
        )
    if view["method"] == "dbscan":
        n_out = d.get("n_outliers", 0)
        cards.append(
            _metric_card(
                "Outliers",
                f"{n_out:,}",
                f"{n_out / view['n_customers']:.1%} of the customers are in "
                "no dense neighbourhood (red × in the scatter).",
            )
        )
    ari = d.get("ari_vs_segments")
    if ari is not None:
        cards.append(
            _metric_card(
                "Agreement with RFM (ARI)",
                _fmt(ari, 2),
                "Adjusted Rand index: 1 = the same grouping as the RFM "
                "segments, 0 = no better than chance.",
            )
        )
    outliers = (
        " Silhouette, Davies-Bouldin and Calinski-Harabasz leave the Outliers out."
        if d.get("n_outliers")
        else ""
    )
    return html.Div(
        [*cards, html.Div(outliers, className="small text-muted mt-2") if outliers else None]
    )


def _params_text(view: dict) -> str:
    p = view["params"]
    if view["method"] == "dbscan":
        eps = f"eps = {p['eps']:.3g}" + (" (automatic)" if p.get("eps_auto") else "")
        core = f"{eps}, min_samples = {p['min_samples']}"
    else:
        core = f"k = {p['k']}"
        if view["method"] == "hierarchical":
            core += f", {p['linkage']} linkage"
        if view["method"] == "gmm":
            core += f", {p['covariance_type']} covariance"
    return core


def _summary(view: dict):
    p = view["params"]
    as_of = view.get("as_of")
    clusters = f"{view['n_clusters']} cluster{'s' if view['n_clusters'] != 1 else ''}"
    if "Outliers" in view["names"]:
        clusters += f" + {view['diagnostics']['n_outliers']:,} Outliers"
    feats = ", ".join(p["features"])
    scaling = f"{p['transform']} transform, {p['scale']} scaling"
    return html.P(
        [
            html.Strong(number(view["n_customers"])),
            " customers",
            f" as of {as_of:%Y-%m-%d}" if as_of is not None else "",
            " · ",
            html.Strong(view["method_label"]),
            f" ({_params_text(view)}) → ",
            html.Strong(clusters),
            f" · features: {feats} ({scaling})",
        ],
        className="mb-1",
        id="cl-summary-text",
    )


@callback(
    Output("cl-summary", "children"),
    Output("cl-note", "children"),
    Output("cl-message", "children"),
    Output("cl-scatter", "figure"),
    Output("cl-treemap", "figure"),
    Output("cl-profiles", "figure"),
    Output("cl-metrics", "children"),
    Output("cl-agreement", "figure"),
    Output("cl-names", "data"),
    Output(state_id("cl_cluster"), "options"),
    Output(state_id("cl_cluster"), "placeholder"),
    Output(state_id("cl_eps"), "placeholder"),
    Output(state_id("cl_min_samples"), "placeholder"),
    *CLUSTER_INPUTS,
)
def update_clustering(dataset, start, end, countries, *controls):
    currency = service.currency(dataset)
    view = _view(dataset, start, end, countries, *controls)
    if view["error"]:
        blank = empty_figure("No clusters")
        return (
            None,
            None,
            message(view["error"]),
            empty_figure(view["error"], 480),
            blank,
            blank,
            None,
            blank,
            [],
            [],
            "no clusters",
            "automatic",
            "automatic",
        )
    names = view["names"]
    p = view["params"]
    approx = view["approximate"]
    hint = ""
    if view["method"] == "dbscan" and view["n_clusters"] == 1:
        hint = (
            " DBSCAN found a single dense group: these customers form one continuum at "
            "this eps. Lower eps (or min_samples) to split it, or try another method."
        )
    note = dbc.Alert(
        [
            html.Strong("Approximation: " if approx else "How: "),
            view["note"],
            html.Strong(hint) if hint else None,
        ],
        color="info" if approx else "light",
        className="py-2 small mb-2",
        id="cl-approx-note" if approx else "cl-fit-note",
    )
    sizes = dict(zip(view["profiles"]["cluster"], view["profiles"]["size"], strict=True))
    options = [{"label": f"{n} ({sizes.get(n, 0):,} customers)", "value": n} for n in names]
    eps_ph = f"automatic ({p['eps']:.3g})" if p.get("eps_auto") else "automatic"
    ms_ph = f"automatic ({p['min_samples']})" if view["method"] == "dbscan" else "automatic"
    return (
        _summary(view),
        note,
        None,
        pca_scatter(view, currency),
        revenue_treemap(view["profiles"], currency),
        profile_heatmap(view["profiles"], currency),
        _metrics(view),
        agreement_heatmap(view["agreement"], view["diagnostics"].get("ari_vs_segments")),
        names,
        options,
        f"{names[0]} (most valuable)" if view["n_clusters"] > 1 else names[0],
        eps_ph,
        ms_ph,
    )


DIAG_NOTES = {
    # {sample}: ", on a random sample of ..." when the curve was computed on a sample
    "elbow": "K-Means inertia (the elbow: where adding a cluster stops paying off) and the "
    "silhouette (higher is better) for k = 2..10{sample}; the dotted line marks the "
    "chosen k.",
    "k_distance": "Each customer's distance to its k-th nearest neighbour (k = min_samples = {k}, "
    "the customer counted), sorted. The knee, "
    "where the curve turns up, separates dense regions from sparse ones and is "
    "the automatic eps; customers above the eps line that are not near a core "
    "customer become Outliers{sample}.",
    "dendrogram": "How customers merge into clusters, bottom to top ({linkage} linkage){sample}; "
    "cutting the tree at the dashed line gives k clusters. Tall merges mean "
    "well-separated groups.",
    "bic": "Bayesian and Akaike information criteria of the mixture ({cov} covariance) for "
    "k = 2..10 (lower is better: fit penalised for complexity){sample}; the dotted line "
    "marks the chosen k.",
}


@callback(
    Output("cl-diagnostics", "figure"),
    Output("cl-diag-note", "children"),
    *CLUSTER_INPUTS,
)
def update_cluster_diagnostics(dataset, start, end, countries, *controls):
    diag = service.cluster_diagnostics(
        filters_from(dataset, start, end, countries), *_params(*controls)
    )
    if diag.get("error"):
        return diagnostics_figure(diag), None
    n_points, n_total = diag.get("n_points"), diag.get("n_total")
    sample = (
        f", on a random sample of {n_points:,} of the {n_total:,} customers"
        if n_points and n_total and n_points < n_total
        else ""
    )
    text = DIAG_NOTES[diag["kind"]].format(
        sample=sample, k=diag.get("k"), linkage=diag.get("linkage"), cov=diag.get("covariance_type")
    )
    return diagnostics_figure(diag), text


@callback(
    Output("cl-grid", "rowData"),
    Output("cl-grid-title", "children"),
    Input("cl-names", "data"),
    Input(state_id("cl_cluster"), "value"),
    *CLUSTER_STATES,
)
def update_cluster_grid(names, chosen, dataset, start, end, countries, *controls):
    """Customers of the chosen cluster. Runs after ``update_clustering`` (its input is the
    names that callback stores), so it reads the memoized clustering and never fits."""
    if not names:
        return [], None
    view = _view(dataset, start, end, countries, *controls)
    if view["error"]:
        return [], None
    names = view["names"]
    name = chosen if chosen in names else names[0]
    customers = view["customers"]
    rows = customers.loc[
        customers["cluster"] == name,
        ["customer_id", "cluster", "segment", "recency", "frequency", "monetary", "tenure", "aov"],
    ]
    rows = rows.sort_values("monetary", ascending=False)
    title = f"{name}: {len(rows):,} customers, largest spend first"
    if chosen and chosen not in names:
        title += f" ('{chosen}' does not exist with these settings)"
    table = rows.astype({"cluster": str})
    return service.records(table), title


@callback(
    Output(state_id("cl_cluster"), "value"),
    Input("cl-scatter", "clickData"),
    Input("cl-treemap", "clickData"),
    State("cl-names", "data"),
    prevent_initial_call=True,
)
def select_cluster_by_click(scatter_click, treemap_click, names):
    """Clicking a point of the scatter or a tile of the treemap lists that cluster."""
    names = names or []
    click = scatter_click if ctx.triggered_id == "cl-scatter" else treemap_click
    points = (click or {}).get("points") or []
    if not points:
        return no_update
    point = points[0]
    if ctx.triggered_id == "cl-scatter":
        i = point.get("curveNumber")
        name = names[i] if isinstance(i, int) and 0 <= i < len(names) else None
    else:
        name = point.get("label")
    return name if name in names else no_update


@callback(
    Output("cl-download", "data"),
    Input("cl-download-btn", "n_clicks"),
    *CLUSTER_STATES,
    prevent_initial_call=True,
)
def download_clusters(n_clicks, dataset, start, end, countries, *controls):
    view = _view(dataset, start, end, countries, *controls)
    if view["error"]:
        return no_update
    customers = view["customers"]
    table = customers[[c for c in EXPORT_COLUMNS if c in customers.columns]].astype(
        {"cluster": str}
    )
    name = f"clusters_{view['method']}.csv"
    return {"content": to_safe_csv(table), "filename": name, "type": "text/csv"}
