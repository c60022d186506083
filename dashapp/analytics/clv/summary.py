"""Calibration summary: a purchase log turned into the per-customer ``(x, t_x, T)`` table.

:func:`calibration_summary` builds the input of every model in this package (optionally with
holdout columns for :mod:`dashapp.analytics.clv.evaluate`); the time-unit constants and the
calendar-day helpers it uses live here too.

Time units
----------
Every duration (``t_x``, ``T``, horizons ``t``) is expressed in the summary's *time unit*:
``"D"`` = 1 day, ``"W"`` = 7 days, ``"M"`` = 30 days (see :data:`TIME_UNIT_DAYS`). A fit
remembers the unit it was fitted in (``fit.time_unit``); its rate parameters (``alpha``,
``beta``) are in that unit. CLV horizons are given in months of 30 days and converted to the
model's unit explicitly.

Conventions (Fader, Hardie & Lee 2005)
--------------------------------------
* Purchases are merged per calendar day: ``x`` = number of distinct purchase days minus one
  ("repeat purchases"), ``t_x`` = first to last purchase day, ``T`` = first purchase day to
  the end of calibration. A purchase on day ``d`` happens at time ``d - first_day``.
* ``monetary_value`` = mean of the day-level totals of the repeat days (the first day is
  excluded), 0 when ``x == 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TIME_UNIT_DAYS", "DAYS_PER_MONTH", "calibration_summary"]

#: Length of one time unit in days. "M" is a 30-day month (the lifetimes / pymc-marketing
#: convention), not a calendar month.
TIME_UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 30.0}

#: Days per month used to convert CLV horizons (months) into the model's time unit.
DAYS_PER_MONTH = 30.0


def _unit_days(time_unit: str) -> float:
    try:
        return TIME_UNIT_DAYS[time_unit]
    except KeyError:
        raise ValueError(
            f"time_unit must be one of {sorted(TIME_UNIT_DAYS)} (D = day, W = 7 days, "
            f"M = 30 days), got {time_unit!r}"
        ) from None


def _to_day_numbers(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Calendar day numbers (int64 days since 1970-01-01) and a validity mask."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = pd.to_datetime(s)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    valid = s.notna().to_numpy()
    days = s.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).astype("datetime64[D]")
    return days.astype(np.int64), valid


def _day_number(value: Any) -> int:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return int(np.datetime64(ts.normalize().date(), "D").astype(np.int64))


def _log_rows(
    log: pd.DataFrame,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    last_day: int,
) -> tuple[np.ndarray, Any, np.ndarray, np.ndarray]:
    """Customer codes (into the sorted ids), the ids, day numbers and amounts of the log
    rows with a customer and a date on or before ``last_day``."""
    for col in (customer_col, date_col) + ((amount_col,) if amount_col else ()):
        if col not in log.columns:
            raise KeyError(f"column {col!r} not in the log (columns: {list(log.columns)})")
    codes, uniques = pd.factorize(log[customer_col], sort=True)
    if isinstance(uniques.dtype, pd.CategoricalDtype):  # plain ids, not a CategoricalIndex
        uniques = uniques.astype(uniques.dtype.categories.dtype)
    days, valid = _to_day_numbers(log[date_col])
    keep = valid & (codes >= 0) & (days <= last_day)
    codes = codes[keep].astype(np.int64)
    days = days[keep]
    amounts = (
        log[amount_col].to_numpy(dtype=np.float64, na_value=0.0)[keep]
        if amount_col
        else np.zeros(codes.size)
    )
    return codes, uniques, days, amounts


def _customer_days(
    codes: np.ndarray, days: np.ndarray, amounts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows merged per (customer, day): customer code, day number and day total, sorted by
    customer then day."""
    d0 = int(days.min()) if days.size else 0
    span = int(days.max()) - d0 + 1 if days.size else 1
    key = codes * span + (days - d0)
    ukey, inv = np.unique(key, return_inverse=True)
    day_total = np.bincount(inv, weights=amounts, minlength=ukey.size)
    ucust = ukey // span
    uday = ukey % span + d0
    return ucust, uday, day_total


