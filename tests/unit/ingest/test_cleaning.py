import numpy as np
import pandas as pd
import pytest

from dashapp.ingest import cleaning
from dashapp.ingest.cleaning import RULES, CleaningRules, filter_transactions
from dashapp.ingest.engine import clean
from tests.factories import make_lines

ROWS = [
    # a normal purchase of two products by customer 1, duplicated line
    ("100", "A1", 10, "2010-01-05 10:00", 2.0, "1"),
    ("100", "A1", 10, "2010-01-05 10:00", 2.0, "1"),
    ("100", "B2", 1, "2010-01-05 10:00", 5.0, "1"),
    ("100", "POST", 1, "2010-01-05 10:00", 18.0, "1"),
    # customer 1 returns 4 of A1 (matched) and 3 of Z9 that were bought before the data began
    ("C101", "A1", -4, "2010-01-09 11:00", 2.0, "1"),
    ("C101", "Z9", -3, "2010-01-09 11:00", 7.0, "1"),
    # customer 2 returns 5 of B2 but bought only 2 in the data: 3 unmatched units
    ("102", "B2", 2, "2010-02-01 09:00", 5.0, "2"),
    ("C103", "B2", -5, "2010-02-03 09:00", 5.0, "2"),
    # bad debt, zero price, write-off, gift voucher, anonymous purchase
    ("A104", "B", 1, "2010-02-04 09:00", -500.0, None),
    ("105", "Q3", 3, "2010-02-04 10:00", 0.0, "2"),
    ("106", "D1", -20, "2010-02-05 10:00", 1.0, None),
    ("107", "gift_0001_20", 1, "2010-02-06 10:00", 20.0, None),
    ("108", "E5", 4, "2010-02-06 12:00", 2.5, None),
]


def test_ledger_accounts_for_every_rule_and_every_removed_line():
    lines = make_lines(ROWS)
    orders, ledger = clean(lines)
    assert list(ledger["rule"]) == [r[0] for r in RULES]
    by = ledger.set_index("rule")
    assert by.loc["duplicates", "rows"] == 1 and by.loc["duplicates", "money"] == 20.0
    assert by.loc["bad_debt", "rows"] == 1 and by.loc["bad_debt", "money"] == -500.0
    assert by.loc["non_product", "rows"] == 2  # POST and the gift voucher
    assert by.loc["non_positive_price", "rows"] == 1
    assert by.loc["write_offs", "rows"] == 1 and by.loc["write_offs", "money"] == -20.0
    assert by.loc["cancellations", "rows"] == 3
    # Z9: all 3 units unmatched (-21); B2 of customer 2: 3 of 5 units unmatched (-15)
    assert by.loc["unmatched_returns", "rows"] == 2
    assert by.loc["unmatched_returns", "money"] == pytest.approx(-36.0)
    assert by.loc["cancelled_orders", "rows"] == 1  # order 102, whose 2 units all came back
    assert by.loc["cancelled_orders", "money"] == 10.0
    assert by.loc["missing_customer", "rows"] == 1  # the anonymous purchase, kept
    removed_full_lines = 1 + 1 + 2 + 1 + 1 + 1  # dup, bad debt, 2 non-product, price, write-off, Z9
    assert ledger.attrs["rows_in"] == len(ROWS)
    assert ledger.attrs["rows_out"] == len(ROWS) - removed_full_lines
    assert orders["lines"].sum() == ledger.attrs["rows_out"]


