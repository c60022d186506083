"""What the CLV page reports about the fitted models and the customers' values.

Pure: numpy, pandas, scipy. The fitted parameters with their meaning, fit statistics and the
sentences they imply; the P(alive) grid; the Gamma-Gamma independence check; the per-customer
table of basic and predicted CLV with its totals, shares, rank correlations and Pareto curve.
Times are in the models' unit (weeks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dashapp.analytics.clv import (
    DAYS_PER_MONTH,
    customer_clv,
    gamma_gamma_independence,
    p_alive_matrix,
)
from dashapp.analytics.clv._fit import _compress
from dashapp.analytics.clv.basic import historic_clv, ranking_index
from dashapp.analytics.clv.summary import _unit_days

#: Meaning of each fitted parameter, by (model, parameter).
PARAM_MEANING = {
    ("bgnbd", "r"): "shape of the purchase rate λ ~ Gamma(r, α)",
    ("bgnbd", "alpha"): "scale of the purchase rate (weeks)",
    ("bgnbd", "a"): "dropout probability after a purchase p ~ Beta(a, b)",
    ("bgnbd", "b"): "dropout probability p ~ Beta(a, b)",
    ("mbgnbd", "r"): "shape of the purchase rate λ ~ Gamma(r, α)",
    ("mbgnbd", "alpha"): "scale of the purchase rate (weeks)",
    ("mbgnbd", "a"): "dropout probability at the first and each repeat purchase p ~ Beta(a, b)",
    ("mbgnbd", "b"): "dropout probability p ~ Beta(a, b)",
    ("pareto_nbd", "r"): "shape of the purchase rate λ ~ Gamma(r, α)",
    ("pareto_nbd", "alpha"): "scale of the purchase rate (weeks)",
    ("pareto_nbd", "s"): "shape of the dropout rate μ ~ Gamma(s, β)",
    ("pareto_nbd", "beta"): "scale of the dropout rate (weeks)",
    ("gamma_gamma", "p"): "shape of the spend per purchase",
    ("gamma_gamma", "q"): "shape of the customer's spend scale ν ~ Gamma(q, γ)",
    ("gamma_gamma", "gamma"): "scale of ν (currency)",
}
PARAM_SYMBOL = {"alpha": "α", "beta": "β", "gamma": "γ"}
#: Columns of the per-customer CLV table, in order.
CUSTOMER_COLUMNS = [
    "customer_id",
    "rank",
    "orders",
    "recency_days",
    "monetary",
    "ranking_index",
    "historic_clv",
    "repeat_days",
    "recency_weeks",
    "age_weeks",
    "p_alive",
    "p_not_alive",
    "p_churn",
    "expected_purchases",
    "expected_aov",
    "clv",
    "clv_if_alive",
]
#: Most repeat customers shown in the independence check's scatter.
INDEPENDENCE_POINTS = 2000


# ------------------------------------------------------------------------------------------
# The fitted models
# ------------------------------------------------------------------------------------------
def params_table(model: str, purchase: Any, spend: Any) -> pd.DataFrame:
    """Estimates, standard errors and meaning of the purchase and spend models' parameters."""
    rows = []
    for key, fit in ((model, purchase), ("gamma_gamma", spend)):
        if fit is None:
            continue
        for name, value in fit.params.items():
            rows.append(
                {
                    "model": fit.model,
                    "parameter": PARAM_SYMBOL.get(name, name),
                    "estimate": value,
                    "std_error": fit.std_errors.get(name, float("nan")),
                    "meaning": PARAM_MEANING.get((key, name), ""),
                }
            )
    return pd.DataFrame(rows, columns=["model", "parameter", "estimate", "std_error", "meaning"])


def fit_stats(purchase: Any, spend: Any) -> pd.DataFrame:
    """Log-likelihood, customers, time unit, convergence, iterations and penalty per model."""
    rows = []
    for fit, unit in ((purchase, "weeks (7 days)"), (spend, "— (spend per purchase)")):
        if fit is None:
            continue
        rows.append(
            {
                "model": fit.model,
                "log_likelihood": fit.log_likelihood,
                "customers": fit.n,
                "time_unit": unit,
                "converged": bool(fit.converged),
                "iterations": fit.n_iter,
                "penalty": fit.penalizer,
            }
        )
    columns = ["model", "log_likelihood", "customers", "time_unit", "converged", "iterations"]
    return pd.DataFrame(rows, columns=[*columns, "penalty"])


