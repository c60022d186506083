"""Features of the machine-learned forecast (:mod:`dashapp.analytics.clv.ml`), per customer,
each read from the data **up to a cutoff day only** (the training split's cutoff, or the
calibration end when scoring): nothing dated later is read, so no feature sees the period it
forecasts.

* purchase history (:data:`HISTORY`), from the calibration summary in weeks and the purchase
  log: repeat purchase days ``x``, recency ``t_x``, age ``T``, weeks since the last purchase,
  the repeat rate ``x / T``, the mean repeat-day spend, purchase days in the last 13 weeks;
* from the invoice table with its cancellations (:data:`ORDER_FEATURES`): the returns rate
  (cancellation invoices per purchase invoice up to the cutoff: counted from the invoices'
  own dates, not from the invoice table's ``returned`` column, which also holds returns made
  after the cutoff) and the country, frequency-encoded: the share of the customers seen up
  to the cutoff who have the customer's main country (the country of most of their invoices).
  The encoding reads no target, so it leaks nothing, and it needs no fixed country list;
* from the product lines (:data:`PRODUCT_FEATURES`, when the source has them): the number of
  distinct products bought and the share of the customer's spend on their top product.

:class:`Sources` holds the tables; ``orders`` or ``lines`` None leaves their features out,
with ``lines_note`` saying why (e.g. product lines the engine ran out of memory making).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "HISTORY",
    "ORDER_FEATURES",
    "PRODUCT_FEATURES",
    "FEATURES",
    "FEATURE_LABELS",
    "Sources",
    "build",
]

HISTORY = ("frequency", "recency", "T", "weeks_since_last", "rate", "mean_spend", "recent_days")
ORDER_FEATURES = ("returns_rate", "country_share")
PRODUCT_FEATURES = ("n_products", "top_product_share")
FEATURES = HISTORY + ORDER_FEATURES + PRODUCT_FEATURES
#: Plain labels with units, for the importance chart and the customer's waterfall.
FEATURE_LABELS = {
    "frequency": "repeat purchase days",
    "recency": "weeks from first to last purchase",
    "T": "weeks since the first purchase",
    "weeks_since_last": "weeks since the last purchase",
    "rate": "repeat purchase days per week",
    "mean_spend": "mean spend per repeat day",
    "recent_days": "purchase days in the last 13 weeks",
    "returns_rate": "returns per purchase invoice",
    "country_share": "share of customers in the same country",
    "n_products": "distinct products bought",
    "top_product_share": "share of spend on the top product",
}
RECENT_DAYS = 91


@dataclass(frozen=True)
class Sources:
    """What the features read. ``log``: purchase invoices (customer, date, amount columns);
    ``orders``: the invoice table with cancellations (customer, date, ``is_cancellation``,
    ``country``); ``lines``: product lines (customer, date, ``is_cancellation``,
    ``stock_code``, ``revenue``). ``orders``/``lines`` None: their features are left out,
    ``lines_note`` says why for the product lines."""

    log: pd.DataFrame
    customer_col: str
    date_col: str
    amount_col: str
    orders: pd.DataFrame | None = None
    lines: pd.DataFrame | None = None
    lines_note: str = ""

    @property
    def available(self) -> tuple[str, ...]:
        """The features these sources can build."""
        out: tuple[str, ...] = HISTORY
        if self.orders is not None:
            out += ORDER_FEATURES
        if self.lines is not None:
            out += PRODUCT_FEATURES
        return out

    def missing(self) -> list[str]:
        """Sentences naming the features left out for want of a table."""
        out = []
        if self.orders is None:
            out.append("Returns rate and country left out: no invoice table with returns.")
        if self.lines is None:
            why = f" ({self.lines_note})" if self.lines_note else ""
            out.append(f"Product mix left out: this source has no product lines{why}.")
        return out


def _upto(frame: pd.DataFrame, date_col: str, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Rows dated on or before the day ``cutoff``."""
    return frame.loc[frame[date_col] < cutoff.normalize() + pd.Timedelta(days=1)]


def _per_customer(values: pd.Series, index: pd.Index) -> np.ndarray:
    """A per-customer series aligned with ``index`` (string ids), 0 where absent."""
    values.index = values.index.astype(str)
    return values.reindex(index).fillna(0.0).to_numpy(dtype=np.float64)


