"""The Clustering section of the service layer on the real Online Retail II extract
(``../shared/data/online_retail_II_sample.xlsx``): every method, the diagnostics, plain
messages instead of errors, the stratified scatter sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp import service
from dashapp.analytics import clustering
from dashapp.service.views import clustering as cluster_views

METHODS = clustering.METHODS


@pytest.fixture(scope="module")
def filters(shared_sample_xlsx, tmp_path_factory):
    """The service configured on the real extract (global state restored afterwards)."""
    from dashapp.config import Settings

    saved = (service.settings(), getattr(service.cache, "app", None))
    settings = Settings.from_env(
        env={},
        data_path=shared_sample_xlsx,
        cache_dir=tmp_path_factory.mktemp("cache"),
        data_dir=tmp_path_factory.mktemp("data"),
    )
    settings = type(settings)(**{**settings.__dict__, "cache_type": "SimpleCache"})
    service.configure(settings)
    service.init_cache(config={"CACHE_TYPE": "SimpleCache"})
    try:
        yield service.Filters.build()
    finally:
        service.configure(saved[0])
        service.cache.app = saved[1]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_the_real_extract(filters, method):
    view = service.cluster_view(filters, method)
    assert view.reason is None, view.reason
    n = view.n_customers
    assert n == len(service.rfm_table(filters)) > 200
    customers = view.customers
    assert len(customers) == n and customers["customer_id"].is_unique
    assert list(customers["cluster"].cat.categories) == view.names
    assert set(customers["cluster"]) == set(view.names)  # no empty, no missing group
    # names come from the vocabulary (or are the Outliers), most valuable first
    vocab = set(clustering.VOCABULARY[view.n_clusters]) | {clustering.POTENTIAL_FALLBACK}
    assert set(view.names) - {clustering.OUTLIER_NAME} <= vocab
    prof = view.profiles
    assert prof["cluster"].tolist() == view.names
    assert prof["size"].sum() == n
    assert prof["revenue"].sum() == pytest.approx(customers["monetary"].sum())
    ranks = prof.loc[prof["cluster"] != clustering.OUTLIER_NAME, "monetary_median"]
    assert ranks.iloc[0] == ranks.max()  # the first cluster is the big spenders here
    # agreement with the RFM segments covers every customer, segments in grid order
    agree = view.agreement
    assert agree.to_numpy().sum() == n and agree.index.tolist() == view.names
    order = [s for s in clustering_segments() if s in agree.columns]
    assert list(agree.columns) == order
    # counted by the service on integer codes: the same as the engine's crosstab and ARI
    table = service.rfm_table(filters)
    res = clustering.cluster_customers(
        table[["recency", "frequency", "monetary", "tenure", "aov", "segment"]], method
    )
    engine = res.agreement.rename(index=str)
    assert engine.index.tolist() == agree.index.tolist()
    assert np.array_equal(engine[agree.columns].to_numpy(), agree.to_numpy())
    assert view.diagnostics["ari_vs_segments"] == pytest.approx(res.diagnostics["ari_vs_segments"])
    # plain data for the page
    for key in ("silhouette", "davies_bouldin", "calinski_harabasz"):
        assert isinstance(view.diagnostics[key], float)
    assert len(view.explained_variance) == 2 and 0 < sum(view.explained_variance) <= 1
    assert {"customer_id", "recency", "frequency", "monetary", "pc1", "pc2"} <= set(
        view.scatter.columns
    )
    assert view.note


def clustering_segments():
    from dashapp.analytics.rfm import SEGMENT_ORDER

    return SEGMENT_ORDER


def test_dbscan_outliers_are_visible_everywhere(filters):
    view = service.cluster_view(filters, "dbscan")
    assert view.names[-1] == clustering.OUTLIER_NAME
    n_out = view.diagnostics["n_outliers"]
    assert n_out > 0
    assert (view.customers["cluster"] == clustering.OUTLIER_NAME).sum() == n_out
    assert (view.scatter["cluster"] == clustering.OUTLIER_NAME).sum() == n_out
    prof = view.profiles.set_index("cluster")
    assert prof.loc[clustering.OUTLIER_NAME, "size"] == n_out
    assert view.agreement.loc[clustering.OUTLIER_NAME].sum() == n_out
    # the automatic eps is the knee of the k-distance curve, and the curve is plottable
    assert view.params["eps_auto"] is True
    kd = view.k_distance
    assert kd["eps"] == pytest.approx(view.params["eps"]) == pytest.approx(kd["knee_eps"])
    assert kd["knee_index"] in set(kd["rank"].tolist())
    assert np.all(np.diff(kd["distance"]) >= 0)


def test_dbscan_with_a_given_eps(filters):
    view = service.cluster_view(filters, "dbscan", eps=0.3, min_samples=4)
    assert view.reason is None
    assert view.params["eps"] == 0.3 and view.params["eps_auto"] is False
    assert view.params["min_samples"] == 4
    assert view.k_distance["eps"] == 0.3


@pytest.mark.parametrize(
    "method, kind",
    [("kmeans", "elbow"), ("dbscan", "k_distance"), ("hierarchical", "dendrogram"), ("gmm", "bic")],
)
def test_diagnostics_only_for_the_selected_method(filters, method, kind):
    diag = service.cluster_diagnostics(filters, method, k=3)
    assert diag.kind == kind and diag.reason is None
    if kind == "elbow":
        curve = diag.curve
        assert curve["k"].tolist() == list(cluster_views.DIAG_KS)
        assert (
            curve["inertia"].is_monotonic_decreasing
            or curve["inertia"].iloc[-1] < curve["inertia"].iloc[0]
        )
        assert curve["silhouette"].between(-1, 1).all() and diag.k == 3
    elif kind == "dendrogram":
        assert len(diag.extra["icoord"]) == diag.n_points - 1 and diag.extra["cut_height"] > 0
        assert diag.extra["linkage"] == "ward" and diag.k == 3
    elif kind == "bic":
        curve = diag.curve
        assert curve["k"].tolist() == list(cluster_views.DIAG_KS) and curve["bic"].notna().all()
        assert diag.extra["covariance_type"] == "full"
    else:
        assert diag.extra["eps_auto"] and diag.extra["k"] >= 2


def test_few_customers_give_plain_messages(filters):
    one = service.Filters.build(countries=["Lebanon"])  # a single customer in the extract
    assert (
        service.cluster_view(one, "kmeans").reason
        == "There is only one customer: clustering needs at least two."
    )
    assert "at least 2" in service.cluster_diagnostics(one, "kmeans").reason
    five = service.Filters.build(countries=["Canada"])  # five customers
    view = service.cluster_view(five, "kmeans", k=6)
    assert view.reason == "There are fewer customers (5) than clusters (6); choose k <= 5."
    assert service.cluster_view(five, "hierarchical", k=4).reason is None
    none = service.Filters.build(start="2030-01-01")
    assert service.cluster_view(none, "gmm").reason.startswith("No customers match")


def test_identical_customers_give_a_plain_message(filters, monkeypatch):
    table = service.rfm_table(filters).head(20).copy()
    for col in ("recency", "frequency", "monetary"):
        table[col] = table[col].iloc[0]
    monkeypatch.setattr(cluster_views, "rfm_table", lambda *args, **kwargs: table)
    odd = service.Filters.build(start="2010-01-04")  # a key no other test uses
    for method in METHODS:
        view = service.cluster_view(odd, method)
        assert "identical" in view.reason, method
        assert "identical" in service.cluster_diagnostics(odd, method).reason


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"k": 11}, "Clusters k must be a whole number from 2 to 10; got '11'"),
        ({"k": "four"}, "Clusters k must be a whole number from 2 to 10; got 'four'"),
        ({"k": None}, "Clusters k is required"),
        ({"method": "dbscan", "eps": -1.0}, "eps must be a number above 0; got '-1.0'"),
        ({"method": "dbscan", "min_samples": 0}, "min_samples must be a whole number of at"),
        ({"method": "spectral"}, "Method must be one of K-Means (kmeans)"),
        ({"features": ("recency", "loyalty")}, "Features must be any of"),
        ({"method": "gmm", "covariance_type": "round"}, "Covariance type must be one of"),
        ({"method": "kmeans", "transform": "sqrt"}, "Transform must be one of"),
    ],
)
def test_bad_parameters_give_messages(filters, kwargs, text):
    """The declared limits are checked at the service boundary, for the view and its
    diagnostics alike, with the declaration's message."""
    kwargs = {"method": "kmeans", **kwargs}
    for view in (service.cluster_view, service.cluster_diagnostics):
        with pytest.raises(service.ParamError) as caught:
            view(filters, **kwargs)
        assert text in str(caught.value)


