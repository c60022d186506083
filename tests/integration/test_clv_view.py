"""The CLV and cohorts views (dashapp/service/views/clv.py and cohorts.py) on
the real Online Retail II extract in ../shared/data, and the CLV page's CSV export."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from dashapp import service
from dashapp.analytics import clv as clv_models
from dashapp.analytics import cohorts
from dashapp.analytics.clv import _fit as fitting
from dashapp.analytics.clv import basic as clv
from dashapp.analytics.clv import holdout
from dashapp.analytics.clv import pareto_nbd as pareto
from dashapp.ingest import engine
from dashapp.service.exports import to_safe_csv
from dashapp.service.views import clv as clv_views


def _with(filters, **changes) -> service.Filters:
    return service.Filters.build(**{"dataset": filters.dataset, **changes})


def test_purchase_log_and_summary_match_plain_pandas(filters, sample_lines):
    orders = engine.clean(sample_lines)[0]
    plain = orders[~orders["is_cancellation"] & orders["customer_id"].notna()].copy()
    plain["day"] = plain["invoice_date"].dt.normalize()
    days = plain.groupby(plain["customer_id"].astype(str))["day"].agg(["nunique", "min", "max"])
    fit = service.clv_fit(filters, "bgnbd")
    summary = fit.summary
    assert fit.calibration_end == pd.Timestamp("2011-12-09")
    assert summary.index.equals(days.index)
    assert (summary["frequency"] == days["nunique"] - 1).all()
    np.testing.assert_allclose(summary["recency"], (days["max"] - days["min"]).dt.days / 7)
    np.testing.assert_allclose(summary["T"], (pd.Timestamp("2011-12-09") - days["min"]).dt.days / 7)
    direct = clv_models.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    assert fit.purchase.params == pytest.approx(direct.params)


def test_clv_view_on_the_real_extract(filters):
    view = service.clv_view(filters, "bgnbd", 12, 30.0, 10.0, 3.0)
    assert view.reason is None
    c = view.customers
    rfm = service.rfm_table(filters)
    assert len(c) == len(rfm) == view.kpis.customers
    assert list(c["rank"]) == list(range(1, len(c) + 1))
    assert (c["clv"].diff().dropna() <= 1e-9).all()  # sorted by predicted CLV
    assert c["p_alive"].between(0, 1).all() and (c["clv"] >= 0).all()
    assert c["expected_purchases"].ge(0).all() and c["expected_aov"].gt(0).all()
    by_id = c.set_index("customer_id")
    rfm = rfm.loc[by_id.index]
    np.testing.assert_allclose(
        by_id["ranking_index"], (rfm["frequency"] * rfm["monetary"]).round(2)
    )
    hist = clv.historic_clv(rfm, margin=0.3, lifespan_years=3.0)
    np.testing.assert_allclose(by_id["historic_clv"], hist["clv"].round(2))
    assert view.kpis.total_clv == pytest.approx(c["clv"].sum())
    assert view.monthly_discount == pytest.approx(1.1 ** (1 / 12) - 1)
    pareto = view.pareto
    assert pareto["customer_share"].iloc[0] == 0 and pareto["customer_share"].iloc[-1] == 1
    for col in ("clv_share", "revenue_share"):
        assert pareto[col].is_monotonic_increasing and pareto[col].iloc[-1] == pytest.approx(1)
    assert len(view.top) == clv_views.TOP_N and view.top["rank"].iloc[0] == 1
    basic = view.basic.set_index("column")
    assert basic.loc["clv", "total"] == pytest.approx(view.kpis.total_clv)
    # F x M is orders^2 x AOV: it concentrates far more on the top customers than money does.
    assert basic.loc["ranking_index", "top10_share"] > basic.loc["historic_clv", "top10_share"]


def test_display_inputs_do_not_refit(filters, monkeypatch):
    calls = []
    original = clv_models.MODELS["bgnbd"]

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setitem(clv_models.MODELS, "bgnbd", counting)
    f = _with(filters, start="2010-01-03")  # keys no other test uses
    a = service.clv_view(f, "bgnbd", 12, 30.0, 10.0, 3.0)
    b = service.clv_view(f, "bgnbd", 24, 60.0, 0.0, 5.0)
    service.clv_model(f, "bgnbd")
    assert len(calls) == 1
    # Margin is a factor; a longer horizon and no discounting give more.
    a_clv = a.customers.set_index("customer_id")["clv"]
    b_clv = b.customers.set_index("customer_id")["clv"].loc[a_clv.index]
    assert (b_clv >= 2 * a_clv - 0.02).all() and b_clv.sum() > 2 * a_clv.sum()
    half = service.clv_view(f, "bgnbd", 12, 15.0, 10.0, 3.0).customers.set_index("customer_id")
    np.testing.assert_allclose(half["clv"].loc[a_clv.index], a_clv / 2, atol=0.011)


def test_model_tables_and_diagnostics(filters):
    for model, names in (("bgnbd", ["r", "α", "a", "b"]), ("pareto_nbd", ["r", "α", "s", "β"])):
        m = service.clv_model(filters, model)
        assert m.reason is None
        params = m.params
        assert list(params["parameter"]) == names + ["p", "q", "γ"]
        assert list(params["model"].unique()) == [clv_models.MODEL_LABELS[model], "Gamma-Gamma"]
        assert np.isfinite(params["estimate"]).all() and (params["estimate"] > 0).all()
        stats = m.stats.set_index("model")
        assert stats["converged"].all() and (stats["log_likelihood"] < 0).all()
        assert stats.loc[clv_models.MODEL_LABELS[model], "time_unit"].startswith("weeks")
        assert stats.loc[clv_models.MODEL_LABELS[model], "customers"] == m.n_customers
        matrix = m.p_alive
        assert matrix.index[0] == 0 and matrix.attrs["T"] == pytest.approx(738 / 7)
        assert np.nanmin(matrix.to_numpy()) >= 0 and np.nanmax(matrix.to_numpy()) <= 1
        ind = m.independence
        assert -1 <= ind.pearson <= 1 and ind.n == len(ind.points) <= m.n_repeat


def test_too_few_repeat_customers_give_a_message_not_an_error(filters):
    italy = _with(filters, countries=["Italy"])
    fit = service.clv_model(italy, "bgnbd")
    assert "at least 20 repeat customers" in fit.reason
    assert "Only 11 of the 17 customers" in fit.reason
    assert fit.params.empty and fit.p_alive is None
    view = service.clv_view(italy, "pareto_nbd", 12, 30.0, 10.0, 3.0)
    assert "Pareto/NBD" in view.reason and view.customers is None
    validation = service.clv_validation(italy, "bgnbd", None)
    assert "repeat customers" in validation.reason and validation.scorecard is None
    nobody = _with(filters, countries=["Atlantis"])
    assert "No customers match" in service.clv_view(nobody, "bgnbd", 12, 30.0, 10.0, 3.0).reason


def test_calibration_date_default_and_validation(filters):
    cal, is_default = service.clv_calibration_end(filters)
    assert is_default and cal == "2011-04-07"  # 2009-12-01..2011-12-09: last third held out
    result = service.clv_validation(filters, "bgnbd", None)
    assert result.reason is None and result.calibration_end == cal
    assert result.holdout_weeks >= holdout.MIN_HOLDOUT_WEEKS
    for bad in ("2011-11-30", "2009-12-05", "2012-06-01"):
        reason = service.clv_validation(filters, "bgnbd", bad).reason
        assert "must lie between 2010-01-26 and 2011-10-14" in reason, reason
    with pytest.raises(service.ParamError, match="Calibration end must be a date"):
        service.clv_validation(filters, "bgnbd", "soon")
    short = _with(filters, start="2011-10-01")
    assert "needs at least 16" in service.clv_validation(short, "bgnbd", None).reason
    ok = service.clv_validation(filters, "bgnbd", "2011-06-30")
    assert ok.reason is None and not ok.is_default


def test_holdout_scorecard_and_tracking_against_pandas(filters, sample_lines):
    result = service.clv_validation(filters, "bgnbd", "2011-06-30")
    card = result.scorecard
    orders = engine.clean(sample_lines)[0]
    p = orders[~orders["is_cancellation"] & orders["customer_id"].notna()].copy()
    p["day"] = p["invoice_date"].dt.normalize()
    first = p.groupby("customer_id", observed=True)["day"].transform("min")
    cal = pd.Timestamp("2011-06-30")
    cohort = p[first <= cal]
    holdout = cohort[cohort["day"] > cal]
    days = holdout.drop_duplicates(["customer_id", "day"])
    assert card.loc["total_purchases", "actual"] == len(days)
    assert card.loc["n_customers", "model"] == cohort["customer_id"].nunique()
    assert card.loc["total_revenue", "actual"] == pytest.approx(holdout["revenue"].sum())
    tracking = result.tracking
    assert tracking["holdout"].any() and not tracking["holdout"].all()
    # Weeks run from the first acquisition day; the week that straddles the cut is "holdout".
    after = tracking.index > cal
    assert tracking.loc[after, "actual"].sum() <= len(days)
    assert tracking.loc[tracking["holdout"], "actual"].sum() >= len(days)
    repeat_days = (
        len(cohort.drop_duplicates(["customer_id", "day"])) - cohort["customer_id"].nunique()
    )
    assert tracking["actual"].sum() == repeat_days
    assert tracking.loc[~tracking["holdout"], "period_end"].max() <= cal


def test_cohorts_view(filters):
    view = service.cohorts_view(filters)
    t = view.tables
    assert t.sizes.sum() == len(service.rfm_table(filters))
    assert bool(t.left_censored.iloc[0]) and not t.left_censored.iloc[1:].any()
    assert t.last_month_partial and str(t.last_month) == "2011-12"
    avg = view.average
    assert (avg["cohorts"].diff().dropna() <= 0).all()
    assert avg["cumulative_revenue_per_customer"].iloc[0] > 0
    assert (
        avg.loc[avg["cohorts"] < cohorts.AVERAGE_MIN_COHORTS, "cumulative_revenue_per_customer"]
        .isna()
        .all()
    )
    # A country filter neither shortens the observed range nor marks an early month partial.
    italy = service.cohorts_view(_with(filters, countries=["Italy"])).tables
    assert str(italy.last_month) == "2011-12" and italy.data_end == pd.Timestamp("2011-12-09")
    assert service.cohorts_view(_with(filters, countries=["Atlantis"])).reason


def test_invalid_inputs_are_rejected_in_plain_words(filters):
    with pytest.raises(service.ParamError, match="Horizon .* from 1 to 120; got '0'"):
        service.clv_view(filters, "bgnbd", 0, 30.0, 10.0, 3.0)
    with pytest.raises(service.ParamError, match="Margin .* from 0 to 100; got '130.0'"):
        service.clv_view(filters, "bgnbd", 12, 130.0, 10.0, 3.0)
    with pytest.raises(service.ParamError, match="whole number"):
        service.clv_view(filters, "bgnbd", 1.5, 30.0, 10.0, 3.0)
    with pytest.raises(service.ParamError, match="Horizon .* whole number .*; got 'abc'"):
        service.clv_view(filters, "bgnbd", "abc", 30.0, 10.0, 3.0)
    with pytest.raises(service.ParamError, match="Purchase model must be one of"):
        service.clv_model(filters, "lifetimes")


def test_csv_export_is_formula_safe(filters):
    """The CLV page exports ``clv_view``'s customer table with ``to_safe_csv`` (the
    download itself is tested over HTTP in tests/browser/test_clv_pages.py)."""
    customers = service.clv_view(filters, "bgnbd", 12, 30.0, 10.0, 3.0).customers
    table = customers.copy()
    table.loc[0, "customer_id"] = '=HYPERLINK("http://x")'
    table.loc[1, "customer_id"] = "@SUM(A1)"
    text = to_safe_csv(table)
    back = pd.read_csv(io.StringIO(text), dtype={"customer_id": str})
    assert list(back.columns) == list(customers.columns) and len(back) == len(customers)
    assert back.loc[0, "customer_id"].startswith("'=") and back.loc[1, "customer_id"] == "'@SUM(A1)"
    assert (back["clv"] >= 0).all()  # numbers stay numbers


def test_pareto_quadrature_likelihood_matches_the_closed_form(filters):
    """The Pareto/NBD fit's likelihood (Gauss-Legendre, with its analytic gradient) agrees
    with the hypergeometric closed form, and the gradient with finite differences, from
    typical to extreme parameters."""
    summary = service.clv_fit(filters, "pareto_nbd").summary
    data = fitting._RFTData(
        *fitting._check_rft(summary["frequency"], summary["recency"], summary["T"], None)
    )
    pairs = {}
    for key, y in (("1", data.tx), ("2", data.T)):
        pairs["x" + key], pairs["y" + key], pairs["i" + key] = pareto._pairs(data.x, y)
    rng = np.random.default_rng(7)
    thetas = [np.log([0.98, 14.6, 0.053, 10.0])] + [rng.uniform(-5, 5, 4) for _ in range(12)]
    for theta in thetas:
        value, grad = pareto._pareto_mean_ll_grad(theta, data)
        assert value == pytest.approx(pareto._pareto_mean_ll(theta, data, pairs), rel=1e-10)
        numeric = fitting._numeric_grad(
            lambda t: pareto._pareto_mean_ll_grad(t, data)[0], theta, h=1e-6
        )
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_concurrent_clv_callbacks_fit_the_model_once(filters, monkeypatch):
    """The CLV page's callbacks arrive together (fit table, values, grid): one fit of the
    purchase model and one of the spend model, however many threads ask."""
    from concurrent.futures import ThreadPoolExecutor

    fits = []
    real = dict(clv_views.models.MODELS)

    def counting(model):
        def fit(*args, **kwargs):
            fits.append(model)
            return real[model](*args, **kwargs)

        return fit

    monkeypatch.setattr(clv_views.models, "MODELS", {m: counting(m) for m in real})
    scoped = _with(filters, start="2010-02-01")  # not fitted by another test yet
    calls = [
        lambda: service.clv_model(scoped, "pareto"),
        lambda: service.clv_view(scoped, "pareto"),
        lambda: service.clv_view(scoped, "pareto"),
        lambda: service.clv_fit(scoped, "pareto"),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [f.result() for f in [pool.submit(c) for c in calls]]
    assert len(fits) == 1, fits
    assert results[1] is results[2] or results[1].kpis == results[2].kpis
