"""Products (analytics.products) on hand-made lines cleaned by the engine."""

from __future__ import annotations

import pandas as pd

from dashapp.analytics import products
from dashapp.ingest import engine
from tests.factories import make_lines

ROWS = [
    # c1 (best): P1 x10 at 2, P2 x1 at 30; returns 2 units of P1 later
    ("1", "P1", 10, "2011-01-01 10:00", 2.0, "c1"),
    ("1", "P2", 1, "2011-01-01 10:00", 30.0, "c1"),
    ("C2", "P1", -2, "2011-01-05 10:00", 2.0, "c1"),
    # c2 and c3: P1 only; c3 also P3
    ("3", "P1", 5, "2011-01-02 10:00", 2.0, "c2"),
    ("4", "P1", 5, "2011-01-03 10:00", 2.0, "c3"),
    ("4", "P3", 1, "2011-01-03 10:00", 4.0, "c3"),
    # a return of a product c2 never bought: unmatched, removed by the cleaning
    ("C5", "P2", -1, "2011-01-06 10:00", 30.0, "c2"),
]


def lines():
    frame = make_lines(ROWS)
    frame["description"] = frame["description"].astype(str)
    frame.loc[3, "description"] = "ITEM P1 variant"
    frame["description"] = frame["description"].astype("category")
    return engine.clean_products(frame)


def test_product_lines_add_up_to_the_invoice_table():
    raw = make_lines(ROWS)
    p = engine.clean_products(raw)
    orders = engine.clean(raw)[0]
    by_invoice = p.groupby(p["invoice"].astype(str))["revenue"].sum()
    expected = orders.set_index(orders["invoice"].astype(str))["revenue"]
    pd.testing.assert_series_equal(
        by_invoice.sort_index(), expected.sort_index(), check_names=False
    )
    assert "C5" not in set(p["invoice"].astype(str))  # the unmatched return left


def test_product_table():
    table = products.product_table(lines(), best={"c1"}).set_index("stock_code")
    assert list(table.index) == ["P1", "P2", "P3"]  # by net revenue: 36, 30, 4
    p1 = table.loc["P1"]
    assert (p1["revenue"], p1["units"], p1["returned_units"]) == (36.0, 20, 2)
    assert p1["customers"] == 3 and p1["invoices"] == 3
    assert p1["returns_rate"] == 0.1
    assert p1["descriptions"] == 2 and p1["description"] == "item P1"
    # c1 spends 16 of 46 on P1; the others 20 of 24
    assert abs(p1["best_share"] - 16 / 46) < 1e-12 and abs(p1["rest_share"] - 20 / 24) < 1e-12
    assert p1["best_index"] < 1 and table.loc["P3", "best_index"] == 0
    assert pd.isna(table.loc["P2", "best_index"])  # only the best customers buy it
    assert products.product_table(lines().iloc[0:0]).empty


def test_segment_lift_and_customer_products():
    segment_of = pd.Series({"c1": "Champions", "c2": "Hibernating", "c3": "Hibernating"})
    lift = products.segment_lift(lines(), segment_of, "Hibernating", min_customers=1)
    got = lift.set_index("stock_code")
    # P3: 1 of 2 Hibernating customers vs 1 of 3 overall -> lift 1.5; P1: 2/2 vs 3/3 -> 1
    assert list(got.index) == ["P3", "P1"]
    assert abs(got.loc["P3", "lift"] - 1.5) < 1e-12 and got.loc["P1", "lift"] == 1.0
    # the product table's description (the most frequent; one line has a variant)
    assert got.loc["P1", "description"] == "item P1" and got.loc["P3", "description"] == "item P3"
    assert products.segment_lift(lines(), segment_of, "Champions", min_customers=2).empty
    mine = products.customer_products(lines(), "c1")
    assert list(mine["stock_code"]) == ["P2", "P1"] and mine["revenue"].tolist() == [30.0, 16.0]
