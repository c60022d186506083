"""Products: what sells, to whom, what comes back, and what distinguishes a segment.

Pure: pandas and numpy. Input is the kept product lines (one row per invoice and stock code,
``dashapp.ingest.engine.clean_products``: ``stock_code, description, customer_id,
invoice_date, country, is_cancellation, units, revenue``), already filtered.

Stock codes are as the loader writes them (upper-cased and trimmed, so ``85123a`` and ``85123A `` are one
product); a code sold under several descriptions (hand-written variants, trailing notes) is
shown under its most frequent description, the others counted in ``descriptions``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = [
    "stock_code",
    "description",
    "descriptions",
    "revenue",
    "units",
    "customers",
    "invoices",
    "returned_units",
    "returns_rate",
    "best_share",
    "rest_share",
    "best_index",
]


def _description_of(lines: pd.DataFrame) -> pd.DataFrame:
    """Most frequent description per stock code (ties: the first in text order) and how many
    different descriptions the code has."""
    pairs = (
        lines.groupby(["stock_code", "description"], observed=True).size().rename("n").reset_index()
    )
    pairs = pairs.sort_values(["stock_code", "n", "description"], ascending=[True, False, True])
    first = pairs.drop_duplicates("stock_code").set_index("stock_code")["description"]
    count = pairs.groupby("stock_code", observed=True).size()
    return pd.DataFrame({"description": first.astype(str), "descriptions": count})


def product_table(
    lines: pd.DataFrame, best: set[str] | frozenset[str] = frozenset()
) -> pd.DataFrame:
    """One row per product (:data:`COLUMNS`), largest net revenue first.

    ``revenue``: net of returns; ``units``/``invoices``/``customers``: sold (purchase lines;
    distinct customers with an id); ``returned_units``/``returns_rate``: units on cancellation
    lines and their share of the units sold; ``best_share``/``rest_share``: the product's share
    of the spend of the ``best`` customers (ids) and of everyone else's, ``best_index`` their
    ratio (above 1: the best customers spend relatively more on it)."""
    if lines.empty:
        return pd.DataFrame(columns=COLUMNS)
    code = lines["stock_code"].astype(str).to_numpy()
    sale = ~lines["is_cancellation"].to_numpy(dtype=bool)
    units = lines["units"].to_numpy(dtype=np.int64)
    revenue = lines["revenue"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "stock_code": code,
            "revenue": revenue,
            "units": np.where(sale, units, 0),
            "returned_units": np.where(sale, 0, -units),
            "customer_id": lines["customer_id"].astype(object).to_numpy(),
            "invoice": lines["invoice"].astype(str).to_numpy(),
            "sale": sale,
        }
    )
    g = frame.groupby("stock_code")
    out = g[["revenue", "units", "returned_units"]].sum()
    sold = frame[frame["sale"]]
    out["invoices"] = sold.groupby("stock_code")["invoice"].nunique().reindex(out.index).fillna(0)
    out["customers"] = (
        (sold.dropna(subset=["customer_id"]).groupby("stock_code")["customer_id"].nunique())
        .reindex(out.index)
        .fillna(0)
    )
    is_best = frame["customer_id"].isin(best).to_numpy()
    known = frame["customer_id"].notna().to_numpy()
    best_spend = frame[is_best].groupby("stock_code")["revenue"].sum().reindex(out.index).fillna(0)
    rest = known & ~is_best
    rest_spend = frame[rest].groupby("stock_code")["revenue"].sum().reindex(out.index).fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["returns_rate"] = np.where(
            out["units"] > 0, out["returned_units"] / out["units"], np.nan
        )
        tb, tr = best_spend.sum(), rest_spend.sum()
        out["best_share"] = best_spend / tb if tb else np.nan
        out["rest_share"] = rest_spend / tr if tr else np.nan
        out["best_index"] = out["best_share"] / out["rest_share"]
    out["best_index"] = out["best_index"].replace([np.inf, -np.inf], np.nan)
    out = out.join(_description_of(lines))
    out["revenue"] = out["revenue"].round(2)
    for col in ("units", "returned_units", "customers", "invoices"):
        out[col] = out[col].astype(np.int64)
    out = out.reset_index().sort_values(["revenue", "stock_code"], ascending=[False, True])
    return out[COLUMNS].reset_index(drop=True)


def segment_lift(
    lines: pd.DataFrame, segment_of: pd.Series, segment: str, min_customers: int = 3
) -> pd.DataFrame:
    """Products that distinguish ``segment``: for each product bought by at least
    ``min_customers`` of the segment's customers, the share of the segment's customers who
    bought it, the share of all customers who did, and the lift (their ratio), highest lift
    first. ``segment_of``: segment by customer id (the RFM table's). Columns ``stock_code,
    in_segment, segment_share, overall_share, lift``."""
    columns = ["stock_code", "in_segment", "segment_share", "overall_share", "lift"]
    sold = lines[~lines["is_cancellation"].to_numpy(dtype=bool) & lines["customer_id"].notna()]
    if sold.empty or segment_of.empty:
        return pd.DataFrame(columns=columns)
    pairs = pd.DataFrame(
        {
            "stock_code": sold["stock_code"].astype(str).to_numpy(),
            "customer_id": sold["customer_id"].astype(str).to_numpy(),
        }
    ).drop_duplicates()
    pairs = pairs[pairs["customer_id"].isin(segment_of.index)]
    members = set(segment_of.index[segment_of.to_numpy() == segment])
    n_all, n_seg = len(segment_of), len(members)
    if not n_seg:
        return pd.DataFrame(columns=columns)
    buyers = pairs.groupby("stock_code").size()
    in_seg = pairs[pairs["customer_id"].isin(members)].groupby("stock_code").size()
    out = pd.DataFrame({"in_segment": in_seg, "all": buyers.reindex(in_seg.index)})
    out = out[out["in_segment"] >= min_customers]
    out["segment_share"] = out["in_segment"] / n_seg
    out["overall_share"] = out["all"] / n_all
    out["lift"] = out["segment_share"] / out["overall_share"]
    out = out.reset_index().rename(columns={"index": "stock_code"})
    out = out.sort_values(["lift", "in_segment", "stock_code"], ascending=[False, False, True])
    return out[columns].reset_index(drop=True)


def customer_products(lines: pd.DataFrame, customer_id: str, top: int = 10) -> pd.DataFrame:
    """A customer's products by net revenue: ``stock_code, description, units, revenue,
    invoices``, the ``top`` largest."""
    mine = lines[lines["customer_id"].astype(object) == customer_id]
    if mine.empty:
        return pd.DataFrame(columns=["stock_code", "description", "units", "revenue", "invoices"])
    table = product_table(mine)
    return table[["stock_code", "description", "units", "revenue", "invoices"]].head(top)
