"""A machine-learned forecast of holdout purchases: scikit-learn's HistGradientBoosting on
features of the calibration period, trained on an earlier split.

No leakage: to forecast the holdout ``(calibration_end, calibration_end + L]`` the model is
trained on the split ``(cutoff, calibration_end]`` with ``cutoff = calibration_end - L``:
features from the purchases up to ``cutoff``, target = repeat purchase days in the next
``L`` days, which all lie before ``calibration_end``. It then scores features built from
the purchases up to ``calibration_end``. Nothing after ``calibration_end`` is read.

Features per customer (:data:`FEATURES`): repeat purchase days ``x``, recency ``t_x``, age
``T`` and weeks since the last purchase ``T - t_x`` (weeks), the repeat rate ``x / T``, the
mean repeat-day spend, and purchase days in the last 13 weeks (the trend). Poisson loss
(counts), 100 trees of at most 15 leaves, fixed seed, no early stopping: the same data give
the same model. :func:`importance` and :func:`explain` give its exact SHAP values
(:mod:`dashapp.analytics.clv.explain`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from dashapp.analytics.clustering.sampling import _threads
from dashapp.analytics.clv.explain import tree_shap
from dashapp.analytics.clv.summary import calibration_summary

__all__ = [
    "FEATURES",
    "FEATURE_LABELS",
    "MLForecast",
    "ml_forecast",
    "features",
    "importance",
    "explain",
]
#: Customers (a deterministic sample) behind the global importance.
IMPORTANCE_SAMPLE = 200

FEATURES = ("frequency", "recency", "T", "weeks_since_last", "rate", "mean_spend", "recent_days")
FEATURE_LABELS = {
    "frequency": "repeat purchase days x",
    "recency": "recency t_x (weeks)",
    "T": "age T (weeks)",
    "weeks_since_last": "weeks since the last purchase",
    "rate": "repeat rate x/T",
    "mean_spend": "mean spend per repeat day",
    "recent_days": "purchase days in the last 13 weeks",
}
#: Fewest training customers, and fewest with a purchase in the training target window.
MIN_TRAIN = 50
MIN_TRAIN_BUYERS = 10
RECENT_DAYS = 91


def features(
    summary: pd.DataFrame, log: pd.DataFrame, cutoff: pd.Timestamp, cols: tuple[str, str]
) -> pd.DataFrame:
    """:data:`FEATURES` of the customers of ``summary`` (a calibration summary in weeks
    ending at ``cutoff``), with the purchase days of the last 13 weeks read from ``log``
    (``cols`` = customer and date columns) up to ``cutoff`` only."""
    customer_col, date_col = cols
    days = pd.to_datetime(log[date_col]).dt.normalize()
    recent = log.loc[(days <= cutoff) & (days > cutoff - pd.Timedelta(days=RECENT_DAYS))]
    recent_days = recent.assign(day=days).groupby(customer_col, observed=True)["day"].nunique()
    recent_days.index = recent_days.index.astype(str)
    x, tx, T = (summary[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    out = pd.DataFrame(
        {
            "frequency": x,
            "recency": tx,
            "T": T,
            "weeks_since_last": T - tx,
            "rate": np.divide(x, T, out=np.zeros_like(x), where=T > 0),
            "mean_spend": np.nan_to_num(summary["monetary_value"].to_numpy(dtype=np.float64)),
            "recent_days": recent_days.reindex(summary.index.astype(str)).fillna(0).to_numpy(),
        },
        index=summary.index,
    )
    return out[list(FEATURES)]


@dataclass(frozen=True)
class MLForecast:
    """The trained model and its holdout forecast. ``model`` is None (and ``message`` says
    why) when it could not be trained. ``predictions``: expected holdout purchase days per
    customer of the scored summary; ``features``: the scored features (for explanations);
    ``train_cutoff``, ``n_train``, ``fit_seconds``; ``dropped``: features left out because
    they had one value in the training data."""

    model: Any
    message: str
    predictions: np.ndarray | None = None
    features: pd.DataFrame | None = None
    train_cutoff: pd.Timestamp | None = None
    n_train: int = 0
    fit_seconds: float = float("nan")
    dropped: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.model is not None


def _regressor() -> HistGradientBoostingRegressor:
    """Poisson loss for counts; fixed seed and no early stopping: reproducible."""
    return HistGradientBoostingRegressor(
        loss="poisson",
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        early_stopping=False,
        random_state=0,
    )


def ml_forecast(
    log: pd.DataFrame,
    scored: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str,
    calibration_end: Any,
    holdout_days: int,
    data_start: Any,
    min_history_days: int = 56,
) -> MLForecast:
    """Train on the earlier split and forecast the holdout of ``scored`` (the calibration
    summary up to ``calibration_end``, weeks). ``log`` may hold later purchases: they are
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
    upto_cal = log.loc[pd.to_datetime(log[date_col]).dt.normalize() <= cal]
    train = calibration_summary(
        upto_cal, customer_col=customer_col, date_col=date_col, amount_col=amount_col,
        calibration_end=cutoff, observation_end=cal, time_unit="W",
    )  # fmt: skip
    train.index = train.index.astype(str)
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
    cols = (customer_col, date_col)
    X_train = features(train, upto_cal, cutoff, cols)
    constant = [c for c in X_train.columns if X_train[c].nunique() <= 1]
    keep = [c for c in X_train.columns if c not in constant]
    if not keep:
        return MLForecast(model=None, message="Every feature has one value: nothing to learn.")
    started = time.perf_counter()
    with _threads():  # one OpenMP thread: much faster when the cores are shared
        model = _regressor().fit(X_train[keep].to_numpy(), y)
    seconds = time.perf_counter() - started
    X = features(scored, upto_cal, cal, cols)
    with _threads():
        predictions = model.predict(X[keep].to_numpy())
    message = (
        f"HistGradientBoosting trained on {len(train):,} customers: features up to "
        f"{cutoff:%Y-%m-%d}, target = repeat purchase days in the next {holdout_days} days."
    )
    if constant:
        message += f" Left out (one value in the training data): {', '.join(constant)}."
    return MLForecast(
        model=model,
        message=message,
        predictions=np.maximum(predictions, 0.0),
        features=X[keep],
        train_cutoff=cutoff,
        n_train=len(train),
        fit_seconds=seconds,
        dropped=constant,
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
    average on the raw, log scale), then each feature's value and SHAP contribution, largest
    first; ``attrs`` holds ``base``, ``raw`` (base + contributions) and ``prediction``
    (expected purchase days = exp(raw)). KeyError names an unknown customer."""
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
    raw = base + float(phi[0].sum())
    out.attrs.update(base=base, raw=raw, prediction=float(np.exp(raw)))
    return out
