"""Acquisition-cohort tables: customer retention, revenue retention, cumulative revenue.

Pure module (numpy, pandas). Input is the invoice-level Orders table
(``dashapp.ingest.parts.invoice_table``, see docs/architecture.md): ``invoice``, ``customer_id``,
``invoice_date``, ``country``, ``revenue``, ``is_cancellation``, ``lines``.

Definitions
-----------
* Only orders with a customer id are used.
* A *purchase* is a non-cancellation invoice. A customer's *cohort* is the calendar month of
  their first purchase; customers who only ever cancelled have no cohort and are left out.
* *Months since acquisition* ``k`` = calendar month of the order minus the cohort month
  (0 = the acquisition month).
* *Customer retention* ``[c, k]`` = share of cohort ``c`` with at least one purchase in month
  ``k`` (column 0 is 1.0 by construction).
* *Revenue* ``[c, k]`` = net revenue (purchases plus cancellations, which are negative) of the
  cohort's customers dated in month ``k``. Cancellations dated before the customer's first
  purchase month (returns of purchases made before the data starts) are ignored.
* *Revenue retention* ``[c, k]`` = revenue in month ``k`` / revenue in month 0 (NaN when the
  month-0 revenue is not positive).
* *Cumulative revenue per acquired customer* ``[c, k]`` = revenue of months 0..k / cohort size
  (the empirical LTV curve, currency per customer).
* Cells after the last calendar month in the data are NaN (not observed), not 0.

Caveats flagged on the result: the first cohort month is left-censored (customers who bought
before the data starts look "new" there), and the last calendar month is partial when the data
end before that month's last day (Online Retail II ends on 9 December 2011).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CohortTables", "cohort_tables", "customer_cohorts"]

#: Columns the invoice table must have.
REQUIRED = ("customer_id", "invoice_date", "revenue", "is_cancellation")


@dataclass(frozen=True)
class CohortTables:
    """Cohort analysis of an Orders table.

    All matrices are DataFrames indexed by ``cohort`` (``PeriodIndex`` of monthly periods;
    ``.astype(str)`` gives labels like "2010-01") with integer columns ``months_since``
    0..K, where K is the number of months between the first cohort and the last calendar
    month. Cells not yet observed are NaN.

    Attributes
    ----------
    sizes : Series of int, shape (n_cohorts,)
        Customers acquired in each cohort month.
    active : DataFrame of float, shape (n_cohorts, K + 1)
        Customers of the cohort with a purchase in month ``k``.
    retention : DataFrame of float, shape (n_cohorts, K + 1)
        ``active / sizes`` (share, 0-1); column 0 is 1.0.
    revenue : DataFrame of float, shape (n_cohorts, K + 1)
        Net revenue (currency) of the cohort in month ``k``.
    revenue_retention : DataFrame of float, shape (n_cohorts, K + 1)
        ``revenue[k] / revenue[0]`` (ratio; NaN where month-0 revenue <= 0).
    cumulative_revenue_per_customer : DataFrame of float, shape (n_cohorts, K + 1)
        Cumulative net revenue of months 0..k per acquired customer (currency).
    left_censored : Series of bool, shape (n_cohorts,)
        True for the cohort of the first calendar month in the data, whose "new" customers
        may have bought before the data start.
    last_month_partial : bool
        True when the data end before the last day of their last calendar month.
    partial_cells : DataFrame of bool, shape (n_cohorts, K + 1)
        Cells that fall in the partial last calendar month (all False when it is complete).
    first_month, last_month : Period or None
        First and last calendar month of the data.
    data_start, data_end : Timestamp or None
        First and last invoice timestamps in the input (all rows, with or without customer).
    """

    sizes: pd.Series
    active: pd.DataFrame
    retention: pd.DataFrame
    revenue: pd.DataFrame
    revenue_retention: pd.DataFrame
    cumulative_revenue_per_customer: pd.DataFrame
    left_censored: pd.Series
    last_month_partial: bool
    partial_cells: pd.DataFrame
    first_month: pd.Period | None
    last_month: pd.Period | None
    data_start: pd.Timestamp | None
    data_end: pd.Timestamp | None


def _month_ordinals(dates: pd.Series) -> np.ndarray:
    """Months since 1970-01 (the ordinal of a monthly ``Period``)."""
    values = dates.to_numpy(dtype="datetime64[ns]")
    return values.astype("datetime64[M]").astype(np.int64)


def _empty(data_start, data_end, first_month, last_month, partial) -> CohortTables:
    idx = pd.PeriodIndex([], freq="M", name="cohort")
    cols = pd.Index([], dtype=np.int64, name="months_since")
    frame = pd.DataFrame(index=idx, columns=cols, dtype=np.float64)
    return CohortTables(
        sizes=pd.Series([], index=idx, dtype=np.int64, name="customers"),
        active=frame,
        retention=frame,
        revenue=frame,
        revenue_retention=frame,
        cumulative_revenue_per_customer=frame,
        left_censored=pd.Series([], index=idx, dtype=bool, name="left_censored"),
        last_month_partial=partial,
        partial_cells=frame.astype(bool),
        first_month=first_month,
        last_month=last_month,
        data_start=data_start,
        data_end=data_end,
    )


def cohort_tables(orders: pd.DataFrame) -> CohortTables:
    """Build monthly acquisition-cohort tables from the Orders table.

    Parameters
    ----------
    orders : DataFrame, shape (n_orders, ...)
        Invoice-level orders with at least ``customer_id`` (missing = no customer),
        ``invoice_date`` (datetime64), ``revenue`` (net, currency; negative for
        cancellations) and ``is_cancellation`` (bool).

    Returns
    -------
    CohortTables
        See the class and module docstrings for the definitions.
    """
    missing = [c for c in REQUIRED if c not in orders.columns]
    if missing:
        raise KeyError(f"orders is missing column(s) {missing}")

    dates = orders["invoice_date"]
    if not pd.api.types.is_datetime64_any_dtype(dates.dtype):
        dates = pd.to_datetime(dates)
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    valid_date = dates.notna().to_numpy()
    if not valid_date.any():
        return _empty(None, None, None, None, False)
    data_start = dates[valid_date].min()
    data_end = dates[valid_date].max()
    first_ord = int(np.datetime64(data_start, "M").astype(np.int64))
    last_ord = int(np.datetime64(data_end, "M").astype(np.int64))
    first_month = pd.Period(data_start, freq="M")
    last_month = pd.Period(data_end, freq="M")
    last_month_partial = bool(data_end.normalize() < last_month.end_time.normalize())

    codes, _ = pd.factorize(orders["customer_id"])
    keep = valid_date & (codes >= 0)
    codes = codes[keep].astype(np.int64)
    month = _month_ordinals(dates)[keep]
    revenue = orders["revenue"].to_numpy(dtype=np.float64, na_value=0.0)[keep]
    purchase = ~orders["is_cancellation"].to_numpy(dtype=bool, na_value=False)[keep]

    n_cust = int(codes.max()) + 1 if codes.size else 0
    big = np.iinfo(np.int64).max
    first = np.full(n_cust, big, dtype=np.int64)
    np.minimum.at(first, codes[purchase], month[purchase])
    has_cohort = first < big
    if not has_cohort.any():
        return _empty(data_start, data_end, first_month, last_month, last_month_partial)

    cohort_months, sizes = np.unique(first[has_cohort], return_counts=True)
    n_coh = cohort_months.size
    n_k = last_ord - int(cohort_months[0]) + 1  # months 0..K
    row_of_month = np.full(last_ord - first_ord + 1, -1, dtype=np.int64)
    row_of_month[cohort_months - first_ord] = np.arange(n_coh)

    cust_first = first[codes]
    k = month - cust_first
    in_cohort = has_cohort[codes] & (k >= 0)
    row = np.where(
        in_cohort, row_of_month[np.where(in_cohort, cust_first, first_ord) - first_ord], 0
    )
    cell = row * n_k + np.where(in_cohort, k, 0)

    # Active customers: unique (customer, month) among purchases.
    p = in_cohort & purchase
    cust_month = np.unique(
        codes[p] * (last_ord - first_ord + 1) + (month[p] - first_ord), return_index=True
    )[1]
    active = np.bincount(cell[p][cust_month], minlength=n_coh * n_k).reshape(n_coh, n_k)
    rev = np.bincount(cell[in_cohort], weights=revenue[in_cohort], minlength=n_coh * n_k).reshape(
        n_coh, n_k
    )

    return tables_from_cells(cohort_months, sizes, active, rev, data_start, data_end)


def tables_from_cells(
    cohort_months: np.ndarray,
    sizes: np.ndarray,
    active: np.ndarray,
    rev: np.ndarray,
    data_start: pd.Timestamp,
    data_end: pd.Timestamp,
) -> CohortTables:
    """The cohort matrices from per-cell aggregates (shared by the in-memory path and the SQL
    source).

    ``cohort_months``: month ordinals (int, ascending), one per cohort; ``sizes``: customers
    per cohort; ``active`` / ``rev``: arrays (n_cohorts, n_months_since) of active customers
    and net revenue (currency), months since acquisition 0..K with K up to the last month of
    the data; ``data_start`` / ``data_end``: the data's first and last day.
    """
    first_month = pd.Period(data_start, freq="M")
    last_month = pd.Period(data_end, freq="M")
    last_month_partial = bool(data_end.normalize() < last_month.end_time.normalize())
    first_ord, last_ord = first_month.ordinal, last_month.ordinal
    cohort_months = np.asarray(cohort_months, dtype=np.int64)
    ks = np.arange(active.shape[1])
    # Observed cells: cohort month + k <= last calendar month.
    observed = (cohort_months[:, None] + ks[None, :]) <= last_ord
    partial = (cohort_months[:, None] + ks[None, :] == last_ord) & last_month_partial

    active_f = np.where(observed, active.astype(np.float64), np.nan)
    rev_f = np.where(observed, rev, np.nan)
    size_f = np.asarray(sizes, dtype=np.float64)[:, None]
    retention = active_f / size_f
    month0 = rev[:, :1]
    with np.errstate(invalid="ignore", divide="ignore"):
        rev_ret = np.where(month0 > 0, rev_f / np.where(month0 > 0, month0, 1.0), np.nan)
    cum = np.where(observed, np.cumsum(rev, axis=1) / size_f, np.nan)

    idx = pd.PeriodIndex.from_ordinals(cohort_months, freq="M").rename("cohort")
    cols = pd.Index(ks, name="months_since")

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=idx, columns=cols)

    return CohortTables(
        sizes=pd.Series(np.asarray(sizes, dtype=np.int64), index=idx, name="customers"),
        active=frame(active_f),
        retention=frame(retention),
        revenue=frame(rev_f),
        revenue_retention=frame(rev_ret),
        cumulative_revenue_per_customer=frame(cum),
        left_censored=pd.Series(cohort_months == first_ord, index=idx, name="left_censored"),
        last_month_partial=last_month_partial,
        partial_cells=frame(partial),
        first_month=first_month,
        last_month=last_month,
        data_start=data_start,
        data_end=data_end,
    )


#: Fewest cohorts behind a point of the average cumulative-revenue curve (its tail rests
#: on the oldest cohorts only and would jump about).
AVERAGE_MIN_COHORTS = 3


def average_cumulative_revenue(
    tables: CohortTables, min_cohorts: int = AVERAGE_MIN_COHORTS
) -> pd.DataFrame:
    """Cumulative revenue per acquired customer, averaged over cohorts weighted by size.

    Leaves out the left-censored cohort and partial or unobserved cells; NaN where fewer than
    ``min_cohorts`` cohorts remain. Returns a frame indexed by ``months_since`` with
    ``cumulative_revenue_per_customer`` and ``cohorts`` (the number of cohorts behind it).
    """
    cum = tables.cumulative_revenue_per_customer
    usable = cum.notna() & ~tables.partial_cells
    usable.loc[tables.left_censored.to_numpy()] = False
    w = usable.mul(tables.sizes, axis=0)
    weight = w.sum(axis=0)
    n_cohorts = usable.sum(axis=0).astype(int)
    average = (cum.where(usable, 0.0) * w).sum(axis=0) / weight.where(weight > 0)
    average = average.where(n_cohorts >= min_cohorts)
    return pd.DataFrame({"cumulative_revenue_per_customer": average, "cohorts": n_cohorts})


def _months_active(code: np.ndarray, k: np.ndarray, n: int) -> list[str]:
    """Per customer code 0..n-1: its distinct months ``k`` in order, space-separated."""
    span = int(k.max()) + 1 if len(k) else 1
    if n * span <= _MONTH_MARKS_MAX:  # a mark per (customer, month): no sort
        marks = np.zeros((n, span), dtype=bool)
        marks[code, k] = True
        who, month = np.nonzero(marks)  # row-major: by customer, then month
    else:
        pairs = np.unique(code.astype(np.int64) * span + k)
        who, month = pairs // span, pairs % span
    cuts = np.searchsorted(who, np.arange(n + 1)).tolist()
    text = np.array([str(m) for m in range(span)], dtype=object)[month].tolist()
    return [" ".join(text[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


#: Largest customers x months grid :func:`_months_active` marks (bytes); beyond it, it sorts.
_MONTH_MARKS_MAX = 64_000_000


def _customer_codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each row's customer as a code into the customers' ids as text, sorted (the order
    ``groupby`` on the text gives): a categorical column's codes mapped through its
    categories, so the rows' ids are never turned into text one by one."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes, values = ids.cat.codes.to_numpy(), ids.cat.categories
    else:
        codes, values = pd.factorize(ids)
    text_codes, text = pd.factorize(pd.Index(values).astype(str), sort=True)
    return text_codes[codes], text


def customer_cohorts(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per customer with a cohort (the definitions above): ``customer_id``,
    ``cohort`` ("2010-12"), ``first_purchase`` and ``last_purchase`` (days), ``orders``
    (purchase invoices), ``revenue`` (net, cancellations before the cohort month ignored, as
    in the revenue matrix) and ``months_active``: the months since acquisition with a
    purchase, space-separated ("0 1 4"), so that the customers behind a retention cell
    ``[c, k]`` are those of cohort ``c`` whose months include ``k``."""
    columns = ["customer_id", "cohort", "first_purchase", "last_purchase", "orders", "revenue",
               "months_active"]  # fmt: skip
    known = orders.loc[
        orders["customer_id"].notna().to_numpy(),
        ["customer_id", "invoice_date", "is_cancellation", "revenue"],
    ]
    is_buy = ~known["is_cancellation"].to_numpy(dtype=bool)
    if not is_buy.any():
        return pd.DataFrame(columns=columns)
    # every row's customer as a code (0..m-1 over the customers with a purchase, in the
    # order of their ids as text), months as the periods' ordinals (months since 1970): no
    # text key, Period arithmetic or group-wise apply over every invoice
    all_code, ids = _customer_codes(known["customer_id"])
    buyers = np.flatnonzero(np.bincount(all_code[is_buy], minlength=len(ids)))
    position = np.full(len(ids), -1, dtype=np.int64)
    position[buyers] = np.arange(len(buyers))
    all_code = position[all_code]
    code = all_code[is_buy]
    index = pd.Index(ids[buyers])
    known_month = known["invoice_date"].dt.to_period("M").array.asi8
    month = known_month[is_buy]
    first = _reduce(np.minimum, month, code, len(index))
    first_month = pd.Series(pd.arrays.PeriodArray(first, dtype="period[M]"), index=index)
    months = pd.Series(_months_active(code, month - first[code], len(first)), index=index)
    dates = known["invoice_date"][is_buy]
    in_cohort = (all_code >= 0) & (known_month >= first[np.maximum(all_code, 0)])
    revenue = known["revenue"].to_numpy()[in_cohort]
    table = pd.DataFrame(
        {
            "cohort": first_month.astype(str),
            "first_purchase": _day(np.minimum, dates, code, index),
            "last_purchase": _day(np.maximum, dates, code, index),
            "orders": pd.Series(np.bincount(code, minlength=len(index)), index=index),
            "revenue": _by_code(pd.Series(revenue).groupby(all_code[in_cohort]).sum(), index),
            "months_active": months,
        }
    )
    table["revenue"] = table["revenue"].fillna(0.0).round(2)
    return table.rename_axis("customer_id").reset_index()[columns]


