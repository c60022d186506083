"""Small hand-made frames for tests: raw lines in the Online Retail II file layout, and lines
in the canonical schema (docs/architecture.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

TEXT = ["invoice", "stock_code", "description", "customer_id", "country"]


def make_lines(rows) -> pd.DataFrame:
    """rows: (invoice, stock_code, quantity, "YYYY-MM-DD HH:MM", price, customer_id|None[, country])"""
    records = []
    for row in rows:
        inv, code, qty, when, price, cust, *rest = row
        records.append(
            {
                "invoice": inv,
                "stock_code": code,
                "description": f"item {code}",
                "quantity": qty,
                "invoice_date": pd.Timestamp(when),
                "price": float(price),
                "customer_id": cust,
                "country": rest[0] if rest else "United Kingdom",
            }
        )
    df = pd.DataFrame.from_records(records)
    for col in TEXT:
        df[col] = df[col].astype("category")
    df["quantity"] = df["quantity"].astype(np.int32)
    df["invoice_date"] = df["invoice_date"].astype("datetime64[ns]")
    df["line_total"] = df["quantity"] * df["price"]
    return df[
        [
            "invoice",
            "stock_code",
            "description",
            "quantity",
            "invoice_date",
            "price",
            "customer_id",
            "country",
            "line_total",
        ]
    ]


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