def _finite_params(fit: Any) -> bool:
    return fit is not None and all(np.isfinite(v) for v in fit.params.values())


def derived(model: str, purchase: Any) -> list[str]:
    """Readable consequences of the purchase-model parameters."""
    if not _finite_params(purchase):
        return []
    p = purchase.params
    lines = [
        f"Mean purchase rate while alive r/α = {p['r'] / p['alpha']:.3f} repeat purchase "
        f"days per week ({52 * p['r'] / p['alpha']:.1f} a year)."
    ]
    if model in ("bgnbd", "mbgnbd"):
        when = (
            "at the first and after each repeat purchase"
            if model == "mbgnbd"
            else ("after each purchase")
        )
        lines.append(
            f"Mean chance of dropping out {when} a/(a+b) = {p['a'] / (p['a'] + p['b']):.1%}."
        )
    else:
        lines.append(
            f"Mean dropout rate s/β = {p['s'] / p['beta']:.4f} per week (a customer "
            f"with the mean rate stays on average {p['beta'] / p['s']:.0f} weeks)."
        )
    return lines


def p_alive_grid(purchase: Any, summary: pd.DataFrame) -> pd.DataFrame | None:
    """P(alive) by repeat purchases (up to the 99th percentile, at least 10) and recency, for
    a customer observed over the whole range (``attrs["T"]``); None without a usable fit."""
    if not _finite_params(purchase):
        return None
    x = summary["frequency"]
    t_max = float(summary["T"].max())
    max_f = int(min(x.max(), max(10, np.ceil(x.quantile(0.99)))))
    matrix = p_alive_matrix(purchase, max_f, np.floor(t_max), t_max)
    matrix.attrs["T"] = t_max
    return matrix


@dataclass(frozen=True)
class Independence:
    """Gamma-Gamma's assumption: spend per purchase does not depend on frequency."""

    pearson: float
    spearman: float
    n: int  # repeat customers with positive spend
    points: pd.DataFrame  # at most INDEPENDENCE_POINTS of them: frequency, monetary_value


def independence(summary: pd.DataFrame) -> Independence | None:
    """Correlations of frequency and mean spend among repeat customers; None when empty."""
    if summary is None or summary.empty:
        return None
    rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    spearman = (
        float(rep["frequency"].rank().corr(rep["monetary_value"].rank()))
        if len(rep) >= 3
        else float("nan")
    )
    points = rep[["frequency", "monetary_value"]]
    if len(points) > INDEPENDENCE_POINTS:
        points = points.sample(INDEPENDENCE_POINTS, random_state=0)
    return Independence(
        pearson=gamma_gamma_independence(summary),
        spearman=spearman,
        n=len(rep),
        points=points.reset_index(drop=True),
    )


# ------------------------------------------------------------------------------------------
# Customers' values
# ------------------------------------------------------------------------------------------
def measure_stats(values: np.ndarray, clv_values: np.ndarray) -> dict:
    """Total, median, top-10% / top-20% shares (negative values count as 0 in the shares)
    and Spearman correlation with predicted CLV of one per-customer measure."""
    from scipy.stats import rankdata

    finite = np.isfinite(values)
    descending = np.sort(np.where(finite, values, 0.0))[::-1]
    positive = descending.clip(min=0)
    total_pos = positive.sum()

    def share(p: float) -> float:
        if positive.size == 0 or total_pos <= 0:
            return float("nan")
        return float(positive[: max(1, int(np.ceil(p * positive.size)))].sum() / total_pos)

    ok = finite & np.isfinite(clv_values)
    spearman = float("nan")
    if ok.sum() >= 3:
        a, b = rankdata(values[ok]), rankdata(clv_values[ok])
        if a.std() > 0 and b.std() > 0:
            spearman = float(np.corrcoef(a, b)[0, 1])
    return {
        "total": float(values[finite].sum()),
        "median": float(np.median(values[finite])) if finite.any() else float("nan"),
        "top10_share": share(0.10),
        "top20_share": share(0.20),
        "spearman_vs_predicted": spearman,
        "descending": descending,
    }


