"""dashapp.ingest.demo: deterministic synthetic data in the raw Online Retail II layout."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp.ingest import schema
from dashapp.ingest.demo import RAW_COLUMNS, demo_dataset_path, generate_demo_transactions
from dashapp.ingest.loading import load_transactions


@pytest.fixture(scope="module")
def demo_raw() -> pd.DataFrame:
    return generate_demo_transactions()


@pytest.fixture(scope="module")
def demo_lines(tmp_path_factory) -> pd.DataFrame:
    path = demo_dataset_path(tmp_path_factory.mktemp("demo"))
    return load_transactions(path)


def test_raw_layout(demo_raw):
    assert tuple(demo_raw.columns) == RAW_COLUMNS
    assert demo_raw["Customer ID"].dtype == "float64"
    assert demo_raw["Quantity"].dtype == "int64"
    assert demo_raw["Price"].dtype == "float64"
    assert str(demo_raw["InvoiceDate"].dtype).startswith("datetime64")
    assert 150_000 <= len(demo_raw) <= 450_000


def test_deterministic():
    a = generate_demo_transactions(n_customers=500, seed=3)
    b = generate_demo_transactions(n_customers=500, seed=3)
    pd.testing.assert_frame_equal(a, b)
    c = generate_demo_transactions(n_customers=500, seed=4)
    assert not a.equals(c)


def test_schema_after_loading(demo_lines, demo_raw):
    assert list(demo_lines.columns) == list(schema.CANONICAL_COLUMNS)
    for col, dtype in schema.DTYPES.items():
        assert str(demo_lines[col].dtype) == dtype, col
    assert len(demo_lines) == len(demo_raw)
    assert not any(c.endswith(".0") for c in demo_lines["customer_id"].cat.categories)


def test_quirks_present(demo_lines):
    df = demo_lines
    inv = df["invoice"].astype(str)
    cancel = inv.str.startswith("C")
    assert 0.005 < cancel.mean() < 0.05
    assert (df.loc[cancel, "quantity"] < 0).all()
    missing = df["customer_id"].isna().mean()
    assert 0.15 < missing < 0.25
    codes = set(df["stock_code"].cat.categories)
    assert {"POST", "M", "DOT", "BANK CHARGES", "AMAZONFEE", "ADJUST"} <= codes
    bad_debt = df[inv.str.startswith("A")]
    assert len(bad_debt) >= 1 and (bad_debt["price"] < 0).any()
    assert bad_debt["customer_id"].isna().all()
    assert (df["price"] == 0).any()
    write_off = (df["quantity"] < 0) & ~cancel & df["customer_id"].isna()
    assert write_off.sum() > 10
    assert df.duplicated().sum() > 100
    assert df["description"].isna().any()
    assert df["invoice_date"].min() >= pd.Timestamp("2009-12-01")
    assert df["invoice_date"].max() <= pd.Timestamp("2011-12-09 12:50")
    assert df["invoice_date"].max() >= pd.Timestamp("2011-12-01")


def test_cancellations_reference_own_purchases(demo_lines):
    df = demo_lines
    inv = df["invoice"].astype(str)
    cancel = df[inv.str.startswith("C") & df["customer_id"].notna()]
    buys = df[~inv.str.startswith("C") & df["customer_id"].notna()]
    pairs = set(zip(buys["customer_id"].astype(str), buys["stock_code"].astype(str), strict=True))
    product = ~cancel["stock_code"].astype(str).isin(
        ["D", "M", "BANK CHARGES", "AMAZONFEE", "ADJUST", "CRUK"]
    )
    c = cancel[product]
    hits = [
        (a, b) in pairs
        for a, b in zip(c["customer_id"].astype(str), c["stock_code"].astype(str), strict=True)
    ]
    assert len(hits) > 100 and all(hits)


def test_customer_shape(demo_lines):
    df = demo_lines
    inv = df["invoice"].astype(str)
    buys = df[~inv.str.startswith(("C", "A")) & df["customer_id"].notna()]
    freq = buys.groupby("customer_id", observed=True)["invoice"].nunique()
    assert 5_500 <= len(freq) <= 6_000
    assert 0.20 <= (freq == 1).mean() <= 0.35
    assert 100 <= freq.max() <= 200
    spend = buys.groupby("customer_id", observed=True)["line_total"].sum()
    assert spend.quantile(0.99) > 5 * spend.median()  # heavy tail
    countries = df["country"].astype(str)
    assert 35 <= countries.nunique() <= 45
    assert 0.85 <= (countries == "United Kingdom").mean() <= 0.95
    monthly = df.groupby(df["invoice_date"].dt.month).size()
    assert monthly.idxmax() == 11  # November peak


def test_demo_dataset_path_written_once(tmp_path):
    p1 = demo_dataset_path(tmp_path, n_customers=300, seed=1)
    assert p1.exists() and p1.suffix == ".parquet"
    mtime = p1.stat().st_mtime_ns
    p2 = demo_dataset_path(tmp_path, n_customers=300, seed=1)
    assert p2 == p1 and p2.stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob("*.tmp"))
    raw = generate_demo_transactions(n_customers=300, seed=1)
    assert len(load_transactions(p1)) == len(raw)