# Over 80 lines only through its docstring (it documents every output column).
def calibration_summary(
    log: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    calibration_end: Any,
    observation_end: Any = None,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Per-customer RFM summary ``(x, t_x, T)`` for BG/NBD, Pareto/NBD and Gamma-Gamma.

    Purchases are merged per calendar day (time of day is ignored; several orders on one day
    are one purchase whose amount is the day's total). Rows with a missing customer or date
    are ignored. Pass purchases only: drop cancellations / returns beforehand (a negative
    amount is simply added to its day's total).

    Parameters
    ----------
    log : DataFrame, shape (n_orders, ...)
        Purchase log, one row per order (or per line; rows are merged per customer-day).
    customer_col : str
        Customer id column.
    date_col : str
        Purchase timestamp column (datetime64, or anything :func:`pandas.to_datetime` parses).
    amount_col : str, optional
        Spend column (currency). When omitted, the monetary columns are not produced.
    calibration_end : date-like
        Last day of the calibration period, inclusive (purchases on that day count).
    observation_end : date-like, optional
        Last day of the holdout period, inclusive. When given, holdout columns are added.
    time_unit : {"D", "W", "M"}, default "W"
        Unit of ``recency``, ``T`` and ``duration_holdout``: D = 1 day, W = 7 days,
        M = 30 days.

    Returns
    -------
    DataFrame, shape (n_customers, 4 to 8)
        Indexed by customer id (sorted; a categorical id column gives plain values), only
        customers whose first purchase is on or before ``calibration_end``. Columns:

        - ``frequency`` (int): repeat purchase days in calibration, ``x`` = distinct days - 1.
        - ``recency`` (float, time units): first to last calibration purchase day, ``t_x``.
        - ``T`` (float, time units): first purchase day to ``calibration_end``.
        - ``monetary_value`` (float, currency): mean day total of the repeat days (first day
          excluded); 0 when ``frequency == 0``. Only with ``amount_col``.
        - ``frequency_holdout`` (int): purchase days in ``(calibration_end, observation_end]``.
        - ``monetary_holdout`` (float, currency): total spend in the holdout period (with
          ``amount_col``).
        - ``duration_holdout`` (float, time units): length of the holdout period.

        ``attrs`` holds ``time_unit``, ``calibration_end`` and ``observation_end``.
    """
    unit = _unit_days(time_unit)
    cal_day = _day_number(calibration_end)
    obs_day = None if observation_end is None else _day_number(observation_end)
    if obs_day is not None and obs_day < cal_day:
        raise ValueError("observation_end must not be before calibration_end")
    last_day = cal_day if obs_day is None else obs_day
    codes, uniques, days, amounts = _log_rows(log, customer_col, date_col, amount_col, last_day)
    n_cust = len(uniques)

    # One row per (customer, day), sorted by customer then day.
    ucust, uday, day_total = _customer_days(codes, days, amounts)

    in_cal = uday <= cal_day
    cc, cd, ca = ucust[in_cal], uday[in_cal], day_total[in_cal]
    starts = np.flatnonzero(np.r_[True, cc[1:] != cc[:-1]]) if cc.size else np.array([], int)
    ends = np.r_[starts[1:], cc.size] - 1 if cc.size else np.array([], int)
    cust = cc[starts]
    first = cd[starts]
    n_days = ends - starts + 1
    x = n_days - 1

    out = pd.DataFrame(
        {
            "frequency": x.astype(np.int64),
            "recency": (cd[ends] - first) / unit,
            "T": (cal_day - first) / unit,
        },
        index=pd.Index(uniques[cust], name=customer_col),
    )
    if amount_col:
        total = np.add.reduceat(ca, starts) if ca.size else np.array([])
        repeat_total = total - ca[starts] if ca.size else np.array([])
        out["monetary_value"] = np.divide(
            repeat_total, x, out=np.zeros(x.size, dtype=np.float64), where=x > 0
        )
    if obs_day is not None:
        hold = ~in_cal
        h_cnt = np.bincount(ucust[hold], minlength=n_cust)
        out["frequency_holdout"] = h_cnt[cust].astype(np.int64)
        if amount_col:
            h_rev = np.bincount(ucust[hold], weights=day_total[hold], minlength=n_cust)
            out["monetary_holdout"] = h_rev[cust]
        out["duration_holdout"] = (obs_day - cal_day) / unit
    out.attrs.update(
        time_unit=time_unit,
        calibration_end=pd.Timestamp(np.datetime64(cal_day, "D")),
        observation_end=None if obs_day is None else pd.Timestamp(np.datetime64(obs_day, "D")),
    )
    return out
