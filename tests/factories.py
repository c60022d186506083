"""Small hand-made frames in the canonical schema (docs/architecture.md) for unit tests."""

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
