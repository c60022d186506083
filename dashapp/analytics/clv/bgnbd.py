"""BG/NBD purchase model (Fader, Hardie & Lee 2005): likelihood, fit object and fit.

:class:`BetaGeoFit` (P(alive), conditional and unconditional expected purchases) and
:func:`fit_bgnbd` (maximum likelihood on the base of :mod:`dashapp.analytics.clv._fit`).
In BG/NBD a customer with ``x == 0`` is alive with probability 1 by construction.

References
----------
Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1, roots_jacobi

from dashapp.analytics.clv._fit import (
    _fit_purchase_model,
    _PurchaseFitBase,
    _RFTData,
)
from dashapp.analytics.clv.summary import _unit_days

__all__ = ["BetaGeoFit", "fit_bgnbd"]


# --------------------------------------------------------------------------------------------
# Fit object: P(alive) and expected purchases
# --------------------------------------------------------------------------------------------


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
class BetaGeoFit(_PurchaseFitBase):
    """Fitted BG/NBD model (Fader, Hardie & Lee 2005).

    ``params``: ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha), alpha in time units),
    ``a``, ``b`` (dropout probability after each purchase ~ Beta(a, b)).
    All methods broadcast their array arguments (numpy rules) and return float ndarrays;
    ``t``, ``t_x`` and ``T`` are in ``time_unit``.
    """

    model = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")

    def _log_row(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log[(alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x)] (FHL eq. 6)."""
        r, alpha, a, b = self._p()
        with np.errstate(all="ignore"):
            bx1 = np.where(x > 0, b + x - 1.0, 1.0)
            alive = -(r + x) * np.log(alpha + T)
            dead = np.where(x > 0, np.log(a / bx1) - (r + x) * np.log(alpha + t_x), -np.inf)
            return np.logaddexp(alive, dead)

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
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        return self.expected_purchases_if_alive(t, x, T) * self.p_alive(x, t_x, T)

    def expected_purchases_if_alive(self, t: Any, x: Any, T: Any) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` of a customer known to be alive at ``T``
        (FHL 2005 eq. 10 without its P(alive) factor; dropouts after later purchases are
        still counted). ``expected_purchases = this x p_alive``.

        Parameters
        ----------
        t : float or array-like
            Horizon length in time units.
        x, T : array-like, shape (n,)
            Repeat purchases and age (recency does not matter once alive is given).

        Returns
        -------
        ndarray, broadcast shape of the inputs, values >= 0.
        """
        r, alpha, a, b = self._p()
        return _bgnbd_conditional_given_alive(t, r, alpha, a, b, x, T)

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


# --------------------------------------------------------------------------------------------
# Likelihood and fit
# --------------------------------------------------------------------------------------------


def _bgnbd_mean_ll(theta: np.ndarray, d: _RFTData) -> tuple[float, np.ndarray]:
    """Weighted mean BG/NBD log-likelihood (FHL 2005 eq. 6) and its gradient w.r.t. the
    log-parameters."""
    return _beta_geometric_mean_ll(theta, d, shift=0.0)


def _beta_geometric_mean_ll(
    theta: np.ndarray, d: _RFTData, shift: float
) -> tuple[float, np.ndarray]:
    """The log-likelihood shared by BG/NBD (``shift`` 0) and MBG/NBD (``shift`` 1, Batislam
    et al. 2007: a customer may also drop out right after the first purchase, so every
    ``b + x`` term gains 1 and the dropout term applies at ``x = 0`` too), weighted mean and
    gradient w.r.t. the log-parameters."""
    r, alpha, a, b = np.exp(theta)
    xu, Wx = d.xu, d.Wx
    # Terms that depend on x only.
    ll_x = (
        gammaln(r + xu)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + xu + shift)
        - gammaln(b)
        - gammaln(a + b + xu + shift)
    )
    psi_ab_x = digamma(a + b + xu + shift)
    psi_ab = digamma(a + b)
    g_r = np.sum(Wx * (digamma(r + xu) - digamma(r) + np.log(alpha)))
    g_a = np.sum(Wx * (psi_ab - psi_ab_x))
    g_b = np.sum(Wx * (psi_ab + digamma(b + xu + shift) - digamma(b) - psi_ab_x))
    g_alpha = d.wsum * r / alpha
    # Row terms: log( (alpha+T)^-(r+x) + [dropout possible] a/(b+x-1+shift) (alpha+t_x)^-(r+x) ),
    # the dropout possible after a repeat purchase (BG/NBD) or after any purchase (MBG/NBD).
    x, w = d.x, d.w
    possible = d.pos if shift == 0.0 else np.ones(x.shape, dtype=bool)
    rx = r + x
    log_aT = np.log(alpha + d.T)
    log_atx = np.log(alpha + d.tx)
    denominator = np.where(possible, b + x - 1.0 + shift, 1.0)
    A3 = -rx * log_aT
    A4 = np.where(possible, np.log(a) - np.log(denominator) - rx * log_atx, -np.inf)
    M = np.logaddexp(A3, A4)
    w4 = np.exp(A4 - M)
    w3 = 1.0 - w4
    ll = float(np.sum(Wx * ll_x)) + float(np.sum(w * M))
    g_r -= np.sum(w * (w3 * log_aT + w4 * log_atx))
    g_alpha -= np.sum(w * rx * (w3 / (alpha + d.T) + w4 / (alpha + d.tx)))
    g_a += np.sum(w * w4) / a
    g_b -= np.sum(w * w4 / denominator)
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
    return _fit_purchase_model(
        BetaGeoFit, (frequency, recency, T, weights), penalizer, time_unit,
        start=lambda mean_x, mean_T: [1.0, max(mean_T / max(mean_x, 1e-3), 1e-3), 1.0, 1.0],
        mean_ll=_bgnbd_mean_ll,
    )  # fmt: skip