def test_customers_net_of_matched_returns_never_negative_from_unmatched_ones():
    orders, _ = clean(make_lines(ROWS))
    per_customer = orders.groupby("customer_id", observed=True)["revenue"].sum()
    assert per_customer["1"] == pytest.approx(20 + 5 - 8)  # 10 x A1, 1 x B2, return 4 x A1
    assert per_customer["2"] == pytest.approx(10 - 10)  # bought 2, return matched for 2 units
    by_invoice = orders.set_index("invoice")
    # C103's two matched units cancel order 102 in full: 102 is no purchase any more, its
    # revenue moved to 0 with "returned" saying what came back; C103 keeps nothing.
    assert by_invoice.loc["102", "is_cancellation"] and by_invoice.loc["102", "revenue"] == 0
    assert by_invoice.loc["102", "returned"] == 10.0
    assert by_invoice.loc["C103", "revenue"] == 0 and by_invoice.loc["C103", "is_cancellation"]
    # the partial return of 4 x A1 lowers order 100 (20 + 5 - 8), not the day it arrived
    assert by_invoice.loc["100", "revenue"] == 17.0 and by_invoice.loc["100", "returned"] == 8.0
    assert by_invoice.loc["C101", "revenue"] == 0


def test_each_rule_can_be_switched_off():
    lines = make_lines(ROWS)
    orders, ledger = clean(
        lines,
        CleaningRules(
            drop_duplicates=False,
            drop_bad_debt=False,
            drop_non_product=False,
            drop_non_positive_price=False,
            drop_write_offs=False,
            net_cancellations=True,
        ),
    )
    assert not ledger.set_index("rule").loc["duplicates", "enabled"]
    # only the fully unmatched Z9 return leaves
    assert ledger.attrs["rows_out"] == orders["lines"].sum() == len(ROWS) - 1
    gross, ledger = clean(lines, CleaningRules(net_cancellations=False))
    assert not gross["is_cancellation"].any()
    assert ledger.set_index("rule").loc["cancellations_dropped", "rows"] == 3


def test_flags_round_trip():
    rules = CleaningRules(drop_write_offs=False)
    assert CleaningRules.from_flags(rules.flags()) == rules
    with pytest.raises(ValueError, match="flags"):
        CleaningRules.from_flags("11x")


def test_return_before_purchase_is_unmatched_even_if_bought_later():
    lines = make_lines(
        [
            ("C1", "A1", -2, "2010-01-01 09:00", 3.0, "9"),
            ("2", "A1", 5, "2010-01-02 09:00", 3.0, "9"),
        ]
    )
    orders, ledger = clean(lines)
    assert list(orders["invoice"]) == ["2"]
    assert ledger.set_index("rule").loc["unmatched_returns", "money"] == -6.0


def test_invoice_table_one_row_per_invoice():
    lines = make_lines(ROWS)
    orders, ledger = clean(lines)
    assert orders["invoice"].is_unique
    assert list(orders["invoice"]) == ["100", "C101", "102", "C103", "108"]  # by date
    row = orders.set_index("invoice").loc["100"]
    # 25 bought, 4 x A1 at 2.0 returned by C101 and booked here
    assert row["revenue"] == pytest.approx(17.0) and row["lines"] == 2
    assert orders.set_index("invoice").loc["C101", "is_cancellation"]
    assert str(orders["invoice_date"].dtype) == "datetime64[ns]"
    assert all(str(orders[c].dtype) == "category" for c in ("customer_id", "country"))
    # one row per invoice: Arrow-backed text, no categories (a Python string each)
    assert isinstance(orders["invoice"].array, pd.arrays.ArrowStringArray)


def test_filter_end_date_is_inclusive_and_one_day_works():
    orders, _ = clean(make_lines(ROWS))
    one_day = filter_transactions(orders, "2010-01-05", "2010-01-05")
    assert list(one_day["invoice"]) == ["100"]
    assert len(filter_transactions(orders, "2010-02-01", "2010-02-06")) == 3
    fr = filter_transactions(orders, countries=["France"])
    assert fr.empty
    assert len(filter_transactions(orders)) == len(orders)


