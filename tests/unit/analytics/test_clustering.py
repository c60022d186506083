"""Tests for dashapp.analytics.clustering (pure: DataFrames in, ClusterResult out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import silhouette_score

from dashapp.analytics import clustering as cl
from dashapp.analytics.clustering import (
    METHODS,
    OUTLIER_NAME,
    POTENTIAL_FALLBACK,
    POTENTIAL_NAME,
    VOCABULARY,
    ClusteringError,
    build_features,
    cluster_customers,
    cluster_names,
    dendrogram_data,
    elbow_curve,
    k_distance,
    value_ranking,
)
from tests.conftest import SAMPLE_XLSX, require_file

# (recency days, frequency invoices, monetary GBP) of well separated groups, listed in an
# order that is neither the value order nor (usually) the fitted cluster numbering
GROUPS = {
    "lapsed": (600.0, 1.0, 100.0),
    "whale": (5.0, 40.0, 50_000.0),
    "mid": (200.0, 3.0, 800.0),
    "loyal": (30.0, 10.0, 5_000.0),
}


def make_customers(groups=GROUPS, size=120, seed=0, id_start=10_000):
    """Customer table (customer_id index) of lognormal blobs around the given centres."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, (r, f, m) in groups.items():
        noise = np.exp(rng.normal(0.0, 0.12, size=(size, 3)))
        frames.append(
            pd.DataFrame(
                {
                    "recency": np.round(r * noise[:, 0]).astype(int),
                    "frequency": np.maximum(1, np.round(f * noise[:, 1])).astype(int),
                    "monetary": m * noise[:, 2],
                    "group": name,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # interleave groups
    df.index = pd.Index([str(id_start + i) for i in range(len(df))], name="customer_id")
    df["tenure"] = df["recency"] + 100
    df["aov"] = df["monetary"] / df["frequency"]
    return df


def synthetic_customers(n, seed=1):
    """Heavy-tailed RFM table of n customers (the shape of Online Retail II)."""
    rng = np.random.default_rng(seed)
    frequency = 1 + rng.negative_binomial(0.8, 0.15, n)
    monetary = np.round(frequency * rng.lognormal(5.6, 0.9, n), 2)
    monetary[rng.choice(n, max(1, n // 500), replace=False)] *= -0.1  # net returners
    recency = rng.integers(0, 740, n)
    tenure = np.minimum(739, recency + rng.integers(0, 400, n))
    df = pd.DataFrame(
        {"recency": recency, "frequency": frequency, "monetary": monetary, "tenure": tenure},
        index=pd.Index([str(12346 + i) for i in range(n)], name="customer_id"),
    )
    df["aov"] = df["monetary"] / df["frequency"]
    return df


@pytest.fixture(scope="module")
def blobs():
    return make_customers()


@pytest.fixture(scope="module")
def sample_customers():
    """Customer table of the real extract, built plainly with pandas."""
    require_file(SAMPLE_XLSX)
    sheets = pd.read_excel(SAMPLE_XLSX, sheet_name=None, engine="calamine")
    df = pd.concat(sheets.values(), ignore_index=True).drop_duplicates()
    df = df.dropna(subset=["Customer ID"])
    df["Invoice"] = df["Invoice"].astype(str)
    df = df[~df["Invoice"].str.startswith("A")]
    df["customer_id"] = df["Customer ID"].astype("int64").astype(str)
    df["line_total"] = df["Quantity"] * df["Price"]
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    as_of = df["InvoiceDate"].max().normalize() + pd.Timedelta(days=1)
    purchases = df[~df["Invoice"].str.startswith("C")]
    g = purchases.groupby("customer_id")
    out = pd.DataFrame(
        {
            "recency": (as_of - g["InvoiceDate"].max()).dt.days,
            "frequency": g["Invoice"].nunique(),
            "tenure": (as_of - g["InvoiceDate"].min()).dt.days,
        }
    )
    out["monetary"] = df.groupby("customer_id")["line_total"].sum().reindex(out.index)
    out["aov"] = out["monetary"] / out["frequency"]
    out["segment"] = pd.qcut(
        out["monetary"].rank(method="first"), 3, labels=["Bronze", "Silver", "Gold"]
    ).astype(str)
    out.index.name = "customer_id"
    return out


# ---- features -------------------------------------------------------------------------------


def test_build_features_log1p_standard(blobs):
    X, spec = build_features(blobs)
    assert X.shape == (len(blobs), 3)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(spec.apply(blobs), X)
    assert spec.features == ("recency", "frequency", "monetary")


def test_signed_log1p_keeps_nonpositive_monetary_ordered():
    df = pd.DataFrame({"monetary": [-500.0, 0.0, 10.0, 1000.0]})
    X, spec = build_features(df, features=["monetary"], scale="none")
    np.testing.assert_allclose(X[:, 0], [-np.log1p(500), 0, np.log1p(10), np.log1p(1000)])
    assert spec.n_nonpositive == {"monetary": 2}


def test_robust_scale_and_constant_column():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4, 100], "b": [5.0] * 5})
    X, spec = build_features(df, features=["a", "b"], transform="none", scale="robust")
    assert X[2, 0] == 0  # median centred
    assert np.all(X[:, 1] == 0)
    assert spec.constant == ("b",)


# ---- naming ---------------------------------------------------------------------------------


def test_vocabulary_is_data_and_complete():
    for k in range(1, 11):
        assert len(VOCABULARY[k]) == k == len(set(VOCABULARY[k]))
        assert OUTLIER_NAME not in VOCABULARY[k]
        assert POTENTIAL_FALLBACK not in VOCABULARY[k]


def test_value_ranking_follows_median_monetary():
    med = pd.DataFrame(
        {"recency": [10, 300, 20], "frequency": [2, 1, 9], "monetary": [500, 100, 5000]},
        index=[7, 8, 9],
    )
    ranking = value_ranking(med)
    assert ranking.loc[9, "value_rank"] == 1 and ranking.loc[8, "value_rank"] == 3
    assert ranking.loc[8, "value_score"] == 0.0
    # a mean of ranks would put cluster 1 (frequent, recent) first; monetary decides
    med = pd.DataFrame({"recency": [300, 5], "frequency": [2, 20], "monetary": [900, 800]})
    assert list(value_ranking(med)["value_rank"]) == [1, 2]


def test_potential_value_keeps_the_value_order():
    med = pd.DataFrame(
        {
            "recency": [400, 10, 3, 60],  # cluster 2: new customers, bought 3 days ago
            "frequency": [2, 30, 1, 6],
            "monetary": [90, 40_000, 500, 2_500],
        },
        index=[0, 1, 2, 3],
    )
    names = cluster_names(med, recent_days=100)
    assert names[1] == "High Value" and names[3] == "Medium Value"
    assert names[2] == POTENTIAL_NAME and names[0] == "Low Value"
    # the recent cluster spends less than the lapsed one: the names keep the value order
    names = cluster_names(med.assign(monetary=[500, 40_000, 90, 2_500]), recent_days=100)
    assert names[0] == POTENTIAL_FALLBACK and names[2] == "Low Value"
    # nobody recent in the Potential slot: the fallback name
    names = cluster_names(med.assign(recency=[400, 10, 300, 60]), recent_days=100)
    assert names[2] == POTENTIAL_FALLBACK and names[0] == "Low Value"


def test_many_clusters_are_value_tiers():
    med = pd.DataFrame(
        {
            "recency": 400 - 30 * np.arange(12),
            "frequency": np.arange(12),
            "monetary": np.arange(12) * 100.0,
        }
    )
    names = cluster_names(med)
    assert names[11] == "Value tier 1" and names[0] == "Value tier 12"


@pytest.mark.parametrize("method", ["kmeans", "hierarchical", "gmm"])
def test_labels_follow_value_ranking(blobs, method):
    res = cluster_customers(blobs, method, k=4)
    assert res.names == ("High Value", "Medium Value", POTENTIAL_FALLBACK, "Low Value")
    by_group = pd.crosstab(blobs["group"], res.labels)
    # every group is one cluster, named by its value
    assert (by_group.max(axis=1) == by_group.sum(axis=1)).all()
    assert by_group.idxmax(axis=1).to_dict() == {
        "whale": "High Value",
        "loyal": "Medium Value",
        "mid": POTENTIAL_FALLBACK,
        "lapsed": "Low Value",
    }
    prof = res.profiles
    assert prof["monetary_median"].idxmax() == "High Value"
    assert list(prof["value_rank"]) == [1, 2, 3, 4]
    assert list(prof.index) == list(res.names)
    assert prof["size"].sum() == len(blobs)
    assert prof["share"].sum() == pytest.approx(1.0)
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    assert not res.approximate
    assert res.diagnostics["silhouette"] > 0.5
    assert res.coords.shape == (len(blobs), 2)


def test_potential_value_in_fitted_clusters():
    groups = {
        "lapsed": (500.0, 1.0, 120.0),
        "whale": (5.0, 40.0, 50_000.0),
        "new": (4.0, 1.0, 150.0),
        "loyal": (60.0, 8.0, 3_000.0),
    }
    df = make_customers(groups, size=100, seed=3)
    res = cluster_customers(df, "kmeans", k=4)
    got = pd.crosstab(df["group"], res.labels).idxmax(axis=1).to_dict()
    assert got == {
        "whale": "High Value",
        "loyal": "Medium Value",
        "new": POTENTIAL_NAME,
        "lapsed": "Low Value",
    }


def test_dbscan_outliers_are_a_named_visible_group(blobs):
    df = blobs.copy()
    df.loc["99999"] = {
        "recency": 0,
        "frequency": 400,
        "monetary": 2_500_000.0,
        "group": "giant",
        "tenure": 700,
        "aov": 6250.0,
    }
    res = cluster_customers(df, "dbscan")
    assert res.labels["99999"] == OUTLIER_NAME
    assert res.cluster_ids["99999"] == -1
    assert res.names[-1] == OUTLIER_NAME
    assert OUTLIER_NAME in res.profiles.index
    assert res.profiles.loc[OUTLIER_NAME, "size"] == res.diagnostics["n_outliers"] >= 1
    assert res.profiles.loc[OUTLIER_NAME, "cluster_id"] == -1
    assert pd.isna(res.profiles.loc[OUTLIER_NAME, "value_rank"])
    assert res.params["eps"] > 0 and res.params["eps_auto"]
    assert res.k_distance is not None and res.k_distance.eps == res.params["eps"]
    assert "Outliers" in res.note
    # dense groups are named by value: the whales first, the lapsed last before the outliers
    named = pd.crosstab(df["group"], res.labels).idxmax(axis=1)
    assert named["whale"] == res.names[0] and named["lapsed"] == res.names[-2]


def test_dbscan_given_eps_and_all_noise(blobs):
    res = cluster_customers(blobs, "dbscan", eps=1e-6, min_samples=5)
    assert res.n_clusters == 0 and res.names == (OUTLIER_NAME,)
    assert (res.labels == OUTLIER_NAME).all()
    assert np.isnan(res.diagnostics["silhouette"])
    assert "increase eps" in res.note


# ---- determinism, order invariance, sampling ---------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("max_exact", [None, 150])
def test_same_labels_when_rows_are_shuffled(blobs, method, max_exact):
    kwargs = {} if method == "kmeans" else {"max_exact": max_exact}
    a = cluster_customers(blobs, method, **kwargs)
    shuffled = blobs.sample(frac=1.0, random_state=42)
    b = cluster_customers(shuffled, method, **kwargs)
    assert list(b.labels.index) == list(shuffled.index)  # input row order kept
    pd.testing.assert_series_equal(a.labels.sort_index(), b.labels.sort_index())
    pd.testing.assert_series_equal(a.cluster_ids.sort_index(), b.cluster_ids.sort_index())
    pos = b.labels.index.get_indexer(a.labels.index)
    np.testing.assert_allclose(a.coords, b.coords[pos], atol=1e-9)
    assert a.params == b.params and a.names == b.names
    if max_exact is not None and method != "kmeans":
        assert a.approximate and a.n_fit == 150 and "sample" in a.note


def test_sampled_hierarchical_assigns_everyone(blobs):
    res = cluster_customers(blobs, "hierarchical", linkage="average", max_exact=100)
    assert res.approximate and res.n_fit == 100
    assert res.labels.notna().all() and res.n_clusters == 4
    assert "random sample of 100" in res.note


# ---- real extract ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,kwargs",
    [
        ("kmeans", {}),
        ("kmeans", {"k": 6, "scale": "robust"}),
        ("dbscan", {}),
        ("hierarchical", {}),
        ("hierarchical", {"linkage": "single"}),
        ("gmm", {}),
        ("gmm", {"covariance_type": "diag", "k": 3}),
    ],
)
def test_every_method_on_the_real_extract(sample_customers, method, kwargs):
    res = cluster_customers(sample_customers, method, **kwargs)
    n = len(sample_customers)
    assert n > 200
    assert res.labels.index.equals(sample_customers.index)
    assert res.labels.notna().all()
    assert set(res.labels.cat.categories) == set(res.names)
    assert res.profiles["size"].sum() == n
    assert res.coords.shape == (n, 2) and np.isfinite(res.coords).all()
    assert 0 < res.explained_variance_ratio.sum() <= 1 + 1e-9
    assert res.agreement is not None and res.agreement.to_numpy().sum() == n
    assert list(res.agreement.index) == list(res.names)
    assert np.isfinite(res.diagnostics["ari_vs_segments"])
    if method != "dbscan":
        assert res.n_clusters == kwargs.get("k", 4)
        assert np.isfinite(res.diagnostics["davies_bouldin"])
        top = res.profiles.iloc[0]
        assert (
            top["monetary_median"] == res.profiles["monetary_median"].max()
            or top["value_score"] == res.profiles["value_score"].max()
        )
    if method == "gmm":
        assert np.isfinite(res.diagnostics["bic"])


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"method": "spectral"}, "Unknown method"),
        ({"k": 1}, "between 2 and 10"),
        ({"k": 11}, "between 2 and 10"),
        ({"k": 2.5}, "whole number"),
        ({"method": "dbscan", "eps": -1.0}, "positive"),
        ({"method": "dbscan", "eps": float("nan")}, "positive"),
        ({"method": "dbscan", "min_samples": 0}, "at least 1"),
        ({"method": "dbscan", "min_samples": 10_000}, "larger than the number"),
        ({"method": "hierarchical", "linkage": "median"}, "linkage"),
        ({"method": "gmm", "covariance_type": "banana"}, "covariance_type"),
        ({"transform": "sqrt"}, "transform"),
        ({"scale": "minmax"}, "scale"),
        ({"features": ["recency", "nope"]}, "no column 'nope'"),
        ({"features": []}, "at least one feature"),
        ({"method": "hierarchical", "max_exact": 5}, "max_exact"),
        ({"random_state": -1}, "random_state"),
    ],
)
def test_bad_parameters(blobs, kwargs, match):
    with pytest.raises(ClusteringError, match=match):
        cluster_customers(blobs, **kwargs)


