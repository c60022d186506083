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


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 = missing) and the text of each code, for a text column."""
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    return cat.cat.codes.to_numpy(dtype=np.int64), np.asarray(cat.cat.categories.astype(str))


def _descriptions(
    code: np.ndarray, n: int, lines: pd.DataFrame, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per product code: its most frequent description (ties: the first in text order) and
    how many different descriptions it has (only the lines ``rows``, a mask, when given)."""
    dcode, dtext = _codes(lines["description"])
    keep = dcode >= 0 if rows is None else (dcode >= 0) & rows
    pairs = np.sort(code[keep] * (len(dtext) + 1) + dcode[keep])
    starts = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]]) if len(pairs) else pairs
    keys, counts = pairs[starts], np.diff(np.r_[starts, len(pairs)])
    prod, desc = keys // (len(dtext) + 1), keys % (len(dtext) + 1)
    order = np.lexsort((desc, -counts, prod))  # by product, most lines first, then text
    prod, desc = prod[order], desc[order]
    first = np.r_[True, prod[1:] != prod[:-1]] if len(prod) else np.zeros(0, bool)
    text = np.full(n, "", dtype=object)
    text[prod[first]] = dtext[desc[first]]
    return text, np.bincount(prod, minlength=n)


def _buyers(code: np.ndarray, cust: np.ndarray, sale: np.ndarray, n_cust: int) -> np.ndarray:
    """Distinct (product code, customer code) pairs of the purchase lines with a customer, as
    one int64 key each (product * n_cust + customer)."""
    keep = sale & (cust >= 0)
    keys = np.sort(code[keep] * n_cust + cust[keep])  # sorting beats numpy's hashed unique here
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def product_table(
    lines: pd.DataFrame, best: set[str] | frozenset[str] = frozenset()
) -> pd.DataFrame:
    """One row per product (:data:`COLUMNS`), largest net revenue first.

    ``revenue``: net of returns; ``units``/``invoices``/``customers``: sold (purchase lines;
    distinct customers with an id); ``returned_units``/``returns_rate``: units on cancellation
    lines and their share of the units sold; ``best_share``/``rest_share``: the product's share
    of the spend of the ``best`` customers (ids) and of everyone else's, ``best_index`` their
    ratio (above 1: the best customers spend relatively more on it; NaN when only the best buy
    it). Lines are one per invoice and stock code, so a product's purchase lines are its
    invoices."""
    if lines.empty:
        return pd.DataFrame(columns=COLUMNS)
    code, ptext = _codes(lines["stock_code"])
    cust, ctext = _codes(lines["customer_id"])
    n = len(ptext)
    sale = ~lines["is_cancellation"].to_numpy(dtype=bool)
    units = lines["units"].to_numpy(dtype=np.int64)
    revenue = lines["revenue"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "stock_code": ptext,
            "revenue": np.bincount(code, weights=revenue, minlength=n),
            "units": np.bincount(code[sale], weights=units[sale], minlength=n),
            "returned_units": np.bincount(code[~sale], weights=-units[~sale], minlength=n),
            "invoices": np.bincount(code[sale], minlength=n),
            "customers": np.bincount(_buyers(code, cust, sale, len(ctext)) // len(ctext),
                                     minlength=n) if len(ctext) else np.zeros(n),
        }
    )  # fmt: skip
    out["description"], out["descriptions"] = _descriptions(code, n, lines)
    is_best = pd.Index(ctext).isin(list(best))[cust] & (cust >= 0) if len(ctext) else cust < -1
    rest = (cust >= 0) & ~is_best
    best_spend = np.bincount(code[is_best], weights=revenue[is_best], minlength=n)
    rest_spend = np.bincount(code[rest], weights=revenue[rest], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["returns_rate"] = np.where(
            out["units"] > 0, out["returned_units"] / out["units"], np.nan
        )
        tb, tr = best_spend.sum(), rest_spend.sum()
        out["best_share"] = best_spend / tb if tb else np.nan
        out["rest_share"] = rest_spend / tr if tr else np.nan
        out["best_index"] = out["best_share"] / out["rest_share"]
    out["best_index"] = out["best_index"].replace([np.inf, -np.inf], np.nan)
    out = out[np.bincount(code, minlength=n) > 0]  # codes of other rows (filtered out)
    out["revenue"] = out["revenue"].round(2)
    for col in ("units", "returned_units", "customers", "invoices"):
        out[col] = out[col].astype(np.int64)
    out = out.sort_values(["revenue", "stock_code"], ascending=[False, True])
    return out[COLUMNS].reset_index(drop=True)


def segment_lift(
    lines: pd.DataFrame, segment_of: pd.Series, segment: str, min_customers: int = 3
) -> pd.DataFrame:
    """Products that distinguish ``segment``: for each product bought by at least
    ``min_customers`` of the segment's customers, the share of the segment's customers who
    bought it, the share of all customers who did, and the lift (their ratio), highest lift
    first. ``segment_of``: segment by customer id (the RFM table's: the customers counted).
    Columns ``stock_code, description`` (the most frequent, as in :func:`product_table`),
    ``in_segment, segment_share, overall_share, lift``."""
    columns = ["stock_code", "description", "in_segment", "segment_share", "overall_share", "lift"]
    if lines.empty or segment_of.empty:
        return pd.DataFrame(columns=columns)
    code, ptext = _codes(lines["stock_code"])
    cust, ctext = _codes(lines["customer_id"])
    if not len(ctext):
        return pd.DataFrame(columns=columns)
    sale = ~lines["is_cancellation"].to_numpy(dtype=bool)
    seg = pd.Series(segment_of.to_numpy(), index=segment_of.index.astype(str))
    counted = pd.Index(ctext).isin(seg.index)
    member = counted & (seg.reindex(ctext).to_numpy() == segment)
    n_all, n_seg = len(seg), int((seg == segment).sum())
    if not n_seg:
        return pd.DataFrame(columns=columns)
    keys = _buyers(code, cust, sale, len(ctext))
    prod, who = keys // len(ctext), keys % len(ctext)
    buyers = np.bincount(prod[counted[who]], minlength=len(ptext))
    in_seg = np.bincount(prod[member[who]], minlength=len(ptext))
    keep = in_seg >= max(min_customers, 1)
    text, _ = _descriptions(code, len(ptext), lines, keep[code])
    out = pd.DataFrame(
        {"stock_code": ptext[keep], "description": text[keep], "in_segment": in_seg[keep]}
    )
    out["segment_share"] = out["in_segment"] / n_seg
    out["overall_share"] = buyers[keep] / n_all
    out["lift"] = out["segment_share"] / out["overall_share"]
    out = out.sort_values(["lift", "in_segment", "stock_code"], ascending=[False, False, True])
    return out[columns].reset_index(drop=True)


def customer_products(lines: pd.DataFrame, customer_id: str, top: int = 10) -> pd.DataFrame:
    """A customer's products by net revenue: ``stock_code, description, units, revenue,
    invoices``, the ``top`` largest."""
    col = lines["customer_id"]
    if isinstance(col.dtype, pd.CategoricalDtype):  # compare codes, not a million strings
        cats = col.cat.categories
        hit = col.cat.codes.to_numpy() == (cats.get_loc(customer_id) if customer_id in cats else -2)
    else:
        hit = (col.astype(object) == customer_id).to_numpy()
    mine = lines[hit]
    if mine.empty:
        return pd.DataFrame(columns=["stock_code", "description", "units", "revenue", "invoices"])
    table = product_table(mine)
    return table[["stock_code", "description", "units", "revenue", "invoices"]].head(top)
