"""A machine-learned forecast of holdout purchases: scikit-learn's HistGradientBoosting on
features of the calibration period, trained on an earlier split.

No leakage: to forecast the holdout ``(calibration_end, calibration_end + L]`` the model is
trained on the split ``(cutoff, calibration_end]`` with ``cutoff = calibration_end - L``:
features from the purchases up to ``cutoff``, target = repeat purchase days in the next
``L`` days, which all lie before ``calibration_end``. It then scores features built from
the purchases up to ``calibration_end``. Nothing after ``calibration_end`` is read.

Features per customer: :mod:`dashapp.analytics.clv.ml_features` (purchase history, returns
rate, country, product mix), each from the data up to the split's cutoff only. Poisson loss
(counts), 100 trees of at most 15 leaves, fixed seed, no early stopping: the same data give
the same model. :func:`importance` and :func:`explain` give its exact SHAP values
(:mod:`dashapp.analytics.clv.explain`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # loaded where used: scikit-learn and scipy cost ~55 MB per worker
    from sklearn.ensemble import HistGradientBoostingRegressor

from dashapp.analytics.clustering.sampling import _threads
from dashapp.analytics.clv.explain import tree_shap
from dashapp.analytics.clv.ml_features import FEATURE_LABELS, FEATURES, Sources, build
from dashapp.analytics.clv.summary import calibration_summary

__all__ = [
    "FEATURES",
    "FEATURE_LABELS",
    "MLForecast",
    "Sources",
    "ml_forecast",
    "importance",
    "explain",
]
#: Customers (a deterministic sample) behind the global importance.
IMPORTANCE_SAMPLE = 200

#: Fewest training customers, and fewest with a purchase in the training target window.
MIN_TRAIN = 50
MIN_TRAIN_BUYERS = 10


@dataclass(frozen=True)
class MLForecast:
    """The trained model and its holdout forecast. ``model`` is None (and ``message`` says
    why) when it could not be trained. ``predictions``: expected holdout purchase days per
    customer of the scored summary; ``features``: the scored features (for explanations);
    ``train_cutoff``, ``n_train``, ``fit_seconds``; ``dropped``: features left out because
    they had one value in the training data; ``missing``: sentences naming the features the
    sources could not build (no product lines...)."""

    model: Any
    message: str
    predictions: np.ndarray | None = None
    features: pd.DataFrame | None = None
    train_cutoff: pd.Timestamp | None = None
    n_train: int = 0
    fit_seconds: float = float("nan")
    dropped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.model is not None


def _regressor() -> HistGradientBoostingRegressor:
    """Poisson loss for counts; fixed seed and no early stopping: reproducible."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss="poisson",
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        early_stopping=False,
        random_state=0,
    )


