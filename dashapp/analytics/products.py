"""Products: what sells, to whom, what comes back, and what distinguishes a segment.

Pure: pandas and numpy. Input is the kept product lines (one row per invoice and stock code,
``dashapp.ingest.engine.clean_products``: ``stock_code, description, customer_id,
invoice_date, country, is_cancellation, units, revenue`` and ``product_type``, derived from
the description by the engine), already filtered.

Stock codes are as the loader writes them (upper-cased and trimmed, so ``85123a`` and ``85123A `` are one
product); a code sold under several descriptions (hand-written variants, trailing notes) is
shown under its most frequent description, the others counted in ``descriptions``, and
under the product type of its lines (the most frequent one when its descriptions give
several): a product counts under one type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Label of the lines whose description gives no product type (no letters, no description).
NO_TYPE = "(none)"

COLUMNS = [
    "stock_code",
    "description",
    "product_type",
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
#: Columns of :func:`type_table`.
TYPE_COLUMNS = [
    "product_type", "revenue", "customers", "products", "units", "returned_units",
    "returns_rate",
]  # fmt: skip
#: Columns of :func:`segment_lift`.
LIFT_COLUMNS = [
    "stock_code", "description", "in_segment", "in_rest", "segment_share", "overall_share",
    "lift", "lift_low", "lift_high",
]  # fmt: skip
#: Normal quantile of the lift's 95 % range (:func:`segment_lift`).
Z95 = 1.959963984540054


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 = missing) and the text of each code, for a text column."""
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    return cat.cat.codes.to_numpy(dtype=np.int64), np.asarray(cat.cat.categories.astype(str))


def _pair_keys(major: np.ndarray, minor: np.ndarray, n_major: int, n_minor: int) -> np.ndarray:
    """``major * n_minor + minor`` (codes of two columns as one key), sorted; in 32 bits when
    every key fits (a sort of 32-bit keys takes about half the time of 64-bit ones)."""
    wide = n_major * n_minor >= 2**31
    dtype: type[np.signedinteger] = np.int64 if wide else np.int32
    keys: np.ndarray = major.astype(dtype, copy=False) * n_minor
    keys += minor.astype(dtype, copy=False)
    return np.sort(keys)


def _most_frequent(
    code: np.ndarray, n: int, values: pd.Series, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per product code: its most frequent value of the text column ``values`` (ties: the
    first in text order; "" when it has none) and how many different values it has (only the
    lines ``rows``, a mask, when given)."""
    dcode, dtext = _codes(values)
    keep = dcode >= 0 if rows is None else (dcode >= 0) & rows
    if keep.all():  # no line to leave out: no copy of the columns
        pairs = _pair_keys(code, dcode, n, len(dtext) + 1)
    else:
        pairs = _pair_keys(code[keep], dcode[keep], n, len(dtext) + 1)
    starts = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]]) if len(pairs) else pairs
    keys, counts = pairs[starts], np.diff(np.r_[starts, len(pairs)])
    prod, desc = keys // (len(dtext) + 1), keys % (len(dtext) + 1)
    order = np.lexsort((desc, -counts, prod))  # by product, most lines first, then text
    prod, desc = prod[order], desc[order]
    first = np.r_[True, prod[1:] != prod[:-1]] if len(prod) else np.zeros(0, bool)
    text = np.full(n, "", dtype=object)
    text[prod[first]] = dtext[desc[first]]
    return text, np.bincount(prod, minlength=n)


def _descriptions(
    code: np.ndarray, n: int, lines: pd.DataFrame, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per product code: its most frequent description and how many it has."""
    return _most_frequent(code, n, lines["description"], rows)


def _types(code: np.ndarray, n: int, lines: pd.DataFrame) -> np.ndarray:
    """Per product code: its product type (the most frequent of its lines'; :data:`NO_TYPE`
    when none of its descriptions gives one, or the lines have no type column)."""
    if "product_type" not in lines.columns:
        return np.full(n, NO_TYPE, dtype=object)
    text, _ = _most_frequent(code, n, lines["product_type"])
    text[text == ""] = NO_TYPE
    return text


def _buyers(code: np.ndarray, cust: np.ndarray, sale: np.ndarray, n_cust: int) -> np.ndarray:
    """Distinct (product code, customer code) pairs of the purchase lines with a customer, as
    one int64 key each (product * n_cust + customer)."""
    keep = sale & (cust >= 0)
    # sorting beats numpy's hashed unique here
    n = int(code.max()) + 1 if len(code) else 0
    keys = _pair_keys(code[keep], cust[keep], n, n_cust)
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
    units = lines["units"].to_numpy(dtype=np.float64)  # whole numbers: their sums are exact
    revenue = lines["revenue"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "stock_code": ptext,
            "revenue": np.bincount(code, weights=revenue, minlength=n),
            "units": np.bincount(code, weights=np.where(sale, units, 0.0), minlength=n),
            "returned_units": np.bincount(code, weights=np.where(sale, 0.0, -units), minlength=n),
            "invoices": np.bincount(code[sale], minlength=n),
            "customers": np.bincount(_buyers(code, cust, sale, len(ctext)) // len(ctext),
                                     minlength=n) if len(ctext) else np.zeros(n),
        }
    )  # fmt: skip
    out["description"], out["descriptions"] = _descriptions(code, n, lines)
    out["product_type"] = _types(code, n, lines)
    is_best = pd.Index(ctext).isin(list(best))[cust] & (cust >= 0) if len(ctext) else cust < -1
    rest = (cust >= 0) & ~is_best
    # the other lines add 0.0, which leaves each sum exactly as it was (it is never -0.0)
    best_spend = np.bincount(code, weights=np.where(is_best, revenue, 0.0), minlength=n)
    rest_spend = np.bincount(code, weights=np.where(rest, revenue, 0.0), minlength=n)
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


