"""Products (analytics.products) on hand-made lines cleaned by the engine."""

from __future__ import annotations

import pandas as pd

from dashapp.analytics import products
from dashapp.ingest import cleaning, engine
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
    # P3: 1 of 2 Hibernating customers vs 1 of 3 overall -> lift 1.5; P1: 2/2 vs 3/3 -> 1;
    # P1 first: its range starts higher (2 of 2 buyers against 1 of 2)
    assert list(got.index) == ["P1", "P3"]
    assert got.loc["P1", "lift_low"] > got.loc["P3", "lift_low"]
    assert abs(got.loc["P3", "lift"] - 1.5) < 1e-12 and got.loc["P1", "lift"] == 1.0
    # the product table's description (the most frequent; one line has a variant)
    assert got.loc["P1", "description"] == "item P1" and got.loc["P3", "description"] == "item P3"
    assert products.segment_lift(lines(), segment_of, "Champions", min_customers=2).empty
    mine = products.customer_products(lines(), "c1")
    assert list(mine["stock_code"]) == ["P2", "P1"] and mine["revenue"].tolist() == [30.0, 16.0]


# --------------------------------------------------------------------------------------------
# Lift with a minimum of segment buyers, on lines whose lifts are known
# --------------------------------------------------------------------------------------------
SEG = [f"s{i}" for i in range(10)]  # the segment: 10 customers, in the UK
REST = [f"r{i}" for i in range(10)]  # the others: r0-r4 in the UK, r5-r9 in Germany


def lift_lines():
    """PA: all 10 of the segment and r0, r1; PB: s0-s3 only; PC: s0-s4 and r5-r9 (Germany).
    One purchase each, 2011-01-03. (Not "B": a non-product code.)"""
    rows, n = [], 0

    def buy(code, who):
        nonlocal n
        for c in who:
            n += 1
            country = "Germany" if c in REST[5:] else "United Kingdom"
            rows.append((str(n), code, 1, "2011-01-03 10:00", 2.0, c, country))

    buy("PA", [*SEG, "r0", "r1"])
    buy("PB", SEG[:4])
    buy("PC", [*SEG[:5], *REST[5:]])
    return engine.clean_products(make_lines(rows))


def segments(who=SEG + REST):
    return pd.Series({c: "Champions" if c in SEG else "Hibernating" for c in who})


def test_lift_ranks_only_products_with_enough_segment_buyers():
    got = products.segment_lift(lift_lines(), segments(), "Champions", min_customers=5)
    by = got.set_index("stock_code")
    # PA: 10/10 of the segment against 12/20 of everyone: 1/0.6; PC: 5/10 against 10/20: 1.0;
    # PB (4 buyers, lift 0.4 / 0.2 = 2, the highest) misses the minimum of 5
    assert list(by.index) == ["PA", "PC"]
    assert abs(by.loc["PA", "lift"] - 1 / 0.6) < 1e-12 and abs(by.loc["PC", "lift"] - 1.0) < 1e-12
    assert (by.loc["PA", "in_segment"], by.loc["PA", "in_rest"]) == (10, 2)
    assert (by.loc["PC", "in_segment"], by.loc["PC", "in_rest"]) == (5, 5)
    assert got.attrs == {"n_segment": 10, "n_rest": 10, "min_customers": 5, "below": 1}
    # the 95 % range: Wilson's interval of 10/10 is [1 / (1 + z^2/10), 1], over the share 0.6
    z2 = products.Z95**2
    assert abs(by.loc["PA", "lift_low"] - 1 / (1 + z2 / 10) / 0.6) < 1e-12
    assert abs(by.loc["PA", "lift_high"] - 1 / 0.6) < 1e-12
    assert (got["lift_low"] < got["lift"]).all() or by.loc["PA", "lift_low"] < 1 / 0.6
    # lowered to 4, PB comes in: the highest point lift (2), but on 4 buyers its range starts
    # lower than PA's (10 buyers), so it ranks second
    loose = products.segment_lift(lift_lines(), segments(), "Champions", min_customers=4)
    assert list(loose["stock_code"]) == ["PA", "PB", "PC"]
    assert abs(loose["lift"].iloc[1] - 2) < 1e-12 and loose["lift"].iloc[1] > loose["lift"].iloc[0]
    assert loose["lift_low"].is_monotonic_decreasing
    assert loose.attrs["below"] == 0
    # nobody reaches 11 buyers: empty, and says how many products were left out
    none = products.segment_lift(lift_lines(), segments(), "Champions", min_customers=11)
    assert none.empty and none.attrs["below"] == 3 and none.attrs["n_segment"] == 10


def test_lift_under_a_country_filter():
    """The filtered case: the German customers and their lines leave; the shares change."""
    lines = cleaning.filter_transactions(lift_lines(), None, None, ["United Kingdom"])
    uk = SEG + REST[:5]
    got = products.segment_lift(lines, segments(uk), "Champions", min_customers=5)
    by = got.set_index("stock_code")
    # PA: 10/10 against 12/15 -> 1.25; PC: 5/10 against 5/15 -> 1.5 (its German buyers are
    # gone); PA first all the same: its range starts higher (10 buyers, not 5)
    assert list(by.index) == ["PA", "PC"]
    assert by.loc["PA", "lift_low"] > by.loc["PC", "lift_low"]
    assert abs(by.loc["PC", "lift"] - 1.5) < 1e-12 and abs(by.loc["PA", "lift"] - 1.25) < 1e-12
    assert by.loc["PC", "in_rest"] == 0 and got.attrs["n_rest"] == 5


