"""The machine-learned forecast (dashapp.analytics.clv.ml) and its exact SHAP values
(dashapp.analytics.clv.explain): no leakage, the plain messages, local accuracy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from dashapp.analytics import clv as cm
from dashapp.analytics.clv import explain, ml, ml_features
from tests.conftest import CDNOW, require_file

CAL, OBS = "1998-01-31", "1998-06-30"


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    require_file(CDNOW / "CDNOW_sample.txt")
    log = pd.read_csv(
        CDNOW / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "cds", "value"],
    )
    log["date"] = pd.to_datetime(log["date"].astype(str), format="%Y%m%d")
    log["customer"] = log["customer"].astype(str)
    return log


def _scored(log: pd.DataFrame, cal: str = CAL, obs: str = OBS) -> pd.DataFrame:
    s = cm.calibration_summary(
        log, customer_col="customer", date_col="date", amount_col="value",
        calibration_end=cal, observation_end=obs, time_unit="W",
    )  # fmt: skip
    s.index = s.index.astype(str)
    return s


def _sources(log: pd.DataFrame, orders=None, lines=None) -> ml.Sources:
    return ml.Sources(log, "customer", "date", "value", orders=orders, lines=lines)


def _forecast(log: pd.DataFrame, scored: pd.DataFrame, cal: str = CAL, days: int = 150, **tables):
    return ml.ml_forecast(
        _sources(log, **tables), scored,
        calibration_end=cal, holdout_days=days, data_start="1997-01-01",
    )  # fmt: skip


@pytest.fixture(scope="module")
def forecast(raw):
    return _forecast(raw, _scored(raw))


def test_forecast_trains_on_the_earlier_split(forecast, raw):
    assert forecast.converged, forecast.message
    assert forecast.train_cutoff == pd.Timestamp(CAL) - pd.Timedelta(days=150)
    assert forecast.n_train == 2357
    assert forecast.predictions is not None and (forecast.predictions >= 0).all()
    assert forecast.fit_seconds > 0
    total = forecast.predictions.sum()
    actual = _scored(raw)["frequency_holdout"].sum()
    assert 0.5 * actual < total < 2.0 * actual


def test_no_leakage_purchases_after_the_calibration_end_change_nothing(raw, forecast):
    """Shuffle every purchase after the calibration end: the model and its forecast stay."""
    later = raw["date"] > pd.Timestamp(CAL)
    rng = np.random.default_rng(0)
    scrambled = raw.copy()
    scrambled.loc[later, "customer"] = rng.permutation(scrambled.loc[later, "customer"].to_numpy())
    scrambled.loc[later, "value"] = 1.0
    again = _forecast(scrambled, _scored(raw))
    np.testing.assert_allclose(again.predictions, forecast.predictions)


def test_too_little_history_gets_a_plain_message(raw):
    """CDNOW's own split (39 + 39 weeks) leaves no earlier split to train on."""
    out = _forecast(raw, _scored(raw, "1997-09-30", "1998-06-30"), "1997-09-30", 273)
    assert not out.converged and out.predictions is None
    assert "needs an earlier split to train on" in out.message


def test_a_feature_with_one_value_is_left_out(raw):
    """Keep only each customer's first purchase before the training cutoff: nobody has a
    repeat purchase there (and CDNOW's first purchases are all in Q1 1997, long before it),
    so x, t_x, x/T, the mean spend and the recent purchase days have one value and are left
    out (and said so); the model learns from the others."""
    cutoff = pd.Timestamp(CAL) - pd.Timedelta(days=150)
    before = raw[raw["date"] <= cutoff].sort_values("date").groupby("customer").head(1)
    flat = pd.concat([before, raw[raw["date"] > cutoff]])
    out = _forecast(flat, _scored(flat))
    assert out.converged, out.message
    assert out.dropped == ["frequency", "recency", "rate", "mean_spend", "recent_days"]
    assert "Left out (one value in the training data, nothing to learn): repeat purchase days" in (
        out.message
    )
    assert list(out.features.columns) == ["T", "weeks_since_last"]