def _masked(frame, start=None, end=None, countries=None):
    """The plain mask filter_transactions must equal (inclusive days, missing dates out)."""
    dates = frame["invoice_date"]
    mask = np.ones(len(frame), dtype=bool)
    if start:
        mask &= (dates >= pd.Timestamp(start)).to_numpy()
    if end:
        mask &= (dates < pd.Timestamp(end) + pd.Timedelta(days=1)).to_numpy()
    if countries:
        mask &= frame["country"].isin(countries).to_numpy()
    return frame.loc[mask]


@pytest.mark.parametrize(
    "layout", ["sorted", "sorted, missing dates last", "unsorted", "missing first"]
)
def test_a_date_range_of_a_sorted_table_is_the_masked_rows(layout):
    """A table sorted by date (the invoice table) is cut by binary search, any other one
    masked: both give the masked rows, index and dtypes included, at every boundary (days
    with several invoices, the first and last day, days before and after the data)."""
    rng = np.random.default_rng(7)
    days = np.sort(rng.integers(0, 60, 400)).astype("timedelta64[D]")
    dates = (
        np.datetime64("2011-01-01", "ns")
        + days
        + rng.integers(0, 86_400, 400).astype("timedelta64[s]")
    )
    dates[::20] = dates[::20].astype("datetime64[D]")  # some at midnight: on the boundaries
    dates = np.sort(dates)
    if "missing" in layout:
        dates[-7:] = np.datetime64("NaT")
        if layout == "missing first":
            dates = np.roll(dates, 7)
    if layout == "unsorted":
        dates = rng.permutation(dates)
    frame = pd.DataFrame(
        {
            "invoice": pd.array([f"{i:05d}" for i in range(400)], dtype="str"),
            "invoice_date": dates,
            "country": pd.Categorical(rng.choice(["France", "Spain", "Italy"], 400)),
            "revenue": rng.normal(size=400),
        },
        index=pd.RangeIndex(400),
    )
    sorted_span = cleaning._sorted_span(frame["invoice_date"])
    assert (sorted_span is not None) == layout.startswith("sorted")
    cases = [
        ("2011-01-01", None),
        (None, "2011-01-31"),
        ("2011-01-15", "2011-01-15"),
        ("2011-01-10", "2011-02-20"),
        ("2010-01-01", "2012-01-01"),
        ("2012-01-01", None),
        (None, "2010-12-31"),
        ("2011-02-01", "2011-01-01"),
    ]
    for start, end in cases:
        for countries in (None, ["Spain"], ["Spain", "Italy"]):
            got = filter_transactions(frame, start, end, countries)
            want = _masked(frame, start, end, countries)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert filter_transactions(frame) is frame
    if layout.startswith("sorted"):  # a range is a slice of the table, not a copy
        cut = filter_transactions(frame, "2011-01-10", "2011-02-20")
        assert np.shares_memory(cut["revenue"].to_numpy(), frame["revenue"].to_numpy())


def test_real_extract_net_revenue_per_customer_matches_plain_pandas(sample_lines):
    """Independent check: a plain pandas computation of the removal rules nets C invoices
    against purchases; ours differs from it exactly by the unmatched returns."""
    orders, ledger = clean(sample_lines)
    raw = sample_lines.drop_duplicates()
    inv = raw["invoice"].astype(str)
    code = raw["stock_code"].astype(str).str.upper()
    keep = (~inv.str.startswith("A")) & (raw["price"] > 0) & raw["customer_id"].notna()
    keep &= ~code.isin([c.upper() for c in CleaningRules().non_product_codes])
    keep &= ~code.str.match(r"GIFT_\d+_\d+")
    keep &= ~((raw["quantity"] < 0) & ~inv.str.startswith("C"))
    plain = raw[keep].groupby(raw.loc[keep, "customer_id"].astype(str))["line_total"].sum()
    unmatched = ledger.set_index("rule").loc["unmatched_returns", "money"]
    known = orders[orders["customer_id"].notna()]
    ours = known.groupby(known["customer_id"].astype(str))["revenue"].sum()
    assert ours.sum() == pytest.approx(plain.sum() - unmatched, abs=0.01)
    assert (ours >= -1e-9).all(), "no customer has negative revenue from returns"
    same = np.isclose(ours.reindex(plain.index), plain)
    assert same.mean() > 0.9
    assert ledger.set_index("rule").loc["duplicates", "rows"] > 0


