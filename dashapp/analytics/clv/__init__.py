"""Probabilistic customer-lifetime-value models: BG/NBD, Pareto/NBD and Gamma-Gamma.

Pure module (numpy, scipy, pandas): no dash, no flask. The models are implemented here
(maximum likelihood with :func:`scipy.optimize.minimize`) rather than taken from ``lifetimes``
(unmaintained) or ``pymc-marketing`` (heavy).

Workflow
--------
1. :func:`calibration_summary` turns a purchase log (one row per order) into the per-customer
   ``(x, t_x, T)`` summary the models need, optionally with holdout columns.
2. :func:`fit_bgnbd` or :func:`fit_pareto_nbd` fit the purchase process, :func:`fit_gamma_gamma`
   the spend per purchase. Each returns a frozen fit object with ``params``, ``log_likelihood``,
   ``converged`` and a plain-language ``message``.
3. :func:`customer_clv` combines both into a discounted, margin-adjusted CLV per customer.
4. :func:`holdout_scorecard`, :func:`tracking_series`, :func:`p_alive_matrix` and
   :func:`gamma_gamma_independence` help judge the model.

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
* In BG/NBD a customer with ``x == 0`` is alive with probability 1 by construction.

Fitting
-------
Log-likelihoods are analytic (``gammaln``, Gauss hypergeometric terms through bounded Euler
transforms, differences in log space), vectorised, evaluated on distinct ``(x, t_x, T)`` rows
with weights (``gammaln`` / ``digamma`` once per distinct ``x``), and maximised over
log-parameters with BFGS with analytic gradients (for Pareto/NBD the integral term of the
likelihood and its gradient come from one Gauss-Legendre quadrature, see
:func:`_pareto_mean_ll_grad`). BFGS rather than L-BFGS-B: the latter's LAPACK calls become 5-10x slower
when OpenBLAS threads compete for a busy CPU. A fit counts as converged when the gradient is
~0, no log-parameter sits at the edge of [-18, 18], and the observed information matrix is
positive definite with standard errors of the log-parameters below 5; otherwise it is retried
with L2 penalties 0.001 and 0.01 on the log-parameters, and ``message`` says what happened.

References
----------
Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2). Fader & Hardie (2005), "A note on deriving the
Pareto/NBD model and related expressions". Fader, Hardie & Lee (2005), "RFM and CLV: using
iso-value curves for customer base analysis", JMR 42(4). Fader & Hardie (2013), "The
Gamma-Gamma model of monetary value".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1, roots_jacobi, roots_legendre

__all__ = [
    "TIME_UNIT_DAYS",
    "DAYS_PER_MONTH",
    "BetaGeoFit",
    "ParetoNBDFit",
    "GammaGammaFit",
    "MODELS",
    "MODEL_LABELS",
    "calibration_summary",
    "fit_bgnbd",
    "fit_pareto_nbd",
    "fit_gamma_gamma",
    "customer_clv",
    "holdout_scorecard",
    "tracking_series",
    "p_alive_matrix",
    "gamma_gamma_independence",
]

#: Length of one time unit in days. "M" is a 30-day month (the lifetimes / pymc-marketing
#: convention), not a calendar month.
TIME_UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 30.0}

#: Days per month used to convert CLV horizons (months) into the model's time unit.
DAYS_PER_MONTH = 30.0

# Log-parameters are kept inside [-_LOG_BOUND, _LOG_BOUND] (parameters in [1.5e-8, 6.6e7]);
# a parameter that ends near this bound is reported as "ran to its bound" (not converged).
_LOG_BOUND = 18.0
# Max |gradient| of the mean negative log-likelihood (w.r.t. log-parameters) at a solution.
_GRAD_TOL = 1e-4
# L2 penalties on the log-parameters tried, in order, when an unpenalised fit fails.
_RETRY_PENALTIES = (1e-3, 1e-2)
# Largest acceptable standard error of a log-parameter (a factor e^5 ~ 150 either way).
_MAX_SE_LOG = 5.0


def _unit_days(time_unit: str) -> float:
    try:
        return TIME_UNIT_DAYS[time_unit]
    except KeyError:
        raise ValueError(
            f"time_unit must be one of {sorted(TIME_UNIT_DAYS)} (D = day, W = 7 days, "
            f"M = 30 days), got {time_unit!r}"
        ) from None


# --------------------------------------------------------------------------------------------
# Calibration summary
# --------------------------------------------------------------------------------------------


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
    for col in (customer_col, date_col) + ((amount_col,) if amount_col else ()):
        if col not in log.columns:
            raise KeyError(f"column {col!r} not in the log (columns: {list(log.columns)})")

    codes, uniques = pd.factorize(log[customer_col], sort=True)
    if isinstance(uniques.dtype, pd.CategoricalDtype):  # plain ids, not a CategoricalIndex
        uniques = uniques.astype(uniques.dtype.categories.dtype)
    days, valid = _to_day_numbers(log[date_col])
    last_day = cal_day if obs_day is None else obs_day
    keep = valid & (codes >= 0) & (days <= last_day)
    codes = codes[keep].astype(np.int64)
    days = days[keep]
    amounts = (
        log[amount_col].to_numpy(dtype=np.float64, na_value=0.0)[keep]
        if amount_col
        else np.zeros(codes.size)
    )

    # One row per (customer, day), sorted by customer then day.
    n_cust = len(uniques)
    d0 = int(days.min()) if days.size else 0
    span = int(days.max()) - d0 + 1 if days.size else 1
    key = codes * span + (days - d0)
    ukey, inv = np.unique(key, return_inverse=True)
    day_total = np.bincount(inv, weights=amounts, minlength=ukey.size)
    ucust = ukey // span
    uday = ukey % span + d0

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


# --------------------------------------------------------------------------------------------
# Helpers: input checks, compression, optimiser
# --------------------------------------------------------------------------------------------


def _as_float(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_rft(frequency: Any, recency: Any, T: Any, weights: Any) -> tuple[np.ndarray, ...]:
    x = _as_float("frequency", frequency)
    tx = _as_float("recency", recency)
    T_ = _as_float("T", T)
    if not (x.size == tx.size == T_.size):
        raise ValueError("frequency, recency and T must have the same length")
    if np.any(x < 0) or np.any(tx < 0) or np.any(T_ < 0):
        raise ValueError("frequency, recency and T must be non-negative")
    if np.any(tx > T_ + 1e-9 * np.maximum(T_, 1.0)):
        raise ValueError("recency (t_x) must not exceed T for any customer")
    if np.any(np.abs(x - np.round(x)) > 1e-9):
        raise ValueError("frequency must hold whole numbers of repeat purchases")
    w = np.ones(x.size) if weights is None else _as_float("weights", weights)
    if w.size != x.size or np.any(w < 0):
        raise ValueError("weights must be non-negative, one per customer")
    return np.round(x), np.minimum(tx, T_), T_, w


def _group_key(cols: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Group id of each row (ids in order of first appearance), by hashing, not sorting."""
    key = np.zeros(cols[0].size, dtype=np.int64)
    n_groups = 1
    for c in cols:
        codes, uniq = pd.factorize(c)
        key, groups = pd.factorize(key * len(uniq) + codes)
        key = key.astype(np.int64)
        n_groups = len(groups)
    return key, n_groups


