"""The second predictive round on the real Online Retail II extract: MBG/NBD in the
service, the model comparison on the holdout and the intervals (dashapp/service/views/clv.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp import service
from dashapp.analytics.clv import compare


def _with(filters, **changes) -> service.Filters:
    return service.Filters.build(**{"dataset": filters.dataset, **changes})


def test_mbgnbd_runs_through_the_clv_view(filters):
    view = service.clv_view(filters, "mbgnbd", 12, 30.0, 10.0, 3.0, 90)
    assert view.reason is None
    c = view.customers
    # MBG/NBD: one-time buyers can be lost too (BG/NBD gives them P(alive) = 1)
    one_time = c[c["repeat_days"] == 0]
    assert len(one_time) and (one_time["p_alive"] < 1).all()
    assert c["p_churn"].between(0, 1).all()
    assert (c["p_churn"] >= c["p_not_alive"] - 1e-4).all()
    assert view.kpis.churn_days == 90
    assert view.kpis.expected_churners == pytest.approx(c["p_churn"].sum(), rel=1e-3)
    model = service.clv_model(filters, "mbgnbd")
    assert set(model.params["parameter"]) >= {"r", "α", "a", "b"}
    assert any("first and after each repeat" in line for line in model.derived)


def test_comparison_on_the_real_extract(filters):
    result = service.clv_comparison(filters, None, 90)
    assert result.reason is None, result.reason
    table = result.table
    assert list(table.index) == ["bgnbd", "pareto_nbd", "mbgnbd", "ml", compare.BASELINE]
    assert table["actual_total"].nunique() == 1 and table["actual_total"].iloc[0] > 0
    assert (table["fit_seconds"].iloc[:3] > 0).all()
    assert table["top10_capture"].between(0, 1).all()
    assert (table["rmse"] >= table["mae"]).all()
    assert result.winner in table.index and result.recommendation
    assert str(table.loc[result.winner, "label"]) in result.recommendation
    # the churn check over 90 days: same actual count for every candidate, Brier in [0, 1]
    churn = table.drop(index="ml")  # the ML model forecasts counts, not P(no purchase)
    assert churn["churn_actual"].nunique() == 1
    assert churn["churn_brier"].between(0, 1).all()
    assert np.isnan(table.loc["ml", "churn_brier"])
    assert len(result.deciles) == 5 * 10
    # the machine-learned model: trained, timed, explained
    assert table.loc["ml", "converged"] and table.loc["ml", "fit_seconds"] > 0
    imp = result.importance
    assert imp is not None and imp["mean_abs_shap"].iloc[0] > 0


def test_comparison_explains_a_holdout_shorter_than_the_churn_horizon(filters):
    result = service.clv_comparison(filters, None, 730)
    assert result.reason is None
    assert "churn_brier" not in result.table.columns
    assert any("shorter than the churn horizon" in n for n in result.notes)


def test_comparison_and_intervals_explain_too_few_repeat_customers(filters):
    tiny = _with(filters, start="2011-11-01", end="2011-12-09", countries=["Iceland"])
    comparison = service.clv_comparison(tiny)
    assert comparison.reason and comparison.table is None
    intervals = service.clv_intervals(tiny)
    assert intervals.reason and intervals.totals is None


def test_intervals_on_the_real_extract(filters):
    result = service.clv_intervals(filters, "bgnbd", 12, 30.0, 10.0, "90")
    assert result.reason is None, result.reason
    view = service.clv_view(filters, "bgnbd", 12, 30.0, 10.0)
    t = result.totals
    assert t.loc["total_clv", "estimate"] == pytest.approx(view.kpis.total_clv, rel=1e-3)
    assert (t["lo"] < t["estimate"]).all() and (t["estimate"] < t["hi"]).all()
    c = result.customers
    assert len(c) == len(view.customers)
    assert (c["clv"].diff().dropna() <= 1e-9).all()
    assert ((c["clv_lo"] <= c["clv"] + 1e-6) & (c["clv"] <= c["clv_hi"] + 1e-6)).all()
    assert result.holdout is not None
    h = result.holdout
    assert h["lo"] < h["estimate"] < h["hi"] and h["inside"] in (0.0, 1.0)
    narrow = service.clv_intervals(filters, "bgnbd", 12, 30.0, 10.0, "80").totals
    assert ((narrow["hi"] - narrow["lo"]) < (t["hi"] - t["lo"])).all()
    with pytest.raises(service.ParamError):
        service.clv_intervals(filters, "bgnbd", 12, 30.0, 10.0, "95")


def test_intervals_csv_columns_are_plain_numbers(filters):
    c = service.clv_intervals(filters, "mbgnbd").customers
    assert list(c.columns[:4]) == ["customer_id", "clv", "clv_lo", "clv_hi"]
    assert np.isfinite(c.drop(columns="customer_id").to_numpy(dtype=float)).all()
    assert isinstance(c, pd.DataFrame)


def test_customer_explanation_for_the_customer_page(filters):
    fit = service.clv_fit(filters, "bgnbd")
    customer = fit.summary.index[0]
    e = service.customer_explanation(filters, customer)
    assert {"feature", "label", "value", "shap"} <= set(e.columns)
    assert e.attrs["raw"] == pytest.approx(e.attrs["base"] + e["shap"].sum())
    assert e.attrs["prediction"] > 0 and e.attrs["horizon_days"] > 0
    forecast = service.clv_ml(filters)
    i = list(forecast.features.index).index(str(customer))
    assert e.attrs["prediction"] == pytest.approx(forecast.predictions[i], rel=1e-9)
    with pytest.raises(KeyError, match="not among the scored customers"):
        service.customer_explanation(filters, "no-such-customer")
    tiny = _with(filters, start="2011-11-01", end="2011-12-09", countries=["Iceland"])
    with pytest.raises(ValueError):
        service.customer_explanation(tiny, customer)


def test_the_default_views_model_is_trained_in_the_background_and_kept(filters, monkeypatch):
    """Once the product lines are prepared, the default view's machine-learned model is
    trained in the background and kept in the process: the same model as the results
    cache's, so a customer's explanation is the same, and with the results cache cleared it
    is SHAP values only (no training). A filtered view trains as before."""
    import time

    from dashapp.analytics.clv import ml
    from dashapp.service import store
    from dashapp.service.views import clv as clv_views

    assert filters == service.Filters(dataset=filters.dataset)  # the default view
    store.products(filters.dataset, filters.rules)  # the lines' job, then its hook
    key = ("ml", filters.dataset, service.dataset_version(filters.dataset), filters.rules)
    for _ in range(1200):  # the background training, within two minutes on a loaded machine
        if key in store._store:
            break
        time.sleep(0.1)
    assert key in store._store, "the default model was not trained in the background"
    kept = service.clv_ml(filters)
    assert kept is store._store[key]
    trained = clv_views._train_ml(filters, None)
    customers = list(trained.features.index[:5])
    explained = [service.customer_explanation(filters, c) for c in customers]
    for c, e in zip(customers, explained, strict=True):
        pd.testing.assert_frame_equal(e, ml.explain(trained, c), check_exact=True)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(ml, "ml_forecast", no_training)
    service.cache.clear()
    for c, e in zip(customers, explained, strict=True):
        pd.testing.assert_frame_equal(service.customer_explanation(filters, c), e)
    with pytest.raises(AssertionError, match="trained again"):  # a filtered view trains
        service.customer_explanation(_with(filters, countries=["France"]), customers[0])


def test_a_fit_that_does_not_converge_gets_a_plain_message(filters, monkeypatch):
    """Every optimiser run made to fail (its result kept, a problem reported): the CLV
    page's model view and values say which fit did not converge, in words, with no
    prediction; the comparison lists the models as not converged and recommends none of
    them."""
    from dashapp.analytics.clv import _fit

    real = _fit._attempt

    def stuck(*args, **kwargs):
        result, _problem = real(*args, **kwargs)
        return result, "the gradient is not near zero after the last iteration"

    monkeypatch.setattr(_fit, "_attempt", stuck)
    service.cache.clear()
    try:
        fit = service.clv_model(filters, "pareto_nbd")
        assert fit.reason.startswith("Pareto/NBD fit did not converge: the gradient is not near")
        assert "Predictions from these parameters are not reliable" in fit.reason
        view = service.clv_view(filters, "pareto_nbd")
        assert view.reason == fit.reason and view.customers is None
        comparison = service.clv_comparison(filters)
        table = comparison.table
        assert not table.loc[["bgnbd", "pareto_nbd", "mbgnbd"], "converged"].any()
        assert comparison.winner in ("ml", compare.BASELINE)
        assert sum("did not converge" in n for n in comparison.notes) == 3
    finally:
        service.cache.clear()
