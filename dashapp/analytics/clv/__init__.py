"""Probabilistic customer-lifetime-value models: BG/NBD, Pareto/NBD and Gamma-Gamma.

Pure package (numpy, scipy, pandas): no dash, no flask. The models are implemented here
(maximum likelihood with :func:`scipy.optimize.minimize`) rather than taken from ``lifetimes``
(unmaintained) or ``pymc-marketing`` (heavy). Every public name is importable from the
package itself (``from dashapp.analytics import clv; clv.fit_bgnbd(...)``).

Workflow and layout
-------------------
1. :func:`calibration_summary` (``summary.py``) turns a purchase log (one row per order)
   into the per-customer ``(x, t_x, T)`` summary the models need, optionally with holdout
   columns; the time units (:data:`TIME_UNIT_DAYS`) and day conventions are described there.
2. :func:`fit_bgnbd` (``bgnbd.py``), :func:`fit_mbgnbd` (``mbgnbd.py``) or
   :func:`fit_pareto_nbd` (``pareto_nbd.py``) fit the purchase process (each fit also gives
   the churn probabilities ``p_no_purchase`` over a horizon and ``p_not_alive``), :func:`fit_gamma_gamma` (``gamma_gamma.py``) the spend per purchase.
   Each returns a frozen fit object with ``params``, ``log_likelihood``, ``converged`` and a
   plain-language ``message``. They share the maximum-likelihood base in ``_fit.py`` (input
   checks, row compression, optimiser with retries, :class:`_FitBase`). :data:`MODELS` /
   :data:`MODEL_LABELS` (``models.py``) list the purchase models the app offers.
3. :func:`customer_clv` (``predict.py``) combines both into a discounted, margin-adjusted CLV
   per customer.
4. :func:`holdout_scorecard`, :func:`tracking_series`, :func:`p_alive_matrix` and
   :func:`gamma_gamma_independence` (``evaluate.py``) help judge the model.
5. ``holdout.py`` holds the rules of the validation split (analysed range, default and allowed
   calibration end); ``report.py`` what the CLV page reports (parameter tables, the
   per-customer CLV table with its totals, shares and Pareto curve, the independence check).
   Import them as modules (``from dashapp.analytics.clv import holdout, report``).

``basic.py`` holds the historic (non-probabilistic) CLV. Issue 18 added: ``uncertainty.py``
(intervals from the parameters' covariance, prediction intervals of holdout totals),
``compare.py`` (every model and the naive baseline on the holdout, the recommendation),
``ml.py`` (a HistGradientBoosting forecast trained on an earlier split) and ``explain.py``
(its exact SHAP values). Import them as modules.
"""

from __future__ import annotations

from dashapp.analytics.clv.bgnbd import BetaGeoFit, fit_bgnbd
from dashapp.analytics.clv.evaluate import (
    gamma_gamma_independence,
    holdout_scorecard,
    p_alive_matrix,
    tracking_series,
)
from dashapp.analytics.clv.gamma_gamma import GammaGammaFit, fit_gamma_gamma
from dashapp.analytics.clv.mbgnbd import ModifiedBetaGeoFit, fit_mbgnbd
from dashapp.analytics.clv.models import MODEL_LABELS, MODELS, PurchaseFit
from dashapp.analytics.clv.pareto_nbd import ParetoNBDFit, fit_pareto_nbd
from dashapp.analytics.clv.predict import customer_clv
from dashapp.analytics.clv.summary import DAYS_PER_MONTH, TIME_UNIT_DAYS, calibration_summary

__all__ = [
    "TIME_UNIT_DAYS",
    "DAYS_PER_MONTH",
    "BetaGeoFit",
    "ModifiedBetaGeoFit",
    "PurchaseFit",
    "ParetoNBDFit",
    "GammaGammaFit",
    "MODELS",
    "MODEL_LABELS",
    "calibration_summary",
    "fit_bgnbd",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "fit_gamma_gamma",
    "customer_clv",
    "holdout_scorecard",
    "tracking_series",
    "p_alive_matrix",
    "gamma_gamma_independence",
]
