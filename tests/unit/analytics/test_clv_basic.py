"""Basic CLV (dashapp.analytics.clv.basic) on a hand-checked customer table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics.clv.basic import historic_clv, ranking_index


@pytest.fixture
def customers() -> pd.DataFrame:
    # Columns as produced by rfm.customer_rfm (docs/architecture.md).
    return pd.DataFrame(
        {
            "recency": [10, 1, 200, 50],
            "frequency": [4, 1, 2, 3],
            "monetary": [400.0, 50.0, -20.0, 90.0],
            "first_purchase": pd.to_datetime(
                ["2020-01-01", "2020-12-30", "2020-02-01", "2020-03-01"]
            ),
            "last_purchase": pd.to_datetime(
                ["2020-12-21", "2020-12-30", "2020-06-14", "2020-11-11"]
            ),
            "tenure": [365, 10, 334, 730],
            "aov": [100.0, 50.0, -10.0, 30.0],
        },
        index=pd.Index(["A", "B", "C", "D"], name="customer_id"),
    )


def test_ranking_index_is_frequency_times_monetary(customers):
    idx = ranking_index(customers)
    assert idx.name == "ranking_index"
    assert idx.to_dict() == {"A": 1600.0, "B": 50.0, "C": -40.0, "D": 270.0}
    # grows with the square of the order count at a fixed order value
    assert idx["A"] == customers.loc["A", "frequency"] ** 2 * customers.loc["A", "aov"]


def test_historic_clv_hand_numbers(customers):
    out = historic_clv(customers)  # margin 0.3, 3 years, rates per 365 days, floor 30 days
    assert list(out.columns) == ["aov", "purchase_rate", "lifespan_periods", "clv"]
    assert out.index.equals(customers.index)
    # A: 4 orders over 365 days = 4 / year; 100 x 4 x 3 x 0.3 = 360
    assert out.loc["A", "purchase_rate"] == pytest.approx(4.0)
    assert out.loc["A", "clv"] == pytest.approx(360.0)
    # B: tenure 10 days is floored at 30: 1 / 30 x 365 = 12.1667 / year
    assert out.loc["B", "purchase_rate"] == pytest.approx(365 / 30)
    assert out.loc["B", "clv"] == pytest.approx(50 * 365 / 30 * 3 * 0.3)  # 547.5
    # C: net returns exceed purchases: worth 0, not a negative amount
    assert out.loc["C", "aov"] == 0.0 and out.loc["C", "clv"] == 0.0
    # D: 3 orders over two years = 1.5 / year; 30 x 1.5 x 3 x 0.3 = 40.5
    assert out.loc["D", "clv"] == pytest.approx(40.5)
    assert (out["lifespan_periods"] == 3.0).all()


def test_historic_clv_period_only_changes_units(customers):
    yearly = historic_clv(customers, margin=0.25, lifespan_years=2.0)
    monthly = historic_clv(customers, margin=0.25, lifespan_years=2.0, period_days=30)
    np.testing.assert_allclose(monthly["clv"], yearly["clv"])
    assert monthly.loc["A", "purchase_rate"] == pytest.approx(4 / 365 * 30)
    assert monthly.loc["A", "lifespan_periods"] == pytest.approx(2 * 365 / 30)
    assert yearly.loc["A", "clv"] == pytest.approx(100 * 4 * 2 * 0.25)  # 200


def test_historic_clv_without_aov_column_and_floor(customers):
    no_aov = customers.drop(columns="aov")
    out = historic_clv(no_aov, min_tenure_days=90)
    assert out.loc["A", "aov"] == pytest.approx(100.0)
    assert out.loc["B", "purchase_rate"] == pytest.approx(365 / 90)
    assert out.loc["D", "aov"] == pytest.approx(30.0)


def test_historic_clv_validates_arguments(customers):
    with pytest.raises(ValueError, match="margin"):
        historic_clv(customers, margin=1.5)
    with pytest.raises(ValueError):
        historic_clv(customers, period_days=0)


def test_historic_clv_empty_table():
    empty = pd.DataFrame(columns=["frequency", "monetary", "tenure", "aov"], dtype=float)
    out = historic_clv(empty)
    assert out.empty and list(out.columns) == ["aov", "purchase_rate", "lifespan_periods", "clv"]