def test_method_aliases_are_one_declaration(filters):
    """An alias the engine accepts works for the view and its diagnostics alike."""
    for alias in ("k_means", "K-Means", "KMeans"):
        assert service.cluster_view(filters, alias).method == "kmeans"
        assert service.cluster_diagnostics(filters, alias).kind == "elbow"
    assert service.cluster_diagnostics(filters, "ward", k=3).kind == "dendrogram"


def test_parameters_a_method_ignores_share_one_result(filters):
    a = service.cluster_params(
        "kmeans",
        4,
        0.5,
        7,
        "average",
        "tied",
        "log1p",
        "standard",
        ("monetary", "recency", "frequency"),
    )
    b = service.cluster_params(
        "KMeans",
        4,
        None,
        None,
        "ward",
        "full",
        "log1p",
        "standard",
        ["recency", "frequency", "monetary", "recency"],
    )
    assert (
        a
        == b
        == (
            "kmeans",
            4,
            None,
            None,
            None,
            None,
            "log1p",
            "standard",
            ("recency", "frequency", "monetary"),
        )
    )
    first = service.cluster_view(filters, "kmeans", 4, 0.5)
    assert service.cluster_view(filters, "kmeans", 4, 0.9).customers is not None
    assert first.names == service.cluster_view(filters, "kmeans").names


