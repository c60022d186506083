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


#: Raw lines in the dataset's layout that meet the cleaning rules: an exact duplicate, a
#: cancellation of a bought product, a return of a product never bought, postage.
RAW_ROWS = [
    ["100", "A1", "Mug", "10", "2010-01-05 10:00", "2.0", "1", "France"],
    ["100", "A1", "Mug", "10", "2010-01-05 10:00", "2.0", "1", "France"],
    ["C101", "A1", "Mug", "-4", "2010-01-09 11:00", "2.0", "1", "France"],
    ["C102", "Z9", "Pot", "-3", "2010-01-09 11:00", "7.0", "1", "France"],
    ["103", "POST", "Postage", "1", "2010-01-10 11:00", "18.0", "2", "Spain"],
]


def write_raw_csv(path, rows, repeat: int = 1):
    """A CSV in the dataset's layout (:data:`RAW_HEADERS`) of ``rows``, ``repeat`` times (the
    invoice numbers of each repeat made distinct: ``100``, ``100-1``, ...)."""
    lines = [",".join(RAW_HEADERS)]
    for k in range(repeat):
        for r in rows:
            lines.append(",".join([r[0] + (f"-{k}" if k else ""), *r[1:]]))
    path.write_text("\n".join(lines) + "\n")
    return path


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


def simulate_histories(
    model: str,
    params: dict,
    n: int,
    rng: np.random.Generator,
    *,
    acquisition_weeks: float = 12.0,
    calibration_weeks: float = 39.0,
    holdout_weeks: float = 39.0,
    max_purchases: int = 200,
) -> pd.DataFrame:
    """Customers drawn from a purchase model's own story (continuous time, weeks): first
    purchases spread uniformly over ``acquisition_weeks``, calibration up to
    ``calibration_weeks``, a holdout of ``holdout_weeks`` after it. ``model`` is "bgnbd"
    (dropout with probability p after each repeat purchase), "mbgnbd" (also at the first
    purchase) or "pareto_nbd" (exponential lifetime). Returns the calibration summary
    columns ``frequency``, ``recency``, ``T`` and ``frequency_holdout``,
    ``duration_holdout``."""
    first = rng.uniform(0.0, acquisition_weeks, n)
    T = calibration_weeks - first
    end = T + holdout_weeks
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    gaps = rng.exponential(1.0, (n, max_purchases)) / lam[:, None]
    times = np.cumsum(gaps, axis=1)
    k = np.arange(1, max_purchases + 1)[None, :]
    if model == "pareto_nbd":
        mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
        alive = times <= rng.exponential(1.0, n)[:, None] / mu[:, None]
    else:
        p = rng.beta(params["a"], params["b"], n)
        # repeat purchases made before dropping out: BG/NBD drops after the G-th, G ~ Geom(p)
        made = rng.geometric(p)
        if model == "mbgnbd":
            made = np.where(rng.random(n) < p, 0, made)  # dropped out at the first purchase
        alive = k <= made[:, None]
    valid = alive & (times <= end[:, None])
    cal = valid & (times <= T[:, None])
    hold = valid & (times > T[:, None])
    x = cal.sum(axis=1)
    recency = np.where(cal, times, 0.0).max(axis=1)
    return pd.DataFrame(
        {
            "frequency": x.astype(np.float64),
            "recency": recency,
            "T": T,
            "frequency_holdout": hold.sum(axis=1).astype(np.float64),
            "duration_holdout": np.full(n, holdout_weeks),
        }
    )