def test_shap_local_accuracy_and_importance(forecast):
    X = forecast.features.iloc[:50].to_numpy(dtype=float)
    phi, base = explain.tree_shap(forecast.model, X)
    raw_pred = forecast.model._raw_predict(X).ravel()
    np.testing.assert_allclose(base + phi.sum(axis=1), raw_pred, atol=1e-9)
    imp = ml.importance(forecast)
    assert list(imp.columns) == ["feature", "label", "mean_abs_shap"]
    assert imp["mean_abs_shap"].is_monotonic_decreasing and imp["mean_abs_shap"].iloc[0] > 0
    one = ml.explain(forecast, forecast.features.index[0])
    assert one.attrs["prediction"] == pytest.approx(forecast.predictions[0], rel=1e-9)
    assert one["shap"].abs().is_monotonic_decreasing
    with pytest.raises(KeyError, match="not among the scored customers"):
        ml.explain(forecast, "no such customer")


def test_tree_shap_matches_brute_force_shapley_on_a_small_model():
    """Shapley values from the definition (every coalition, path-dependent expectation by
    a plain recursion) on a tiny model."""
    rng = np.random.default_rng(5)
    X = rng.random((400, 3))
    y = rng.poisson(np.exp(X[:, 0] + X[:, 1] * X[:, 2]))
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=5, random_state=0).fit(X, y)
    x = X[:1]

    def value(S):
        total = float(np.ravel(model._baseline_prediction)[0])
        for (pred,) in model._predictors:
            nodes = pred.nodes

            def rec(i, nodes=nodes):
                n = nodes[i]
                if n["is_leaf"]:
                    return n["value"]
                f, lo, hi = n["feature_idx"], n["left"], n["right"]
                if f in S:
                    return rec(lo if x[0, f] <= n["num_threshold"] else hi, nodes)
                share = nodes[lo]["count"] / n["count"]
                return share * rec(lo, nodes) + (1 - share) * rec(hi, nodes)

            total += rec(0)
        return total

    m = 3
    brute = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for k in range(m):
            for S in itertools.combinations(others, k):
                w = math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m)
                brute[i] += w * (value(set(S) | {i}) - value(set(S)))
    phi, base = explain.tree_shap(model, x)
    np.testing.assert_allclose(phi[0], brute, atol=1e-12)
    assert base == pytest.approx(value(set()))


