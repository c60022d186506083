"""Intervals for CLV, expected purchases and P(alive) from the uncertainty of the fitted
parameters (parametric bootstrap), and prediction intervals for holdout totals.

Parameter draws
---------------
Each fit carries the covariance of its log-parameters (inverse observed information at the
MLE, ``fit.cov_log``). :func:`parameter_draws` draws log-parameters from the normal
distribution with that mean and covariance (the Laplace approximation of the likelihood),
the purchase and the spend model independently (they are fitted on separate likelihoods).
Every quantity is recomputed for each draw; the interval of a quantity is the central
``level`` range of its draws (per customer, and for the totals, which are summed draw by
draw so they keep the correlation between customers).

These intervals cover what the parameters do not pin down: they say how sure the model is
about each customer's *expected* value, not how much the customer's actual purchases will
scatter around it. For a total over a holdout period, :func:`holdout_total_interval` also
gives a *prediction* interval that adds that scatter, by simulating each customer's
purchases under every parameter draw (:func:`simulate_purchases`); that is the interval to
compare an actual total with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from dashapp.analytics.clv._fit import _compress, _require_params
from dashapp.analytics.clv.bgnbd import BetaGeoFit
from dashapp.analytics.clv.mbgnbd import ModifiedBetaGeoFit
from dashapp.analytics.clv.pareto_nbd import ParetoNBDFit
from dashapp.analytics.clv.predict import _clv_settings, _purchases_over_horizon

__all__ = [
    "ClvIntervals",
    "parameter_draws",
    "clv_intervals",
    "simulate_purchases",
    "holdout_total_interval",
]

#: Parameter draws of the bootstrap by default.
N_DRAWS = 100
#: Interval levels offered.
LEVELS = (0.8, 0.9)


def parameter_draws(fit: Any, n_draws: int, rng: np.random.Generator) -> list[Any]:
    """``n_draws`` copies of ``fit`` with parameters drawn from the normal approximation of
    the likelihood on the log scale (mean: the MLE, covariance: ``fit.cov_log``).

    Raises
    ------
    ValueError
        When the fit has no usable parameters or no covariance (a fit that did not converge).
    """
    _require_params(fit, fit.model or "fitted")
    if not fit.cov_log:
        raise ValueError(
            f"the {fit.model} fit has no covariance of its parameters (it did not converge "
            "cleanly), so no interval can be drawn from it"
        )
    names = tuple(fit.params)
    mean = np.log([fit.params[n] for n in names])
    cov = np.asarray(fit.cov_log, dtype=np.float64)
    theta = rng.multivariate_normal(mean, cov, size=n_draws, method="cholesky")
    theta = np.clip(theta, -30.0, 30.0)
    return [
        replace(fit, params=dict(zip(names, map(float, np.exp(row)), strict=True))) for row in theta
    ]


@dataclass(frozen=True)
class ClvIntervals:
    """Bootstrap intervals of the CLV prediction.

    ``customers``: index of the summary; for ``clv``, ``expected_purchases`` and
    ``p_alive`` the point estimate and ``<name>_lo`` / ``<name>_hi``. ``totals``: rows
    ``total_clv``, ``total_expected_purchases``, ``mean_p_alive``; columns ``estimate``,
    ``lo``, ``hi``. ``level`` (e.g. 0.9), ``n_draws`` (draws used), ``n_skipped`` (draws
    whose predictions were not finite, left out).
    """

    level: float
    n_draws: int
    n_skipped: int
    customers: pd.DataFrame
    totals: pd.DataFrame


# Over 80 lines only through its docstring (parameters, returns); the body is ~45 lines.
def clv_intervals(
    purchase: Any,
    spend: Any,
    summary: pd.DataFrame,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    margin: float,
    level: float = 0.9,
    n_draws: int = N_DRAWS,
    seed: int = 0,
) -> ClvIntervals:
    """Per-customer and total intervals of CLV, expected purchases over the horizon and
    P(alive), from ``n_draws`` parameter draws of both models (see the module docstring).

    Parameters
    ----------
    purchase, spend : fitted purchase model and Gamma-Gamma fit (converged).
    summary : DataFrame, in the purchase model's time unit
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer.
    horizon_months, annual_discount_rate, margin :
        As for :func:`~dashapp.analytics.clv.customer_clv` (whose formulas are used; the
        point estimates are its values).
    level : float, default 0.9
        Central probability of the intervals (0 < level < 1).
    n_draws : int, default 100
    seed : int, default 0
        Seed of the draws (the same inputs give the same intervals).

    Returns
    -------
    ClvIntervals
    """
    if not 0.0 < level < 1.0:
        raise ValueError("the interval level must lie between 0 and 1")
    if n_draws < 20:
        raise ValueError("at least 20 parameter draws are needed for an interval")
    rng = np.random.default_rng(seed)
    d, month = _clv_settings(
        purchase,
        summary,
        horizon_months=horizon_months,
        monthly_discount_rate=None,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        time_unit=None,
    )
    cols = ["frequency", "recency", "T", "monetary_value"]
    values = [summary[c].to_numpy(dtype=np.float64) for c in cols]
    missing = np.isnan(values[3]).astype(np.float64)
    keys = [*values[:3], np.nan_to_num(values[3]), missing]
    (x, tx, T, mv, gone), _, inv = _compress(keys, np.ones(len(summary)))
    mv = np.where(gone == 0, mv, np.nan)

    def predict(p_fit: Any, s_fit: Any) -> dict[str, np.ndarray]:
        disc, expected, alive, _ = _purchases_over_horizon(
            p_fit, x, tx, T, horizon_months, month, d
        )
        clv = np.maximum(disc * s_fit.expected_spend(x, mv) * margin, 0.0)
        return {"clv": clv, "expected_purchases": expected, "p_alive": alive}

    point = predict(purchase, spend)
    measures = tuple(point)
    draws: dict[str, list[np.ndarray]] = {m: [] for m in measures}
    skipped = 0
    for p_fit, s_fit in zip(
        parameter_draws(purchase, n_draws, rng), parameter_draws(spend, n_draws, rng), strict=True
    ):
        with np.errstate(all="ignore"):
            got = predict(p_fit, s_fit)
        if not all(np.all(np.isfinite(v) | np.isnan(point[m])) for m, v in got.items()):
            skipped += 1
            continue
        for m in measures:
            draws[m].append(got[m])
    if len(draws["clv"]) < n_draws // 2:
        raise ValueError(
            "most parameter draws gave no finite prediction: the parameters are too uncertain "
            "for an interval"
        )
    tail = (1.0 - level) / 2.0
    customers = pd.DataFrame(index=summary.index)
    totals = {}
    for m in measures:
        arr = np.vstack(draws[m])  # (draws, unique rows)
        lo, hi = np.quantile(arr, [tail, 1.0 - tail], axis=0)  # NaN where the point is
        customers[m] = point[m][inv]
        customers[f"{m}_lo"] = lo[inv]
        customers[f"{m}_hi"] = hi[inv]
        counts = np.bincount(inv, minlength=arr.shape[1]).astype(np.float64)
        per_draw = np.nansum(arr * counts, axis=1)
        estimate = float(np.nansum(point[m] * counts))
        if m == "p_alive":
            per_draw, estimate = per_draw / len(summary), estimate / len(summary)
        t_lo, t_hi = np.quantile(per_draw, [tail, 1.0 - tail])
        key = {"clv": "total_clv", "expected_purchases": "total_expected_purchases"}
        totals[key.get(m, "mean_p_alive")] = (estimate, float(t_lo), float(t_hi))
    table = pd.DataFrame.from_dict(totals, orient="index", columns=["estimate", "lo", "hi"])
    return ClvIntervals(
        level=level,
        n_draws=len(draws["clv"]),
        n_skipped=skipped,
        customers=customers,
        totals=table,
    )


def simulate_purchases(
    fit: Any, t: Any, x: Any, t_x: Any, T: Any, rng: np.random.Generator
) -> np.ndarray:
    """One simulated number of purchases in ``(T, T + t]`` per customer, drawn from the
    model's posterior given the history: alive with probability P(alive); if alive, the
    purchase rate ``lambda ~ Gamma(r+x, alpha+T)`` and, for BG/NBD (MBG/NBD), the dropout
    probability ``p ~ Beta(a, b+x)`` (``Beta(a, b+x+1)``) with dropout after each purchase,
    for Pareto/NBD the dropout rate ``mu ~ Gamma(s, beta+T)`` and an exponential lifetime.
    Its mean is :meth:`expected_purchases` (checked in the tests)."""
    x, t_x, T, t = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T, t)))
    alive = rng.random(x.shape) < fit.p_alive(x, t_x, T)
    p = fit.params
    lam = rng.gamma(p["r"] + x, 1.0 / (p["alpha"] + T))
    if isinstance(fit, ParetoNBDFit):
        mu = rng.gamma(p["s"], 1.0 / (p["beta"] + T))
        life = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        n = rng.poisson(lam * np.minimum(life, t))
    elif isinstance(fit, BetaGeoFit | ModifiedBetaGeoFit):
        shift = 1.0 if isinstance(fit, ModifiedBetaGeoFit) else 0.0
        drop = rng.beta(p["a"], p["b"] + x + shift)
        k = rng.poisson(lam * t)
        n = np.minimum(k, rng.geometric(np.clip(drop, 1e-12, 1.0)))
    else:
        raise TypeError(f"cannot simulate purchases of a {type(fit).__name__}")
    return np.where(alive, n, 0).astype(np.float64)


def holdout_total_interval(
    purchase: Any,
    summary: pd.DataFrame,
    *,
    level: float = 0.9,
    n_draws: int = N_DRAWS,
    seed: int = 0,
) -> dict[str, float]:
    """Intervals of the total of purchases over each customer's holdout
    (``duration_holdout``) and where the actual total (``frequency_holdout``) falls.

    Returns a dict: ``estimate`` (the point forecast), ``param_lo`` / ``param_hi`` (the
    interval of the expected total from the parameter draws alone), ``lo`` / ``hi`` (the
    prediction interval: parameter draws plus each customer's simulated purchases),
    ``actual``, and ``inside`` / ``inside_param`` (1.0 when the actual total lies in the
    interval, else 0.0).
    """
    x, tx, T, dur = (
        summary[c].to_numpy(dtype=np.float64)
        for c in ("frequency", "recency", "T", "duration_holdout")
    )
    actual = float(summary["frequency_holdout"].sum())
    rng = np.random.default_rng(seed)
    expected, simulated = [], []
    for fit in parameter_draws(purchase, n_draws, rng):
        with np.errstate(all="ignore"):
            e = fit.expected_purchases(dur, x, tx, T)
        if not np.all(np.isfinite(e)):
            continue
        expected.append(float(e.sum()))
        simulated.append(float(simulate_purchases(fit, dur, x, tx, T, rng).sum()))
    if len(expected) < n_draws // 2:
        raise ValueError("most parameter draws gave no finite forecast")
    tail = (1.0 - level) / 2.0
    param_lo, param_hi = np.quantile(expected, [tail, 1.0 - tail])
    lo, hi = np.quantile(simulated, [tail, 1.0 - tail])
    return {
        "estimate": float(purchase.expected_purchases(dur, x, tx, T).sum()),
        "param_lo": float(param_lo),
        "param_hi": float(param_hi),
        "lo": float(lo),
        "hi": float(hi),
        "actual": actual,
        "inside": float(lo <= actual <= hi),
        "inside_param": float(param_lo <= actual <= param_hi),
    }
