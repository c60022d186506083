"""Model checking: how well fitted CLV models describe the data.

:func:`holdout_scorecard` (holdout forecasts against what happened and a naive baseline),
:func:`tracking_series` (actual vs model repeat purchases over time), :func:`p_alive_matrix`
(P(alive) over a frequency x recency grid) and :func:`gamma_gamma_independence` (the
Gamma-Gamma assumption that spend does not depend on frequency).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from dashapp.analytics.clv._fit import _require_params
from dashapp.analytics.clv.gamma_gamma import GammaGammaFit
from dashapp.analytics.clv.models import PurchaseFit
from dashapp.analytics.clv.summary import _day_number, _to_day_numbers, _unit_days

__all__ = ["holdout_scorecard", "tracking_series", "p_alive_matrix", "gamma_gamma_independence"]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return float("nan")
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _top_share(pred: np.ndarray, actual: np.ndarray, share: float = 0.10) -> float:
    total = actual.sum()
    if actual.size == 0 or total <= 0:
        return float("nan")
    k = max(1, int(math.ceil(share * actual.size)))
    top = np.argsort(-pred, kind="stable")[:k]
    return float(actual[top].sum() / total)


def _scorecard_rows(
    model_n: np.ndarray,
    base_n: np.ndarray,
    actual_n: np.ndarray,
    revenue: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
) -> dict[str, tuple[float, float, float]]:
    """Metric -> (model, baseline, actual) of :func:`holdout_scorecard`, from the holdout
    purchases and ``revenue`` (model, baseline, actual) per customer; without ``revenue``
    the revenue rows are NaN."""
    has_money = revenue is not None
    if revenue is not None:
        model_rev, base_rev, actual_rev = revenue
    nan = float("nan")
    rows = {
        "total_purchases": (model_n.sum(), base_n.sum(), actual_n.sum()),
        "total_revenue": (
            (model_rev.sum(), base_rev.sum(), actual_rev.sum()) if has_money else (nan,) * 3
        ),
        "mae_purchases": (
            np.abs(model_n - actual_n).mean() if actual_n.size else nan,
            np.abs(base_n - actual_n).mean() if actual_n.size else nan,
            0.0,
        ),
        "spearman_purchases": (_spearman(model_n, actual_n), _spearman(base_n, actual_n), nan),
        "spearman_revenue": (
            (_spearman(model_rev, actual_rev), _spearman(base_rev, actual_rev), nan)
            if has_money
            else (nan,) * 3
        ),
        "top10_revenue_share": (
            (
                _top_share(model_rev, actual_rev),
                _top_share(base_rev, actual_rev),
                _top_share(actual_rev, actual_rev),
            )
            if has_money
            else (nan,) * 3
        ),
        "n_customers": (float(actual_n.size),) * 3,
    }
    return rows


def holdout_scorecard(
    summary_with_holdout: pd.DataFrame,
    fit_purchase: PurchaseFit,
    fit_spend: GammaGammaFit | None = None,
) -> pd.DataFrame:
    """Compare model forecasts for the holdout period with what happened, and with a naive
    baseline.

    Model: purchases = conditional expected purchases over ``duration_holdout``; revenue =
    purchases x Gamma-Gamma expected spend. Baseline: each customer keeps their calibration
    repeat rate ``x / T`` (0 when ``T == 0``) and their historic mean repeat spend
    ``monetary_value``.

    Parameters
    ----------
    summary_with_holdout : DataFrame, shape (n_customers, ...)
        Output of :func:`calibration_summary` with ``observation_end`` (and ``amount_col``
        for the revenue rows).
    fit_purchase : BetaGeoFit, ModifiedBetaGeoFit or ParetoNBDFit
    fit_spend : GammaGammaFit, optional
        Without it (or without monetary columns) the revenue rows are NaN.

    Returns
    -------
    DataFrame, shape (7, 3)
        Rows ``total_purchases``, ``total_revenue`` (sums over customers; purchases are
        purchase days), ``mae_purchases`` (mean absolute error per customer),
        ``spearman_purchases``, ``spearman_revenue`` (rank correlation of predicted and
        actual), ``top10_revenue_share`` (share of holdout revenue from the predicted top 10%
        of customers), ``n_customers``; columns ``model``, ``baseline``, ``actual`` (for
        ``top10_revenue_share`` the actual column is the best achievable share).
    """
    s = summary_with_holdout
    for col in ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"):
        if col not in s.columns:
            raise KeyError(
                f"summary needs column {col!r} (calibration_summary with observation_end)"
            )
    x = s["frequency"].to_numpy(dtype=np.float64)
    tx = s["recency"].to_numpy(dtype=np.float64)
    T = s["T"].to_numpy(dtype=np.float64)
    dur = s["duration_holdout"].to_numpy(dtype=np.float64)
    actual_n = s["frequency_holdout"].to_numpy(dtype=np.float64)
    model_n = fit_purchase.expected_purchases(dur, x, tx, T)
    rate = np.divide(x, T, out=np.zeros_like(x), where=T > 0)
    base_n = rate * dur

    has_money = (
        fit_spend is not None
        and all(np.isfinite(v) for v in fit_spend.params.values())
        and {"monetary_value", "monetary_holdout"} <= set(s.columns)
    )
    revenue = None
    if has_money and fit_spend is not None:
        mv = s["monetary_value"].to_numpy(dtype=np.float64)
        actual_rev = s["monetary_holdout"].to_numpy(dtype=np.float64)
        model_rev = model_n * np.nan_to_num(fit_spend.expected_spend(x, mv))
        base_rev = base_n * np.where(x > 0, mv, 0.0)
        revenue = (model_rev, base_rev, actual_rev)
    rows = _scorecard_rows(model_n, base_n, actual_n, revenue)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["model", "baseline", "actual"])
    out.index.name = "metric"
    return out.astype(np.float64)


def _cohort_purchase_days(
    log: pd.DataFrame, customer_col: str, date_col: str, cal_day: int, obs_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customer codes and day numbers of the purchases up to ``obs_day`` by the calibrated
    cohort, each customer's first purchase day and the cohort mask (first day on or before
    ``cal_day``), indexed by customer code."""
    codes, _ = pd.factorize(log[customer_col])
    days, valid = _to_day_numbers(log[date_col])
    keep = valid & (codes >= 0) & (days <= obs_day)
    codes, days = codes[keep].astype(np.int64), days[keep]
    n_cust = int(codes.max()) + 1 if codes.size else 0
    first = np.full(n_cust, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, days)
    cohort = first <= cal_day
    sel = cohort[codes]
    codes, days = codes[sel], days[sel]
    return codes, days, first, cohort