def type_table(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per product type (:data:`TYPE_COLUMNS`), largest net revenue first.

    Each product counts under its one type (:func:`_types`; :data:`NO_TYPE` for those whose
    descriptions give none). ``revenue``: net of returns; ``customers``: distinct customers
    with an id who bought a product of the type; ``products``: its stock codes;
    ``units``/``returned_units``/``returns_rate`` as in :func:`product_table`."""
    if lines.empty:
        return pd.DataFrame(columns=TYPE_COLUMNS)
    code, ptext = _codes(lines["stock_code"])
    cust, ctext = _codes(lines["customer_id"])
    n = len(ptext)
    names, type_of = np.unique(_types(code, n, lines), return_inverse=True)
    k = len(names)
    kind = type_of[code]
    sale = ~lines["is_cancellation"].to_numpy(dtype=bool)
    units = lines["units"].to_numpy(dtype=np.int64)
    present = np.bincount(code, minlength=n) > 0
    if len(ctext):
        keep = sale & (cust >= 0)
        keys = np.sort(kind[keep] * len(ctext) + cust[keep])
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
        customers = np.bincount(keys // len(ctext), minlength=k)
    else:
        customers = np.zeros(k, dtype=np.int64)
    out = pd.DataFrame(
        {
            "product_type": names,
            "revenue": np.bincount(kind, weights=lines["revenue"].to_numpy(float), minlength=k),
            "customers": customers,
            "products": np.bincount(type_of[present], minlength=k),
            "units": np.bincount(kind[sale], weights=units[sale], minlength=k),
            "returned_units": np.bincount(kind[~sale], weights=-units[~sale], minlength=k),
        }
    )
    out = out[out["products"] > 0]
    for col in ("customers", "products", "units", "returned_units"):
        out[col] = out[col].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["returns_rate"] = np.where(
            out["units"] > 0, out["returned_units"] / out["units"], np.nan
        )
    out["revenue"] = out["revenue"].round(2)
    out = out.sort_values(["revenue", "product_type"], ascending=[False, True])
    return out[TYPE_COLUMNS].reset_index(drop=True)


def wilson_interval(hits: np.ndarray, n: int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of the proportions ``hits / n`` (``z``: the normal quantile)."""
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def segment_lift(
    lines: pd.DataFrame, segment_of: pd.Series, segment: str, min_customers: int = 3
) -> pd.DataFrame:
    """Products that distinguish ``segment``: for each product bought by at least
    ``min_customers`` of the segment's customers, the share of the segment's customers who
    bought it, the share of all customers who did, and the lift (their ratio), highest lower
    end of the lift's 95 % range first. ``segment_of``: segment by customer id (the RFM table's: the customers counted).
    Columns :data:`LIFT_COLUMNS`: ``stock_code, description`` (the most frequent, as in
    :func:`product_table`), ``in_segment`` / ``in_rest`` (buyers in the segment / among the
    other customers counted), the shares, ``lift`` and its 95 % range ``lift_low`` /
    ``lift_high``: the Wilson interval of the segment's share divided by the overall share
    (taken as known: it rests on every customer). Ranked conservatively: by ``lift_low``
    (the lift the segment's buyers support at least), then ``lift``, buyers, stock code. ``attrs``: ``n_segment`` and ``n_rest``
    (customers in the segment and the others), ``min_customers`` and ``below`` (products
    the segment bought that miss the minimum)."""
    empty = pd.DataFrame(columns=LIFT_COLUMNS)
    need = max(int(min_customers), 1)
    empty.attrs = {"n_segment": 0, "n_rest": len(segment_of), "min_customers": need, "below": 0}
    if lines.empty or segment_of.empty:
        return empty
    code, ptext = _codes(lines["stock_code"])
    cust, ctext = _codes(lines["customer_id"])
    if not len(ctext):
        return empty
    sale = ~lines["is_cancellation"].to_numpy(dtype=bool)
    seg = pd.Series(segment_of.to_numpy(), index=segment_of.index.astype(str))
    counted = pd.Index(ctext).isin(seg.index)
    member = counted & (seg.reindex(ctext).to_numpy() == segment)
    n_all, n_seg = len(seg), int((seg == segment).sum())
    empty.attrs.update(n_segment=n_seg, n_rest=n_all - n_seg)
    if not n_seg:
        return empty
    keys = _buyers(code, cust, sale, len(ctext))
    prod, who = keys // len(ctext), keys % len(ctext)
    buyers = np.bincount(prod[counted[who]], minlength=len(ptext))
    in_seg = np.bincount(prod[member[who]], minlength=len(ptext))
    keep = in_seg >= need
    text, _ = _descriptions(code, len(ptext), lines, keep[code])
    out = pd.DataFrame(
        {
            "stock_code": ptext[keep],
            "description": text[keep],
            "in_segment": in_seg[keep],
            "in_rest": buyers[keep] - in_seg[keep],
        }
    )
    out["segment_share"] = out["in_segment"] / n_seg
    out["overall_share"] = buyers[keep] / n_all
    out["lift"] = out["segment_share"] / out["overall_share"]
    low, high = wilson_interval(out["in_segment"].to_numpy(float), n_seg)
    out["lift_low"] = low / out["overall_share"]
    out["lift_high"] = high / out["overall_share"]
    # conservative: ranked by the lower end of the range (a lift resting on 11 buyers
    # above a higher point lift resting on 3), then the point lift
    out = out.sort_values(
        ["lift_low", "lift", "in_segment", "stock_code"], ascending=[False, False, False, True]
    )
    out = out[LIFT_COLUMNS].reset_index(drop=True)
    out.attrs = {**empty.attrs, "below": int(((in_seg > 0) & ~keep).sum())}
    return out


def _rows_of(lines: pd.DataFrame, customer_id: str) -> np.ndarray:
    """Mask of the customer's lines."""
    col = lines["customer_id"]
    if isinstance(col.dtype, pd.CategoricalDtype):  # compare codes, not a million strings
        cats = col.cat.categories
        return col.cat.codes.to_numpy() == (
            cats.get_loc(customer_id) if customer_id in cats else -2
        )
    return (col.astype(object) == customer_id).to_numpy()


def customer_lines(lines: pd.DataFrame, customer_id: str) -> pd.DataFrame:
    """The customer's lines, their text columns' categories cut to the values they hold (the
    tables of one customer then work on its few products, not on every product's code)."""
    mine = lines[_rows_of(lines, customer_id)]
    cut = {
        c: mine[c].cat.remove_unused_categories()
        for c in mine.columns
        if isinstance(mine[c].dtype, pd.CategoricalDtype)
    }
    return mine.assign(**cut) if cut else mine


def customer_products(lines: pd.DataFrame, customer_id: str, top: int = 10) -> pd.DataFrame:
    """A customer's products by net revenue: ``stock_code, description, units, revenue,
    invoices``, the ``top`` largest (``lines``: any lines; :func:`customer_lines` is faster
    when the customer's are wanted more than once)."""
    mine = lines[_rows_of(lines, customer_id)]
    if mine.empty:
        return pd.DataFrame(columns=["stock_code", "description", "units", "revenue", "invoices"])
    table = product_table(mine)
    return table[["stock_code", "description", "units", "revenue", "invoices"]].head(top)


def customer_types(lines: pd.DataFrame, customer_id: str, top: int = 10) -> pd.DataFrame:
    """A customer's product types by net revenue: ``product_type, products, units,
    revenue``, the ``top`` largest."""
    mine = lines[_rows_of(lines, customer_id)]
    columns = ["product_type", "products", "units", "revenue"]
    if mine.empty:
        return pd.DataFrame(columns=columns)
    return type_table(mine)[columns].head(top)