def test_duplicates_equal_pandas_duplicated():
    rng = np.random.default_rng(5)
    rows = [
        (
            str(rng.integers(100, 130)),
            f"S{rng.integers(0, 4)}",
            int(rng.integers(1, 3)),
            f"2010-01-0{rng.integers(1, 3)} 10:00",
            float(rng.choice([1.0, 2.5])),
            rng.choice(["7", None]),
        )
        for _ in range(3000)
    ]
    lines = make_lines(rows)
    _, ledger = clean(lines)
    by = ledger.set_index("rule")
    duplicated = lines.duplicated(keep="first")
    assert by.loc["duplicates", "rows"] == duplicated.sum() > 100
    assert by.loc["duplicates", "money"] == pytest.approx(lines.loc[duplicated, "line_total"].sum())


def test_lines_that_differ_in_one_column_only_are_not_duplicates():
    """Duplicates are found among lines sharing invoice, stock code, units and time, then
    compared on all eight columns: a line that differs from another in any single column
    stays, whichever column it is; identical lines without a stock code are duplicates."""
    base = ("300", "K1", 2, "2010-05-01 10:00", 3.0, "9", "France")
    rows = [base, base]  # one exact duplicate
    rows += [("300", "K1", 2, "2010-05-01 10:00", 3.5, "9", "France")]  # price
    rows += [("300", "K1", 2, "2010-05-01 10:00", 3.0, "10", "France")]  # customer
    rows += [("300", "K1", 2, "2010-05-01 10:00", 3.0, None, "France")]  # no customer
    rows += [("300", "K1", 2, "2010-05-01 10:00", 3.0, "9", "Spain")]  # country
    rows += [("300", "K1", 2, "2010-05-01 10:00", 3.0, "9", "France")]  # description, below
    rows += [("300", "K1", 3, "2010-05-01 10:00", 3.0, "9", "France")]  # units
    rows += [("300", "K1", 2, "2010-05-01 10:01", 3.0, "9", "France")]  # time
    rows += [("301", "K1", 2, "2010-05-01 10:00", 3.0, "9", "France")]  # invoice
    rows += [("300", "K2", 2, "2010-05-01 10:00", 3.0, "9", "France")]  # stock code
    rows += [("302", None, 1, "2010-05-02 10:00", 4.0, "9", "France")] * 3  # no code, 2 extra
    lines = make_lines(rows)
    description = lines["description"].astype(object)
    description[6] = "another description"
    lines["description"] = description.astype("category")
    assert lines.duplicated(keep="first").sum() == 3
    orders, ledger = clean(lines)
    by = ledger.set_index("rule")
    assert by.loc["duplicates", "rows"] == 3
    assert by.loc["duplicates", "money"] == pytest.approx(6.0 + 2 * 4.0)
    assert ledger.attrs["rows_in"] == len(rows)
    lines_of = orders.set_index("invoice")["lines"]
    assert lines_of["300"] == 11 - 1 - 1  # 11 lines, a duplicate, the line without customer
    assert lines_of["302"] == 1
    # with the rule off every copy stays and nothing is counted
    orders_all, ledger_all = clean(lines, CleaningRules(drop_duplicates=False))
    assert ledger_all.set_index("rule").loc["duplicates", "rows"] == 0
    assert orders_all.set_index("invoice").loc["302", "lines"] == 3
    assert ledger_all.attrs["rows_in"] == len(rows)


