"""Registry of the purchase models selectable in the app (BG/NBD, MBG/NBD, Pareto/NBD)."""

from __future__ import annotations

from collections.abc import Callable

from dashapp.analytics.clv.bgnbd import BetaGeoFit, fit_bgnbd
from dashapp.analytics.clv.mbgnbd import ModifiedBetaGeoFit, fit_mbgnbd
from dashapp.analytics.clv.pareto_nbd import ParetoNBDFit, fit_pareto_nbd

__all__ = ["MODELS", "MODEL_LABELS", "PurchaseFit"]

#: Any fitted purchase model.
PurchaseFit = BetaGeoFit | ModifiedBetaGeoFit | ParetoNBDFit

#: Purchase models selectable in the app: key -> fit function ``(frequency, recency, T, *,
#: weights=None, penalizer=0.0, time_unit="W") -> fit``.
MODELS: dict[str, Callable[..., PurchaseFit]] = {
    "bgnbd": fit_bgnbd,
    "pareto_nbd": fit_pareto_nbd,
    "mbgnbd": fit_mbgnbd,
}

#: Display names of :data:`MODELS`.
MODEL_LABELS: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "pareto_nbd": "Pareto/NBD",
    "mbgnbd": "MBG/NBD",
}
