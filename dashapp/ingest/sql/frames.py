"""Rows of the SQL source's statements -> the frames of the in-memory path: the Overview's
result and monthly table, the ``rfm.customer_rfm`` frame (and :func:`rebase_as_of`), the BG/NBD
calibration summary, and the cohort cells (:class:`CohortCells`, which the analytics layer's
``cohorts.tables_from_cells`` turns into the cohort tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from dashapp.ingest.sql.statements import _CalibrationWindow

_MONTH0 = 1970 * 12  # month key of 1970-01 (month keys are year * 12 + month - 1)


def _timestamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")


def _day_numbers(keys: pd.Series) -> np.ndarray:
    """yyyymmdd integers -> days since 1970-01-01."""
    k = keys.astype(np.int64).to_numpy()
    dates = pd.to_datetime(
        pd.DataFrame({"year": k // 10000, "month": k // 100 % 100, "day": k % 100})
    )
    return dates.to_numpy(dtype="datetime64[D]").astype(np.int64)


def _empty_rfm(as_of: pd.Timestamp) -> pd.DataFrame:
    """``rfm.customer_rfm``'s result without customers (same columns, dtypes and index)."""
    out = pd.DataFrame(
        {
            "recency": np.zeros(0, np.int64),
            "frequency": np.zeros(0, np.int64),
            "monetary": np.zeros(0),
            "first_purchase": np.zeros(0, "datetime64[ns]"),
            "last_purchase": np.zeros(0, "datetime64[ns]"),
            "tenure": np.zeros(0, np.int64),
            "aov": np.zeros(0),
        },
        index=pd.Index([], name="customer_id", dtype=str),
    )
    out.attrs["as_of"] = as_of
    return out


def _rfm_frame(cust: pd.DataFrame, max_ts, as_of) -> pd.DataFrame:
    """``rfm.customer_rfm``'s frame from per-customer aggregates."""
    if as_of is not None and as_of != "":
        as_of = pd.Timestamp(as_of).normalize()
    elif max_ts is None or pd.isna(max_ts):
        as_of = pd.Timestamp.today().normalize()
    else:
        as_of = pd.Timestamp(max_ts).normalize() + pd.Timedelta(days=1)
    cust = cust[cust["frequency"].astype(np.int64) > 0]
    if cust.empty:
        return _empty_rfm(as_of)
    ids = cust["customer_id"].astype(str).to_numpy(dtype=object)
    order = np.argsort(ids, kind="stable")
    cust = cust.iloc[order]
    first = _timestamps(cust["first"]).to_numpy().astype("datetime64[D]")
    last = _timestamps(cust["last"]).to_numpy().astype("datetime64[D]")
    as_of_day = np.datetime64(as_of.date(), "D").astype(np.int64)
    out = pd.DataFrame(
        {
            "recency": (as_of_day - last.astype(np.int64)).astype(np.int64),
            "frequency": cust["frequency"].to_numpy().astype(np.int64),
            "monetary": np.round(cust["monetary"].to_numpy().astype(np.float64), 2),
            "first_purchase": first.astype("datetime64[ns]"),
            "last_purchase": last.astype("datetime64[ns]"),
            "tenure": (as_of_day - first.astype(np.int64)).astype(np.int64),
        },
        index=pd.Index(ids[order], name="customer_id"),
    )
    out["aov"] = np.round(out["monetary"] / out["frequency"], 2)
    out.attrs["as_of"] = as_of
    return out


def rebase_as_of(customers: pd.DataFrame, as_of) -> pd.DataFrame:
    """A ``customer_rfm`` frame with another reference date, without a query: only
    ``recency`` and ``tenure`` depend on it. Equal to ``rfm.customer_rfm(orders, as_of)`` when
    ``customers`` is ``rfm.customer_rfm(orders)`` (or :meth:`SqlSource.customer_rfm`)."""
    as_of = pd.Timestamp(as_of).normalize()
    out = customers.copy()
    if len(out):
        day = np.datetime64(as_of.date(), "D").astype(np.int64)
        for col, src in (("recency", "last_purchase"), ("tenure", "first_purchase")):
            days = out[src].to_numpy().astype("datetime64[D]").astype(np.int64)
            out[col] = (day - days).astype(np.int64)
    out.attrs["as_of"] = as_of
    return out


