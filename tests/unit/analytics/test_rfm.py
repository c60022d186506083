import numpy as np
import pandas as pd
import pytest

from dashapp.analytics.rfm import (
    SEGMENT_GRID,
    InvoiceArrays,
    average_ranks,
    customer_rfm,
    rf_grid_counts,
    rfm_scores,
    score_bins,
    segment_lookup,
    segment_summary,
)
from dashapp.ingest import engine
from tests.factories import make_lines


def orders_of(rows):
    return engine.clean(make_lines(rows))[0]


TINY = [
    ("1", "P1", 2, "2011-01-01 10:00", 10.0, "c1"),
    ("2", "P1", 1, "2011-01-10 10:00", 10.0, "c1"),
    ("2", "P2", 1, "2011-01-10 10:00", 5.0, "c1"),
    ("C3", "P1", -1, "2011-01-12 10:00", 10.0, "c1"),
    ("4", "P1", 3, "2011-01-20 15:00", 4.0, "c2"),
    ("5", "P2", 1, "2011-01-31 09:00", 5.0, None),
]


def test_grid_covers_all_25_cells_exactly_once():
    cells = segment_lookup()
    assert cells.shape == (5, 5)
    counted = pd.Series(cells.ravel()).value_counts()
    assert counted.sum() == 25
    assert set(counted.index) == set(SEGMENT_GRID["segment"])
    assert cells[4, 4] == "Champions" and cells[0, 0] == "Hibernating"
    assert cells[4, 0] == "New Customers" and cells[0, 4] == "Can't Lose Them"


def test_overlapping_or_incomplete_grid_is_rejected():
    bad = SEGMENT_GRID.copy()
    bad.loc[0, "r_range"] = (4, 5)  # Champions now overlap Loyal Customers at R=4
    with pytest.raises(ValueError, match="twice"):
        segment_lookup(bad)
    with pytest.raises(ValueError, match="without a segment"):
        segment_lookup(SEGMENT_GRID.iloc[1:])


def test_hand_checked_rfm_values():
    c = customer_rfm(orders_of(TINY))
    assert c.attrs["as_of"] == pd.Timestamp("2011-02-01")  # day after the last invoice
    assert list(c.index) == ["c1", "c2"]  # the anonymous invoice is not a customer
    c1, c2 = c.loc["c1"], c.loc["c2"]
    assert (c1["recency"], c1["frequency"], c1["monetary"]) == (22, 2, 20 + 15 - 10)
    assert c1["tenure"] == 31 and c1["aov"] == 12.5
    assert c1["first_purchase"] == pd.Timestamp("2011-01-01")
    assert (c2["recency"], c2["frequency"], c2["monetary"]) == (12, 1, 12.0)
    explicit = customer_rfm(orders_of(TINY), as_of="2011-03-01")
    assert explicit.loc["c2", "recency"] == 40


def _synthetic(n=500, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "recency": rng.integers(1, 400, n),
            "frequency": np.where(rng.random(n) < 0.3, 1, rng.integers(1, 30, n)),
            "monetary": np.round(rng.lognormal(5, 1, n), 2),
        },
        index=pd.Index([f"c{i:04d}" for i in range(n)], name="customer_id"),
    )


def test_ties_get_equal_scores():
    scored = rfm_scores(_synthetic())
    for metric, col in (("recency", "r_score"), ("frequency", "f_score"), ("monetary", "m_score")):
        per_value = scored.groupby(metric)[col].nunique()
        assert (per_value == 1).all(), metric
    # better values never get lower scores
    f = scored.sort_values("frequency")
    assert f["f_score"].is_monotonic_increasing
    r = scored.sort_values("recency")
    assert r["r_score"].is_monotonic_decreasing
    assert set(scored["r_score"]) <= {1, 2, 3, 4, 5}


def test_scores_do_not_change_when_rows_are_shuffled():
    base = rfm_scores(_synthetic())
    shuffled = rfm_scores(_synthetic().sample(frac=1.0, random_state=11))
    cols = ["r_score", "f_score", "m_score", "rfm_code", "segment"]
    pd.testing.assert_frame_equal(base[cols], shuffled.loc[base.index, cols])


def test_custom_thresholds():
    scored = rfm_scores(
        _synthetic(), thresholds={"frequency": [2, 3, 5, 10], "recency": [14, 30, 90, 180]}
    )
    f = scored.set_index("frequency")["f_score"]
    assert f.loc[1].eq(1).all() and f.loc[2].eq(2).all() and f[f.index >= 10].eq(5).all()
    r = scored.set_index("recency")["r_score"]
    assert r[r.index <= 14].eq(5).all() and r[r.index > 180].eq(1).all()
    with pytest.raises(ValueError, match="4 increasing"):
        rfm_scores(_synthetic(), thresholds={"frequency": [1, 2]})


