"""The Overview's statistics: KPIs and monthly revenue of an invoice table.

Pure: pandas and numpy. Input is the invoice-level table of ``dashapp.ingest.cleaning``
(``dashapp.ingest.parts.invoice_table``), already filtered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MONTHLY_COLUMNS = ["month", "revenue", "customer_revenue", "orders", "customers", "partial"]
#: Largest (month x customer) bitmap :func:`monthly` counts buyers with (64 MB); beyond it the
#: distinct pairs are hashed.
BITMAP_CELLS = 64_000_000


@dataclass(frozen=True)
class Kpis:
    """Headline numbers of a set of invoices. Money in the data's currency."""

    net_revenue: float  # every invoice, returns netted
    cancellation_revenue: float  # the returns' (negative) money, booked on orders or not
    customers: int  # customers with at least one purchase invoice
    orders: int  # purchase invoices
    aov: float  # purchase revenue per purchase invoice (NaN without orders)
    repeat_rate: float  # share of customers with two or more purchase invoices
    unknown_customer_revenue: float  # revenue of invoices without a customer id


def kpis(orders: pd.DataFrame) -> Kpis:
    """:class:`Kpis` of an invoice table (``is_cancellation``, ``customer_id``, ``revenue``,
    ``returned``: returns booked against the orders they cancel)."""
    purchase = ~orders["is_cancellation"].to_numpy(dtype=bool)
    codes = _customer_codes(orders)
    known = codes >= 0
    # purchase invoices per customer, on integer codes (a categorical's value_counts and the
    # boolean selection cost ~0.2 s per 5M invoices)
    per_customer = np.bincount(codes[purchase & known])
    per_customer = per_customer[per_customer > 0]
    revenue = orders["revenue"]
    n_orders = int(purchase.sum())
    purchase_revenue = float(revenue[purchase].sum())
    return Kpis(
        net_revenue=float(revenue.sum()),
        cancellation_revenue=float(
            revenue[~purchase].sum() - (orders["returned"].sum() if "returned" in orders else 0.0)
        ),
        customers=int(len(per_customer)),
        orders=n_orders,
        aov=purchase_revenue / n_orders if n_orders else float("nan"),
        repeat_rate=float((per_customer >= 2).mean()) if len(per_customer) else float("nan"),
        unknown_customer_revenue=float(revenue[~known].sum()),
    )


