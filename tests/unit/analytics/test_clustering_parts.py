"""The clustering helpers the service views use: ``bic_curve`` (the mixture's BIC over k),
``stratified_sample`` (the scatter's sample) and ``segment_agreement`` (clusters x RFM
segments), each checked against scikit-learn or pandas computed directly, plus the package's
re-exports and its layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from dashapp.analytics import clustering as cl
from dashapp.analytics.clustering import bic_curve, segment_agreement, stratified_sample
from dashapp.analytics.rfm import SEGMENT_ORDER

DIAG_KS = tuple(range(cl.MIN_K, cl.MAX_K + 1))  # the service's k range
BIC_MAX_POINTS = 3_000  # the service's sample size


# ---- data ----------------------------------------------------------------------------------


def _customers(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "recency": rng.integers(0, 700, n).astype(float),
            "frequency": rng.geometric(0.3, n).astype(float),
            "monetary": rng.lognormal(6, 1.5, n) * np.where(rng.random(n) < 0.01, -1, 1),
        },
        index=pd.Index(np.arange(n) + 12_000, name="customer_id"),
    )


@pytest.fixture(scope="module")
def X_big():
    """More customers than BIC_MAX_POINTS: the curve is computed on a sample."""
    return cl.build_features(_customers(3_400))[0]


@pytest.fixture(scope="module")
def X_small():
    return cl.build_features(_customers(400, seed=11))[0]


# ---- bic_curve -----------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", cl.COVARIANCE_TYPES)
def test_bic_curve_on_every_covariance_type(X_small, covariance_type):
    curve = bic_curve(X_small, DIAG_KS, covariance_type, max_points=BIC_MAX_POINTS)
    assert curve["k"].tolist() == list(DIAG_KS) and curve[["bic", "aic"]].notna().all().all()
    assert curve.attrs == {"n_points": 400, "n_total": 400}
    gm = GaussianMixture(n_components=4, covariance_type=covariance_type, random_state=0)
    assert curve.set_index("k").loc[4, "bic"] == pytest.approx(gm.fit(X_small).bic(X_small))


def test_bic_curve_fits_a_deterministic_sample_of_large_inputs(X_big):
    curve = bic_curve(X_big, DIAG_KS, "full", max_points=BIC_MAX_POINTS)
    assert (curve.attrs["n_points"], curve.attrs["n_total"]) == (BIC_MAX_POINTS, 3_400)
    assert list(curve.columns) == ["k", "bic", "aic"] and curve["bic"].notna().all()
    again = bic_curve(X_big, DIAG_KS, "full", max_points=BIC_MAX_POINTS)
    pd.testing.assert_frame_equal(curve, again, check_exact=True)
    rows = np.sort(np.random.default_rng(0).choice(len(X_big), BIC_MAX_POINTS, replace=False))
    sample = X_big[rows]
    gm = GaussianMixture(n_components=3, covariance_type="full", random_state=0).fit(sample)
    assert curve.set_index("k").loc[3, "bic"] == pytest.approx(gm.bic(sample), rel=1e-9)


def test_bic_curve_equals_sklearn_directly(X_small):
    curve = bic_curve(X_small, [2, 5], "diag", max_points=10_000, random_state=3)
    for k, row in zip([2, 5], curve.itertuples(index=False), strict=True):
        gm = GaussianMixture(n_components=k, covariance_type="diag", random_state=3).fit(X_small)
        assert row.k == k
        assert row.bic == pytest.approx(gm.bic(X_small), rel=1e-9)
        assert row.aic == pytest.approx(gm.aic(X_small), rel=1e-9)


def test_bic_curve_nan_rows_when_k_exceeds_the_points():
    X = cl.build_features(_customers(6, seed=2))[0]
    curve = bic_curve(X, DIAG_KS, "spherical", max_points=BIC_MAX_POINTS)
    assert curve["k"].tolist() == list(DIAG_KS)
    assert curve.loc[curve["k"] > 6, ["bic", "aic"]].isna().all().all()
    assert curve.loc[curve["k"] <= 6, ["bic", "aic"]].notna().all().all()
    assert curve.attrs["n_points"] == 6


def test_bic_curve_service_message_for_an_unknown_covariance_type(X_small):
    # the message dashapp.service gave for an unknown covariance type
    message = (
        f"Unknown covariance_type {'round'!r}; choose one of {', '.join(cl.COVARIANCE_TYPES)}."
    )
    with pytest.raises(cl.ClusteringError) as err:
        bic_curve(X_small, DIAG_KS, "round", max_points=BIC_MAX_POINTS)
    assert str(err.value) == message
    with pytest.raises(cl.ClusteringError, match="at least one number"):
        bic_curve(X_small, [], "full", max_points=BIC_MAX_POINTS)
    with pytest.raises(cl.ClusteringError, match="max_points"):
        bic_curve(X_small, DIAG_KS, "full", max_points=0)


# ---- stratified_sample ---------------------------------------------------------------------


def _codes(sizes: dict[int, int], seed: int = 3) -> np.ndarray:
    codes = np.concatenate([np.full(size, code, dtype=int) for code, size in sizes.items()])
    np.random.default_rng(seed).shuffle(codes)
    return codes


STRATIFIED_CASES = [
    # (group sizes, max_points, keep, extra keyword arguments)
    ({0: 50_000, 1: 9_000, 2: 5, 3: 700}, 5_000, 3, {}),  # Outliers kept, a tiny cluster
    ({0: 50_000, 1: 9_000, 2: 5, 3: 700}, 5_000, None, {}),
    ({0: 8_000, 1: 12, 2: 29, 3: 31, 4: 2_000}, 1_000, None, {}),  # groups under the minimum
    ({0: 8_000, 1: 12, 2: 29, 3: 31, 4: 2_000}, 1_000, 1, {}),  # keep a small group
    ({0: 3_000, 1: 6_000, 5: 900}, 500, 1, {}),  # the kept group exceeds max_points
    ({c: 40 for c in range(60)} | {99: 5_000}, 1_000, None, {}),  # minimums exceed the budget
    ({0: 7_000, 1: 400, 2: 3}, 2_000, 2, {"min_per_group": 100, "random_state": 5}),
    ({0: 80, 1: 20}, 5_000, 1, {}),  # at most max_points rows: all of them
]


@pytest.mark.parametrize(("sizes", "max_points", "keep", "kwargs"), STRATIFIED_CASES)
def test_stratified_sample_keeps_every_group(sizes, max_points, keep, kwargs):
    codes = _codes(sizes)
    rows = stratified_sample(codes, max_points, keep=keep, **kwargs)
    assert np.array_equal(rows, stratified_sample(codes, max_points, keep=keep, **kwargs))
    if len(codes) <= max_points:
        assert np.array_equal(rows, np.arange(len(codes)))
    assert np.all(np.diff(rows) > 0)
    picked = pd.Series(codes[rows]).value_counts()
    minimum = kwargs.get("min_per_group", 30)
    for code, size in sizes.items():  # no group dropped; small groups kept whole
        assert picked.get(code, 0) >= min(size, minimum) or (code == keep and size > max_points)
    if keep is not None and sizes[keep] <= max_points:
        assert picked[keep] == sizes[keep]


def test_stratified_sample_default_minimum_is_30():
    import inspect

    params = inspect.signature(stratified_sample).parameters
    assert params["min_per_group"].default == 30 and params["random_state"].default == 0
    assert params["keep"].default is None


# ---- segment_agreement ---------------------------------------------------------------------


def _agreement_example():
    names = ["High Value", "Medium Value", "Low Value", cl.OUTLIER_NAME]
    codes = np.array([0, 0, 1, 2, 2, 2, 3, 1, 0, 2, 1, 3])
    segments = pd.Series(
        [
            "Champions",
            "Loyal Customers",
            "Hibernating",
            "Unlisted segment",  # not in the grid: after the grid's segments
            None,
            "At Risk",
            "Champions",
            "Potential Loyalists",
            "Champions",
            "Another unlisted one",
            "Hibernating",
            np.nan,
        ]
    )
    return codes, names, segments


def test_segment_agreement_counts_and_rand_index():
    codes, names, segments = _agreement_example()
    table, ari = segment_agreement(codes, names, segments, SEGMENT_ORDER)
    known = segments.notna().to_numpy()
    plain = pd.crosstab(np.asarray(names)[codes[known]], segments[known].to_numpy())
    for name in names:
        for segment in table.columns:
            want = plain.loc[name, segment] if name in plain.index else 0
            assert table.loc[name, segment] == want, (name, segment)
    seg_codes = pd.factorize(segments[known])[0]
    assert ari == pytest.approx(adjusted_rand_score(seg_codes, codes[known]))
    # the default order is the RFM grid's
    default_table, default_ari = segment_agreement(codes, names, segments)
    pd.testing.assert_frame_equal(default_table, table, check_exact=True)
    assert default_ari == ari
    # rows: the names in order; columns: grid order, then the others; NaN / None left out
    assert table.index.tolist() == names and table.index.name == "cluster"
    grid = [s for s in SEGMENT_ORDER if s in set(segments.dropna())]
    assert table.columns.tolist() == [*grid, "Unlisted segment", "Another unlisted one"]
    assert table.columns.name == "segment"
    assert int(table.to_numpy().sum()) == int(segments.notna().sum())
    assert table.loc["High Value", "Champions"] == 2


def test_segment_agreement_order_parameter_and_degenerate_cases():
    codes, names, segments = _agreement_example()
    table, _ = segment_agreement(codes, names, segments, ("At Risk", "Champions"))
    assert table.columns.tolist()[:2] == ["At Risk", "Champions"]
    table, ari = segment_agreement(codes[:1], names, segments[:1])
    assert np.isnan(ari) and table.shape == (4, 1)
    same, ari = segment_agreement(np.array([0, 0, 1, 1]), ["A", "B"], pd.Series(list("xxyy")))
    assert ari == 1.0 and same.to_numpy().tolist() == [[2, 0], [0, 2]]


# ---- the package ---------------------------------------------------------------------------


def test_every_public_name_is_reexported():
    for name in cl.__all__:
        assert getattr(cl, name) is not None, name
    for name in (
        "SILHOUETTE_SAMPLE",
        "DENDROGRAM_MAX_POINTS",
        "OUTLIER_NAME",
        "POTENTIAL_NAME",
        "POTENTIAL_FALLBACK",
        "LINKAGES",
        "COVARIANCE_TYPES",
        "TRANSFORMS",
        "SCALES",
        "DEFAULT_FEATURES",
        "METHOD_LABELS",
        "METHOD_MAX_EXACT",
        "METHODS",
        "MIN_K",
        "MAX_K",
        "VOCABULARY",
        "ClusteringError",
        "ClusterResult",
        "cluster_customers",
        "build_features",
        "elbow_curve",
        "dendrogram_data",
        "bic_curve",
        "stratified_sample",
        "segment_agreement",
    ):
        assert name in cl.__all__, name
    with cl._threads():  # the service limits threads with the package's context
        pass


def test_the_package_stays_in_the_analytics_layer():
    code = (
        "import sys, dashapp.analytics.clustering\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dash', 'flask')\n"
        "             or m.startswith(('dashapp.service', 'dashapp.web', 'dashapp.ingest')))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_suggest_k_takes_the_best_silhouette_or_the_lowest_bic_and_names_a_poor_fit():
    import pandas as pd

    from dashapp.analytics.clustering import suggest_k

    elbow = pd.DataFrame({"k": [2, 3, 4, 5], "inertia": [9.0, 6.0, 5.0, 4.5],
                          "silhouette": [0.30, 0.41, 0.33, np.nan]})  # fmt: skip
    best = suggest_k(elbow, "elbow", 4)
    assert (best.k, best.measure, best.score) == (3, "silhouette", 0.41)
    assert best.current_score == 0.33 and best.poor_fit  # 0.08 below the best
    close = suggest_k(elbow.assign(silhouette=[0.30, 0.41, 0.38, 0.2]), "elbow", 4)
    assert close.k == 3 and not close.poor_fit  # 0.03 below: close enough
    bic = pd.DataFrame({"k": [2, 3, 4], "bic": [1200.0, 1150.0, 1156.0], "aic": [1.0, 1.0, 1.0]})
    low = suggest_k(bic, "bic", 2)
    assert (low.k, low.measure, low.poor_fit) == (3, "BIC", True)
    assert not suggest_k(bic, "bic", 4).poor_fit  # 6 above the lowest: within 10
    assert suggest_k(bic, "dendrogram", 2) is None
    assert suggest_k(elbow.assign(silhouette=np.nan), "elbow", 2) is None