def test_transform_scale_and_features_are_used(filters):
    plain = service.cluster_view(
        filters,
        "kmeans",
        transform="none",
        scale="robust",
        features=("frequency", "monetary", "aov", "tenure"),
    )
    assert plain.params["transform"] == "none" and plain.params["scale"] == "robust"
    assert plain.features == ["frequency", "monetary", "tenure", "aov"]
    assert len(plain.components[0]) == 4


def test_stratified_sample_keeps_every_outlier_and_every_cluster():
    rng = np.random.default_rng(3)
    codes = np.concatenate(
        [np.zeros(50_000, int), np.ones(9_000, int), np.full(5, 2), np.full(700, 3)]
    )  # 3 = Outliers
    rng.shuffle(codes)
    rows = clustering.stratified_sample(codes, 5_000, keep=3)
    assert np.all(np.diff(rows) > 0)
    picked = pd.Series(codes[rows]).value_counts()
    assert picked[3] == 700  # every Outlier
    assert picked[2] == 5  # a tiny cluster is never dropped
    assert len(rows) <= 5_000
    assert picked[0] / picked[1] == pytest.approx(50_000 / 9_000, rel=0.05)
    assert np.array_equal(rows, clustering.stratified_sample(codes, 5_000, keep=3))
    assert np.array_equal(clustering.stratified_sample(codes[:100], 5_000), np.arange(100))


def test_clustering_docs_are_filled_from_the_engine():
    import re

    from dashapp.web.help import section_markdown

    text = section_markdown("clustering")
    assert re.findall(r"\{[a-z_]+\}", text) == []
    for names in clustering.VOCABULARY.values():
        assert "| " + ", ".join(names) + " |" in text
    for method in METHODS:
        assert clustering.METHOD_LABELS[method] in text
    for linkage in clustering.LINKAGES:
        assert linkage in text
    assert clustering.OUTLIER_NAME in text and clustering.POTENTIAL_FALLBACK in text
    assert f"{cluster_views.SCATTER_MAX_POINTS:,}" in text
    assert f"{clustering.METHOD_MAX_EXACT['hierarchical']:,}" in text


@pytest.mark.parametrize("method", ["kmeans", "dbscan"])
def test_every_clustering_chart_element_drills_down_to_its_own_customers(filters, method):
    """A click on a scatter trace, a treemap tile, a profile row or an agreement cell selects
    exactly the customers it shows (the selection each carries, applied by the service the
    way the grid and the CSV apply it)."""
    from dashapp.service.selection import select_rows
    from dashapp.web.figures.clustering import (
        agreement_heatmap,
        pca_scatter,
        profile_heatmap,
        revenue_treemap,
    )

    view = service.cluster_view(filters, method)
    table = view.customers.astype({"cluster": str})
    sizes = dict(zip(view.profiles["cluster"], view.profiles["size"], strict=True))
    traces = pca_scatter(view)["data"]
    assert [t["meta"]["selection"] for t in traces] == [f"cluster:{n}" for n in view.names]
    for trace, name in zip(traces, view.names, strict=True):
        picked = select_rows(table, trace["meta"]["selection"])
        assert len(picked) == sizes[name] and set(picked["cluster"]) == {name}
    (tiles,) = revenue_treemap(view.profiles)["data"]
    assert tiles["customdata"][0][-1] == ""  # the root tile selects nothing
    for label, custom in zip(tiles["labels"][1:], tiles["customdata"][1:], strict=True):
        assert len(select_rows(table, custom[-1])) == sizes[label]
    (rows,) = profile_heatmap(view.profiles)["data"]
    for name, row in zip(view.profiles["cluster"], rows["customdata"], strict=True):
        assert {len(select_rows(table, pick)) for pick in row} == {sizes[name]}
    (cells,) = agreement_heatmap(view.agreement)["data"]
    counts = view.agreement.to_numpy()
    for i, row in enumerate(cells["customdata"]):
        for j, pick in enumerate(row):
            assert len(select_rows(table, pick)) == counts[i, j]
