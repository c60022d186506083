"""Segment migration on a hand-made dataset whose moves are known (analytics.migration)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import migration as mig
from dashapp.analytics import rfm
from dashapp.ingest import engine
from tests.factories import make_lines

# Custom cut points make every score checkable by hand:
# recency <= 10 days -> 5, <= 20 -> 4, <= 40 -> 3, <= 80 -> 2, else 1;
# frequency >= 5 invoices -> 5, 4 -> 4, 3 -> 3, 2 -> 2, 1 -> 1.
CUTS = {"recency": [10, 20, 40, 80], "frequency": [2, 3, 4, 5]}

ROWS = [
    # A: five purchases in January -> Champions (R5 F5); nothing in February: as of 03-01
    # recency 30 -> R3, F5 -> Loyal Customers.
    *[
        (f"10{i}", "P1", 1, f"2021-01-{d:02d} 10:00", 10.0, "a")
        for i, d in enumerate((5, 20, 25, 28, 30))
    ],  # fmt: skip
    # B: one purchase on 01-30 -> New Customers (R5 F1); three in February -> F4 R5: Champions.
    ("200", "P1", 1, "2021-01-30 10:00", 10.0, "b"),
    ("201", "P1", 2, "2021-02-10 10:00", 10.0, "b"),
    ("202", "P1", 3, "2021-02-20 10:00", 10.0, "b"),
    ("203", "P1", 4, "2021-02-27 10:00", 10.0, "b"),
    # C: first purchase in February -> from "new" to New Customers.
    ("300", "P1", 1, "2021-02-25 10:00", 7.0, "c"),
    # D: one purchase long ago -> Hibernating at both ends (Lapsed with a 3-month window).
    ("400", "P1", 1, "2020-10-01 10:00", 5.0, "d"),
    # E: bought 01-15 (recency 17 -> R4, F1: Promising), returned one unit in February:
    # recency 45 -> R2, F1 -> Hibernating; February revenue -4.
    ("500", "P2", 2, "2021-01-15 10:00", 4.0, "e"),
    ("C501", "P2", -1, "2021-02-10 10:00", 4.0, "e"),
    # no customer id: never a customer
    ("600", "P1", 9, "2021-02-11 10:00", 10.0, None),
]


@pytest.fixture(scope="module")
def orders():
    return engine.clean(make_lines(ROWS))[0]


def test_periods_default_to_the_last_full_one_and_the_one_before():
    first, second = mig.default_periods("2011-12-09", "quarter")
    assert (first.label, second.label) == ("2011Q2", "2011Q3")
    assert second.end == pd.Timestamp("2011-09-30") and not second.partial
    first, second = mig.default_periods("2011-09-30", "month")
    assert (first.label, second.label) == ("2011-08", "2011-09")
    cut = mig.period_of("2011-12-01", "month", last_day="2011-12-09")
    assert cut.partial and cut.end == pd.Timestamp("2011-12-09")


def test_known_moves(orders):
    jan = mig.period_of("2021-01-15", "month")
    feb = mig.period_of("2021-02-15", "month")
    result = mig.migration(orders, jan, feb, thresholds=CUTS)
    moves = result.customers.set_index("customer_id")
    assert list(moves.index) == ["a", "b", "c", "d", "e"]
    assert moves.loc["a", ["from_state", "to_state"]].tolist() == ["Champions", "Loyal Customers"]
    assert moves.loc["b", ["from_state", "to_state"]].tolist() == ["New Customers", "Champions"]
    assert moves.loc["c", ["from_state", "to_state"]].tolist() == [mig.NEW, "New Customers"]
    assert moves.loc["d", ["from_state", "to_state"]].tolist() == ["Hibernating", "Hibernating"]
    assert moves.loc["e", ["from_state", "to_state"]].tolist() == ["Promising", "Hibernating"]
    # revenue per customer is the second period's net revenue; e's return in February is
    # booked against the January order it cancels, so it moves no February revenue
    assert moves["revenue"].to_dict() == {"a": 0.0, "b": 90.0, "c": 7.0, "d": 0.0, "e": 0.0}
    assert moves.loc["a", "from_rfm"][:2] == "55" and moves.loc["a", "to_rfm"][:2] == "35"
    assert pd.isna(moves.loc["c", "from_rfm"])
    # the matrix holds exactly these flows
    assert int(result.counts.to_numpy().sum()) == 5
    assert result.counts.loc["Champions", "Loyal Customers"] == 1
    assert result.counts.loc["Promising", "Hibernating"] == 1
    assert result.revenue.loc["New Customers", "Champions"] == 90.0
    flows = mig.flows(result)
    assert len(flows) == 5 and flows["customers"].sum() == 5
    net = result.net.set_index("state")
    assert net.loc["Champions", "net_change"] == 0  # a left, b arrived
    assert net.loc["Hibernating", ["customers_first", "customers_second", "net_change"]].tolist() \
        == [1, 2, 1]  # fmt: skip
    assert net.loc["Promising", "net_change"] == -1
    assert net.loc[mig.NEW, ["customers_first", "customers_second", "net_change"]].tolist() == [
        1,
        0,
        -1,
    ]
    assert net["customers_second"].sum() == 5


def test_window_makes_old_customers_lapsed(orders):
    jan = mig.period_of("2021-01-15", "month")
    feb = mig.period_of("2021-02-15", "month")
    result = mig.migration(orders, jan, feb, window_months=3, thresholds=CUTS)
    moves = result.customers.set_index("customer_id")
    assert moves.loc["d", ["from_state", "to_state"]].tolist() == [mig.LAPSED, mig.LAPSED]
    assert moves.loc["a", "to_state"] == "Loyal Customers"


def test_state_at_the_range_end_is_the_rfm_pages_segment(orders):
    """Same rules, not approximated: scored as of a period end = the RFM table as of then."""
    for cuts in (None, CUTS):
        at = mig.states_at(orders, "2021-02-28", thresholds=cuts)
        direct = rfm.rfm_scores(rfm.customer_rfm(orders, as_of="2021-03-01"), thresholds=cuts)
        pd.testing.assert_series_equal(at["segment"], direct["segment"])
        assert (at["state"] == direct["segment"]).all()
    # earlier end: only invoices up to that day count, recency to the next day
    at = mig.states_at(orders, "2021-01-31", thresholds=CUTS)
    assert list(at.index) == ["a", "b", "d", "e"]
    assert at.loc["e", "recency"] == 17 and at.loc["a", "frequency"] == 5


def test_monthly_sizes(orders):
    ends = mig.month_ends("2020-10-01", "2021-02-28")
    assert [f"{e:%m-%d}" for e in ends] == ["10-31", "11-30", "12-31", "01-31", "02-28"]
    monthly = mig.monthly_states(orders, ends, thresholds=CUTS)
    sizes = mig.segment_sizes(monthly)
    total = sizes.groupby("month_end")["customers"].sum()
    assert total.tolist() == [1, 1, 1, 4, 5]
    feb = sizes[sizes["month_end"] == pd.Timestamp("2021-02-28")].set_index("state")
    assert feb.loc["Hibernating", "customers"] == 2 and feb.loc["Champions", "customers"] == 1
    assert mig.NEW not in set(sizes["state"])


def test_empty_orders(orders):
    empty = orders.iloc[0:0]
    result = mig.migration(
        empty, mig.period_of("2021-01-01", "month"), mig.period_of("2021-02-01", "month")
    )
    assert result.customers.empty and int(result.counts.to_numpy().sum()) == 0


@pytest.mark.parametrize("window", [None, 1, 3])
def test_month_ends_scored_from_arrays_built_once_match_each_end_scored_alone(orders, window):
    """monthly_states builds the invoice arrays once for every month end; each end must be
    exactly what the RFM of the invoices up to it gives (rfm.customer_rfm on that table)."""
    ends = mig.month_ends("2020-10-01", "2021-02-28")
    monthly = mig.monthly_states(orders, ends, window, CUTS)
    arrays = rfm.InvoiceArrays.of(orders)
    for end in ends:
        alone = mig.states_at(orders, end, window, CUTS)
        pd.testing.assert_frame_equal(mig.states_at(arrays, end, window, CUTS), alone)
        part = monthly[monthly["month_end"] == end].set_index("customer_id")
        assert list(part.index) == list(alone.index)
        assert part["state"].tolist() == alone["state"].tolist()
    # the end with the window's invoices alone, as the RFM page would score them
    as_of = pd.Timestamp("2021-03-01")
    since = as_of - pd.DateOffset(months=window) if window else pd.Timestamp("2000-01-01")
    table = orders[(orders["invoice_date"] < as_of) & (orders["invoice_date"] >= since)]
    expected = rfm.customer_rfm(table, as_of=as_of)
    got = rfm.rfm_at(arrays, as_of, arrays.before(as_of, since))
    pd.testing.assert_frame_equal(got, expected)


# The history on arrays must be exactly the per-end tables put together
# --------------------------------------------------------------------------------------------
def _hand_orders():
    """Invoice rows by hand (what RFM reads): a returns-only customer (r), a customer whose
    first month is the last (n), a purchase at 23:59 on a month end (c), one who lapses for
    months and comes back (b), cents that do not add up exactly in binary (a)."""
    rows = [
        ("a", "2020-10-05", False, 0.1), ("a", "2020-10-06", False, 0.2),
        ("a", "2021-01-05", False, 100.07), ("a", "2021-02-10", False, 50.51),
        ("a", "2021-02-11", True, -20.25),
        ("b", "2020-10-03", False, 10.0), ("b", "2021-03-01", False, 12.345),
        ("r", "2020-11-20", True, -30.0), ("r", "2021-01-20", True, -5.0),
        ("n", "2021-03-30", False, 77.7),
        ("c", "2020-10-31 23:59", False, 5.0), ("c", "2020-11-01", False, 5.0),
        ("c", "2020-12-31", True, -5.0),
        ("d", "2020-10-15", False, 1000.0),
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=["customer_id", "invoice_date", "is_cancellation", "revenue"])
    out["invoice_date"] = pd.to_datetime(out["invoice_date"], format="ISO8601")
    out["customer_id"] = out["customer_id"].astype("category")
    return out


def _per_end(orders, ends, window, cuts):
    """The history as it was computed before: a scored table per end, put together."""
    parts = []
    for end in ends:
        scored = mig.states_at(orders, end, window, cuts)
        part = scored[["recency", "frequency", "monetary", *mig.SCORES, "state"]].reset_index()
        part.insert(0, "month_end", pd.Timestamp(end))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("window", [None, 1, 2, 3, 12])
@pytest.mark.parametrize("cuts", [None, CUTS, {"frequency": [2, 3, 4, 5]}])
@pytest.mark.parametrize(
    "pick", ["all", "shuffled", "no_a", "from_december", "returns_only_and_new"]
)
def test_monthly_states_are_the_per_end_tables_put_together(window, cuts, pick):
    orders = _hand_orders()
    ends = mig.month_ends("2020-10-01", "2021-03-30")
    if pick == "shuffled":
        orders = orders.sample(frac=1.0, random_state=7)
    elif pick == "no_a":  # a customer filter: another customer's ranks change
        orders = orders[orders["customer_id"] != "a"]
    elif pick == "from_december":  # a date filter: the range and its month ends move
        orders = orders[orders["invoice_date"] >= "2020-12-01"]
        ends = mig.month_ends("2020-12-01", "2021-03-30")
    elif pick == "returns_only_and_new":
        orders = orders[orders["customer_id"].isin(["r", "n"])]
    got = mig.monthly_states(orders, ends, window, cuts)
    pd.testing.assert_frame_equal(got, _per_end(orders, ends, window, cuts), check_exact=True)
    assert got.attrs["month_ends"] == [pd.Timestamp(e) for e in ends]
    assert "r" not in set(got["customer_id"])  # returns only: never a customer
    if window and window <= 3 and pick == "all":  # b lapses in a short window, comes back
        b = got[got["customer_id"] == "b"].set_index("month_end")["state"]
        assert b[pd.Timestamp("2021-02-28")] == mig.LAPSED
        assert b[pd.Timestamp("2021-03-30")] != mig.LAPSED


def test_monthly_states_of_no_month_end_and_no_invoice():
    assert list(mig.monthly_states(_hand_orders(), [])) == mig.MONTHLY_COLUMNS
    empty = _hand_orders().iloc[0:0]
    got = mig.monthly_states(empty, mig.month_ends("2021-01-01", "2021-02-28"))
    assert got.empty and list(got) == mig.MONTHLY_COLUMNS


@pytest.mark.parametrize("window", [None, 1, 3])
@pytest.mark.parametrize("cuts", [None, CUTS])
def test_migration_reads_the_same_states_from_the_history(orders, window, cuts):
    ends = mig.month_ends("2020-10-01", "2021-02-28")
    monthly = mig.monthly_states(orders, ends, window, cuts)
    for first, second, freq in (("2021-01-15", "2021-02-15", "month"),
                                ("2020-10-15", "2021-02-15", "month"),
                                ("2020-10-15", "2021-01-15", "quarter")):  # fmt: skip
        p1, p2 = mig.period_of(first, freq), mig.period_of(second, freq, last_day="2021-02-28")
        direct = mig.migration(orders, p1, p2, window, cuts)
        read = mig.migration(orders, p1, p2, window, cuts, monthly=monthly)
        for a, b in zip(
            (direct.customers, direct.counts, direct.revenue, direct.net),
            (read.customers, read.counts, read.revenue, read.net),
            strict=True,
        ):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    # a period end the history does not hold is an error, not an empty state
    odd = mig.Period("mid-January", pd.Timestamp("2021-01-01"), pd.Timestamp("2021-01-15"))
    with pytest.raises(ValueError, match="no month end 2021-01-15"):
        mig.migration(orders, odd, p2, window, cuts, monthly=monthly)


def _sizes_by_groupby(monthly):
    """segment_sizes as it was computed before the counting on codes (the reference)."""
    states = [s for s in mig.STATES if s != mig.NEW]
    counts = monthly.groupby(["month_end", "state"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=states, fill_value=0)
    out = counts.stack().rename("customers").reset_index()
    out.columns = ["month_end", "state", "customers"]
    out["customers"] = out["customers"].astype(np.int64)
    return out


@pytest.mark.parametrize("window", [None, 1, 3])
@pytest.mark.parametrize("pick", ["all", "shuffled", "from_december", "returns_only_and_new"])
def test_segment_sizes_and_month_rows_are_the_groupby_and_the_mask(window, pick):
    """The sizes counted on codes are the groupby's table; the rows of a month end taken as
    a slice are the mask's, on the history in order and shuffled."""
    orders = _hand_orders()
    ends = mig.month_ends("2020-10-01", "2021-03-30")
    if pick == "shuffled":
        orders = orders.sample(frac=1.0, random_state=7)
    elif pick == "from_december":
        orders = orders[orders["invoice_date"] >= "2020-12-01"]
        ends = mig.month_ends("2020-12-01", "2021-03-30")
    elif pick == "returns_only_and_new":  # month ends without any customer
        orders = orders[orders["customer_id"].isin(["r", "n"])]
    monthly = mig.monthly_states(orders, ends, window)
    got = mig.segment_sizes(monthly)
    pd.testing.assert_frame_equal(got, _sizes_by_groupby(monthly), check_exact=True)
    shuffled = monthly.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(
        mig.segment_sizes(shuffled), _sizes_by_groupby(shuffled), check_exact=True
    )
    for frame in (monthly, shuffled):
        for end in ends:
            pd.testing.assert_frame_equal(
                mig._month_rows(frame, pd.Timestamp(end)),
                frame[frame["month_end"] == pd.Timestamp(end)],
                check_exact=True,
            )
