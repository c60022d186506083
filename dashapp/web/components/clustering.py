"""Texts, metric cards and the customer grid of the Clustering page (layout pieces; figures
are in :mod:`dashapp.web.figures.clustering`)."""

from __future__ import annotations

import math

from dash import html

from dashapp.service import ClusterView
from dashapp.web.components import customer_column, money_column, number_column
from dashapp.web.components.markup import static_block
from dashapp.web.format import number

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


#: What a click on a cluster (or an agreement cell) selects, in the chip's words
#: (components.drill).
DRILL_LABELS = {"cluster": "Cluster", "segment": "RFM segment"}


def grid_columns(currency: str) -> list[dict]:
    return [
        customer_column(),
        {"field": "cluster", "headerName": "Cluster", "minWidth": 140},
        {"field": "segment", "headerName": "RFM segment", "minWidth": 150},
        number_column("recency", "Recency (days)"),
        number_column("frequency", "Frequency (invoices)"),
        money_column("monetary", "Monetary", currency),
        number_column("tenure", "Tenure (days)"),
        money_column("aov", "Avg order value", currency),
    ]


def fixed(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def metric_card(title, value, hint):
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


def metrics_panel(view: ClusterView):
    d = view.diagnostics
    sample = d.get("silhouette_sample_size")
    cards = []
    for key, (title, hint) in METRIC_HELP.items():
        digits = 0 if key == "calinski_harabasz" else 3
        value = d.get(key)
        if value is None or not math.isfinite(value):
            hint += " Undefined here: it needs at least two clusters (Outliers left out)."
        elif key == "silhouette" and sample and sample < view.n_customers:
            hint += f" On a random sample of {sample:,} customers."
        cards.append(metric_card(title, fixed(value, digits), hint))
    if view.method == "gmm" and "bic" in d:
        cards.append(
            metric_card(
                "BIC",
                fixed(d["bic"], 0),
                "Bayesian information criterion of the mixture (lower is "
                "better; compare across k in the diagnostics).",
            )
        )
    if view.method == "dbscan":
        n_out = d.get("n_outliers", 0)
        cards.append(
            metric_card(
                "Outliers",
                f"{n_out:,}",
                f"{n_out / view.n_customers:.1%} of the customers are in "
                "no dense neighbourhood (red × in the scatter).",
            )
        )
    ari = d.get("ari_vs_segments")
    if ari is not None:
        cards.append(
            metric_card(
                "Agreement with RFM (ARI)",
                fixed(ari, 2),
                "Adjusted Rand index: 1 = the same grouping as the RFM "
                "segments, 0 = no better than chance.",
            )
        )
    outliers = (
        " Silhouette, Davies-Bouldin and Calinski-Harabasz leave the Outliers out."
        if d.get("n_outliers")
        else ""
    )
    # one static block (components.markup): 15-30 components to mount otherwise
    return static_block(
        html.Div(
            [*cards, html.Div(outliers, className="small text-muted mt-2") if outliers else None]
        )
    )


def params_text(view: ClusterView) -> str:
    p = view.params
    if view.method == "dbscan":
        eps = f"eps = {p['eps']:.3g}" + (" (automatic)" if p.get("eps_auto") else "")
        core = f"{eps}, min_samples = {p['min_samples']}"
    else:
        core = f"k = {p['k']}"
        if view.method == "hierarchical":
            core += f", {p['linkage']} linkage"
        if view.method == "gmm":
            core += f", {p['covariance_type']} covariance"
    return core


def summary_line(view: ClusterView):
    p = view.params
    as_of = view.as_of
    clusters = f"{view.n_clusters} cluster{'s' if view.n_clusters != 1 else ''}"
    if "Outliers" in view.names:
        clusters += f" + {view.diagnostics['n_outliers']:,} Outliers"
    feats = ", ".join(p["features"])
    scaling = f"{p['transform']} transform, {p['scale']} scaling"
    return static_block(
        html.P(
            [
                html.Strong(number(view.n_customers)),
                " customers",
                f" as of {as_of:%Y-%m-%d}" if as_of is not None else "",
                " · ",
                html.Strong(view.method_label),
                f" ({params_text(view)}) → ",
                html.Strong(clusters),
                f" · features: {feats} ({scaling})",
            ],
            className="mb-1",
            id="cl-summary-text",
        )
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


K_BUTTON_HIDDEN = {"display": "none"}


def k_advice(suggestion) -> tuple[str, str, dict]:
    """The sentence on the k the diagnostic curve favours, the one-click button's text and
    its style (hidden when the chosen k is the suggested one)."""
    if suggestion is None:
        return "", "", K_BUTTON_HIDDEN
    better = "highest" if suggestion.measure == "silhouette" else "lowest"
    digits = ".2f" if suggestion.measure == "silhouette" else ",.0f"
    best = f"k = {suggestion.k} has the {better} {suggestion.measure} ({suggestion.score:{digits}})"
    current, now = suggestion.current_k, suggestion.current_score
    if current == suggestion.k:
        return f"Suggested: {best}, the k chosen.", "", K_BUTTON_HIDDEN
    if now == now and suggestion.poor_fit:
        text = (f"k = {current} is a poor fit here: on this curve its {suggestion.measure} is "
                f"{now:{digits}}, while {best}.")  # fmt: skip
    elif now == now:
        text = f"Suggested: {best}; k = {current} comes close ({now:{digits}})."
    else:
        text = f"Suggested: {best}."
    return text, f"Use k = {suggestion.k}", {}