# A purchase that returns cancel is no purchase occasion (issue 13, point 1).
CANCELLED = [
    # customer 7: a small order, then an 80,995-unit order cancelled 16 minutes later
    ("200", "P1", 12, "2010-02-23 15:09", 2.5, "7"),
    ("201", "P2", 80995, "2011-11-21 10:54", 2.08, "7"),
    ("C202", "P2", -80995, "2011-11-21 11:10", 2.08, "7"),
    # customer 8: two orders of 5, a return of 5 then of 3 (last in, first out), and an
    # order of two products of which one comes back (a partial return)
    ("210", "M7", 5, "2010-03-01 10:00", 4.0, "8"),
    ("211", "M7", 5, "2010-03-02 10:00", 4.0, "8"),
    ("C212", "M7", -5, "2010-03-03 10:00", 4.0, "8"),
    ("C213", "M7", -3, "2010-03-04 10:00", 4.0, "8"),
    ("214", "N8", 2, "2010-04-01 10:00", 6.0, "8"),
    ("214", "Q9", 1, "2010-04-01 10:00", 10.0, "8"),
    ("C215", "N8", -2, "2010-04-02 10:00", 5.0, "8"),  # credited at 5.0, bought at 6.0
]


def test_an_order_returned_in_full_is_no_purchase_and_returns_book_against_their_order():
    orders, ledger = clean(make_lines(CANCELLED))
    by = orders.set_index("invoice")
    # the big order is cancelled: no revenue, no purchase; its return keeps nothing
    assert by.loc["201", "is_cancellation"] and by.loc["201", "revenue"] == 0
    assert by.loc["201", "returned"] == pytest.approx(80995 * 2.08)
    assert by.loc["C202", "revenue"] == 0
    # last in, first out: C212 cancels 211 in full, C213 takes 3 of 210's 5 units
    assert by.loc["211", "is_cancellation"] and by.loc["211", "revenue"] == 0
    assert not by.loc["210", "is_cancellation"] and by.loc["210", "revenue"] == 8.0
    assert by.loc["210", "returned"] == 12.0
    # a partial return lowers its order's value; the credit below the price paid (2 x 1.0)
    # stays on the return, so the customer's total is the money that changed hands
    assert not by.loc["214", "is_cancellation"] and by.loc["214", "revenue"] == 10.0
    assert by.loc["C215", "revenue"] == pytest.approx(2.0)
    assert orders["revenue"].sum() == pytest.approx(
        sum(q * p for _, _, q, _, p, _ in CANCELLED), abs=1e-6
    )
    rule = ledger.set_index("rule").loc["cancelled_orders"]
    assert rule["rows"] == 2 and rule["money"] == pytest.approx(80995 * 2.08 + 20.0)
    purchases = orders[~orders["is_cancellation"]]
    assert purchases.groupby("customer_id", observed=True).size().to_dict() == {"7": 1, "8": 2}


def test_a_price_difference_is_kept_when_the_last_return_is_unmatched():
    """The credit below the price paid stays on the last return that matched units: a later
    return that matches nothing leaves the invoice table, and the difference with it would
    have changed the customer's total."""
    rows = [
        ("300", "R1", 2, "2010-05-01 10:00", 6.0, "9"),
        ("C301", "R1", -2, "2010-05-02 10:00", 5.0, "9"),  # matched, credited 2 x 1.0 less
        ("C302", "R1", -3, "2010-05-03 10:00", 5.0, "9"),  # nothing left to return: unmatched
    ]
    orders, ledger = clean(make_lines(rows))
    by = orders.set_index("invoice")
    assert "C302" not in by.index  # left as an unmatched return
    assert by.loc["300", "revenue"] == 0 and by.loc["300", "is_cancellation"]
    assert by.loc["C301", "revenue"] == pytest.approx(2.0)
    unmatched = ledger.set_index("rule").loc["unmatched_returns", "money"]
    assert orders["revenue"].sum() == pytest.approx(2 * 6.0 - 2 * 5.0 - 3 * 5.0 - unmatched)
