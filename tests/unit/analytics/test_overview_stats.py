"""The Overview's KPIs and monthly table: the integer-keyed implementation gives what the
plain pandas one (a Period groupby and ``nunique`` of object ids, kept here as the reference)
gives, on invoice tables with missing customers, cancellations, gaps between months and
categorical or object ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import overview
from dashapp.analytics.overview import MONTHLY_COLUMNS, kpis, monthly


def _reference_monthly(orders, first_day, last_day):
    month = orders["invoice_date"].dt.to_period("M")
    known = orders["customer_id"].notna()
    purchase = ~orders["is_cancellation"]
    g = (
        pd.DataFrame(
            {
                "month": month,
                "revenue": orders["revenue"],
                "customer_revenue": orders["revenue"].where(known, 0.0),
                "orders": purchase.astype(int),
                "customer_id": orders["customer_id"].astype(object).where(known & purchase),
            }
        )
        .groupby("month", sort=True)
        .agg(
            revenue=("revenue", "sum"),
            customer_revenue=("customer_revenue", "sum"),
            orders=("orders", "sum"),
            customers=("customer_id", "nunique"),
        )
        .reset_index()
    )
    starts = g["month"].dt.start_time
    ends = g["month"].dt.end_time.dt.normalize()
    g["partial"] = (starts < first_day) | (ends > last_day)
    g["month"] = starts
    return g[MONTHLY_COLUMNS]


def _orders(seed: int, categorical: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    days = rng.choice(
        np.r_[np.arange(0, 120), np.arange(200, 400)], size=n
    )  # a gap of months with no invoice
    dates = pd.Timestamp("2010-01-03") + pd.to_timedelta(days, unit="D")
    dates += pd.to_timedelta(rng.integers(0, 86400, size=n), unit="s")
    ids = np.array([f"C{i}" for i in rng.integers(0, 300, size=n)], dtype=object)
    ids[rng.random(n) < 0.15] = None
    orders = pd.DataFrame(
        {
            "invoice": [f"I{i}" for i in range(n)],
            "customer_id": ids,
            "invoice_date": dates,
            "country": "UK",
            "revenue": rng.normal(50, 80, size=n).round(2),
            "returned": 0.0,
            "is_cancellation": rng.random(n) < 0.1,
        }
    ).sort_values("invoice_date", ignore_index=True)
    if categorical:
        orders["customer_id"] = pd.Categorical(orders["customer_id"])
    return orders


@pytest.mark.parametrize("categorical", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_monthly_equals_the_pandas_reference(seed, categorical):
    orders = _orders(seed, categorical)
    first_day, last_day = pd.Timestamp("2010-01-10"), pd.Timestamp("2011-01-20")
    got = monthly(orders, first_day, last_day)
    want = _reference_monthly(orders, first_day, last_day)
    assert len(got) == len(want) > 10
    assert list(got.columns) == MONTHLY_COLUMNS
    pd.testing.assert_series_equal(got["month"], want["month"], check_dtype=False)
    for col in ("revenue", "customer_revenue"):
        np.testing.assert_allclose(got[col], want[col], rtol=0, atol=1e-6)
    for col in ("orders", "customers", "partial"):
        assert got[col].tolist() == want[col].tolist()
    assert got["partial"].iloc[0] and not got["partial"].iloc[1]


def test_monthly_when_the_last_months_have_no_purchase_and_the_pairs_are_hashed(monkeypatch):
    """Months of cancellations only (no buyer), and the hashed count of (month, customer)
    pairs used above the bitmap's size, give the reference's table too."""
    orders = _orders(4, categorical=True)
    orders.loc[orders["invoice_date"] >= "2010-11-01", "is_cancellation"] = True
    first_day, last_day = pd.Timestamp("2010-01-03"), pd.Timestamp("2011-02-10")
    want = _reference_monthly(orders, first_day, last_day)
    assert want["customers"].iloc[-1] == 0
    for cells in (overview.BITMAP_CELLS, 0):  # the bitmap, then the hashed pairs
        monkeypatch.setattr(overview, "BITMAP_CELLS", cells)
        got = monthly(orders, first_day, last_day)
        assert got["customers"].tolist() == want["customers"].tolist()
        assert got["orders"].tolist() == want["orders"].tolist()


@pytest.mark.parametrize("categorical", [True, False])
def test_kpis_count_buying_customers_and_repeat_rate(categorical):
    orders = _orders(3, categorical)
    k = kpis(orders)
    buying = orders.loc[~orders["is_cancellation"] & orders["customer_id"].notna()]
    per_customer = buying["customer_id"].astype(object).value_counts()
    assert k.customers == len(per_customer) > 100
    assert k.orders == int((~orders["is_cancellation"]).sum())
    assert k.repeat_rate == pytest.approx((per_customer >= 2).mean())
    known = orders["customer_id"].notna()
    assert k.unknown_customer_revenue == pytest.approx(orders.loc[~known, "revenue"].sum())
    assert k.net_revenue == pytest.approx(orders["revenue"].sum())