def _buyers_per_month(month: np.ndarray, codes: np.ndarray, months: int) -> np.ndarray:
    """Distinct customer codes per month index (``months`` of them): a bitmap of (month,
    customer) when it is small (O(rows)), else the distinct pairs hashed."""
    if not len(month):
        return np.zeros(months, dtype=np.int64)
    width = int(codes.max()) + 1
    if months * width <= BITMAP_CELLS:
        seen = np.zeros(months * width, dtype=bool)
        seen[month * width + codes] = True
        return seen.reshape(months, width).sum(axis=1)
    pairs = pd.unique(month.astype(np.int64) * width + codes)
    return np.bincount(pairs // width, minlength=months)


def _customer_codes(orders: pd.DataFrame) -> np.ndarray:
    """An integer per customer id (-1 when missing): the categorical's codes, else factorized."""
    ids = orders["customer_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.cat.codes.to_numpy()
    return pd.factorize(ids, use_na_sentinel=True)[0]


def monthly(orders: pd.DataFrame, first_day: pd.Timestamp, last_day: pd.Timestamp) -> pd.DataFrame:
    """Revenue, customer revenue, purchase invoices and buying customers per calendar month.

    ``first_day``/``last_day`` are the first and last day the data (or the filter) covers: a
    month that extends beyond them is marked ``partial``. Columns :data:`MONTHLY_COLUMNS`
    (``month`` = the month's first day).
    """
    if orders.empty:
        return pd.DataFrame(columns=MONTHLY_COLUMNS)
    months = orders["invoice_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[M]")
    dated = ~np.isnat(months)
    # month per invoice as an integer from 0 (a Period groupby, np.unique's sort and an
    # object column's nunique cost ~2-3 s per 5M invoices)
    number = months[dated].astype(np.int64)
    first = number.min(initial=0)
    present = np.flatnonzero(np.bincount(number - first)) if len(number) else number
    month_list = (present + first).astype("datetime64[M]")
    rank = np.zeros(int(present[-1]) + 1 if len(present) else 0, dtype=np.int64)
    rank[present] = np.arange(len(present))
    month = rank[number - first]
    codes = _customer_codes(orders)[dated]
    known = codes >= 0
    purchase = ~orders["is_cancellation"].to_numpy(dtype=bool)[dated]
    revenue = orders["revenue"].to_numpy(dtype=float)[dated]
    g = (
        pd.DataFrame(
            {
                "month": month,
                "revenue": revenue,
                "customer_revenue": np.where(known, revenue, 0.0),
                "orders": purchase.astype(int),
            }
        )
        .groupby("month", sort=True)
        .sum()
    )
    buying = purchase & known
    g["customers"] = _buyers_per_month(month[buying], codes[buying], len(month_list))[g.index]
    starts = pd.DatetimeIndex(month_list[g.index].astype("datetime64[ns]"))
    ends = pd.DatetimeIndex((month_list[g.index] + 1).astype("datetime64[ns]")) - pd.Timedelta(
        days=1
    )
    g = g.reset_index(drop=True)
    g["partial"] = (starts < first_day) | (ends > last_day)
    g["month"] = starts
    return g[MONTHLY_COLUMNS]


def covered_days(
    all_orders: pd.DataFrame, start: str | None, end: str | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day covered: the data's invoice span cut to the date filter."""
    first_day = max(
        all_orders["invoice_date"].min().normalize(),
        pd.Timestamp(start) if start else pd.Timestamp.min,
    )
    last_day = min(
        all_orders["invoice_date"].max().normalize(),
        pd.Timestamp(end) if end else pd.Timestamp.max,
    )
    return first_day, last_day


#: Date presets of the Overview, relative to the last day of data (the data are historical:
#: "last 30 days" means the 30 days that end on the last invoice day).
PRESETS = (
    ("last30", "Last 30 days"),
    ("last90", "Last 90 days"),
    ("qtd", "Quarter to date"),
    ("ytd", "Year to date"),
    ("last12m", "Last 12 months"),
    ("all", "All"),
)


def preset_range(
    preset: str, first_day: pd.Timestamp, last_day: pd.Timestamp
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last day (inclusive) of ``preset`` ending on ``last_day``, cut to start no
    earlier than ``first_day``; ``(None, None)`` for "all". ValueError for an unknown one."""
    last_day = pd.Timestamp(last_day).normalize()
    if preset == "all":
        return None, None
    if preset in ("last30", "last90"):
        start = last_day - pd.Timedelta(days=int(preset[4:]) - 1)
    elif preset == "qtd":
        start = last_day.to_period("Q").start_time
    elif preset == "ytd":
        start = pd.Timestamp(year=last_day.year, month=1, day=1)
    elif preset == "last12m":
        start = last_day - pd.DateOffset(months=12) + pd.Timedelta(days=1)
    else:
        raise ValueError(f"unknown period preset {preset!r}")
    return max(pd.Timestamp(start), pd.Timestamp(first_day).normalize()), last_day


def comparison_windows(
    first_day: pd.Timestamp, last_day: pd.Timestamp
) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """The windows a period ``first_day``..``last_day`` (inclusive) is compared with: the
    previous period of the same length (``"previous"``, ending the day before it starts) and
    the same days a year before (``"year_before"``)."""
    days = (last_day - first_day).days + 1
    return {
        "previous": (first_day - pd.Timedelta(days=days), first_day - pd.Timedelta(days=1)),
        "year_before": (first_day - pd.DateOffset(years=1), last_day - pd.DateOffset(years=1)),
    }