def _reduce(ufunc: np.ufunc, values: np.ndarray, code: np.ndarray, n: int) -> np.ndarray:
    """``ufunc`` (np.minimum or np.maximum) of int64 ``values`` per code 0..n-1 (each code
    has a value)."""
    start = np.iinfo(np.int64).max if ufunc is np.minimum else np.iinfo(np.int64).min
    out = np.full(n, start, dtype=np.int64)
    ufunc.at(out, code, values)
    return out


def _day(ufunc: np.ufunc, dates: pd.Series, code: np.ndarray, index: pd.Index) -> pd.Series:
    """The first (np.minimum) or last (np.maximum) day per customer, as "YYYY-MM-DD"
    (invoice dates are naive datetimes, as the cleaning leaves them)."""
    values = dates.to_numpy()
    if values.dtype.kind != "M":
        raise TypeError(f"invoice_date must be naive datetimes, not {dates.dtype}")
    picked = _reduce(ufunc, values.view(np.int64), code, len(index)).view(values.dtype)
    return pd.Series(picked, index=index).dt.strftime("%Y-%m-%d")


def _by_code(values: pd.Series, index: pd.Index) -> pd.Series:
    """A per-code result (indexed by codes 0..m-1, some perhaps missing) on the customers'
    ``index``."""
    return pd.Series(values.reindex(range(len(index))).to_numpy(), index=index)
