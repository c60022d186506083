"""Customer lifetime value from a fitted purchase model and a fitted spend model.

:func:`customer_clv` combines a BG/NBD, MBG/NBD or Pareto/NBD fit (expected purchases, P(alive)) with
a Gamma-Gamma fit (expected spend per purchase) into a discounted, margin-adjusted CLV per
customer over a horizon of 30-day months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashapp.analytics.clv._fit import _compress, _require_params
from dashapp.analytics.clv.gamma_gamma import GammaGammaFit
from dashapp.analytics.clv.models import PurchaseFit
from dashapp.analytics.clv.summary import DAYS_PER_MONTH, _unit_days

__all__ = ["customer_clv"]


def _clv_settings(
    fit_purchase: PurchaseFit,
    summary: pd.DataFrame,
    *,
    horizon_months: int,
    monthly_discount_rate: float | None,
    annual_discount_rate: float,
    margin: float,
    time_unit: str | None,
) -> tuple[float, float]:
    """Check the settings of :func:`customer_clv`; return the monthly discount rate and the
    length of a 30-day month in the model's time unit."""
    unit = time_unit or fit_purchase.time_unit
    if unit != fit_purchase.time_unit:
        raise ValueError(
            f"summary time unit {unit!r} differs from the model's {fit_purchase.time_unit!r}"
        )
    s_unit = summary.attrs.get("time_unit")
    if s_unit is not None and s_unit != unit:
        raise ValueError(f"summary was built in time unit {s_unit!r}, the model in {unit!r}")
    if horizon_months < 0:
        raise ValueError("horizon_months must be >= 0")
    if margin < 0:
        raise ValueError("margin must be >= 0")
    d = (
        float(monthly_discount_rate)
        if monthly_discount_rate is not None
        else (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0
    )
    if d <= -1.0:
        raise ValueError("discount rate must be > -100%")
    month = DAYS_PER_MONTH / _unit_days(unit)
    return d, month


def _purchases_over_horizon(
    fit_purchase: PurchaseFit,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
    horizon_months: int,
    month: float,
    d: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: discounted and undiscounted expected purchases over the horizon,
    P(alive) and the discounted expected purchases if alive now, evaluated once per distinct
    ``(x, t_x, T)``. The conditional expectation is P(alive) x the expectation given alive
    (both models), so the first is the last times P(alive)."""
    (ux, utx, uT), _, inv = _compress([x, tx, T], np.ones(x.size))
    h = np.arange(0, horizon_months + 1, dtype=np.float64)[:, None] * month
    cum_if_alive = fit_purchase.expected_purchases_if_alive(h, ux[None, :], uT[None, :])
    increments = np.maximum(np.diff(cum_if_alive, axis=0), 0.0)  # (H, n_unique)
    disc = (1.0 + d) ** -np.arange(1, horizon_months + 1, dtype=np.float64)
    disc_if_alive = np.sum(disc[:, None] * increments, axis=0)
    palive = _unique_p_alive(fit_purchase, ux, utx, uT)
    disc_purchases = (disc_if_alive * palive)[inv]
    exp_purchases = (cum_if_alive[-1] * palive)[inv]
    return disc_purchases, exp_purchases, palive[inv], disc_if_alive[inv]


def _unique_p_alive(fit_purchase: PurchaseFit, ux, utx, uT) -> np.ndarray:
    """P(alive) of the distinct ``(x, t_x, T)`` rows (one place, so that
    :func:`customer_p_alive` and :func:`customer_clv` give the same floats)."""
    return fit_purchase.p_alive(ux, utx, uT)


def customer_p_alive(fit_purchase: PurchaseFit, summary: pd.DataFrame) -> pd.Series:
    """P(alive) per customer of ``summary`` (index of ``summary``), exactly the ``p_alive``
    of :func:`customer_clv` (the same rows, compressed the same way) without the horizon's
    expected purchases and spend: for a list that needs one model's P(alive) alone."""
    _require_params(fit_purchase, "purchase")
    x, tx, T = (summary[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    (ux, utx, uT), _, inv = _compress([x, tx, T], np.ones(x.size))
    return pd.Series(_unique_p_alive(fit_purchase, ux, utx, uT)[inv], index=summary.index)


# Over 80 lines only through its docstring (formula, parameters); the body is ~35 lines.
def customer_clv(
    fit_purchase: PurchaseFit,
    fit_spend: GammaGammaFit,
    summary: pd.DataFrame,
    *,
    horizon_months: int = 12,
    monthly_discount_rate: float | None = None,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
    time_unit: str | None = None,
) -> pd.DataFrame:
    """Discounted customer lifetime value over a horizon, per customer.

    As lifetimes / pymc-marketing compute it, with an explicit margin::

        CLV = sum_{i=1..H} (E[Y(i months)] - E[Y((i-1) months)]) * E[spend] * margin / (1+d)^i

    where ``E[Y(t)]`` is the purchase model's conditional expected purchases, a month is
    30 days converted to the model's time unit (``30 / 7`` weeks for "W"), ``E[spend]`` is
    the Gamma-Gamma conditional expected spend per purchase and ``d`` the monthly discount
    rate (``(1 + annual)^(1/12) - 1`` unless ``monthly_discount_rate`` is given).

    Parameters
    ----------
    fit_purchase : BetaGeoFit, ModifiedBetaGeoFit or ParetoNBDFit
    fit_spend : GammaGammaFit
    summary : DataFrame, shape (n_customers, ...)
        Columns ``frequency``, ``recency``, ``T`` (in the model's time unit) and
        ``monetary_value`` (currency), e.g. from :func:`calibration_summary`.
    horizon_months : int, default 12
        Number of 30-day months ``H``.
    monthly_discount_rate : float, optional
        Monthly discount rate; overrides ``annual_discount_rate``.
    annual_discount_rate : float, default 0.10
    margin : float, default 1.0
        Profit margin applied to the spend (1.0 = revenue CLV).
    time_unit : {"D", "W", "M"}, optional
        Unit of the summary's durations; defaults to ``fit_purchase.time_unit`` and must
        match it.

    Returns
    -------
    DataFrame, shape (n_customers, 6), index of ``summary``
        ``p_alive`` (probability), ``expected_purchases`` (purchases over the horizon),
        ``expected_aov`` (currency per purchase), ``clv`` (currency, discounted, margin
        applied, >= 0), ``clv_if_alive`` (the same value for a customer known to be alive
        now, so ``clv = clv_if_alive x p_alive``), ``rank`` (int, 1 = highest CLV). ``expected_aov`` and ``clv`` are
        NaN only when the spend model has ``q <= 1`` (infinite population mean) for
        customers without repeat spend; they rank last.

    Raises
    ------
    ValueError
        If a model has no usable parameters or time units disagree.
    """
    _require_params(fit_purchase, "purchase")
    _require_params(fit_spend, "spend")
    d, month = _clv_settings(
        fit_purchase,
        summary,
        horizon_months=horizon_months,
        monthly_discount_rate=monthly_discount_rate,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        time_unit=time_unit,
    )

    x = summary["frequency"].to_numpy(dtype=np.float64)
    tx = summary["recency"].to_numpy(dtype=np.float64)
    T = summary["T"].to_numpy(dtype=np.float64)
    mv = summary["monetary_value"].to_numpy(dtype=np.float64)

    disc_purchases, exp_purchases, palive, disc_if_alive = _purchases_over_horizon(
        fit_purchase, x, tx, T, horizon_months, month, d
    )
    aov = fit_spend.expected_spend(x, mv)
    clv = np.maximum(disc_purchases * aov * margin, 0.0)
    out = pd.DataFrame(
        {
            "p_alive": palive,
            "expected_purchases": exp_purchases,
            "expected_aov": aov,
            "clv": clv,
            "clv_if_alive": np.maximum(disc_if_alive * aov * margin, 0.0),
        },
        index=summary.index,
    )
    out["rank"] = (
        out["clv"].rank(ascending=False, method="first", na_option="bottom").astype(np.int64)
    )
    return out
