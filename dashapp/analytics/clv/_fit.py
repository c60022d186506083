"""Shared maximum-likelihood machinery of the CLV models (no model-specific code).

Input checks (:func:`_check_rft`, :func:`_as_float`), merging of identical rows into
weighted ones (:func:`_compress`, :class:`_RFTData`), the optimiser with its convergence
checks, retries and messages (:func:`_maximise`, :func:`_degenerate`) and the common fields
of every fit object (:class:`_FitBase`). The model files build on this module; it imports
none of them.

Fitting
-------
Log-likelihoods are analytic (``gammaln``, Gauss hypergeometric terms through bounded Euler
transforms, differences in log space), vectorised, evaluated on distinct ``(x, t_x, T)`` rows
with weights (``gammaln`` / ``digamma`` once per distinct ``x``), and maximised over
log-parameters with BFGS with analytic gradients. BFGS rather than L-BFGS-B: the latter's
LAPACK calls become 5-10x slower when OpenBLAS threads compete for a busy CPU. A fit counts
as converged when the gradient is ~0, no log-parameter sits at the edge of [-18, 18], and the
observed information matrix is positive definite with standard errors of the log-parameters
below 5; otherwise it is retried with L2 penalties 0.001 and 0.01 on the log-parameters, and
``message`` says what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize

# Log-parameters are kept inside [-_LOG_BOUND, _LOG_BOUND] (parameters in [1.5e-8, 6.6e7]);
# a parameter that ends near this bound is reported as "ran to its bound" (not converged).
_LOG_BOUND = 18.0
# Max |gradient| of the mean negative log-likelihood (w.r.t. log-parameters) at a solution.
_GRAD_TOL = 1e-4
# L2 penalties on the log-parameters tried, in order, when an unpenalised fit fails.
_RETRY_PENALTIES = (1e-3, 1e-2)
# Largest acceptable standard error of a log-parameter (a factor e^5 ~ 150 either way).
_MAX_SE_LOG = 5.0


# --------------------------------------------------------------------------------------------
# Input checks and compression
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


# --------------------------------------------------------------------------------------------
# Optimiser
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OptResult:
    theta: np.ndarray
    log_likelihood: float
    converged: bool
    message: str
    penalizer: float
    n_iter: int
    se_log: np.ndarray
    cov_log: np.ndarray | None = None


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


def _ll_and_grad_fn(
    mean_ll: Callable[[np.ndarray], tuple[float, np.ndarray | None]], analytic_grad: bool
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``th -> (mean log-likelihood, gradient)``: the analytic gradient of ``mean_ll`` or,
    without one, central differences."""

    def value_only(th: np.ndarray) -> float:
        v, _ = mean_ll(th)
        return v

    def ll_and_grad(th: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            if analytic_grad:
                v, grad = mean_ll(th)
                assert grad is not None  # an analytic likelihood returns its gradient
                g = grad
            else:
                v, _ = mean_ll(th)
                g = _numeric_grad(value_only, th)
        return v, g

    return ll_and_grad


def _attempt(
    names: tuple[str, ...],
    ll_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    total_weight: float,
    pen: float,
) -> tuple[_OptResult, str]:
    """One BFGS run with L2 penalty ``pen`` on the log-parameters.

    Returns the result (``message`` still empty) and the problem found with its solution
    ("" when it is acceptable, see :func:`_check_solution`).
    """

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
    problem, cov_log = _check_solution(names, ll_and_grad, th, v, g, pen, total_weight, res.message)
    se_log = np.full(th.size, np.nan) if cov_log is None else np.sqrt(np.diag(cov_log))
    result = _OptResult(
        theta=th,
        log_likelihood=float(v * total_weight),
        converged=not problem,
        message="",
        penalizer=pen,
        n_iter=int(res.nit),
        se_log=se_log,
        cov_log=cov_log,
    )
    return result, problem


def _check_solution(
    names: tuple[str, ...],
    ll_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    th: np.ndarray,
    v: float,
    g: np.ndarray,
    pen: float,
    total_weight: float,
    opt_message: str,
) -> tuple[str, np.ndarray | None]:
    """Why the solution ``th`` (mean log-likelihood ``v``, gradient ``g``) is not acceptable
    ("" when it is), and the covariance of the log-parameters (inverse observed information;
    None unless computed)."""
    g_pen = g - 2.0 * pen * th
    cov_log = None
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
            f"the optimiser stopped before reaching a maximum ({opt_message}; "
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
            cov_log = np.linalg.inv(info)
            se_log = np.sqrt(np.diag(cov_log))
            loose = [n for n, e in zip(names, se_log, strict=True) if e > _MAX_SE_LOG]
            if loose:
                problem = (
                    f"the data hardly constrain {', '.join(loose)} (standard error of "
                    f"the log-parameter above {_MAX_SE_LOG:g}): too little data for "
                    "this model"
                )
    return problem, cov_log


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
    ll_and_grad = _ll_and_grad_fn(mean_ll, analytic_grad)

    def attempt(pen: float) -> tuple[_OptResult, str]:
        return _attempt(names, ll_and_grad, theta0, total_weight, pen)

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


def _cov_tuple(res: _OptResult) -> tuple[tuple[float, ...], ...]:
    """The covariance of the log-parameters as a hashable tuple (empty when unknown)."""
    if res.cov_log is None:
        return ()
    return tuple(tuple(float(v) for v in row) for row in res.cov_log)


def _std_errors(names: tuple[str, ...], res: _OptResult) -> dict[str, float]:
    """Delta-method standard errors of the parameters: se(p) = p * se(log p)."""
    return {n: float(np.exp(t) * e) for n, t, e in zip(names, res.theta, res.se_log, strict=True)}


# --------------------------------------------------------------------------------------------
# Fit results and messages
# --------------------------------------------------------------------------------------------


def _degenerate(model: str, reason: str) -> str:
    return f"{model} cannot be fitted: {reason}. No parameters were estimated."


def _unfitted(fit_class: Any, label: str, names: tuple[str, ...], reason: str, **fields: Any):
    """The fit object of a purchase model that cannot be fitted: NaN parameters, not
    converged, and ``reason`` in its message (``fields``: n, time_unit, penalizer)."""
    return fit_class(
        params=dict.fromkeys(names, float("nan")),
        log_likelihood=float("nan"),
        converged=False,
        message=_degenerate(label, reason),
        **fields,
    )


def _mean_purchases_and_age(data: _RFTData) -> tuple[float, float]:
    """Customer-weighted mean repeat purchases and mean age T (at least 1e-6): the scale of
    the purchase models' starting values."""
    mean_x = float(np.sum(data.w * data.x)) / data.wsum
    mean_T = max(float(np.sum(data.w * data.T)) / data.wsum, 1e-6)
    return mean_x, mean_T


def _purchase_data_problem(x: np.ndarray, T_: np.ndarray, w: np.ndarray) -> str | None:
    """Why a purchase model (BG/NBD, Pareto/NBD) cannot be fitted to these checked rows
    (see :func:`_check_rft`), or None when it can."""
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
    return reason


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
    cov_log : tuple of tuples of float
        Covariance matrix of the log-parameters (inverse observed information, in
        :attr:`param_names` order); empty when it could not be computed. The intervals of
        :mod:`dashapp.analytics.clv.uncertainty` draw parameters from it.
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
    cov_log: tuple[tuple[float, ...], ...] = ()
    #: The model's name and its parameters' names, in the formulas' order.
    model: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()

    def _p(self) -> tuple[float, ...]:
        """The parameters in :attr:`param_names` order."""
        return tuple(self.params[name] for name in self.param_names)

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


@dataclass(frozen=True)
class _PurchaseFitBase(_FitBase):
    """A fitted purchase model (BG/NBD, MBG/NBD, Pareto/NBD): the churn probabilities every
    such model gets from its per-customer likelihood :meth:`_log_row`."""

    def _log_row(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log L(x, t_x, T) per customer, up to terms that depend on ``x`` only."""
        raise NotImplementedError

    def p_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def p_no_purchase(self, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """P(no purchase in ``(T, T + t]`` | x, t_x, T): the churn probability over ``t``.

        "No purchase up to ``T + t``" extends the observed history, so the probability is the
        ratio of likelihoods ``L(x, t_x, T + t) / L(x, t_x, T)`` (exact for every model whose
        likelihood is that of the history; the terms in ``x`` only cancel). It falls from 1
        at ``t = 0`` towards ``1 - P(alive)`` as ``t`` grows.

        Parameters
        ----------
        t : float or array-like
            Horizon in time units (>= 0).
        x, t_x, T : array-like, shape (n,)

        Returns
        -------
        ndarray, broadcast shape, values in [0, 1].
        """
        x, t_x, T, t = np.broadcast_arrays(
            *(np.asarray(v, dtype=np.float64) for v in (x, t_x, T, t))
        )
        if np.any(t < 0):
            raise ValueError("the churn horizon t must be >= 0")
        with np.errstate(all="ignore"):
            log_ratio = self._log_row(x, t_x, T + t) - self._log_row(x, t_x, T)
            out = np.exp(np.minimum(log_ratio, 0.0))
        return np.where(t > 0, np.clip(out, 0.0, 1.0), 1.0)

    def p_not_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """P(the customer has already dropped out at ``T``) = 1 - P(alive)."""
        return 1.0 - self.p_alive(x, t_x, T)


def _require_params(fit: _FitBase, role: str) -> None:
    if not all(np.isfinite(v) for v in fit.params.values()):
        raise ValueError(f"the {role} model has no usable parameters: {fit.message}")


def _fit_purchase_model(
    fit_class: Any,
    rft: tuple[Any, Any, Any, Any],
    penalizer: float,
    time_unit: str,
    start: Callable[[float, float], list[float]],
    mean_ll: Callable[[np.ndarray, _RFTData], Any],
):
    """The maximum-likelihood fit shared by the purchase models (BG/NBD, Pareto/NBD):
    checks ``rft`` = (frequency, recency, T, weights), reports data that cannot be fitted
    as an unfitted result, starts from ``start(mean purchases, mean age)`` (parameters, not
    logs) and maximises ``mean_ll(log-parameters, data)`` (value and gradient). The
    parameters are ``fit_class.param_names``."""
    label, names = fit_class.model, fit_class.param_names
    x, tx, T_, w = _check_rft(*rft)
    n = int(round(w.sum()))
    reason = _purchase_data_problem(x, T_, w)
    if reason:
        return _unfitted(
            fit_class, label, names, reason, n=n, time_unit=time_unit, penalizer=penalizer
        )
    data = _RFTData(x, tx, T_, w)
    theta0 = np.log(start(*_mean_purchases_and_age(data)))
    res = _maximise(
        label, names, lambda th: mean_ll(th, data), theta0, data.wsum, penalizer,
        analytic_grad=True,
    )  # fmt: skip
    return fit_class(
        params=dict(zip(names, map(float, np.exp(res.theta)), strict=True)),
        log_likelihood=res.log_likelihood,
        n=n,
        converged=res.converged,
        message=res.message,
        time_unit=time_unit,
        penalizer=res.penalizer,
        n_iter=res.n_iter,
        std_errors=_std_errors(names, res),
        cov_log=_cov_tuple(res),
    )