def _training_split(sources: Sources, cal: pd.Timestamp, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The training customers: the calibration summary up to ``cutoff`` with the target
    (``frequency_holdout``: repeat purchase days in ``(cutoff, cal]``), string ids."""
    log, date_col = sources.log, sources.date_col
    train = calibration_summary(
        log.loc[log[date_col] < cal + pd.Timedelta(days=1)],
        customer_col=sources.customer_col, date_col=date_col, amount_col=sources.amount_col,
        calibration_end=cutoff, observation_end=cal, time_unit="W",
    )  # fmt: skip
    train.index = train.index.astype(str)
    return train


def ml_forecast(
    sources: Sources,
    scored: pd.DataFrame,
    *,
    calibration_end: Any,
    holdout_days: int,
    data_start: Any,
    min_history_days: int = 56,
) -> MLForecast:
    """Train on the earlier split and forecast the holdout of ``scored`` (the calibration
    summary up to ``calibration_end``, weeks). ``sources`` may hold later rows: they are
    never read. ``data_start`` is the first day of the data; the earlier split needs
    ``min_history_days`` of history before its cutoff."""
    cal = pd.Timestamp(calibration_end).normalize()
    cutoff = cal - pd.Timedelta(days=int(holdout_days))
    history = (cutoff - pd.Timestamp(data_start).normalize()).days
    if history < min_history_days:
        return MLForecast(
            model=None,
            message=(
                f"The machine-learned model needs an earlier split to train on: "
                f"{holdout_days} days before the calibration end leaves {max(history, 0)} "
                f"days of history (at least {min_history_days} needed). Choose a later "
                "calibration date or a longer range."
            ),
        )
    train = _training_split(sources, cal, cutoff)
    y = train["frequency_holdout"].to_numpy(dtype=np.float64)
    if len(train) < MIN_TRAIN or int((y > 0).sum()) < MIN_TRAIN_BUYERS:
        return MLForecast(
            model=None,
            message=(
                f"The machine-learned model has too little to learn from: {len(train):,} "
                f"customers before {cutoff:%Y-%m-%d}, {int((y > 0).sum()):,} of whom bought "
                f"in the following {holdout_days} days (at least {MIN_TRAIN} and "
                f"{MIN_TRAIN_BUYERS} needed)."
            ),
        )
    X_train = build(train, sources, cutoff)
    constant = [c for c in X_train.columns if X_train[c].nunique() <= 1]
    keep = [c for c in X_train.columns if c not in constant]
    if not keep:
        return MLForecast(
            model=None,
            message=(
                f"Every feature has one value among the {len(train):,} training customers "
                f"(before {cutoff:%Y-%m-%d}): the machine-learned model has nothing to learn "
                "from. Widen the date range or the countries."
            ),
        )
    started = time.perf_counter()
    with _threads():  # one OpenMP thread: much faster when the cores are shared
        model = _regressor().fit(X_train[keep].to_numpy(), y)
    seconds = time.perf_counter() - started
    X = build(scored, sources, cal)
    with _threads():
        predictions = model.predict(X[keep].to_numpy())
    message = (
        f"HistGradientBoosting trained on {len(train):,} customers: features up to "
        f"{cutoff:%Y-%m-%d}, target = repeat purchase days in the next {holdout_days} days."
    )
    if constant:
        named = ", ".join(FEATURE_LABELS[c] for c in constant)
        message += f" Left out (one value in the training data, nothing to learn): {named}."
    missing = sources.missing()
    if missing:
        message += " " + " ".join(missing)
    return MLForecast(
        model=model,
        message=message,
        predictions=np.maximum(predictions, 0.0),
        features=X[keep],
        train_cutoff=cutoff,
        n_train=len(train),
        fit_seconds=seconds,
        dropped=constant,
        missing=missing,
    )


def importance(forecast: MLForecast, sample: int = IMPORTANCE_SAMPLE) -> pd.DataFrame:
    """Global importance: mean |SHAP value| of each feature over a deterministic sample of
    the scored customers (raw scale: log of expected purchases), largest first. Columns
    ``feature``, ``label``, ``mean_abs_shap``."""
    if forecast.model is None or forecast.features is None:
        raise ValueError(forecast.message)
    X = forecast.features
    if len(X) > sample:
        X = X.sample(sample, random_state=0)
    phi, _ = tree_shap(forecast.model, X.to_numpy(dtype=np.float64))
    out = pd.DataFrame(
        {
            "feature": list(X.columns),
            "label": [FEATURE_LABELS[c] for c in X.columns],
            "mean_abs_shap": np.abs(phi).mean(axis=0),
        }
    )
    return out.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def explain(forecast: MLForecast, customer_id: str) -> pd.DataFrame:
    """One customer's forecast taken apart (for a waterfall): the base value (the model's
    average on the raw, log scale), then each feature's value and SHAP contribution ``shap``,
    largest first, and ``purchases``, the same steps in expected purchase days: applied in
    that order, step ``k`` moves the forecast from ``exp(base + shap_1 + ... + shap_k-1)`` to
    ``exp(base + ... + shap_k)`` (the model works on the log scale, so a step's size in
    purchases depends on the order; their sum does not: prediction - exp(base)). ``attrs``
    holds ``base``, ``raw`` (base + contributions), ``base_purchases`` (exp(base)) and
    ``prediction`` (expected purchase days = exp(raw)). KeyError names an unknown
    customer."""
    if forecast.model is None or forecast.features is None:
        raise ValueError(forecast.message)
    key = str(customer_id)
    if key not in forecast.features.index:
        raise KeyError(f"customer {customer_id!r} is not among the scored customers")
    row = forecast.features.loc[[key]]
    phi, base = tree_shap(forecast.model, row.to_numpy(dtype=np.float64))
    out = pd.DataFrame(
        {
            "feature": list(row.columns),
            "label": [FEATURE_LABELS[c] for c in row.columns],
            "value": row.iloc[0].to_numpy(dtype=np.float64),
            "shap": phi[0],
        }
    )
    out = out.reindex(out["shap"].abs().sort_values(ascending=False, kind="stable").index)
    out = out.reset_index(drop=True)
    levels = np.exp(base + np.concatenate([[0.0], np.cumsum(out["shap"].to_numpy())]))
    out["purchases"] = np.diff(levels)
    raw = base + float(phi[0].sum())
    out.attrs.update(
        base=base, raw=raw, base_purchases=float(levels[0]), prediction=float(np.exp(raw))
    )
    return out
