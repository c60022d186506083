"""Purchase models compared on a holdout period, side by side with a naive baseline, and
the one to recommend.

Every model forecasts each customer's purchases over their holdout (``duration_holdout``)
from the calibration period; the naive baseline keeps each customer's calibration repeat
rate ``x / T``. The measures (purchases are repeat purchase days):

* ``total_error_pct``: (forecast total - actual total) / actual total;
* ``mae``, ``rmse``: per-customer mean absolute and root mean squared error;
* ``spearman``: rank correlation of forecast and actual purchases;
* ``top10_capture``: share of the holdout purchases made by the forecast's top 10 %;
* ``calibration_error``: customers sorted by forecast into ten equal groups (deciles); the
  mean over the deciles of |mean forecast - mean actual| (per customer);
* ``fit_seconds``: wall time of the fit on the calibration period.

The recommendation (:func:`recommend`) ranks the candidates on each of the first six
measures (lower is better, except rank correlation and top-10 % capture) and picks the
lowest sum of ranks, ties broken by RMSE; a model that did not converge is not a candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dashapp.analytics.clv.evaluate import _spearman, _top_share

__all__ = ["Comparison", "compare_models", "churn_check", "recommend", "BASELINE", "MEASURES"]

#: Key of the naive baseline in the comparison table.
BASELINE = "baseline"
#: Measure -> (label, True when higher is better); the ones the recommendation ranks.
MEASURES: dict[str, tuple[str, bool]] = {
    "total_error_pct": ("total error", False),
    "mae": ("MAE", False),
    "rmse": ("RMSE", False),
    "spearman": ("rank correlation", True),
    "top10_capture": ("top-10% capture", True),
    "calibration_error": ("calibration by decile", False),
}
DECILES = 10


@dataclass(frozen=True)
class Comparison:
    """``table``: one row per candidate (index: model key, :data:`BASELINE` last) with
    ``label``, ``converged``, ``predicted_total``, ``actual_total``, the measures of the
    module docstring and ``fit_seconds``; ``deciles``: ``model``, ``label``, ``decile``
    (1 = lowest forecast), ``predicted``, ``actual`` (mean purchases per customer);
    ``winner`` (a key of ``table``, None when no candidate qualifies) and ``reason`` (why, in
    a sentence); ``n_customers`` and ``holdout_weeks`` (mean holdout length)."""

    table: pd.DataFrame
    deciles: pd.DataFrame
    winner: str | None
    reason: str
    n_customers: int
    holdout_weeks: float


def _measures(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    total = float(actual.sum())
    err = pred - actual
    order = np.argsort(pred, kind="stable")
    groups = [g for g in np.array_split(order, DECILES) if g.size]
    calib = [abs(pred[g].mean() - actual[g].mean()) for g in groups]
    return {
        "predicted_total": float(pred.sum()),
        "actual_total": total,
        "total_error_pct": (float(pred.sum()) - total) / total if total > 0 else math.nan,
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "spearman": _spearman(pred, actual),
        "top10_capture": _top_share(pred, actual),
        "calibration_error": float(np.mean(calib)) if calib else math.nan,
    }


def _deciles(key: str, label: str, pred: np.ndarray, actual: np.ndarray) -> pd.DataFrame:
    order = np.argsort(pred, kind="stable")
    groups = [g for g in np.array_split(order, DECILES) if g.size]
    return pd.DataFrame(
        {
            "model": key,
            "label": label,
            "decile": np.arange(1, len(groups) + 1),
            "predicted": [pred[g].mean() for g in groups],
            "actual": [actual[g].mean() for g in groups],
        }
    )


def compare_models(
    summary: pd.DataFrame,
    fits: dict[str, tuple[Any, float]],
    labels: dict[str, str],
    predictions: dict[str, tuple[str, np.ndarray | None, float]] | None = None,
) -> Comparison:
    """Compare fitted purchase models and the naive baseline on the holdout.

    Parameters
    ----------
    summary : DataFrame
        Calibration summary with holdout columns (``frequency``, ``recency``, ``T``,
        ``frequency_holdout``, ``duration_holdout``), e.g. :func:`calibration_summary` with
        ``observation_end``.
    fits : dict
        Model key -> (fit on the calibration period, fit seconds); a fit that did not
        converge is listed with NaN measures and ``converged`` False.
    labels : dict
        Model key -> display name.
    predictions : dict, optional
        Further candidates that forecast directly (the machine-learned model): key ->
        (label, holdout purchases per customer of ``summary`` or None when it could not be
        trained, fit seconds). Listed after the purchase models.

    Returns
    -------
    Comparison
    """
    x, tx, T, dur, actual = (
        summary[c].to_numpy(dtype=np.float64)
        for c in ("frequency", "recency", "T", "duration_holdout", "frequency_holdout")
    )
    if actual.size == 0:
        raise ValueError("there are no customers to compare the models on")
    rows, deciles = [], []
    candidates: list[tuple[str, str, Any, float]] = [
        (key, labels.get(key, key), fit, seconds) for key, (fit, seconds) in fits.items()
    ]
    for key, label, fit, seconds in candidates:
        usable = fit is not None and fit.converged
        row: dict[str, Any] = {"model": key, "label": label, "converged": usable}
        if usable:
            pred = fit.expected_purchases(dur, x, tx, T)
            row.update(_measures(pred, actual))
            deciles.append(_deciles(key, label, pred, actual))
        row["fit_seconds"] = seconds
        rows.append(row)
    for key, (label, pred, seconds) in (predictions or {}).items():
        row = {"model": key, "label": label, "converged": pred is not None}
        if pred is not None:
            row.update(_measures(np.asarray(pred, dtype=np.float64), actual))
            deciles.append(_deciles(key, label, np.asarray(pred, dtype=np.float64), actual))
        row["fit_seconds"] = seconds
        rows.append(row)
    rate = np.divide(x, T, out=np.zeros_like(x), where=T > 0)
    base = rate * dur
    rows.append(
        {"model": BASELINE, "label": "Naive baseline (x/T)", "converged": True,
         **_measures(base, actual), "fit_seconds": 0.0}
    )  # fmt: skip
    deciles.append(_deciles(BASELINE, "Naive baseline (x/T)", base, actual))
    table = pd.DataFrame(rows).set_index("model")
    winner, reason = recommend(table)
    return Comparison(
        table=table,
        deciles=pd.concat(deciles, ignore_index=True),
        winner=winner,
        reason=reason,
        n_customers=int(actual.size),
        holdout_weeks=float(dur.mean()),
    )


def churn_check(summary: pd.DataFrame, fits: dict[str, Any], t: float) -> pd.DataFrame:
    """The churn probabilities over ``t`` (time units) checked against the first ``t`` of
    the holdout: ``summary`` is the calibration summary whose holdout ends ``t`` after the
    calibration end (``frequency_holdout`` counts the purchases in it). Per candidate (the
    converged ``fits`` and :data:`BASELINE`, whose customers keep buying at their rate
    ``x/T``, so P(no purchase) = exp(-t x / T)): ``churn_predicted`` (expected customers
    without a purchase), ``churn_actual`` and ``churn_brier`` (mean squared difference of
    the probability and the 0/1 outcome; lower is better)."""
    x, tx, T = (summary[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    churned = (summary["frequency_holdout"].to_numpy() == 0).astype(np.float64)
    probs = {k: f.p_no_purchase(t, x, tx, T) for k, f in fits.items() if f is not None}
    rate = np.divide(x, T, out=np.zeros_like(x), where=T > 0)
    probs[BASELINE] = np.exp(-rate * t)
    return pd.DataFrame(
        {
            "churn_predicted": {k: float(p.sum()) for k, p in probs.items()},
            "churn_actual": {k: float(churned.sum()) for k in probs},
            "churn_brier": {k: float(np.mean((p - churned) ** 2)) for k, p in probs.items()},
        }
    )


def recommend(table: pd.DataFrame) -> tuple[str | None, str]:
    """The candidate with the lowest sum of ranks over :data:`MEASURES` (ties: lowest
    RMSE) among those that converged with finite measures, and the reason in a sentence."""
    ok = table[table["converged"].astype(bool)]
    ok = ok[np.isfinite(ok[list(MEASURES)].astype(float)).all(axis=1)]
    if ok.empty:
        return None, "No model could be compared: none converged on the calibration period."
    ranks = pd.DataFrame(index=ok.index)
    for measure, (_, higher) in MEASURES.items():
        values = ok[measure].astype(float)
        values = -values if higher else values.abs()
        ranks[measure] = values.rank(method="min")
    score = ranks.sum(axis=1)
    order = sorted(ok.index, key=lambda k: (score[k], float(ok.loc[k, "rmse"])))
    winner = order[0]
    best = [MEASURES[m][0] for m in MEASURES if ranks.loc[winner, m] == 1]
    label = str(ok.loc[winner, "label"])
    if len(order) == 1:
        return winner, f"{label} is the only candidate that could be compared."
    runner = str(ok.loc[order[1], "label"])
    won = ", ".join(best) if best else "no single measure"
    reason = (
        f"{label} has the best overall rank over the {len(MEASURES)} measures "
        f"(best on {won}; runner-up {runner}): its forecasts of the holdout purchases are "
        f"off by {ok.loc[winner, 'total_error_pct']:+.1%} in total and by "
        f"{ok.loc[winner, 'mae']:.2f} purchases per customer on average."
    )
    if winner == BASELINE:
        reason += (
            " No purchase model beats the naive baseline on this data: its predictions "
            "add nothing over each customer's past rate here."
        )
    return winner, reason