def _compress(
    cols: list[np.ndarray], weights: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Merge identical rows, summing their weights.

    Returns the unique rows (in order of first appearance), their summed weights and, for
    every input row, the index of its unique row.
    """
    if cols[0].size == 0:
        return cols, weights, np.zeros(0, dtype=np.int64)
    key, n_groups = _group_key(cols)
    first = np.empty(n_groups, dtype=np.int64)
    first[key[::-1]] = np.arange(key.size - 1, -1, -1)
    w = np.bincount(key, weights=weights, minlength=n_groups)
    return [c[first] for c in cols], w, key


@dataclass(frozen=True)
class _OptResult:
    theta: np.ndarray
    log_likelihood: float
    converged: bool
    message: str
    penalizer: float
    n_iter: int
    se_log: np.ndarray


def _numeric_grad(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-5):
    g = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        g[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def _numeric_hessian(
    grad: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float = 1e-4
) -> np.ndarray:
    k = theta.size
    H = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        H[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return (H + H.T) / 2


def _maximise(
    model: str,
    names: tuple[str, ...],
    mean_ll: Callable[[np.ndarray], tuple[float, np.ndarray | None]],
    theta0: np.ndarray,
    total_weight: float,
    penalizer: float,
    analytic_grad: bool,
) -> _OptResult:
    """Maximise the weighted mean log-likelihood over log-parameters (BFGS).

    A solution is accepted when the log-likelihood is finite, no log-parameter sits at the
    edge of ``[-_LOG_BOUND, _LOG_BOUND]``, the gradient is ~0 and the (numerical) Hessian
    is negative definite with standard errors of the log-parameters below ``_MAX_SE_LOG``.
    Otherwise the fit is retried with the L2 penalties of ``_RETRY_PENALTIES``.
    """

    def value_only(th: np.ndarray) -> float:
        v, _ = mean_ll(th)
        return v

    def ll_and_grad(th: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            if analytic_grad:
                v, g = mean_ll(th)
            else:
                v, _ = mean_ll(th)
                g = _numeric_grad(value_only, th)
        return v, g

    def attempt(pen: float) -> tuple[_OptResult, str]:
        def objective(th: np.ndarray) -> tuple[float, np.ndarray]:
            # Soft box: outside [-_LOG_BOUND, _LOG_BOUND] the likelihood is frozen at the
            # edge and a steep quadratic pulls the parameters back.
            thc = np.clip(th, -_LOG_BOUND, _LOG_BOUND)
            excess = th - thc
            v, g = ll_and_grad(thc)
            if not np.isfinite(v) or not np.all(np.isfinite(g)):
                return 1e10, np.zeros_like(th)
            f = -v + pen * float(np.sum(thc * thc)) + 10.0 * float(np.sum(excess * excess))
            return f, -g + 2.0 * pen * thc + 20.0 * excess

        # BFGS (pure numpy on a 3-4 dimensional problem): unlike L-BFGS-B it makes no
        # LAPACK calls, which are slowed down badly by OpenBLAS threads on a busy machine.
        res = minimize(
            objective,
            theta0,
            jac=True,
            method="BFGS",
            options={"maxiter": 500, "gtol": 1e-8},
        )
        th = np.clip(res.x, -_LOG_BOUND, _LOG_BOUND)
        v, g = ll_and_grad(th)
        g_pen = g - 2.0 * pen * th
        se_log = np.full(th.size, np.nan)
        problem = ""
        at_bound = [n for n, t in zip(names, th, strict=True) if abs(t) > _LOG_BOUND - 0.5]
        if not np.isfinite(v) or not np.all(np.isfinite(g)):
            problem = "the log-likelihood is not finite at the solution"
        elif at_bound:
            which = ", ".join(
                f"{n} -> {'0' if t < 0 else 'infinity'}"
                for n, t in zip(names, th, strict=True)
                if n in at_bound
            )
            problem = (
                f"parameter(s) ran to the edge of the allowed range ({which}): the data do "
                "not pin the model down (too few repeat customers, or behaviour the model "
                "cannot describe)"
            )
        elif np.max(np.abs(g_pen)) > _GRAD_TOL:
            problem = (
                f"the optimiser stopped before reaching a maximum ({res.message}; "
                f"largest gradient {np.max(np.abs(g_pen)):.2g})"
            )
        else:
            H = _numeric_hessian(lambda t_: ll_and_grad(t_)[1], th)
            info = -(H - 2.0 * pen * np.eye(th.size)) * total_weight  # observed information
            eig = np.linalg.eigvalsh(info) if np.all(np.isfinite(info)) else np.array([-1.0])
            if eig.min() <= 1e-12 * max(eig.max(), 1.0):
                problem = (
                    "the likelihood is flat in some direction at the solution: several "
                    "parameter combinations fit the data equally well"
                )
            else:
                se_log = np.sqrt(np.diag(np.linalg.inv(info)))
                loose = [n for n, e in zip(names, se_log, strict=True) if e > _MAX_SE_LOG]
                if loose:
                    problem = (
                        f"the data hardly constrain {', '.join(loose)} (standard error of "
                        f"the log-parameter above {_MAX_SE_LOG:g}): too little data for "
                        "this model"
                    )
        result = _OptResult(
            theta=th,
            log_likelihood=float(v * total_weight),
            converged=not problem,
            message="",
            penalizer=pen,
            n_iter=int(res.nit),
            se_log=se_log,
        )
        return result, problem

    result, problem = attempt(penalizer)
    if not problem:
        msg = f"{model} fit converged in {result.n_iter} iterations"
        if penalizer > 0:
            msg += f" (L2 penalty {penalizer:g} on log-parameters)"
        return _replace(result, message=msg)
    first_problem = problem
    for pen in _RETRY_PENALTIES:
        if pen <= penalizer:
            continue
        retry, problem = attempt(pen)
        if not problem:
            return _replace(
                retry,
                message=(
                    f"{model} fit did not converge without help ({first_problem}); it "
                    f"converged after adding an L2 penalty of {pen:g} on the "
                    "log-parameters, which shrinks the estimates towards 1: treat them "
                    "with caution"
                ),
            )
        result = retry
    return _replace(
        result,
        converged=False,
        message=(
            f"{model} fit did not converge: {first_problem}. Retrying with L2 penalties on "
            "the log-parameters did not help. Predictions from these parameters are not "
            "reliable"
        ),
    )


def _replace(res: _OptResult, **changes: Any) -> _OptResult:
    d = dict(res.__dict__)
    d.update(changes)
    return _OptResult(**d)


def _std_errors(names: tuple[str, ...], res: _OptResult) -> dict[str, float]:
    """Delta-method standard errors of the parameters: se(p) = p * se(log p)."""
    return {n: float(np.exp(t) * e) for n, t, e in zip(names, res.theta, res.se_log, strict=True)}


def _degenerate(model: str, reason: str) -> str:
    return f"{model} cannot be fitted: {reason}. No parameters were estimated."


# --------------------------------------------------------------------------------------------
# Fit result objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FitBase:
    """Common fields of a fitted model.

    Attributes
    ----------
    params : dict of str to float
        Maximum-likelihood estimates (NaN when no fit was possible).
    log_likelihood : float
        Log-likelihood at ``params`` (sum over customers, weights applied, no penalty).
    n : int
        Number of customers (sum of weights) used in the fit.
    converged : bool
        True when the optimiser reached an interior maximum.
    message : str
        Plain-language outcome of the fit, including why it failed when it did.
    time_unit : str
        Unit of the durations the model was fitted on ("D", "W" = 7 days, "M" = 30 days).
    penalizer : float
        L2 penalty on the log-parameters used by the reported fit (0 = plain MLE).
    n_iter : int
        Optimiser iterations of the reported fit.
    std_errors : dict of str to float
        Asymptotic standard errors of ``params`` (inverse observed information on the
        log-parameters, delta method); NaN when the fit did not converge.
    """

    params: dict[str, float]
    log_likelihood: float
    n: int
    converged: bool
    message: str
    time_unit: str = "W"
    penalizer: float = 0.0
    n_iter: int = 0
    std_errors: dict[str, float] = field(default_factory=dict)

    def summary(self) -> pd.Series:
        """Parameters and fit statistics as a Series (for display)."""
        return pd.Series(
            {
                **self.params,
                "log_likelihood": self.log_likelihood,
                "n": self.n,
                "converged": self.converged,
                "time_unit": self.time_unit,
            }
        )


def _bgnbd_conditional_given_alive(
    t: np.ndarray, r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[Y(t) | alive at T, x, T] for BG/NBD (broadcast over t, x, T).

    Uses the Euler transform of FHL's eq. (10):
    ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``
    with ``z = t / (alpha + T + t)``, whose parameters no longer grow with ``x`` (no
    overflow for heavy buyers). Non-finite results fall back to Gauss-Jacobi quadrature of
    ``E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p]``, ``p ~ Beta(a, b+x)``.
    """
    if abs(a - 1.0) < 1e-7:  # removable singularity of the closed form at a = 1
        a = 1.0 + 1e-7
    t, x, T = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64), np.asarray(T, float)
    )
    with np.errstate(all="ignore"):
        z = t / (alpha + T + t)
        c = a + b + x - 1.0
        term = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        out = c / (a - 1.0) * (1.0 - term)
    out = np.where(t <= 0, 0.0, out)
    bad = ~np.isfinite(out) | (out < 0)
    if np.any(bad):
        out = out.copy()
        out[bad] = _bgnbd_quadrature(t[bad], r, alpha, a, b, x[bad], T[bad])
    return np.maximum(out, 0.0)