def _monthly_frame(m: pd.DataFrame, bounds: pd.Series, start, end) -> pd.DataFrame:
    """The Overview's monthly table (``service._monthly``) from per-month aggregates."""
    cols = ["month", "revenue", "customer_revenue", "orders", "customers", "partial"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    m = m.sort_values("month").reset_index(drop=True)
    months = pd.Series(
        pd.PeriodIndex.from_ordinals(m["month"].to_numpy().astype(np.int64) - _MONTH0, freq="M")
    )
    starts = months.dt.start_time
    ends = months.dt.end_time.dt.normalize()
    first_day = max(
        pd.Timestamp(bounds["first"]).normalize(),
        pd.Timestamp(start) if start else pd.Timestamp.min,
    )
    last_day = min(
        pd.Timestamp(bounds["last"]).normalize(), pd.Timestamp(end) if end else pd.Timestamp.max
    )
    return pd.DataFrame(
        {
            "month": starts,
            "revenue": m["revenue"].astype(np.float64),
            "customer_revenue": m["customer_revenue"].astype(np.float64),
            "orders": m["orders"].astype(np.int64),
            "customers": m["customers"].astype(np.int64),
            "partial": (starts < first_day) | (ends > last_day),
        }
    )[cols]


def _overview_result(ledger: pd.DataFrame, got: Mapping[str, pd.DataFrame], start, end) -> dict:
    m = got["month"]
    n_orders = int(m["orders"].sum()) if len(m) else 0
    revenue = float(m["revenue"].astype(float).sum()) if len(m) else 0.0
    purchase_revenue = float(m["purchase_revenue"].astype(float).sum()) if len(m) else 0.0
    buyers = int(got["buyers"]["buyers"].iloc[0] or 0)
    repeat = int(got["buyers"]["repeat"].iloc[0] or 0)
    kpis = {
        "net_revenue": revenue,
        "cancellation_revenue": revenue - purchase_revenue,
        "customers": buyers,
        "orders": n_orders,
        "aov": purchase_revenue / n_orders if n_orders else float("nan"),
        "repeat_rate": repeat / buyers if buyers else float("nan"),
        "unknown_customer_revenue": float(m["unknown_revenue"].astype(float).sum())
        if len(m)
        else 0.0,
    }
    monthly = _monthly_frame(m, got["all"].iloc[0], start, end)
    return {
        "kpis": kpis,
        "monthly": monthly,
        "ledger": ledger,
        "rows_in": ledger.attrs.get("rows_in"),
        "rows_out": ledger.attrs.get("rows_out"),
    }


def _calibration_frame(got: pd.DataFrame, w: _CalibrationWindow) -> pd.DataFrame:
    """``clv_models.calibration_summary``'s frame from per-customer day aggregates. Its
    ``attrs`` hold ``calibration_end`` and ``observation_end``; ``time_unit`` (the unit's
    name, which ``clv_models.customer_clv`` checks) is the caller's to add: the SQL source
    knows the unit in days only."""
    cal, obs, unit = w.cal, w.obs, w.unit
    got = got.iloc[np.argsort(got["customer_id"].astype(str).to_numpy(dtype=object), kind="stable")]
    cal_day = int(np.datetime64(cal.date(), "D").astype(np.int64))
    if len(got):
        first = _day_numbers(got["first"])
        last = _day_numbers(got["last"])
    else:
        first = last = np.zeros(0, dtype=np.int64)
    x = got["n_days"].to_numpy().astype(np.int64) - 1
    out = pd.DataFrame(
        {"frequency": x, "recency": (last - first) / unit, "T": (cal_day - first) / unit},
        index=pd.Index(
            got["customer_id"].astype(str).to_numpy(dtype=object), dtype="str", name="customer_id"
        ),
    )
    repeat_total = got["repeat_total"].to_numpy().astype(np.float64)
    out["monetary_value"] = np.divide(
        repeat_total, x, out=np.zeros(x.size, dtype=np.float64), where=x > 0
    )
    if obs is not None:
        out["frequency_holdout"] = got["h_days"].to_numpy().astype(np.int64)
        out["monetary_holdout"] = got["h_revenue"].to_numpy().astype(np.float64)
        out["duration_holdout"] = (obs - cal).days / unit
    out.attrs.update(calibration_end=cal, observation_end=obs)
    return out


# eq=False: the fields are arrays, whose == is elementwise
@dataclass(frozen=True, eq=False)
class CohortCells:
    """The cohort cells of the filtered orders as plain data: exactly the arguments of
    the analytics layer's ``cohorts.tables_from_cells``, so that

        tables_from_cells(**dataclasses.asdict(cells))

    is ``cohorts.cohort_tables(filtered orders)`` (``cells.as_arguments()`` gives the same
    arguments without copying the arrays). Without any filtered order ``data_start``
    and ``data_end`` are None and the arrays empty: ``tables_from_cells`` needs the dates, and
    the tables are those of an empty orders table, ``cohorts.cohort_tables(pd.DataFrame(
    columns=["customer_id", "invoice_date", "revenue", "is_cancellation"]))``.

    Attributes
    ----------
    cohort_months : ndarray of int64, shape (n_cohorts,)
        Month ordinals (months since 1970-01, ascending), one per cohort.
    sizes : ndarray of int64, shape (n_cohorts,)
        Customers acquired in each cohort month.
    active, rev : ndarray of float64, shape (n_cohorts, n_months_since)
        Customers with a purchase and net revenue (currency) in months 0..K since acquisition,
        K up to the last month of the data.
    data_start, data_end : Timestamp or None
        First and last invoice timestamps of the filtered orders.
    """

    cohort_months: np.ndarray
    sizes: np.ndarray
    active: np.ndarray
    rev: np.ndarray
    data_start: pd.Timestamp | None
    data_end: pd.Timestamp | None

    def as_arguments(self) -> dict:
        """The fields as keyword arguments of ``cohorts.tables_from_cells``: those of
        ``dataclasses.asdict(self)``, without copying the arrays."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _no_cohorts(data_start, data_end) -> CohortCells:
    """Cells without any cohort (no customer with a purchase)."""
    months, sizes = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return CohortCells(months, sizes, np.zeros((0, 0)), np.zeros((0, 0)), data_start, data_end)


def _cohort_cells(cell: pd.DataFrame, size: pd.DataFrame, bounds: pd.Series) -> CohortCells:
    """The cells of ``cohorts.cohort_tables``' matrices from (cohort month, months since)
    aggregates (see :class:`CohortCells`)."""
    if bounds["first"] is None or pd.isna(bounds["first"]):
        return _no_cohorts(None, None)
    data_start, data_end = pd.Timestamp(bounds["first"]), pd.Timestamp(bounds["last"])
    if size.empty:
        return _no_cohorts(data_start, data_end)
    last_ord = pd.Period(data_end, freq="M").ordinal
    size = size.sort_values("cohort")
    cohort_months = size["cohort"].to_numpy().astype(np.int64) - _MONTH0
    sizes = size["customers"].to_numpy().astype(np.int64)
    n_coh = cohort_months.size
    n_k = last_ord - int(cohort_months[0]) + 1
    row_of = {int(m): i for i, m in enumerate(cohort_months)}
    active = np.zeros((n_coh, n_k))
    rev = np.zeros((n_coh, n_k))
    rows = np.array(
        [row_of[int(m) - _MONTH0] for m in cell["cohort"].astype(np.int64)], dtype=np.int64
    )
    ks = cell["k"].to_numpy().astype(np.int64)
    active[rows, ks] = cell["active"].to_numpy().astype(np.float64)
    rev[rows, ks] = cell["revenue"].to_numpy().astype(np.float64)
    return CohortCells(cohort_months, sizes, active, rev, data_start, data_end)
