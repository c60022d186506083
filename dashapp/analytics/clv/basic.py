"""Basic (historic) customer lifetime value from the RFM customer table.

Pure module (numpy, pandas). Input is the customer table of ``rfm.customer_rfm`` (see
docs/architecture.md): index ``customer_id``; columns ``recency`` (days), ``frequency``
(distinct purchase invoices), ``monetary`` (net revenue, currency), ``first_purchase``,
``last_purchase``, ``tenure`` (days from first purchase to the as-of date), ``aov``
(``monetary / frequency``).

These are descriptive rules of thumb; :mod:`dashapp.analytics.clv` has the probabilistic models
(BG/NBD, Pareto/NBD, Gamma-Gamma) that forecast purchases and account for churn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ranking_index", "historic_clv"]

DAYS_PER_YEAR = 365.0


def ranking_index(customers: pd.DataFrame) -> pd.Series:
    """Frequency x monetary: a score for ranking customers, **not** a money amount.

    ``monetary`` already sums all of a customer's orders, so ``frequency * monetary`` equals
    ``frequency^2 * aov``: it grows with the square of the order count and has units of
    orders x currency. Use it to sort customers, never to report value.

    Parameters
    ----------
    customers : DataFrame, shape (n_customers, ...)
        Columns ``frequency`` (orders) and ``monetary`` (net revenue, currency).

    Returns
    -------
    Series of float, shape (n_customers,), named ``ranking_index``
        Negative when net revenue is negative (returns exceed purchases).
    """
    f = customers["frequency"].astype(np.float64)
    m = customers["monetary"].astype(np.float64)
    return (f * m).rename("ranking_index")


def historic_clv(
    customers: pd.DataFrame,
    *,
    margin: float = 0.3,
    lifespan_years: float = 3.0,
    period_days: float = 365.0,
    min_tenure_days: float = 30.0,
) -> pd.DataFrame:
    """Historic CLV = average order value x purchase rate x expected lifespan x margin.

    The purchase rate is measured over each customer's **own tenure** (first purchase to the
    as-of date, the ``tenure`` column), not over the whole observation window, so customers
    acquired late are not penalised for the months before they existed. Tenure is floored at
    ``min_tenure_days`` so that a customer who bought yesterday does not get an absurd rate
    (1 order in 1 day = 365 orders a year); with the default 30 days a brand-new one-order
    customer is rated at about 12 orders a year, an optimistic upper bound: read historic CLV
    of very new customers with care (the probabilistic models handle this properly).

    ``period_days`` only sets the unit in which ``purchase_rate`` and ``lifespan_periods``
    are reported; the CLV itself does not depend on it::

        purchase_rate    = frequency / max(tenure, min_tenure_days) * period_days
        lifespan_periods = lifespan_years * 365 / period_days
        clv              = max(aov, 0) * purchase_rate * lifespan_periods * margin

    Parameters
    ----------
    customers : DataFrame, shape (n_customers, ...)
        Columns ``frequency`` (orders), ``tenure`` (days) and ``aov`` (currency per order;
        computed as ``monetary / frequency`` when absent).
    margin : float, default 0.3
        Profit margin in [0, 1] (0.3 = 30% of revenue is profit).
    lifespan_years : float, default 3.0
        Expected remaining customer lifespan in years (365 days).
    period_days : float, default 365
        Length of the reporting period in days (365 = rates per year).
    min_tenure_days : float, default 30
        Floor on the tenure used for the rate, in days.

    Returns
    -------
    DataFrame, shape (n_customers, 4), index of ``customers``
        ``aov`` (currency per order, negative values clipped to 0: customers whose returns
        exceed their purchases are worth nothing, not a negative amount), ``purchase_rate``
        (orders per period), ``lifespan_periods`` (periods), ``clv`` (currency, >= 0).
    """
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    if lifespan_years < 0:
        raise ValueError("lifespan_years must be >= 0")
    if period_days <= 0 or min_tenure_days <= 0:
        raise ValueError("period_days and min_tenure_days must be > 0")

    freq = customers["frequency"].to_numpy(dtype=np.float64, na_value=0.0)
    if "aov" in customers.columns:
        aov = customers["aov"].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        monetary = customers["monetary"].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            aov = np.where(freq > 0, monetary / freq, np.nan)
    aov = np.clip(np.nan_to_num(aov, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    tenure = customers["tenure"].to_numpy(dtype=np.float64, na_value=np.nan)
    tenure = np.fmax(np.nan_to_num(tenure, nan=min_tenure_days), min_tenure_days)

    rate = np.maximum(freq, 0.0) / tenure * period_days
    lifespan_periods = lifespan_years * DAYS_PER_YEAR / period_days
    clv = aov * rate * lifespan_periods * margin
    return pd.DataFrame(
        {
            "aov": aov,
            "purchase_rate": rate,
            "lifespan_periods": np.full(len(customers), lifespan_periods),
            "clv": clv,
        },
        index=customers.index,
    )