def _bgnbd_quadrature(
    t: np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: np.ndarray,
    T: np.ndarray,
    n: int = 200,
) -> np.ndarray:
    """Gauss-Jacobi quadrature of ``E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p]`` with
    ``p ~ Beta(a, b+x)``; nodes are computed once per distinct ``x``."""
    out = np.empty(t.size)
    for xv in np.unique(x):
        sel = x == xv
        bp = b + xv
        u, w = roots_jacobi(n, bp - 1.0, a - 1.0)
        p = (1.0 + u) / 2.0
        lw = np.log(w) - (a + bp - 1.0) * math.log(2.0) - betaln(a, bp)
        ap = (alpha + T[sel])[:, None]
        tt = t[sel][:, None]
        f = -np.expm1(-(r + xv) * np.log1p(p[None, :] * tt / ap)) / p[None, :]
        out[sel] = np.sum(np.exp(lw)[None, :] * f, axis=1)
    return out


@dataclass(frozen=True)
class BetaGeoFit(_FitBase):
    """Fitted BG/NBD model (Fader, Hardie & Lee 2005).

    ``params``: ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha), alpha in time units),
    ``a``, ``b`` (dropout probability after each purchase ~ Beta(a, b)).
    All methods broadcast their array arguments (numpy rules) and return float ndarrays;
    ``t``, ``t_x`` and ``T`` are in ``time_unit``.
    """

    model = "BG/NBD"

    def _p(self) -> tuple[float, float, float, float]:
        p = self.params
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """Probability that the customer is still active at ``T``.

        Parameters
        ----------
        x : array-like, shape (n,)
            Repeat purchases in calibration.
        t_x, T : array-like, shape (n,)
            Recency and age in time units.

        Returns
        -------
        ndarray, shape (n,)
            P(alive) in [0, 1]; exactly 1 where ``x == 0``.
        """
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        with np.errstate(all="ignore"):
            log_odds_dead = np.log(a / (b + np.maximum(x, 1.0) - 1.0)) + (r + x) * (
                np.log(alpha + T) - np.log(alpha + t_x)
            )
            p = expit(-log_odds_dead)
        return np.where(x > 0, p, 1.0)

    def expected_purchases(self, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """Conditional expected number of purchases in ``(T, T + t]`` (FHL 2005 eq. 10).

        Parameters
        ----------
        t : float or array-like
            Horizon length in time units (broadcast against the customers).
        x, t_x, T : array-like, shape (n,)
            Calibration summary of each customer.

        Returns
        -------
        ndarray, broadcast shape of the inputs
            Expected purchases (>= 0, finite for heavy buyers and long horizons).
        """
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        given_alive = _bgnbd_conditional_given_alive(t, r, alpha, a, b, x, T)
        return given_alive * self.p_alive(x, t_x, T)

    def expected_purchases_unconditional(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in ``(0, t]`` (FHL eq. 9).

        Parameters
        ----------
        t : float or array-like
            Time since the first purchase, in time units.

        Returns
        -------
        ndarray, shape of ``t``
        """
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=np.float64)
        return _bgnbd_conditional_given_alive(t, r, alpha, a, b, np.zeros(()), np.zeros(()))


def _log_hyp2f1_c_a1(A: np.ndarray, B: np.ndarray, z: np.ndarray) -> np.ndarray:
    """log 2F1(A, B; A + 1; z) for A > 0, B > 0, 0 <= z < 1 (Pareto/NBD's A_0 term).

    Euler's transform gives ``(1-z)^(1-B) 2F1(1, A+1-B; A+1; z)``; the remaining series has
    positive terms starting at 1 and is bounded by 1/(1-z), so it never overflows. Values
    scipy gets wrong (non-finite or outside [1, 1/(1-z)]) are summed directly.
    """
    A, B, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (A, B, z)))
    Bp = A + 1.0 - B
    C = A + 1.0
    with np.errstate(all="ignore"):
        h = hyp2f1(1.0, Bp, C, z)
    bad = ~np.isfinite(h) | (h < 1.0 - 1e-12) | (h * (1.0 - z) > 1.0 + 1e-9)
    if np.any(bad):
        h = h.copy()
        h[bad] = _series_2f1_one(Bp[bad], C[bad], z[bad])
    return (1.0 - B) * np.log1p(-z) + np.log(h)


def _series_2f1_one(
    B: np.ndarray, C: np.ndarray, z: np.ndarray, max_terms: int = 2_000_000
) -> np.ndarray:
    """2F1(1, B; C; z) = sum_n (B)_n / (C)_n z^n by direct summation (B < C, 0 <= z < 1)."""
    total = np.ones(B.size)
    term = np.ones(B.size)
    active = np.ones(B.size, dtype=bool)
    n = 0
    chunk = 4096
    while np.any(active) and n < max_terms:
        idx = np.flatnonzero(active)
        k = np.arange(n, n + chunk, dtype=np.float64)
        ratios = (B[idx, None] + k) / (C[idx, None] + k) * z[idx, None]
        terms = term[idx, None] * np.cumprod(ratios, axis=1)
        total[idx] += terms.sum(axis=1)
        term[idx] = terms[:, -1]
        n += chunk
        ratio_now = ratios[:, -1]
        tail = term[idx] * ratio_now / np.maximum(1.0 - ratio_now, 1e-300)
        done = tail < 1e-15 * total[idx]
        active[idx[done]] = False
    return total


def _pareto_log_F(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """log F(y), ``F(y) = 2F1(r+s+x, k; r+s+x+1; |alpha-beta| / (m+y)) / (m+y)^(r+s+x)``,
    with ``m = max(alpha, beta)``, ``k = s+1`` if ``alpha >= beta`` else ``r+x``."""
    rsx = r + s + x
    if alpha >= beta:
        m, k, diff = alpha, np.full_like(rsx, s + 1.0), alpha - beta
    else:
        m, k, diff = beta, r + x, beta - alpha
    with np.errstate(all="ignore"):
        return _log_hyp2f1_c_a1(rsx, k, diff / (m + y)) - rsx * np.log(m + y)


def _pareto_log_A0(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log A_0 of the Pareto/NBD likelihood (Fader & Hardie 2005 note, eqs. 22-23).

    ``A_0 = F(t_x) - F(T)`` (see :func:`_pareto_log_F`; separate ``alpha >= beta`` and
    ``alpha < beta`` forms), the difference taken in log space; ``-inf`` when ``t_x == T``.
    """
    with np.errstate(all="ignore"):
        log_f1 = _pareto_log_F(r, alpha, s, beta, x, t_x)
        log_f2 = _pareto_log_F(r, alpha, s, beta, x, T)
        return log_f1 + np.log(-np.expm1(np.minimum(log_f2 - log_f1, 0.0)))


@dataclass(frozen=True)
class ParetoNBDFit(_FitBase):
    """Fitted Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

    ``params``: ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha)), ``s``, ``beta`` (dropout
    rate ~ Gamma(s, beta)); ``alpha`` and ``beta`` in time units. Methods broadcast their
    arguments and return float ndarrays; durations are in ``time_unit``.
    """

    model = "Pareto/NBD"

    def _p(self) -> tuple[float, float, float, float]:
        p = self.params
        return p["r"], p["alpha"], p["s"], p["beta"]

    def p_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """Probability that the customer is still active at ``T`` (Fader & Hardie note eq. 18).

        Parameters
        ----------
        x, t_x, T : array-like, shape (n,)
            Repeat purchases, recency and age (time units).

        Returns
        -------
        ndarray, shape (n,), values in [0, 1].
        """
        r, alpha, s, beta = self._p()
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T)))
        log_a0 = _pareto_log_A0(r, alpha, s, beta, x, t_x, T)
        with np.errstate(all="ignore"):
            log_ratio = (
                np.log(s)
                - np.log(r + s + x)
                + (r + x) * np.log(alpha + T)
                + s * np.log(beta + T)
                + log_a0
            )
            return expit(-log_ratio)

    def expected_purchases(self, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """Conditional expected purchases in ``(T, T + t]``.

        ``E = (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive)``
        (the ``s -> 1`` limit uses ``log``).

        Parameters
        ----------
        t : float or array-like
            Horizon in time units.
        x, t_x, T : array-like, shape (n,)

        Returns
        -------
        ndarray, broadcast shape, values >= 0.
        """
        r, alpha, s, beta = self._p()
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T)))
        t = np.asarray(t, dtype=np.float64)
        p_alive = self.p_alive(x, t_x, T)  # once per customer, not per horizon
        with np.errstate(all="ignore"):
            log_ratio = np.log(beta + T) - np.log(beta + T + t)  # <= 0
            if abs(s - 1.0) < 1e-10:
                growth = -log_ratio
            else:
                growth = -np.expm1((s - 1.0) * log_ratio) / (s - 1.0)
            out = (r + x) * (beta + T) / (alpha + T) * growth * p_alive
        return np.maximum(np.where(t > 0, out, 0.0), 0.0)

    def expected_purchases_unconditional(self, t: Any) -> np.ndarray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] for a new customer.

        Parameters
        ----------
        t : float or array-like, time units.

        Returns
        -------
        ndarray, shape of ``t``.
        """
        r, alpha, s, beta = self._p()
        t = np.asarray(t, dtype=np.float64)
        with np.errstate(all="ignore"):
            log_ratio = np.log(beta) - np.log(beta + t)
            if abs(s - 1.0) < 1e-10:
                growth = -log_ratio
            else:
                growth = -np.expm1((s - 1.0) * log_ratio) / (s - 1.0)
            out = r * beta / alpha * growth
        return np.maximum(np.where(t > 0, out, 0.0), 0.0)


@dataclass(frozen=True)
class GammaGammaFit(_FitBase):
    """Fitted Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

    ``params``: ``p`` (shape of the spend per transaction), ``q``, ``gamma`` (the
    customer-level scale ``nu ~ Gamma(q, gamma)``; ``gamma`` in currency units).

    Attributes
    ----------
    n_excluded : int
        Repeat customers left out because their mean spend is zero, negative or missing.
    n_no_repeat : int
        Customers with ``frequency == 0`` (they carry no repeat spend; ignored by the fit).
    """

    model = "Gamma-Gamma"
    n_excluded: int = 0
    n_no_repeat: int = 0

    @property
    def population_mean_spend(self) -> float:
        """Mean spend per transaction in the population, ``p gamma / (q - 1)`` (NaN if q <= 1)."""
        p, q, g = self.params["p"], self.params["q"], self.params["gamma"]
        return p * g / (q - 1.0) if q > 1.0 else float("nan")

    def expected_spend(self, x: Any, mean_value: Any) -> np.ndarray:
        """Conditional expected spend per transaction.

        ``E[Z | x, zbar] = (gamma + x zbar) p / (p x + q - 1)``, a weighted average of the
        population mean ``p gamma / (q-1)`` and the customer's own mean ``zbar``. Customers
        with ``x == 0`` or ``zbar <= 0`` get the population mean.

        Parameters
        ----------
        x : array-like, shape (n,)
            Repeat purchases (number of observed transactions behind ``mean_value``).
        mean_value : array-like, shape (n,)
            Mean spend of those transactions (currency).

        Returns
        -------
        ndarray, shape (n,), currency. NaN where undefined (``q <= 1`` and no own data).
        """
        p, q, g = self.params["p"], self.params["q"], self.params["gamma"]
        x, m = np.broadcast_arrays(
            np.asarray(x, dtype=np.float64), np.asarray(mean_value, dtype=np.float64)
        )
        usable = (x > 0) & (m > 0) & np.isfinite(m)
        x = np.where(usable, x, 0.0)
        m = np.where(usable, m, 0.0)
        denom = p * x + q - 1.0
        with np.errstate(all="ignore"):
            return np.where(denom > 0, (g + x * m) * p / denom, np.nan)


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


class _RFTData:
    """Compressed (x, t_x, T) rows with weights, plus per-distinct-x bookkeeping so that
    gammaln / digamma terms are computed once per distinct x value."""

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray):
        (x, tx, T), w, _ = _compress([x, tx, T], w)
        keep = w > 0
        self.x, self.tx, self.T, self.w = x[keep], tx[keep], T[keep], w[keep]
        self.wsum = float(self.w.sum())
        self.xu, self.x_idx = np.unique(self.x, return_inverse=True)
        self.Wx = np.bincount(self.x_idx, weights=self.w, minlength=self.xu.size)
        self.pos = self.x > 0
        self.w_pos = self.w * self.pos


def _bgnbd_mean_ll(theta: np.ndarray, d: _RFTData) -> tuple[float, np.ndarray]:
    """Weighted mean BG/NBD log-likelihood (FHL 2005 eq. 6) and its gradient w.r.t. the
    log-parameters."""
    r, alpha, a, b = np.exp(theta)
    xu, Wx = d.xu, d.Wx
    # Terms that depend on x only.
    ll_x = (
        gammaln(r + xu)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + xu)
        - gammaln(b)
        - gammaln(a + b + xu)
    )
    psi_ab_x = digamma(a + b + xu)
    psi_ab = digamma(a + b)
    g_r = np.sum(Wx * (digamma(r + xu) - digamma(r) + np.log(alpha)))
    g_a = np.sum(Wx * (psi_ab - psi_ab_x))
    g_b = np.sum(Wx * (psi_ab + digamma(b + xu) - digamma(b) - psi_ab_x))
    g_alpha = d.wsum * r / alpha
    # Row terms: log( (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) ).
    x, w, pos = d.x, d.w, d.pos
    rx = r + x
    log_aT = np.log(alpha + d.T)
    log_atx = np.log(alpha + d.tx)
    bx1 = np.where(pos, b + x - 1.0, 1.0)
    A3 = -rx * log_aT
    A4 = np.where(pos, np.log(a) - np.log(bx1) - rx * log_atx, -np.inf)
    M = np.logaddexp(A3, A4)
    w4 = np.exp(A4 - M)
    w3 = 1.0 - w4
    ll = float(np.sum(Wx * ll_x)) + float(np.sum(w * M))
    g_r -= np.sum(w * (w3 * log_aT + w4 * log_atx))
    g_alpha -= np.sum(w * rx * (w3 / (alpha + d.T) + w4 / (alpha + d.tx)))
    g_a += np.sum(w * w4) / a
    g_b -= np.sum(w * w4 / bx1)
    grad = np.array([r * g_r, alpha * g_alpha, a * g_a, b * g_b])
    return ll / d.wsum, grad / d.wsum


def fit_bgnbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    penalizer: float = 0.0,
    time_unit: str = "W",
) -> BetaGeoFit:
    """Fit the BG/NBD purchase model by maximum likelihood.

    The log-likelihood (FHL 2005 eq. 6) is evaluated in log space with ``gammaln`` and an
    analytic gradient, over log-parameters (BFGS); identical ``(x, t_x, T)`` rows are
    merged with weights first. A fit that fails is retried with a small L2 penalty on the
    log-parameters; the outcome is explained in ``message``.

    Parameters
    ----------
    frequency, recency, T : array-like, shape (n_customers,)
        ``x`` (repeat purchases), ``t_x`` and ``T`` (time units), e.g. the columns of
        :func:`calibration_summary`.
    weights : array-like, shape (n_customers,), optional
        Number of customers each row stands for (default 1).
    penalizer : float, default 0.0
        L2 penalty on the log-parameters added to the mean negative log-likelihood.
    time_unit : {"D", "W", "M"}, default "W"
        Unit of ``recency`` and ``T`` (stored on the fit; ``alpha`` is in this unit).

    Returns
    -------
    BetaGeoFit
    """
    _unit_days(time_unit)
    x, tx, T_, w = _check_rft(frequency, recency, T, weights)
    n = int(round(w.sum()))
    nan_params = dict.fromkeys(("r", "alpha", "a", "b"), float("nan"))
    reason = None
    if w.sum() <= 0:
        reason = "there are no customers"
    elif np.sum(w * x) <= 0:
        reason = (
            "no customer made a repeat purchase in the calibration period, so purchase "
            "rates and dropout cannot be estimated"
        )
    elif np.all(T_[w > 0] <= 0):
        reason = "every customer's observation time T is zero"
    if reason:
        return BetaGeoFit(
            params=nan_params,
            log_likelihood=float("nan"),
            n=n,
            converged=False,
            message=_degenerate("BG/NBD", reason),
            time_unit=time_unit,
            penalizer=penalizer,
        )
    data = _RFTData(x, tx, T_, w)
    mean_x = float(np.sum(data.w * data.x)) / data.wsum
    mean_T = max(float(np.sum(data.w * data.T)) / data.wsum, 1e-6)
    theta0 = np.log([1.0, max(mean_T / max(mean_x, 1e-3), 1e-3), 1.0, 1.0])
    names = ("r", "alpha", "a", "b")
    res = _maximise(
        "BG/NBD",
        names,
        lambda th: _bgnbd_mean_ll(th, data),
        theta0,
        data.wsum,
        penalizer,
        analytic_grad=True,
    )
    params = dict(zip(names, map(float, np.exp(res.theta)), strict=True))
    return BetaGeoFit(
        params=params,
        log_likelihood=res.log_likelihood,
        n=n,
        converged=res.converged,
        message=res.message,
        time_unit=time_unit,
        penalizer=res.penalizer,
        n_iter=res.n_iter,
        std_errors=_std_errors(names, res),
    )


# --------------------------------------------------------------------------------------------
# Pareto/NBD
# --------------------------------------------------------------------------------------------


def _pareto_mean_ll(theta: np.ndarray, d: _RFTData, pairs: dict) -> float:
    """Weighted mean Pareto/NBD log-likelihood (Fader & Hardie 2005 note, eq. 21).

    ``pairs`` holds the distinct (x, t_x) and (x, T) pairs (and row indices into them) so
    the hypergeometric terms are evaluated once per distinct pair. The closed form, kept as
    the reference for :func:`_pareto_mean_ll_grad` (which the fit uses).
    """
    r, alpha, s, beta = np.exp(theta)
    xu = d.xu
    ll_x = gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    with np.errstate(all="ignore"):
        log_f1 = _pareto_log_F(r, alpha, s, beta, pairs["x1"], pairs["y1"])[pairs["i1"]]
        log_f2 = _pareto_log_F(r, alpha, s, beta, pairs["x2"], pairs["y2"])[pairs["i2"]]
        log_a0 = log_f1 + np.log(-np.expm1(np.minimum(log_f2 - log_f1, 0.0)))
        x, T = d.x, d.T
        row = np.logaddexp(
            -(r + x) * np.log(alpha + T) - s * np.log(beta + T),
            np.log(s) - np.log(r + s + x) + log_a0,
        )
    return (float(np.sum(d.Wx * ll_x)) + float(np.sum(d.w * row))) / d.wsum


# Gauss-Legendre nodes and weights on [0, 1] for the Pareto/NBD integral (24 nodes: relative
# error of the log-likelihood below 1e-11 against the hypergeometric form over parameters
# from e^-6 to e^6; 16 nodes reach only ~1e-9 at extreme parameters).
_GL_NODES, _GL_WEIGHTS = roots_legendre(24)
_GL_NODES = (1.0 + _GL_NODES) / 2.0
_GL_WEIGHTS = _GL_WEIGHTS / 2.0
# The quadrature stops where the (log-concave) integrand has fallen by e^-34 (~1e-15).
_GL_DROP = 34.0


def _pareto_mean_ll_grad(theta: np.ndarray, d: _RFTData) -> tuple[float, np.ndarray]:
    """Weighted mean Pareto/NBD log-likelihood and its gradient w.r.t. the log-parameters.

    Per customer ``L = Gamma(r+x) alpha^r beta^s / Gamma(r) * (E + s I)`` with
    ``E = (alpha+T)^-(r+x) (beta+T)^-s`` and the integral
    ``I = int_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau`` (= ``A_0 / (r+s+x)`` of
    Fader & Hardie's note). ``I`` and its derivatives (integrals of the same integrand times
    ``-log(alpha+tau)``, ``-(r+x)/(alpha+tau)``, ``-log(beta+tau)``, ``-(s+1)/(beta+tau)``)
    come from one Gauss-Legendre rule in ``phi = log(m + tau)``, ``m = min(alpha, beta)``:
    there the integrand is ``exp`` of a concave function, analytic in a strip of half-width
    pi around the real axis, and the interval is cut where it has fallen by ``e^-34``. The
    integral is scaled by its value at ``t_x`` (log space), so heavy buyers cannot underflow.
    """
    r, alpha, s, beta = np.exp(theta)
    x, tx, T, w = d.x, d.tx, d.T, d.w
    xu, Wx = d.xu, d.Wx
    ll_x = gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    g_r = np.sum(Wx * (digamma(r + xu) - digamma(r) + np.log(alpha)))
    g_alpha = d.wsum * r / alpha
    g_s = d.wsum * np.log(beta)
    g_beta = d.wsum * s / beta
    pa = r + x  # exponent of (alpha + tau)
    pb = s + 1.0  # exponent of (beta + tau) inside the integral
    with np.errstate(all="ignore"):
        log_aT = np.log(alpha + T)
        log_bT = np.log(beta + T)
        log_e = -pa * log_aT - s * log_bT
        a_small = alpha <= beta
        m = alpha if a_small else beta
        delta = abs(alpha - beta)
        p_m, p_big = (pa, np.full_like(x, pb)) if a_small else (np.full_like(x, pb), pa)
        mt = m + tx
        log_mt = np.log(mt)
        log_bigt = np.log(mt + delta)
        span = np.log(m + T) - log_mt
        # Slope of the log-integrand at t_x (it only falls further: the log is concave).
        kappa0 = p_m + p_big * mt / (mt + delta) - 1.0
        hi = np.where(kappa0 > 0, np.minimum(span, _GL_DROP / np.maximum(kappa0, 1e-300)), span)
        step = hi[:, None] * _GL_NODES  # phi - phi_0 at the nodes
        e = mt[:, None] * np.exp(step)  # m + tau
        big = e + delta  # max(alpha, beta) + tau
        log_big = np.log(big)
        f = np.exp((1.0 - p_m)[:, None] * step - p_big[:, None] * (log_big - log_bigt[:, None]))
        f *= _GL_WEIGHTS
        i0 = f.sum(axis=1)  # I / (hi * integrand at t_x, Jacobian included)
        safe = np.where(i0 > 0, i0, 1.0)
        mean_log_m = log_mt + np.einsum("ij,ij->i", f, step) / safe
        mean_log_big = np.einsum("ij,ij->i", f, log_big) / safe
        mean_inv_m = np.einsum("ij,ij->i", f, 1.0 / e) / safe
        mean_inv_big = np.einsum("ij,ij->i", f, 1.0 / big) / safe
        log_i = np.log(i0 * hi) + (1.0 - p_m) * log_mt - p_big * log_bigt  # -inf when t_x = T
        log_si = np.log(s) + log_i
        row = np.logaddexp(log_e, log_si)
        w_e = np.exp(log_e - row)
        w_i = 1.0 - w_e
    if a_small:
        la, lb, ia, ib = mean_log_m, mean_log_big, mean_inv_m, mean_inv_big
    else:
        la, lb, ia, ib = mean_log_big, mean_log_m, mean_inv_big, mean_inv_m
    ll = float(np.sum(Wx * ll_x)) + float(np.sum(w * row))
    g_r += np.sum(w * (-w_e * log_aT - w_i * la))
    g_alpha += np.sum(w * (-w_e * pa / (alpha + T) - w_i * pa * ia))
    g_s += np.sum(w * (-w_e * log_bT + w_i * (1.0 / s - lb)))
    g_beta += np.sum(w * (-w_e * s / (beta + T) - w_i * pb * ib))
    grad = np.array([r * g_r, alpha * g_alpha, s * g_s, beta * g_beta])
    return ll / d.wsum, grad / d.wsum


def _pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    (ux, uy), _, idx = _compress([x, y], np.ones(x.size))
    return ux, uy, idx


def fit_pareto_nbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    penalizer: float = 0.0,
    time_unit: str = "W",
) -> ParetoNBDFit:
    """Fit the Pareto/NBD purchase model by maximum likelihood.

    The likelihood follows Fader & Hardie's "note on deriving the Pareto/NBD model"; its
    ``A_0`` term, written as an integral over the dropout time, and the term's exact
    gradient are evaluated together by Gauss-Legendre quadrature
    (:func:`_pareto_mean_ll_grad`; it agrees with the hypergeometric form
    :func:`_pareto_mean_ll` to ~1e-12). BFGS over log-parameters with the analytic gradient;
    duplicate rows are merged with weights.

    Parameters
    ----------
    frequency, recency, T : array-like, shape (n_customers,)
        ``x``, ``t_x`` and ``T`` in time units.
    weights : array-like, shape (n_customers,), optional
    penalizer : float, default 0.0
        L2 penalty on the log-parameters.
    time_unit : {"D", "W", "M"}, default "W"

    Returns
    -------
    ParetoNBDFit
    """
    _unit_days(time_unit)
    x, tx, T_, w = _check_rft(frequency, recency, T, weights)
    n = int(round(w.sum()))
    reason = None
    if w.sum() <= 0:
        reason = "there are no customers"
    elif np.sum(w * x) <= 0:
        reason = (
            "no customer made a repeat purchase in the calibration period, so purchase "
            "rates and dropout cannot be estimated"
        )
    elif np.all(T_[w > 0] <= 0):
        reason = "every customer's observation time T is zero"
    if reason:
        nan_params = dict.fromkeys(("r", "alpha", "s", "beta"), float("nan"))
        return ParetoNBDFit(
            params=nan_params,
            log_likelihood=float("nan"),
            n=n,
            converged=False,
            message=_degenerate("Pareto/NBD", reason),
            time_unit=time_unit,
            penalizer=penalizer,
        )
    data = _RFTData(x, tx, T_, w)
    mean_x = float(np.sum(data.w * data.x)) / data.wsum
    mean_T = max(float(np.sum(data.w * data.T)) / data.wsum, 1e-6)
    theta0 = np.log([1.0, max(mean_T / max(mean_x, 1e-3), 1e-3), 1.0, mean_T])

    def mean_ll(th: np.ndarray) -> tuple[float, np.ndarray]:
        return _pareto_mean_ll_grad(th, data)

    names = ("r", "alpha", "s", "beta")
    res = _maximise("Pareto/NBD", names, mean_ll, theta0, data.wsum, penalizer, analytic_grad=True)
    params = dict(zip(names, map(float, np.exp(res.theta)), strict=True))
    return ParetoNBDFit(
        params=params,
        log_likelihood=res.log_likelihood,
        n=n,
        converged=res.converged,
        message=res.message,
        time_unit=time_unit,
        penalizer=res.penalizer,
        n_iter=res.n_iter,
        std_errors=_std_errors(names, res),
    )


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


def _gg_mean_ll(theta: np.ndarray, d: dict) -> tuple[float, np.ndarray]:
    """Weighted mean Gamma-Gamma log-likelihood of the repeat customers' mean spends and
    its gradient w.r.t. the log-parameters (gammaln / digamma per distinct x)."""
    p, q, g = np.exp(theta)
    xu, Wx = d["xu"], d["Wx"]
    pxu = p * xu
    ll_x = gammaln(pxu + q) - gammaln(pxu) - gammaln(q) + q * np.log(g) + pxu * np.log(xu)
    psi_pxq_u = digamma(pxu + q)
    gp_x = np.sum(Wx * xu * (psi_pxq_u - digamma(pxu) + np.log(xu)))
    gq_x = np.sum(Wx * (psi_pxq_u - digamma(q) + np.log(g)))
    x, m, w, log_m = d["x"], d["m"], d["w"], d["log_m"]
    px = p * x
    xm_g = x * m + g
    log_xm_g = np.log(xm_g)
    ll = float(np.sum(Wx * ll_x)) + float(np.sum(w * ((px - 1.0) * log_m - (px + q) * log_xm_g)))
    g_p = gp_x + np.sum(w * x * (log_m - log_xm_g))
    g_q = gq_x - np.sum(w * log_xm_g)
    g_g = d["wsum"] * q / g - np.sum(w * (px + q) / xm_g)
    grad = np.array([p * g_p, q * g_q, g * g_g])
    return ll / d["wsum"], grad / d["wsum"]


def fit_gamma_gamma(
    frequency: Any,
    monetary_value: Any,
    *,
    weights: Any = None,
    penalizer: float = 0.0,
) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model on repeat customers by maximum likelihood.

    Only customers with ``frequency > 0`` and a positive, finite ``monetary_value`` enter
    the fit; repeat customers with zero/negative/missing mean spend are excluded and counted
    in ``n_excluded``. The model assumes spend is independent of purchase frequency: check
    :func:`gamma_gamma_independence`.

    Parameters
    ----------
    frequency : array-like, shape (n_customers,)
        Repeat purchases ``x`` (number of transactions behind the mean).
    monetary_value : array-like, shape (n_customers,)
        Mean spend of the repeat transactions (currency), e.g. ``monetary_value`` of
        :func:`calibration_summary`.
    weights : array-like, shape (n_customers,), optional
    penalizer : float, default 0.0
        L2 penalty on the log-parameters.

    Returns
    -------
    GammaGammaFit
        ``time_unit`` is irrelevant for this model and set to "".
    """
    x = np.asarray(frequency, dtype=np.float64).ravel()
    m = np.asarray(monetary_value, dtype=np.float64).ravel()
    if x.size != m.size:
        raise ValueError("frequency and monetary_value must have the same length")
    w = np.ones(x.size) if weights is None else _as_float("weights", weights)
    if w.size != x.size or np.any(w < 0):
        raise ValueError("weights must be non-negative, one per customer")
    if np.any(~np.isfinite(x)) or np.any(x < 0):
        raise ValueError("frequency must be finite and non-negative")
    repeat = x > 0
    usable = repeat & np.isfinite(m) & (m > 0) & (w > 0)
    n_excluded = int(np.sum(repeat & ~usable))
    n_no_repeat = int(np.sum(~repeat))
    x, m, w = x[usable], m[usable], w[usable]
    n = int(round(w.sum()))
    names = ("p", "q", "gamma")
    note = ""
    if n_excluded:
        note = (
            f" {n_excluded} repeat customer(s) with zero, negative or missing mean spend "
            "were excluded."
        )
    if n < 2 or np.unique(m).size < 2:
        return GammaGammaFit(
            params=dict.fromkeys(names, float("nan")),
            log_likelihood=float("nan"),
            n=n,
            converged=False,
            message=_degenerate(
                "Gamma-Gamma", "fewer than two repeat customers with distinct positive spend"
            )
            + note,
            time_unit="",
            penalizer=penalizer,
            n_excluded=n_excluded,
            n_no_repeat=n_no_repeat,
        )
    (x, m), w, _ = _compress([x, m], w)
    xu, x_idx = np.unique(x, return_inverse=True)
    data = {
        "x": x,
        "m": m,
        "w": w,
        "log_m": np.log(m),
        "wsum": float(w.sum()),
        "xu": xu,
        "Wx": np.bincount(x_idx, weights=w, minlength=xu.size),
    }
    mean_m = float(np.sum(w * m)) / data["wsum"]
    theta0 = np.log([1.0, 2.0, mean_m])
    res = _maximise(
        "Gamma-Gamma",
        names,
        lambda th: _gg_mean_ll(th, data),
        theta0,
        data["wsum"],
        penalizer,
        analytic_grad=True,
    )
    params = dict(zip(names, map(float, np.exp(res.theta)), strict=True))
    message = res.message + ("." + note if note else "")
    if res.converged and params["q"] <= 1.0:
        message += (
            " q <= 1: the population mean spend is infinite, so customers without repeat "
            "spend get no expected spend (NaN)."
        )
    return GammaGammaFit(
        params=params,
        log_likelihood=res.log_likelihood,
        n=n,
        converged=res.converged,
        message=message,
        time_unit="",
        penalizer=res.penalizer,
        n_iter=res.n_iter,
        std_errors=_std_errors(names, res),
        n_excluded=n_excluded,
        n_no_repeat=n_no_repeat,
    )