def test_bad_inputs(blobs):
    with pytest.raises(ClusteringError, match="fewer customers"):
        cluster_customers(blobs.iloc[:3], "kmeans", k=4)
    with pytest.raises(ClusteringError, match="only one customer"):
        cluster_customers(blobs.iloc[:1], "kmeans")
    with pytest.raises(ClusteringError, match="no customers"):
        cluster_customers(blobs.iloc[:0], "kmeans")
    same = pd.DataFrame(
        {"recency": [5] * 10, "frequency": [2] * 10, "monetary": [30.0] * 10},
        index=[str(i) for i in range(10)],
    )
    for method in METHODS:
        with pytest.raises(ClusteringError, match="identical"):
            cluster_customers(same, method)
    three = same.copy()
    three["monetary"] = [10.0, 20.0, 30.0] * 3 + [10.0]
    with pytest.raises(ClusteringError, match="Only 3 distinct"):
        cluster_customers(three, "kmeans", k=4)
    with pytest.raises(ClusteringError, match="missing or infinite"):
        cluster_customers(
            blobs.assign(monetary=np.where(np.arange(len(blobs)) == 3, np.nan, blobs["monetary"]))
        )
    dup = blobs.copy()
    dup.index = ["1"] * 2 + list(dup.index[2:])
    with pytest.raises(ClusteringError, match="unique"):
        cluster_customers(dup)
    with pytest.raises(ClusteringError, match="not numeric"):
        cluster_customers(blobs, features=["group"])
    with pytest.raises(ClusteringError):
        cluster_customers(blobs.to_numpy())
    assert issubclass(ClusteringError, ValueError)


