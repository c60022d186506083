"""MBG/NBD purchase model (Batislam, Denizel & Filiztekin 2007): likelihood, fit object, fit.

The modified BG/NBD lets a customer drop out right after the first purchase as well as after
each repeat purchase (BG/NBD: only after repeat purchases). So a customer with no repeat
purchase can already be lost (BG/NBD gives such a customer P(alive) = 1), and after ``x``
repeat purchases the dropout probability ``p`` has survived ``x + 1`` chances. Everything
else is BG/NBD's: purchases at rate ``lambda ~ Gamma(r, alpha)`` while alive,
``p ~ Beta(a, b)``.

Formulas (also those of ``lifetimes``' ``ModifiedBetaGeoFitter``, an independent
implementation the tests compare with)::

    L = B(a, b+x+1)/B(a, b) * Gamma(r+x) alpha^r / Gamma(r)
        * [(alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x)]
    P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))
    E[Y(t) | x, t_x, T] = BG/NBD's expectation given alive with b -> b+1, times P(alive)
    E[X(t)] = b/(a+b) * BG/NBD's expectation given alive of a new customer with b -> b+1

References
----------
Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for
customer base analysis", International Journal of Research in Marketing 24(3), 201-209.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from dashapp.analytics.clv._fit import _fit_purchase_model, _PurchaseFitBase, _RFTData
from dashapp.analytics.clv.bgnbd import (
    _beta_geometric_mean_ll,
    _bgnbd_conditional_given_alive,
)
from dashapp.analytics.clv.summary import _unit_days

__all__ = ["ModifiedBetaGeoFit", "fit_mbgnbd"]


@dataclass(frozen=True)
class ModifiedBetaGeoFit(_PurchaseFitBase):
    """Fitted MBG/NBD model (Batislam, Denizel & Filiztekin 2007).

    ``params``: ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha), alpha in time units),
    ``a``, ``b`` (dropout probability at the first and after each repeat purchase
    ~ Beta(a, b)). Methods broadcast their arguments and return float ndarrays; durations
    are in ``time_unit``.
    """

    model = "MBG/NBD"
    param_names = ("r", "alpha", "a", "b")

    def _log_row(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log[(alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x)] (for every x, also 0)."""
        r, alpha, a, b = self._p()
        with np.errstate(all="ignore"):
            return np.logaddexp(
                -(r + x) * np.log(alpha + T),
                np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x),
            )

    def p_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """Probability that the customer is still active at ``T`` (below 1 also for
        ``x == 0``).

        Parameters
        ----------
        x, t_x, T : array-like, shape (n,)
            Repeat purchases, recency and age (time units).

        Returns
        -------
        ndarray, shape (n,), values in [0, 1].
        """
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        with np.errstate(all="ignore"):
            log_odds_dead = np.log(a / (b + x)) + (r + x) * (
                np.log(alpha + T) - np.log(alpha + t_x)
            )
            return expit(-log_odds_dead)

    def expected_purchases(self, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """Conditional expected number of purchases in ``(T, T + t]``.

        Parameters
        ----------
        t : float or array-like
            Horizon in time units (broadcast against the customers).
        x, t_x, T : array-like, shape (n,)

        Returns
        -------
        ndarray, broadcast shape, values >= 0.
        """
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        return self.expected_purchases_if_alive(t, x, T) * self.p_alive(x, t_x, T)

    def expected_purchases_if_alive(self, t: Any, x: Any, T: Any) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` of a customer known to be alive at ``T``
        (``expected_purchases = this x p_alive``; recency does not matter once alive is
        given).

        Parameters
        ----------
        t : float or array-like
            Horizon length in time units.
        x, T : array-like, shape (n,)

        Returns
        -------
        ndarray, broadcast shape of the inputs, values >= 0.
        """
        r, alpha, a, b = self._p()
        return _bgnbd_conditional_given_alive(t, r, alpha, a, b + 1.0, x, T)

    def expected_purchases_unconditional(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in ``(0, t]``.

        Parameters
        ----------
        t : float or array-like, time units.

        Returns
        -------
        ndarray, shape of ``t``.
        """
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=np.float64)
        zero = np.zeros(())
        given_alive = _bgnbd_conditional_given_alive(t, r, alpha, a, b + 1.0, zero, zero)
        return b / (a + b) * given_alive


def _mbgnbd_mean_ll(theta: np.ndarray, d: _RFTData) -> tuple[float, np.ndarray]:
    """Weighted mean MBG/NBD log-likelihood and its gradient w.r.t. the log-parameters."""
    return _beta_geometric_mean_ll(theta, d, shift=1.0)


def fit_mbgnbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    penalizer: float = 0.0,
    time_unit: str = "W",
) -> ModifiedBetaGeoFit:
    """Fit the MBG/NBD purchase model by maximum likelihood.

    Same machinery as :func:`~dashapp.analytics.clv.fit_bgnbd` (analytic gradient, BFGS over
    log-parameters, weighted distinct rows, retries with a small L2 penalty; the outcome is
    explained in ``message``).

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
    ModifiedBetaGeoFit
    """
    _unit_days(time_unit)
    return _fit_purchase_model(
        ModifiedBetaGeoFit, (frequency, recency, T, weights), penalizer, time_unit,
        start=lambda mean_x, mean_T: [1.0, max(mean_T / max(mean_x, 1e-3), 1e-3), 1.0, 1.0],
        mean_ll=_mbgnbd_mean_ll,
    )  # fmt: skip
