"""Gamma-Gamma spend model: likelihood, fit object and fit.

:class:`GammaGammaFit` (conditional expected spend per purchase) and
:func:`fit_gamma_gamma`, fitted on the repeat customers' mean spends. The model assumes spend
is independent of purchase frequency (see
:func:`dashapp.analytics.clv.evaluate.gamma_gamma_independence`).

References
----------
Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
analysis", JMR 42(4). Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from dashapp.analytics.clv._fit import (
    _as_float,
    _compress,
    _cov_tuple,
    _degenerate,
    _FitBase,
    _maximise,
    _OptResult,
    _std_errors,
)

__all__ = ["GammaGammaFit", "fit_gamma_gamma"]


# --------------------------------------------------------------------------------------------
# Fit object: expected spend
# --------------------------------------------------------------------------------------------


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
# Likelihood and fit
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


def _gg_inputs(
    frequency: Any, monetary_value: Any, weights: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Checked ``(x, mean spend, weight)`` of the customers the Gamma-Gamma fit can use, the
    number of repeat customers excluded (zero, negative or missing mean spend) and the
    number of customers without repeat purchases."""
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
    return x, m, w, n_excluded, n_no_repeat


def _gg_data(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> dict:
    """Identical ``(x, mean spend)`` rows merged with weights, plus the per-distinct-x
    bookkeeping of :func:`_gg_mean_ll`."""
    (x, m), w, _ = _compress([x, m], w)
    xu, x_idx = np.unique(x, return_inverse=True)
    return {
        "x": x,
        "m": m,
        "w": w,
        "log_m": np.log(m),
        "wsum": float(w.sum()),
        "xu": xu,
        "Wx": np.bincount(x_idx, weights=w, minlength=xu.size),
    }


def _gg_message(res: _OptResult, note: str, q: float) -> str:
    """Outcome of a Gamma-Gamma fit: the optimiser's message, the exclusion ``note`` and a
    warning when ``q <= 1``."""
    message = res.message + ("." + note if note else "")
    if res.converged and q <= 1.0:
        message += (
            " q <= 1: the population mean spend is infinite, so customers without repeat "
            "spend get no expected spend (NaN)."
        )
    return message


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
    x, m, w, n_excluded, n_no_repeat = _gg_inputs(frequency, monetary_value, weights)
    n = int(round(w.sum()))
    names = ("p", "q", "gamma")
    note = (
        f" {n_excluded} repeat customer(s) with zero, negative or missing mean spend were excluded."
        if n_excluded
        else ""
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
    data = _gg_data(x, m, w)
    mean_m = float(np.sum(data["w"] * data["m"])) / data["wsum"]
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
    return GammaGammaFit(
        params=params,
        log_likelihood=res.log_likelihood,
        n=n,
        converged=res.converged,
        message=_gg_message(res, note, params["q"]),
        time_unit="",
        penalizer=res.penalizer,
        n_iter=res.n_iter,
        std_errors=_std_errors(names, res),
        cov_log=_cov_tuple(res),
        n_excluded=n_excluded,
        n_no_repeat=n_no_repeat,
    )
