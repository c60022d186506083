"""Shared fixtures for the data-layer tests (loading, demo, download)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_XLSX = REPO_ROOT.parent / "shared" / "data" / "online_retail_II_sample.xlsx"

RAW_HEADERS = [
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
]


@pytest.fixture(scope="session")
def sample_xlsx() -> Path:
    """The real two-sheet UCI extract in ../shared/data (skips when absent; fails in CI)."""
    if SAMPLE_XLSX.exists():
        return SAMPLE_XLSX
    reason = (
        f"reference extract {SAMPLE_XLSX} is absent (it lives in ../shared/data beside "
        f"the project's root)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI must have it")
    pytest.skip(reason)


def raw_frame(n: int = 12, *, seed: int = 0) -> pd.DataFrame:
    """A small frame in the raw Online Retail II layout (Customer ID as float, NaN = missing)."""
    rng = np.random.default_rng(seed)
    inv = 489434 + np.arange(n) // 3
    return pd.DataFrame(
        {
            "Invoice": inv.astype(str),
            "StockCode": rng.choice(["85048", "79323P", "22041", "POST", "21232"], n),
            "Description": rng.choice(["WHITE HEART ", " RED MUG", "POSTAGE", "CAKE CASES"], n),
            "Quantity": rng.integers(1, 25, n),
            "InvoiceDate": pd.Timestamp("2009-12-01 07:45")
            + pd.to_timedelta(np.arange(n) // 3, "h"),
            "Price": np.round(rng.uniform(0.5, 9.0, n), 2),
            "Customer ID": np.where(np.arange(n) % 4 == 3, np.nan, 13085.0 + np.arange(n) // 3),
            "Country": rng.choice(["United Kingdom", "France", "EIRE"], n),
        }
    )


@pytest.fixture
def raw_df() -> pd.DataFrame:
    """12 lines, 4 invoices, in the raw Online Retail II layout."""
    return raw_frame()