# ---- diagnostics ----------------------------------------------------------------------------


def test_silhouette_matches_scikit_learn():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(4, 1, (50, 3)), [[10, 10, 10]]])
    lab = np.r_[np.zeros(60, int), np.ones(50, int), [2]]  # a singleton cluster too
    assert cl.silhouette(X, lab) == pytest.approx(silhouette_score(X, lab), abs=1e-5)


def test_k_distance_and_knee(blobs):
    X, _ = build_features(blobs)
    kd = k_distance(X, 6)
    assert kd.distances.shape == (len(blobs),)
    assert np.all(np.diff(kd.distances) >= 0)
    assert 0 <= kd.knee_index < len(blobs) and kd.eps == kd.distances[kd.knee_index] > 0
    small = k_distance(X, 6, max_points=100)
    assert small.sampled and small.n_points == 100


def test_elbow_curve(blobs):
    X, _ = build_features(blobs)
    curve = elbow_curve(X, range(2, 7))
    assert list(curve["k"]) == [2, 3, 4, 5, 6]
    assert curve["inertia"].is_monotonic_decreasing
    assert curve["silhouette"].idxmax() == 2  # k = 4 blobs
    sampled = elbow_curve(X, [3, 4], max_points=200)
    assert (sampled["n_points"] == 200).all()


def test_dendrogram_data(blobs):
    X, _ = build_features(blobs)
    dn = dendrogram_data(X, "ward", k=4, max_points=200)
    assert dn["n_points"] == 200 and len(dn["icoord"]) == len(dn["dcoord"]) == 199
    heights = np.sort(dn["linkage"][:, 2])
    assert heights[-4] < dn["cut_height"] < heights[-3]
    assert len(dendrogram_data(X, "single", truncate_lastp=10)["icoord"]) == 9


# ---- scale ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_sixty_thousand_customers_every_method():
    df = synthetic_customers(60_000)
    for method in METHODS:  # speed at this scale: bench/bench_clustering.py
        res = cluster_customers(df, method)
        assert len(res.labels) == 60_000 and res.labels.notna().all()
        assert res.approximate == (method != "kmeans"), method
        assert res.diagnostics["silhouette_sample_size"] <= 3000
        assert res.profiles["size"].sum() == 60_000