# ------------------------------------------------------------------------------------------
# Returns rate, country and product mix (issue 18, second round)
# ------------------------------------------------------------------------------------------
def _tables(log: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An invoice table and product lines for a purchase log: every purchase an invoice of
    the customer's country (three countries by id), every 7th followed by a return two days
    later; each purchase two product lines, one of ten products (by customer and date) for
    70 % of its value, the other a common product for 30 %."""
    log = log.reset_index(drop=True)
    n = log["customer"].astype(int).to_numpy()
    country = np.array(["UK", "FR", "DE"])[n % 3]
    buys = pd.DataFrame(
        {"customer": log["customer"], "date": log["date"], "country": country,
         "is_cancellation": False}
    )  # fmt: skip
    returns = buys.iloc[::7].assign(is_cancellation=True)
    returns["date"] += pd.Timedelta(days=2)
    orders = pd.concat([buys, returns], ignore_index=True)
    code = (n + log["date"].dt.month.to_numpy()) % 10
    lines = pd.concat(
        [
            pd.DataFrame({"customer": log["customer"], "date": log["date"],
                          "stock_code": [f"P{c}" for c in code], "is_cancellation": False,
                          "revenue": 0.7 * log["value"]}),
            pd.DataFrame({"customer": log["customer"], "date": log["date"],
                          "stock_code": "COMMON", "is_cancellation": False,
                          "revenue": 0.3 * log["value"]}),
        ],
        ignore_index=True,
    )  # fmt: skip
    return orders, lines


def test_feature_values_read_nothing_after_the_cutoff():
    """A hand-worked case: customer a buys two products before the cutoff (10 and 30), one
    return before it and one after it, and a third product after it; b is French, a and c
    British."""
    day = pd.Timestamp
    log = pd.DataFrame(
        {
            "customer": ["a", "a", "a", "b", "c"],
            "date": [day("2020-01-01"), day("2020-02-01"), day("2020-03-01"),
                     day("2020-01-10"), day("2020-01-20")],
            "value": [10.0, 30.0, 100.0, 5.0, 7.0],
        }
    )  # fmt: skip
    orders = log.assign(country=["UK", "UK", "UK", "FR", "UK"], is_cancellation=False)
    late_return = orders.iloc[[0, 0]].assign(
        date=[day("2020-01-15"), day("2020-03-05")], is_cancellation=True, country="DE"
    )
    orders = pd.concat([orders, late_return], ignore_index=True)
    lines = log.assign(stock_code=["P1", "P2", "P3", "P1", "P1"], is_cancellation=False)
    lines = lines.rename(columns={"value": "revenue"})
    cutoff = day("2020-02-15")
    summary = cm.calibration_summary(
        log[log["date"] <= cutoff], customer_col="customer", date_col="date",
        amount_col="value", calibration_end=cutoff, time_unit="W",
    )  # fmt: skip
    X = ml_features.build(summary, _sources(log, orders, lines), cutoff)
    assert list(X.columns) == list(ml_features.FEATURES)
    a = X.loc["a"]
    assert a["returns_rate"] == pytest.approx(0.5)  # 1 return (the later one unseen) / 2 buys
    assert a["country_share"] == pytest.approx(2 / 3)  # a and c British, b French
    assert X.loc["b", "country_share"] == pytest.approx(1 / 3)
    assert a["n_products"] == 2 and a["top_product_share"] == pytest.approx(0.75)
    assert X.loc["b", "returns_rate"] == 0 and X.loc["b", "top_product_share"] == 1.0


@pytest.fixture(scope="module")
def full_forecast(raw):
    orders, lines = _tables(raw)
    return _forecast(raw, _scored(raw), orders=orders, lines=lines), orders, lines


def test_returns_country_and_product_features_are_used_without_leakage(raw, full_forecast):
    """All eleven features are built and scored; shuffling every later purchase, invoice
    and product line (customers, countries, products) leaves the forecast unchanged."""
    out, orders, lines = full_forecast
    assert out.converged, out.message
    assert list(out.features.columns) == list(ml_features.FEATURES)
    assert out.missing == [] and "left out" not in out.message.lower()
    later = pd.Timestamp(CAL) + pd.Timedelta(days=1)
    rng = np.random.default_rng(1)
    mixed_orders, mixed_lines = orders.copy(), lines.copy()
    for frame, cols in ((mixed_orders, ["customer", "country", "is_cancellation"]),
                        (mixed_lines, ["customer", "stock_code", "revenue"])):  # fmt: skip
        late = frame["date"] >= later
        for col in cols:
            frame.loc[late, col] = rng.permutation(frame.loc[late, col].to_numpy())
    scrambled = raw.copy()
    late = scrambled["date"] >= later
    scrambled.loc[late, "customer"] = rng.permutation(scrambled.loc[late, "customer"].to_numpy())
    again = _forecast(scrambled, _scored(raw), orders=mixed_orders, lines=mixed_lines)
    np.testing.assert_allclose(again.predictions, out.predictions)
    imp = ml.importance(out)
    assert set(imp["feature"]) == set(ml_features.FEATURES)


def test_no_product_lines_fits_without_the_product_mix_and_says_so(raw):
    orders, _ = _tables(raw)
    out = ml.ml_forecast(
        ml.Sources(raw, "customer", "date", "value", orders=orders, lines_note="a SQL table"),
        _scored(raw), calibration_end=CAL, holdout_days=150, data_start="1997-01-01",
    )  # fmt: skip
    assert out.converged, out.message
    assert "n_products" not in out.features.columns and "returns_rate" in out.features.columns
    assert out.missing == ["Product mix left out: this source has no product lines (a SQL table)."]
    assert out.message.endswith(out.missing[0])


def test_one_country_is_left_out_by_name(raw):
    """Every customer in one country (a country filter): the country feature has one value,
    is left out and named; the model still fits."""
    orders, lines = _tables(raw)
    out = _forecast(raw, _scored(raw), orders=orders.assign(country="UK"), lines=lines)
    assert out.converged, out.message
    assert out.dropped == ["country_share"]
    assert "share of customers in the same country" in out.message


def test_too_few_customers_get_a_plain_message(raw):
    """40 customers (fewer than the 50 the model needs): no model, a message with the
    numbers, and the explanation says the same."""
    few = raw[raw["customer"].astype(int) <= 40]
    out = _forecast(few, _scored(few))
    assert not out.converged and out.predictions is None
    assert out.message.startswith("The machine-learned model has too little to learn from: 40 ")
    assert "at least 50" in out.message
    with pytest.raises(ValueError, match="too little to learn from"):
        ml.explain(out, "1")
