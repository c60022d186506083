"""Cohort tables (dashapp.analytics.cohorts) on a tiny Orders table checked by hand, cell by cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics.cohorts import cohort_tables

NAN = np.nan


def _orders(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["invoice", "customer_id", "invoice_date", "revenue"])
    df["invoice_date"] = pd.to_datetime(df["invoice_date"], format="ISO8601")
    df["customer_id"] = df["customer_id"].astype("category")
    df["is_cancellation"] = df["invoice"].str.startswith("C")
    df["country"] = pd.Categorical(["United Kingdom"] * len(df))
    df["lines"] = 1
    return df


@pytest.fixture
def orders() -> pd.DataFrame:
    return _orders(
        [
            # c1: cohort Jan; active Jan, Mar (Feb has only a cancellation)
            ("1", "c1", "2021-01-05 10:00", 100.0),
            ("2", "c1", "2021-01-20 11:00", 50.0),
            ("C3", "c1", "2021-02-10 09:00", -30.0),
            ("4", "c1", "2021-03-03 12:00", 70.0),
            # c2: cohort Jan; active Jan, Feb
            ("5", "c2", "2021-01-15 08:00", 200.0),
            ("6", "c2", "2021-02-01 08:00", 20.0),
            # c3: cohort Feb; active Feb, Apr
            ("7", "c3", "2021-02-07 08:00", 80.0),
            ("8", "c3", "2021-02-20 08:00", 40.0),
            ("9", "c3", "2021-04-01 08:00", 10.0),
            # c4: only a cancellation: no cohort
            ("C10", "c4", "2021-03-10 08:00", -5.0),
            # c5: cancellation dated before the first purchase month (ignored); cohort Mar
            ("C11", "c5", "2021-02-25 08:00", -15.0),
            ("12", "c5", "2021-03-05 08:00", 100.0),
            ("13", "c5", "2021-04-02 08:00", 30.0),
            # no customer: ignored, but the data run to 2021-04-15 (April is partial)
            ("14", None, "2021-04-15 16:00", 999.0),
        ]
    )


def _check(frame: pd.DataFrame, expected: list[list[float]]) -> None:
    np.testing.assert_allclose(
        frame.to_numpy(dtype=float), np.array(expected), rtol=1e-12, equal_nan=True
    )


def test_every_cell_by_hand(orders):
    ct = cohort_tables(orders)
    assert [str(p) for p in ct.sizes.index] == ["2021-01", "2021-02", "2021-03"]
    assert ct.sizes.tolist() == [2, 1, 1]
    assert list(ct.retention.columns) == [0, 1, 2, 3]
    assert ct.retention.columns.name == "months_since"
    assert ct.retention.index.name == "cohort"

    _check(ct.active, [[2, 1, 1, 0], [1, 0, 1, NAN], [1, 1, NAN, NAN]])
    _check(ct.retention, [[1, 0.5, 0.5, 0], [1, 0, 1, NAN], [1, 1, NAN, NAN]])
    _check(ct.revenue, [[350, -10, 70, 0], [120, 0, 10, NAN], [100, 30, NAN, NAN]])
    _check(
        ct.revenue_retention,
        [[1, -10 / 350, 70 / 350, 0], [1, 0, 10 / 120, NAN], [1, 0.3, NAN, NAN]],
    )
    _check(
        ct.cumulative_revenue_per_customer,
        [[175, 170, 205, 205], [120, 120, 130, NAN], [100, 130, NAN, NAN]],
    )

    assert ct.left_censored.tolist() == [True, False, False]
    assert ct.last_month_partial is True
    assert ct.partial_cells.to_numpy().tolist() == [
        [False, False, False, True],
        [False, False, True, False],
        [False, True, False, False],
    ]
    assert str(ct.first_month) == "2021-01" and str(ct.last_month) == "2021-04"
    assert ct.data_start == pd.Timestamp("2021-01-05 10:00")
    assert ct.data_end == pd.Timestamp("2021-04-15 16:00")


def test_complete_last_month_is_not_partial(orders):
    extra = _orders([("15", None, "2021-04-30 18:00", 1.0)])
    ct = cohort_tables(pd.concat([orders, extra], ignore_index=True))
    assert ct.last_month_partial is False
    assert not ct.partial_cells.to_numpy().any()


def test_month_zero_cancellation_and_same_month_orders_count_once():
    ct = cohort_tables(
        _orders(
            [
                ("1", "a", "2022-05-02", 60.0),
                ("2", "a", "2022-05-20", 40.0),
                ("C3", "a", "2022-05-21", -25.0),
                ("4", "a", "2022-06-30 23:00", 10.0),
            ]
        )
    )
    _check(ct.active, [[1, 1]])
    _check(ct.revenue, [[75, 10]])
    _check(ct.revenue_retention, [[1, 10 / 75]])
    assert ct.last_month_partial is False  # data end on 30 June


def test_no_customers_gives_empty_tables():
    ct = cohort_tables(_orders([("1", None, "2022-05-02", 60.0)]))
    assert ct.sizes.empty and ct.retention.empty
    assert ct.data_end == pd.Timestamp("2022-05-02")


def test_missing_columns_are_reported():
    with pytest.raises(KeyError, match="is_cancellation"):
        cohort_tables(pd.DataFrame({"customer_id": [], "invoice_date": [], "revenue": []}))


def _customer_cohorts_by_periods(orders: pd.DataFrame) -> pd.DataFrame:
    """customer_cohorts as it was computed before the months were counted on ordinals
    (Period arithmetic and a group-wise apply): the reference."""
    from dashapp.analytics.cohorts import customer_cohorts

    known = orders[orders["customer_id"].notna()]
    buys = known[~known["is_cancellation"].to_numpy(dtype=bool)]
    if buys.empty:
        return customer_cohorts(orders)
    ids = buys["customer_id"].astype(str)
    month = buys["invoice_date"].dt.to_period("M")
    first_month = month.groupby(ids).min()
    k = (month - ids.map(first_month)).map(lambda d: d.n).astype(int)
    months = k.groupby(ids).apply(lambda v: " ".join(str(m) for m in sorted(set(v))))
    dates = buys["invoice_date"].dt.normalize()
    all_ids = known["customer_id"].astype(str)
    in_cohort = known[known["invoice_date"].dt.to_period("M") >= all_ids.map(first_month)]
    table = pd.DataFrame(
        {
            "cohort": first_month.astype(str),
            "first_purchase": dates.groupby(ids).min().dt.strftime("%Y-%m-%d"),
            "last_purchase": dates.groupby(ids).max().dt.strftime("%Y-%m-%d"),
            "orders": ids.groupby(ids).size(),
            "revenue": in_cohort["revenue"].groupby(in_cohort["customer_id"].astype(str)).sum(),
            "months_active": months,
        }
    )
    table["revenue"] = table["revenue"].fillna(0.0).round(2)
    return table.rename_axis("customer_id").reset_index()[list(customer_cohorts(orders))]


@pytest.mark.parametrize("pick", ["all", "shuffled", "no_c1", "from_march", "returns_only"])
def test_customer_cohorts_are_the_period_arithmetic(orders, pick):
    """The customer table counted on month ordinals is the one Period arithmetic gives:
    a cancellation before the cohort month, a customer with returns only, months skipped,
    rows in any order, a date filter."""
    from dashapp.analytics.cohorts import customer_cohorts

    more = _orders([("20", "c6", "2019-11-30 23:59", 5.0), ("21", "c6", "2021-01-01 00:00", 6.0),
                    ("22", "c6", "2020-02-29 12:00", 7.0), ("23", "c6", "2021-01-31", 1.0)])  # fmt: skip
    frame = pd.concat([orders, more], ignore_index=True)
    frame["customer_id"] = frame["customer_id"].astype("category")
    if pick == "shuffled":
        frame = frame.sample(frac=1.0, random_state=5)
    elif pick == "no_c1":
        frame = frame[frame["customer_id"] != "c1"]
    elif pick == "from_march":
        frame = frame[frame["invoice_date"] >= "2021-03-01"]
    elif pick == "returns_only":
        frame = frame[frame["is_cancellation"]]
    got = customer_cohorts(frame)
    pd.testing.assert_frame_equal(got, _customer_cohorts_by_periods(frame), check_exact=True)
    if pick == "all":
        c6 = got.set_index("customer_id").loc["c6"]
        assert c6["months_active"] == "0 3 14" and c6["cohort"] == "2019-11"


def test_months_active_without_the_month_grid_are_the_same(orders, monkeypatch):
    """Past :data:`_MONTH_MARKS_MAX` (customers x months too large to mark), the months
    active are sorted instead: the same table."""
    from dashapp.analytics import cohorts

    frame = orders.assign(customer_id=orders["customer_id"].astype("category"))
    marked = cohorts.customer_cohorts(frame)
    monkeypatch.setattr(cohorts, "_MONTH_MARKS_MAX", 0)
    pd.testing.assert_frame_equal(cohorts.customer_cohorts(frame), marked, check_exact=True)
    pd.testing.assert_frame_equal(marked, _customer_cohorts_by_periods(frame), check_exact=True)
    assert (marked["months_active"].str.split().str.len() > 1).any()  # some skip or repeat