#: Purchase models selectable in the app: key -> fit function ``(frequency, recency, T, *,
#: weights=None, penalizer=0.0, time_unit="W") -> fit``.
MODELS: dict[str, Callable[..., BetaGeoFit | ParetoNBDFit]] = {
    "bgnbd": fit_bgnbd,
    "pareto_nbd": fit_pareto_nbd,
}

#: Display names of :data:`MODELS`.
MODEL_LABELS: dict[str, str] = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}


# --------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------


def _require_params(fit: _FitBase, role: str) -> None:
    if not all(np.isfinite(v) for v in fit.params.values()):
        raise ValueError(f"the {role} model has no usable parameters: {fit.message}")


def customer_clv(
    fit_purchase: BetaGeoFit | ParetoNBDFit,
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
    fit_purchase : BetaGeoFit or ParetoNBDFit
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
    DataFrame, shape (n_customers, 5), index of ``summary``
        ``p_alive`` (probability), ``expected_purchases`` (purchases over the horizon),
        ``expected_aov`` (currency per purchase), ``clv`` (currency, discounted, margin
        applied, >= 0), ``rank`` (int, 1 = highest CLV). ``expected_aov`` and ``clv`` are
        NaN only when the spend model has ``q <= 1`` (infinite population mean) for
        customers without repeat spend; they rank last.

    Raises
    ------
    ValueError
        If a model has no usable parameters or time units disagree.
    """
    _require_params(fit_purchase, "purchase")
    _require_params(fit_spend, "spend")
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

    x = summary["frequency"].to_numpy(dtype=np.float64)
    tx = summary["recency"].to_numpy(dtype=np.float64)
    T = summary["T"].to_numpy(dtype=np.float64)
    mv = summary["monetary_value"].to_numpy(dtype=np.float64)

    (ux, utx, uT), _, inv = _compress([x, tx, T], np.ones(x.size))
    h = np.arange(0, horizon_months + 1, dtype=np.float64)[:, None] * month
    cum = fit_purchase.expected_purchases(h, ux[None, :], utx[None, :], uT[None, :])
    increments = np.maximum(np.diff(cum, axis=0), 0.0)  # (H, n_unique)
    disc = (1.0 + d) ** -np.arange(1, horizon_months + 1, dtype=np.float64)
    disc_purchases = np.sum(disc[:, None] * increments, axis=0)[inv]
    exp_purchases = cum[-1][inv]
    palive = fit_purchase.p_alive(ux, utx, uT)[inv]
    aov = fit_spend.expected_spend(x, mv)
    clv = np.maximum(disc_purchases * aov * margin, 0.0)
    out = pd.DataFrame(
        {
            "p_alive": palive,
            "expected_purchases": exp_purchases,
            "expected_aov": aov,
            "clv": clv,
        },
        index=summary.index,
    )
    out["rank"] = (
        out["clv"].rank(ascending=False, method="first", na_option="bottom").astype(np.int64)
    )
    return out


# --------------------------------------------------------------------------------------------
# Model checking
# --------------------------------------------------------------------------------------------


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


def holdout_scorecard(
    summary_with_holdout: pd.DataFrame,
    fit_purchase: BetaGeoFit | ParetoNBDFit,
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
    fit_purchase : BetaGeoFit or ParetoNBDFit
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
    if has_money:
        mv = s["monetary_value"].to_numpy(dtype=np.float64)
        actual_rev = s["monetary_holdout"].to_numpy(dtype=np.float64)
        model_rev = model_n * np.nan_to_num(fit_spend.expected_spend(x, mv))
        base_rev = base_n * np.where(x > 0, mv, 0.0)
    nan = float("nan")
    rows = {
        "total_purchases": (model_n.sum(), base_n.sum(), actual_n.sum()),
        "total_revenue": (
            (model_rev.sum(), base_rev.sum(), actual_rev.sum()) if has_money else (nan,) * 3
        ),
        "mae_purchases": (
            np.abs(model_n - actual_n).mean() if x.size else nan,
            np.abs(base_n - actual_n).mean() if x.size else nan,
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
        "n_customers": (float(x.size),) * 3,
    }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["model", "baseline", "actual"])
    out.index.name = "metric"
    return out.astype(np.float64)


def tracking_series(
    log: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    fit: BetaGeoFit | ParetoNBDFit,
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
    fit : BetaGeoFit or ParetoNBDFit
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
    f_days, f_counts = np.unique(first[cohort], return_counts=True)
    t = (period_end[None, :] - f_days[:, None]) / unit  # (n_first_days, n_periods)
    ex = np.where(t > 0, fit.expected_purchases_unconditional(np.maximum(t, 0.0)), 0.0)
    model_cum = np.sum(f_counts[:, None] * ex, axis=0)
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
    fit: BetaGeoFit | ParetoNBDFit,
    max_frequency: int,
    max_recency: float,
    T: float,
    *,
    recency_step: float = 1.0,
) -> pd.DataFrame:
    """P(alive) over a frequency x recency grid, for a heatmap.

    Parameters
    ----------
    fit : BetaGeoFit or ParetoNBDFit
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
