"""Intervals from parameter uncertainty (dashapp.analytics.clv.uncertainty): the draws,
the simulation behind the prediction interval, and the coverage of the holdout total on
data generated from the model's own story (the full study, with CDNOW's actual holdout
total, is bench/bench_clv_intervals.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import clv as cm
from dashapp.analytics.clv import uncertainty as unc
from tests.factories import simulate_histories

TRUE = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}


def _fit(model: str, s: pd.DataFrame):
    return cm.MODELS[model](s["frequency"], s["recency"], s["T"])


@pytest.fixture(scope="module")
def data() -> dict:
    rng = np.random.default_rng(7)
    out = {}
    for model, params in TRUE.items():
        s = simulate_histories(model, params, 3000, rng)
        s["monetary_value"] = np.where(s["frequency"] > 0, rng.gamma(6.0, 6.0, len(s)), np.nan)
        out[model] = s
    return out


@pytest.mark.parametrize("model", sorted(TRUE))
def test_simulated_purchases_average_to_the_expectation(data, model):
    s = data[model]
    fit = _fit(model, s)
    x, tx, T = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    rng = np.random.default_rng(0)
    sims = np.mean([unc.simulate_purchases(fit, 26.0, x, tx, T, rng).sum() for _ in range(300)])
    assert sims == pytest.approx(fit.expected_purchases(26.0, x, tx, T).sum(), rel=0.01)


def test_parameter_draws_follow_the_covariance(data):
    fit = _fit("bgnbd", data["bgnbd"])
    draws = unc.parameter_draws(fit, 4000, np.random.default_rng(1))
    logs = np.log([[d.params[n] for n in fit.param_names] for d in draws])
    np.testing.assert_allclose(logs.mean(axis=0), np.log(list(fit.params.values())), atol=0.02)
    cov, want = np.cov(logs.T), np.asarray(fit.cov_log)
    np.testing.assert_allclose(np.diag(cov), np.diag(want), rtol=0.1)
    corr = lambda c: c / np.sqrt(np.outer(np.diag(c), np.diag(c)))  # noqa: E731
    np.testing.assert_allclose(corr(cov), corr(want), atol=0.06)
    assert all(d.model == "BG/NBD" and d.n == fit.n for d in draws[:3])


@pytest.mark.parametrize("model", sorted(TRUE))
def test_clv_intervals_bracket_the_point_estimates(data, model):
    s = data[model]
    fit, gg = _fit(model, s), cm.fit_gamma_gamma(s["frequency"], s["monetary_value"])
    iv = unc.clv_intervals(
        fit, gg, s, horizon_months=12, annual_discount_rate=0.1, margin=0.3, level=0.9
    )
    point = cm.customer_clv(fit, gg, s, horizon_months=12, annual_discount_rate=0.1, margin=0.3)
    c = iv.customers
    np.testing.assert_allclose(c["clv"], point["clv"])
    for m in ("clv", "expected_purchases", "p_alive"):
        assert (c[f"{m}_lo"] <= c[m] + 1e-9).all() and (c[m] <= c[f"{m}_hi"] + 1e-9).all()
    assert ((c["p_alive_lo"] >= 0) & (c["p_alive_hi"] <= 1)).all()
    t = iv.totals
    assert t.loc["total_clv", "estimate"] == pytest.approx(point["clv"].sum())
    assert (t["lo"] < t["estimate"]).all() and (t["estimate"] < t["hi"]).all()
    # 80 % intervals are narrower than 90 % ones (same draws: same seed)
    iv80 = unc.clv_intervals(
        fit, gg, s, horizon_months=12, annual_discount_rate=0.1, margin=0.3, level=0.8
    )
    width = lambda v: v.totals["hi"] - v.totals["lo"]  # noqa: E731
    assert (width(iv80) < width(iv)).all()
    assert iv.n_draws + iv.n_skipped == unc.N_DRAWS


def test_intervals_refuse_an_unconverged_fit_and_bad_levels(data):
    bad = cm.fit_bgnbd([0, 0, 0], [0, 0, 0], [5, 6, 7])
    with pytest.raises(ValueError, match="no usable parameters"):
        unc.parameter_draws(bad, 10, np.random.default_rng(0))
    s = data["bgnbd"]
    fit, gg = _fit("bgnbd", s), cm.fit_gamma_gamma(s["frequency"], s["monetary_value"])
    with pytest.raises(ValueError, match="level"):
        unc.clv_intervals(fit, gg, s, horizon_months=12, annual_discount_rate=0.1, margin=1,
                          level=1.5)  # fmt: skip


def test_holdout_total_prediction_interval_covers_generated_data():
    """12 data sets of 1,500 customers generated from BG/NBD itself: the 90 % prediction
    interval of the holdout total must contain the actual total in most of them (at 90 %
    true coverage, >= 9 of 12 happens with probability 0.97). The parameter-only interval
    is narrower (it leaves out each customer's own randomness). The full coverage study
    (every model, more data sets, CDNOW) is bench/bench_clv_intervals.py."""
    rng = np.random.default_rng(11)
    inside = inside_param = 0
    for _ in range(12):
        s = simulate_histories("bgnbd", TRUE["bgnbd"], 1500, rng)
        fit = _fit("bgnbd", s)
        assert fit.converged, fit.message
        h = unc.holdout_total_interval(fit, s, level=0.9, n_draws=100, seed=int(rng.integers(1e6)))
        inside += h["inside"]
        inside_param += h["inside_param"]
        assert h["lo"] <= h["estimate"] <= h["hi"]
        assert h["hi"] - h["lo"] > h["param_hi"] - h["param_lo"]
    assert inside >= 9
    assert inside_param <= inside