def test_bins_summary_and_grid_counts_are_consistent():
    scored = rfm_scores(_synthetic())
    bins = score_bins(scored)
    assert len(bins) == 15
    assert bins.groupby("metric")["customers"].sum().eq(len(scored)).all()
    summary = segment_summary(scored)
    assert summary["customers"].sum() == len(scored)
    assert summary["revenue"].sum() == pytest.approx(scored["monetary"].sum())
    assert summary["customer_share"].sum() == pytest.approx(1.0)
    assert list(summary["segment"]) == list(SEGMENT_GRID["segment"])
    counts, revenue = rf_grid_counts(scored)
    assert counts.sum() == len(scored)
    assert revenue.sum() == pytest.approx(scored["monetary"].sum())


def test_empty_input_gives_empty_tables():
    empty = customer_rfm(orders_of(TINY).iloc[0:0])
    assert empty.empty
    scored = rfm_scores(empty)
    assert scored.empty and "segment" in scored
    assert segment_summary(scored)["customers"].sum() == 0


def test_real_extract_rfm_equals_plain_pandas(sample_lines):
    orders = engine.clean(sample_lines)[0]
    ours = customer_rfm(orders)
    # Independent computation written plainly over the invoice table.
    known = orders[orders["customer_id"].notna()].copy()
    known["cid"] = known["customer_id"].astype(str)
    known["inv"] = known["invoice"].astype(str)
    as_of = orders["invoice_date"].max().normalize() + pd.Timedelta(days=1)
    # purchases: invoices not starting with "C", less orders every unit of which came back
    cancelled_in_full = (known["revenue"] == 0) & (known["returned"] > 0)
    buys = known[~known["inv"].str.startswith("C") & ~cancelled_in_full]
    plain = pd.DataFrame(
        {
            "frequency": buys.groupby("cid")["inv"].nunique(),
            "last": buys.groupby("cid")["invoice_date"].max(),
            "monetary": known.groupby("cid")["revenue"].sum(),
        }
    ).dropna(subset=["frequency"])
    plain["recency"] = (as_of - plain["last"].dt.normalize()).dt.days
    assert len(ours) == len(plain) > 100
    joined = ours.join(plain, rsuffix="_plain")
    assert (joined["recency"] == joined["recency_plain"]).all()
    assert (joined["frequency"] == joined["frequency_plain"]).all()
    np.testing.assert_allclose(joined["monetary"], joined["monetary_plain"], atol=0.006)


def test_average_ranks_are_pandas_average_ranks():
    """The scores' ranks without a Series: the same floats as pandas' average rank, on
    massive ties, negative values (recency is ranked negated), a single value and none."""
    rng = np.random.default_rng(3)
    cases = [
        rng.integers(0, 5, 5000).astype(float),  # massive ties
        -rng.integers(0, 400, 3000).astype(float),
        np.round(rng.gamma(2.0, 300.0, 2000), 2),
        np.array([0.0, -0.0, 0.0]),
        np.array([7.0]),
        np.zeros(0),
        rng.integers(0, 10**12, 500).astype(float),  # whole numbers too spread to count
        np.array([3.0, np.inf, 1.0, 3.0]),
        np.r_[rng.integers(1, 40, 300), 2.5],  # one fraction: sorted, not counted
    ]
    for values in cases:
        expected = pd.Series(values).rank(method="average").to_numpy()
        np.testing.assert_array_equal(average_ranks(values), expected)


def test_invoice_arrays_from_a_categorical_are_the_text_ids_sorted():
    """Ids read from a categorical's codes (categories unsorted, unused ones, numbers, a
    missing id) are exactly the ids as text, factorised sorted."""
    rows = pd.DataFrame(
        {
            "customer_id": ["b", "a10", None, "a9", "b", "a10"],
            "invoice_date": pd.to_datetime(["2021-01-0" + str(d) for d in range(1, 7)]),
            "is_cancellation": [False, False, False, True, False, False],
            "revenue": [1.0, 2.0, 3.0, -4.0, 5.0, 6.0],
        }
    )
    as_text = InvoiceArrays.of(rows)
    for categories in (["zz", "b", "a9", "a10"], ["a10", "a9", "b"]):  # unsorted, one unused
        cat = rows.assign(customer_id=pd.Categorical(rows["customer_id"], categories=categories))
        got = InvoiceArrays.of(cat)
        assert list(got.ids) == ["a10", "a9", "b"] and got.ids.dtype == as_text.ids.dtype
        np.testing.assert_array_equal(got.codes, as_text.codes)
    numbers = rows.assign(customer_id=pd.Categorical([12, 9, None, 100, 12, 9]))
    got = InvoiceArrays.of(numbers)
    assert list(got.ids) == ["100", "12", "9"]  # text order, as the text ids sort
    np.testing.assert_array_equal(got.codes, [1, 2, 0, 1, 2])