# --------------------------------------------------------------------------------------------
# Product types
# --------------------------------------------------------------------------------------------
def typed_lines():
    frame = make_lines(
        [
            ("1", "H1", 2, "2011-01-03 10:00", 3.0, "c1"),
            ("1", "H2", 1, "2011-01-03 10:00", 4.0, "c1"),
            ("2", "B1", 4, "2011-01-04 10:00", 2.0, "c2"),
            ("2", "H1", 1, "2011-01-04 10:00", 3.0, "c2"),
            ("C3", "H1", -1, "2011-01-05 10:00", 3.0, "c2"),
            ("4", "N1", 1, "2011-01-06 10:00", 5.0, "c3"),
        ]
    )
    names = {
        "H1": "WHITE HANGING HEART T-LIGHT HOLDER",
        "H2": "glass star frosted t-light holder",
        "B1": "JUMBO BAG RED RETROSPOT",
        "N1": "12 3/4",
    }
    frame["description"] = frame["stock_code"].astype(str).map(names).astype("category")
    return engine.clean_products(frame)


def test_product_types_from_descriptions():
    lines = typed_lines()
    kinds = lines["product_type"].astype(object)
    got = dict(zip(lines["stock_code"].astype(str), kinds.where(kinds.notna(), None), strict=True))
    assert got == {"H1": "HOLDER", "H2": "HOLDER", "B1": "BAG", "N1": None}
    types = products.type_table(lines).set_index("product_type")
    # HOLDER: H1 3 units sold (6 + 3 - 3 returned), H2 4; two products, c1 and c2
    assert list(types.index) == ["HOLDER", "BAG", products.NO_TYPE]
    holder = types.loc["HOLDER"]
    assert (holder["revenue"], holder["products"], holder["customers"]) == (10.0, 2, 2)
    assert (holder["units"], holder["returned_units"]) == (4, 1) and holder["returns_rate"] == 0.25
    assert types.loc["BAG", "revenue"] == 8.0 and types.loc[products.NO_TYPE, "customers"] == 1
    assert products.product_table(lines).set_index("stock_code").loc["B1", "product_type"] == "BAG"
    mine = products.customer_types(lines, "c2")
    assert list(mine["product_type"]) == ["BAG", "HOLDER"] and mine["revenue"].tolist() == [
        8.0,
        0.0,
    ]
    assert products.customer_types(lines, "nobody").empty
    # the filtered case: a date range without c2's invoice
    later = cleaning.filter_transactions(lines, "2011-01-06", None, None)
    assert list(products.type_table(later)["product_type"]) == [products.NO_TYPE]


def test_lift_ranked_by_the_lower_end_of_its_range_not_the_point_lift():
    """Conservative ranking: PY (11 of 20 segment buyers, 4 others) ranks above PX (3 of 20,
    nobody else) though PX's point lift is higher; PZ (2 buyers) misses the minimum of 3."""
    seg, rest = [f"s{i:02}" for i in range(20)], [f"r{i:02}" for i in range(80)]
    rows, n = [], 0
    for code, who in (("PX", seg[:3]), ("PY", [*seg[:11], *rest[:4]]), ("PZ", seg[:2]),
                      ("PW", [*seg, *rest])):  # fmt: skip
        for c in who:
            n += 1
            rows.append((str(n), code, 1, "2011-01-03 10:00", 2.0, c))
    lines = engine.clean_products(make_lines(rows))
    segment_of = pd.Series({c: "Champions" if c in seg else "Hibernating" for c in seg + rest})
    got = products.segment_lift(lines, segment_of, "Champions", min_customers=3)
    by = got.set_index("stock_code")
    assert list(got["stock_code"]) == ["PY", "PX", "PW"]
    # point lifts: PX 0.15 / 0.03 = 5, PY 0.55 / 0.15 = 3.67: the point order is the other way
    assert abs(by.loc["PX", "lift"] - 5) < 1e-12 and abs(by.loc["PY", "lift"] - 0.55 / 0.15) < 1e-12
    assert by.loc["PX", "lift"] > by.loc["PY", "lift"]
    # the lower ends: Wilson's interval of 3/20 and 11/20 over the overall shares
    for code, k, share in (("PX", 3, 0.03), ("PY", 11, 0.15)):
        low, high = products.wilson_interval(pd.Series([float(k)]).to_numpy(), 20)
        assert abs(by.loc[code, "lift_low"] - low[0] / share) < 1e-12
        assert abs(by.loc[code, "lift_high"] - high[0] / share) < 1e-12
    assert by.loc["PY", "lift_low"] > by.loc["PX", "lift_low"]
    assert got["lift_low"].is_monotonic_decreasing and got.attrs["below"] == 1
    # the ranking does not depend on the lines' order
    shuffled = products.segment_lift(lines.sample(frac=1, random_state=5), segment_of,
                                     "Champions", min_customers=3)  # fmt: skip
    assert list(shuffled["stock_code"]) == list(got["stock_code"])