def _history(summary: pd.DataFrame, src: Sources, cutoff: pd.Timestamp) -> dict:
    cust, date = src.customer_col, src.date_col
    log = _upto(src.log, date, cutoff)
    recent = log.loc[log[date] >= cutoff.normalize() - pd.Timedelta(days=RECENT_DAYS - 1)]
    days = recent[date].dt.normalize()
    recent_days = recent.assign(day=days).groupby(cust, observed=True)["day"].nunique()
    x, tx, T = (summary[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    return {
        "frequency": x,
        "recency": tx,
        "T": T,
        "weeks_since_last": T - tx,
        "rate": np.divide(x, T, out=np.zeros_like(x), where=T > 0),
        "mean_spend": np.nan_to_num(summary["monetary_value"].to_numpy(dtype=np.float64)),
        "recent_days": _per_customer(recent_days, summary.index.astype(str)),
    }


def _orders(summary: pd.DataFrame, src: Sources, cutoff: pd.Timestamp) -> dict:
    assert src.orders is not None
    cust = src.customer_col
    orders = _upto(src.orders, src.date_col, cutoff)
    orders = orders.loc[orders[cust].notna()]
    index = summary.index.astype(str)
    counts = orders.groupby(cust, observed=True)["is_cancellation"].agg(["sum", "count"])
    returns = counts["sum"] / (counts["count"] - counts["sum"]).clip(lower=1)
    by_country = orders.groupby([cust, "country"], observed=True).size()
    by_country = by_country[by_country > 0].sort_values(ascending=False, kind="stable")
    main = by_country.reset_index().drop_duplicates(cust).set_index(cust)["country"]
    share = main.map(main.value_counts(normalize=True)).astype(np.float64)
    return {
        "returns_rate": _per_customer(returns, index),
        "country_share": _per_customer(share, index),
    }


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 = missing) and the categories of a column."""
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    return cat.cat.codes.to_numpy(dtype=np.int64), cat.cat.categories


def _products(summary: pd.DataFrame, src: Sources, cutoff: pd.Timestamp) -> dict:
    """On integer codes, not a two-column group-by: millions of lines at 60k customers."""
    assert src.lines is not None
    lines = src.lines
    cust, customers = _codes(lines[src.customer_col])
    stock, products = _codes(lines["stock_code"])
    end = np.datetime64(cutoff.normalize() + pd.Timedelta(days=1))
    keep = (
        (lines[src.date_col].to_numpy() < end)
        & ~lines["is_cancellation"].to_numpy(dtype=bool)
        & (cust >= 0)
        & (stock >= 0)
    )
    key = cust[keep] * (len(products) + 1) + stock[keep]
    pair, pairs = pd.factorize(key)  # each (customer, product) bought
    spend = np.bincount(pair, weights=lines["revenue"].to_numpy(dtype=np.float64)[keep])
    spend = np.clip(spend, 0.0, None)
    owner = np.asarray(pairs) // (len(products) + 1)
    n = len(customers)
    count = np.bincount(owner, minlength=n).astype(np.float64)
    total = np.bincount(owner, weights=spend, minlength=n)
    top = pd.Series(spend).groupby(owner).max().reindex(range(n), fill_value=0.0).to_numpy()
    share = np.divide(top, total, out=np.zeros(n), where=total > 0)
    ids = customers.astype(str)
    index = summary.index.astype(str)
    return {
        "n_products": _per_customer(pd.Series(count, index=ids), index),
        "top_product_share": _per_customer(pd.Series(share, index=ids), index),
    }


def build(summary: pd.DataFrame, src: Sources, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The features of the customers of ``summary`` (a calibration summary in weeks ending at
    ``cutoff``) that ``src`` can build, from the data up to ``cutoff`` only."""
    cutoff = pd.Timestamp(cutoff)
    columns = _history(summary, src, cutoff)
    if src.orders is not None:
        columns |= _orders(summary, src, cutoff)
    if src.lines is not None:
        columns |= _products(summary, src, cutoff)
    return pd.DataFrame(columns, index=summary.index)[list(src.available)]
