"""Campaigns: the control group's draw, the expected outcome's arithmetic, and the measured
effect recovering an uplift injected into generated transactions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import campaign

START = pd.Timestamp("2011-06-01")


def test_control_group_is_reproducible_and_sized():
    ids = [str(i) for i in range(1000)]
    target, control = campaign.split_control(ids, 20, seed=7)
    assert len(control) == 200 and len(target) == 800
    assert not set(target) & set(control) and set(target) | set(control) == set(ids)
    again = campaign.split_control(list(reversed(ids)), 20, seed=7)  # order does not matter
    assert list(again[1]) == list(control)
    other = campaign.split_control(ids, 20, seed=8)
    assert set(other[1]) != set(control)
    assert len(campaign.split_control(ids[:3], 10, 1)[1]) == 0  # 0.3 rounds to none


def test_expected_outcome_arithmetic():
    out = campaign.expected_outcome([100.0] * 1000, 1.0, 0.10, 0.5, 0.3)
    # p = 0.05: 50 incremental orders of 100 -> 5,000 revenue, 1,500 profit, cost 1,000
    assert out.orders == pytest.approx(50) and out.revenue == pytest.approx(5000)
    assert out.profit == pytest.approx(1500) and out.cost == 1000
    assert out.roi == pytest.approx(0.5)
    sd = np.sqrt(0.05 * 0.95 * 1000 * 100**2)
    assert out.revenue_high - out.revenue == pytest.approx(1.959964 * sd, rel=1e-5)
    assert out.roi_low < out.roi < out.roi_high
    free = campaign.expected_outcome([10.0, np.nan, -5.0], 0.0, 0.1, 0.5, 0.3)
    assert np.isnan(free.roi) and free.revenue == pytest.approx(0.5)  # bad aov counts as 0


def _generated(seed: int, n: int = 4000, injected_p: float = 0.0, injected_value: float = 40.0):
    """Invoices of ``n`` customers: before and after START, each customer buys a Poisson
    number of times (rate Gamma(2, 0.5) per period), lognormal amounts (median 20), 5 % of
    invoices are cancellations of -10. Then the uplift is injected: each target customer
    gets one more invoice after START, worth ``injected_value``, with probability
    ``injected_p``. Expected true effect per target customer: ``injected_p x
    injected_value`` revenue and ``injected_p`` purchases."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i}" for i in range(n)])
    target, control = campaign.split_control(ids, 30, seed)
    rate = rng.gamma(2.0, 0.5, n)
    rows = []
    for period_start in (pd.Timestamp("2011-01-01"), START):
        counts = rng.poisson(rate)
        cust = np.repeat(ids, counts)
        days = rng.integers(0, 120, len(cust))
        cancel = rng.random(len(cust)) < 0.05
        amount = np.where(cancel, -10.0, rng.lognormal(np.log(20), 0.8, len(cust)))
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": cust,
                    "invoice_date": period_start + pd.to_timedelta(days, unit="D"),
                    "revenue": amount,
                    "is_cancellation": cancel,
                }
            )
        )
    lucky = target[rng.random(len(target)) < injected_p]
    rows.append(
        pd.DataFrame(
            {
                "customer_id": lucky,
                "invoice_date": START + pd.to_timedelta(rng.integers(0, 60, len(lucky)), unit="D"),
                "revenue": injected_value,
                "is_cancellation": False,
            }
        )
    )
    return pd.concat(rows, ignore_index=True), target, control


def test_an_injected_uplift_is_recovered_within_its_interval():
    orders, target, control = _generated(seed=11, injected_p=0.25)
    effect = campaign.measure_effect(orders, START, target, control)
    r, p = effect.revenue, effect.purchases
    assert r.low <= 0.25 * 40 <= r.high and p.low <= 0.25 <= p.high
    assert r.low > 0 and effect.revenue.verdict == "raised"
    assert effect.verdict.startswith("The campaign raised revenue in the ")
    assert r.total == pytest.approx(r.per_customer * len(target))
    assert (effect.n_target, effect.n_control) == (2800, 1200)


def test_no_uplift_gives_no_clear_effect():
    orders, target, control = _generated(seed=12, injected_p=0.0)
    effect = campaign.measure_effect(orders, START, target, control)
    assert effect.revenue.low <= 0 <= effect.revenue.high
    assert effect.verdict.startswith("No clear effect")


def test_the_interval_covers_the_injected_uplift_about_95_times_in_100():
    covered = 0
    for seed in range(100):
        orders, target, control = _generated(seed=seed, n=1500, injected_p=0.2)
        r = campaign.measure_effect(orders, START, target, control).revenue
        covered += r.low <= 0.2 * 40 <= r.high
    assert 88 <= covered <= 100


def test_bad_groups_are_refused():
    orders, target, control = _generated(seed=1, n=50)
    with pytest.raises(ValueError, match="in both the target and the control"):
        campaign.measure_effect(orders, START, target, [*control, target[0]])
    with pytest.raises(ValueError, match="at least 2 customers"):
        campaign.measure_effect(orders, START, target, control[:1])
    with pytest.raises(ValueError, match="No transactions from the start day 2030-01-01"):
        campaign.measure_effect(orders, "2030-01-01", target, control)
    # customers of the lists who bought nothing count as zero, not as missing
    effect = campaign.measure_effect(orders, START, [*target, "never"], control)
    assert effect.n_target == len(target) + 1