def pareto(clv_desc: np.ndarray, revenue_desc: np.ndarray, points: int = 200) -> pd.DataFrame:
    """Cumulative share of predicted CLV and of historic revenue by share of customers (each
    sorted by its own measure, largest first; negative values count as 0), on at most
    ``points + 1`` points."""
    n = len(clv_desc)
    idx = np.unique(np.linspace(0, n, min(n, points) + 1).round().astype(int))
    frame = {"customer_share": idx / max(n, 1)}
    for values, name in ((clv_desc, "clv_share"), (revenue_desc, "revenue_share")):
        cum = np.r_[0.0, np.cumsum(values.clip(min=0))]
        frame[name] = cum[idx] / cum[-1] if cum[-1] > 0 else np.full(idx.size, np.nan)
    return pd.DataFrame(frame)


@dataclass(frozen=True)
class ClvKpis:
    """Headline numbers of predicted CLV (currency, margin applied, discounted)."""

    customers: int
    repeat_customers: int
    total_clv: float
    median_clv: float
    expected_purchases: float  # repeat purchase days over the horizon, all customers
    mean_p_alive: float
    churn_days: int  # the churn horizon H (days)
    expected_churners: float  # sum over customers of P(no purchase in the next H days)
    historic_revenue: float
    top10_share: float
    top20_share: float
    calibration_end: pd.Timestamp
    n_clv_missing: int


@dataclass(frozen=True)
class ClvValues:
    """Per-customer CLV (basic and predicted) and its summaries."""

    customers: pd.DataFrame  # CUSTOMER_COLUMNS, best predicted CLV first
    kpis: ClvKpis
    basic: pd.DataFrame  # measure, unit, column, total, median, top10_share, spearman...
    pareto: pd.DataFrame  # customer_share, clv_share, revenue_share