def _model_cumulative(
    fit: PurchaseFit, first: np.ndarray, period_end: np.ndarray, unit: float
) -> np.ndarray:
    """Model cumulative repeat purchases of the cohort (first purchase days ``first``) at
    each ``period_end`` day: ``sum_i E[X(t_end - first_i)]``, time in ``fit.time_unit``."""
    f_days, f_counts = np.unique(first, return_counts=True)
    t = (period_end[None, :] - f_days[:, None]) / unit  # (n_first_days, n_periods)
    ex = np.where(t > 0, fit.expected_purchases_unconditional(np.maximum(t, 0.0)), 0.0)
    return np.sum(f_counts[:, None] * ex, axis=0)


# Over 80 lines only through its docstring; the body is ~45 lines.
def tracking_series(
    log: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    fit: PurchaseFit,
    calibration_end: Any,
    observation_end: Any,
    freq: str = "W",
) -> pd.DataFrame:
    """Actual vs model repeat purchases over time (the FHL tracking plot).

    Only customers whose first purchase is on or before ``calibration_end`` (the calibrated
    cohort). Actual repeat purchases are purchase days other than each customer's first.
    The model's cumulative repeat purchases at the end of a period are
    ``sum_i E[X(t_end - first_i)]`` (unconditional expectation, time in ``fit.time_unit``,
    a purchase on day ``d`` being at ``d - first_i``).

    Parameters
    ----------
    log : DataFrame
        Purchase log (as for :func:`calibration_summary`).
    customer_col, date_col : str
    fit : BetaGeoFit, ModifiedBetaGeoFit or ParetoNBDFit
    calibration_end, observation_end : date-like
        Inclusive last days of the calibration and holdout periods.
    freq : {"D", "W", "M"}, default "W"
        Period length: 1, 7 or 30 days, counted from the earliest first purchase.

    Returns
    -------
    DataFrame, shape (n_periods, 6)
        Indexed by ``period_start`` (Timestamp); columns ``period_end`` (last day, inclusive),
        ``actual`` and ``model`` (repeat purchases in the period), ``actual_cumulative``,
        ``model_cumulative``, ``holdout`` (bool: period ends after ``calibration_end``).
    """
    _require_params(fit, "purchase")
    period = int(_unit_days(freq))
    unit = _unit_days(fit.time_unit)
    cal_day = _day_number(calibration_end)
    obs_day = _day_number(observation_end)
    codes, days, first, cohort = _cohort_purchase_days(
        log, customer_col, date_col, cal_day, obs_day
    )
    empty = pd.DataFrame(
        columns=[
            "period_end",
            "actual",
            "model",
            "actual_cumulative",
            "model_cumulative",
            "holdout",
        ]
    )
    if codes.size == 0:
        return empty
    start = int(first[cohort].min())
    span = obs_day - start + 1
    key = np.unique(codes * span + (days - start))
    ucust, uday = key // span, key % span + start
    repeat = uday > first[ucust]
    n_periods = (obs_day - start) // period + 1
    actual = np.bincount((uday[repeat] - start) // period, minlength=n_periods)[:n_periods]

    period_end = start + np.arange(1, n_periods + 1) * period - 1
    period_end = np.minimum(period_end, obs_day)
    model_cum = _model_cumulative(fit, first[cohort], period_end, unit)
    out = pd.DataFrame(
        {
            "period_end": pd.to_datetime(period_end.astype("datetime64[D]")),
            "actual": actual.astype(np.float64),
            "model": np.diff(model_cum, prepend=0.0),
            "actual_cumulative": np.cumsum(actual).astype(np.float64),
            "model_cumulative": model_cum,
            "holdout": period_end > cal_day,
        },
        index=pd.DatetimeIndex(
            (start + np.arange(n_periods) * period).astype("datetime64[D]"),
            name="period_start",
        ),
    )
    return out


def p_alive_matrix(
    fit: PurchaseFit,
    max_frequency: int,
    max_recency: float,
    T: float,
    *,
    recency_step: float = 1.0,
) -> pd.DataFrame:
    """P(alive) over a frequency x recency grid, for a heatmap.

    Parameters
    ----------
    fit : BetaGeoFit, ModifiedBetaGeoFit or ParetoNBDFit
    max_frequency : int
        Largest repeat-purchase count (rows 0..max_frequency).
    max_recency : float
        Largest recency ``t_x`` in time units (columns 0, step, ..., max_recency).
    T : float
        Customer age (time units) used for every cell.
    recency_step : float, default 1.0

    Returns
    -------
    DataFrame, shape (max_frequency + 1, n_recency)
        Index ``frequency`` (int), columns ``recency`` (float, time units); cells with
        ``recency > T`` (impossible) are NaN.
    """
    freq = np.arange(0, int(max_frequency) + 1, dtype=np.float64)
    rec = np.arange(0.0, float(max_recency) + 1e-9, float(recency_step))
    X, R = np.meshgrid(freq, rec, indexing="ij")
    p = fit.p_alive(X, R, np.full_like(X, float(T)))
    p = np.where(R > T + 1e-12, np.nan, p)
    return pd.DataFrame(
        p,
        index=pd.Index(freq.astype(np.int64), name="frequency"),
        columns=pd.Index(rec, name="recency"),
    )


def gamma_gamma_independence(summary: pd.DataFrame) -> float:
    """Pearson correlation of ``frequency`` and ``monetary_value`` among repeat customers.

    Gamma-Gamma assumes spend per purchase is independent of purchase frequency; a value
    near 0 supports it (|r| above ~0.3 is a warning sign).

    Parameters
    ----------
    summary : DataFrame
        Columns ``frequency`` and ``monetary_value``.

    Returns
    -------
    float
        Correlation in [-1, 1]; NaN with fewer than 3 repeat customers with positive spend.
    """
    s = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(s) < 3:
        return float("nan")
    f = s["frequency"].to_numpy(dtype=np.float64)
    m = s["monetary_value"].to_numpy(dtype=np.float64)
    if f.std() == 0 or m.std() == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.corrcoef(f, m)[0, 1])