# Builds the page's whole customer table in one pass: the columns and their orders belong
# together, and splitting them would only pass the same dozen arrays around.
def customer_values(
    purchase: Any,
    spend: Any,
    summary: pd.DataFrame,
    rfm: pd.DataFrame,
    *,
    horizon_months: int,
    margin_pct: float,
    annual_discount_pct: float,
    lifespan_years: float,
    n_repeat: int,
    calibration_end: pd.Timestamp,
    churn_days: int = 90,
) -> ClvValues:
    """Predicted CLV over ``horizon_months`` (discounted at the annual rate, times the
    margin) next to the basic measures of each customer, with the churn probabilities:
    ``p_churn`` = P(no purchase in the next ``churn_days`` days | history) and
    ``p_not_alive`` = 1 - P(alive).

    ``summary`` is the calibration summary (index customer id; frequency, recency, T in
    weeks), ``rfm`` the RFM table of the same customers (frequency = orders, recency in
    days, monetary = net revenue).
    """
    margin = margin_pct / 100
    pred = customer_clv(
        purchase,
        spend,
        summary,
        horizon_months=int(horizon_months),
        annual_discount_rate=annual_discount_pct / 100,
        margin=margin,
    )
    p_churn = churn_probability(purchase, summary, churn_days)
    base = rfm.reindex(summary.index)
    hist = historic_clv(base, margin=margin, lifespan_years=float(lifespan_years))
    same_horizon = historic_clv(
        base, margin=margin, lifespan_years=int(horizon_months) * DAYS_PER_MONTH / 365
    )
    order = np.argsort(pred["rank"].to_numpy(), kind="stable")  # best first
    columns = {
        "customer_id": summary.index.to_numpy(),
        "rank": pred["rank"].to_numpy(),
        "orders": base["frequency"].to_numpy(),
        "recency_days": base["recency"].to_numpy(),
        "monetary": base["monetary"].to_numpy(dtype=float).round(2),
        "ranking_index": ranking_index(base).to_numpy().round(2),
        "historic_clv": hist["clv"].to_numpy().round(2),
        "repeat_days": summary["frequency"].to_numpy(),
        "recency_weeks": summary["recency"].to_numpy().round(2),
        "age_weeks": summary["T"].to_numpy().round(2),
        "p_alive": pred["p_alive"].to_numpy().round(4),
        "p_not_alive": (1.0 - pred["p_alive"].to_numpy()).round(4),
        "p_churn": p_churn.round(4),
        "expected_purchases": pred["expected_purchases"].to_numpy().round(3),
        "expected_aov": pred["expected_aov"].to_numpy().round(2),
        "clv": pred["clv"].to_numpy().round(2),
        "clv_if_alive": pred["clv_if_alive"].to_numpy().round(2),
    }
    customers = pd.DataFrame({c: columns[c][order] for c in CUSTOMER_COLUMNS})
    clv_values = customers["clv"].to_numpy(dtype=float)
    measures = {
        "ranking_index": customers["ranking_index"].to_numpy(dtype=float),
        "historic_clv": customers["historic_clv"].to_numpy(dtype=float),
        "historic_same_horizon": same_horizon["clv"].to_numpy()[order],
        "clv": clv_values,
    }
    stats = {key: measure_stats(values, clv_values) for key, values in measures.items()}
    kpis = ClvKpis(
        customers=len(customers),
        repeat_customers=n_repeat,
        total_clv=stats["clv"]["total"],
        median_clv=stats["clv"]["median"],
        expected_purchases=float(customers["expected_purchases"].sum()),
        mean_p_alive=float(customers["p_alive"].mean()),
        churn_days=int(churn_days),
        expected_churners=float(p_churn.sum()),
        historic_revenue=float(customers["monetary"].sum()),
        top10_share=stats["clv"]["top10_share"],
        top20_share=stats["clv"]["top20_share"],
        calibration_end=calibration_end,
        n_clv_missing=int(np.isnan(clv_values).sum()),
    )
    basic = _basic_table(stats, margin_pct, lifespan_years, int(horizon_months))
    revenue_desc = np.sort(np.nan_to_num(customers["monetary"].to_numpy(dtype=float)))[::-1]
    return ClvValues(
        customers=customers,
        kpis=kpis,
        basic=basic,
        pareto=pareto(stats["clv"]["descending"], revenue_desc),
    )


def churn_probability(purchase: Any, summary: pd.DataFrame, churn_days: float) -> np.ndarray:
    """P(no purchase in the next ``churn_days`` days | x, t_x, T) per customer of
    ``summary`` (durations in the model's time unit), once per distinct history."""
    x, tx, T = (summary[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    (ux, utx, uT), _, inv = _compress([x, tx, T], np.ones(x.size))
    t = float(churn_days) / _unit_days(purchase.time_unit)
    return purchase.p_no_purchase(t, ux, utx, uT)[inv]


def _basic_table(stats: dict, margin_pct: float, lifespan_years: float, horizon: int):
    """The ranking index, historic CLV (lifespan and horizon) and predicted CLV compared."""
    basic = pd.DataFrame(
        [
            {
                "measure": "Ranking index F × M",
                "unit": "orders × currency (not money)",
                "column": "ranking_index",
            },
            {
                "measure": "Historic CLV",
                "unit": f"currency, {margin_pct:g}% margin, {lifespan_years:g}-year lifespan",
                "column": "historic_clv",
            },
            {
                "measure": "Historic CLV, same horizon",
                "unit": f"currency, {margin_pct:g}% margin, {horizon} months, "
                "no churn, undiscounted",
                "column": "historic_same_horizon",
            },
            {
                "measure": "Predicted CLV",
                "unit": f"currency, {margin_pct:g}% margin, {horizon} months, discounted",
                "column": "clv",
            },
        ]
    )
    for field in ("total", "median", "top10_share", "spearman_vs_predicted"):
        basic[field] = [stats[c][field] for c in basic["column"]]
    return basic
