"""Tables, texts and KPI cards of the CLV page (layout pieces; figures are in
:mod:`dashapp.web.figures.clv`)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from dashapp.analytics.clv.report import ClvKpis, Independence
from dashapp.service import params
from dashapp.web.components import (
    customer_column,
    download_button,
    frame_table,
    graph,
    kpi_card,
    message,
    money_column,
    number_column,
    on_demand_panel,
    output_block,
    progress_note,
    section,
    side_by_side,
)
from dashapp.web.components.markup import static_block
from dashapp.web.controls import control
from dashapp.web.format import money, number, percent

SCORECARD_ROWS = [
    # metric, label, format, which is better ("close" = closer to actual, "high", "low")
    ("total_purchases", "Repeat purchase days in the holdout (total)", "count", "close"),
    ("total_revenue", "Revenue in the holdout (total)", "money", "close"),
    ("mae_purchases", "Mean absolute error per customer (purchase days)", "dec2", "low"),
    ("spearman_purchases", "Rank correlation with actual purchases (Spearman)", "dec3", "high"),
    ("spearman_revenue", "Rank correlation with actual revenue (Spearman)", "dec3", "high"),
    ("top10_revenue_share", "Holdout revenue captured by the predicted top 10%", "pct", "high"),
    ("n_customers", "Customers (first purchase by the calibration date)", "count", None),
]


def grid_columns(currency: str) -> list[dict]:
    pct = {"function": "params.value == null ? '' : d3.format('.1%')(params.value)"}
    wide = {"wrapHeaderText": True, "autoHeaderHeight": True}
    columns = [
        customer_column(125),
        {**number_column("rank", "Rank"), "minWidth": 95},
        {**money_column("clv", "Predicted CLV", currency, 0), "minWidth": 115},
        {**money_column("clv_if_alive", "Value if still active", currency, 0), "minWidth": 125},
        {
            "field": "p_alive",
            "headerName": "P(alive)",
            "type": "numericColumn",
            "filter": "agNumberColumnFilter",
            "valueFormatter": pct,
            "minWidth": 120,
        },
        {
            "field": "p_churn",
            "headerName": "P(churn)",
            "headerTooltip": "P(no purchase in the next H days), H = the churn horizon",
            "type": "numericColumn",
            "filter": "agNumberColumnFilter",
            "valueFormatter": pct,
            "minWidth": 130,
        },
        {
            "field": "p_not_alive",
            "headerName": "P(not alive)",
            "type": "numericColumn",
            "filter": "agNumberColumnFilter",
            "valueFormatter": pct,
            "minWidth": 120,
        },
        {**number_column("expected_purchases", "Expected purchases", 2), "minWidth": 125},
        {**money_column("expected_aov", "Expected spend / purchase", currency, 0), "minWidth": 125},
        {**money_column("historic_clv", "Historic CLV", currency, 0), "minWidth": 115},
        {**number_column("ranking_index", "F × M index (not money)"), "minWidth": 125},
        {**number_column("orders", "Orders"), "minWidth": 110},
        {**number_column("recency_days", "Recency (days)"), "minWidth": 120},
        {**money_column("monetary", "Net revenue", currency, 0), "minWidth": 115},
        {**number_column("repeat_days", "Repeat days x"), "minWidth": 115},
        {**number_column("recency_weeks", "t_x (weeks)", 1), "minWidth": 115},
        {**number_column("age_weeks", "T (weeks)", 1), "minWidth": 115},
    ]
    return [{**c, **wide} for c in columns]


BASIC_TEXT = r"""
**Frequency × Monetary** multiplies the number of orders by the customer's total net revenue.
Monetary already adds up every order, so $F \times M = F^2 \times \text{AOV}$: 10 orders of
£100 score 10,000 while 5 orders of £200 (the same £1,000) score 5,000. Its unit is
orders × currency, so it is only a **ranking index**: sort by it, never report it as money.

**Historic CLV** $=\text{AOV} \times \dfrac{\text{orders}}{\max(\text{tenure}, 30\text{ d})}
\times 365 \times \text{lifespan (years)} \times \text{margin}$: what the customer has been
worth per year, assumed to continue for the whole lifespan; it ignores churn.

**Predicted CLV** $=\sum_{m=1}^{H} \dfrac{E[\text{purchases in month } m] \times
E[\text{spend per purchase}] \times \text{margin}}{(1+d)^m}$ with
$d = (1 + \text{annual rate})^{1/12} - 1$ and months of 30 days: the purchase model
(BG/NBD, MBG/NBD or Pareto/NBD) discounts customers who have probably churned, Gamma-Gamma shrinks
each customer's average spend towards the population's.
"""


# --------------------------------------------------------------------------------------
# Tables and texts
# --------------------------------------------------------------------------------------
def significant(value: float, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:,.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"


def params_table(params: pd.DataFrame):
    return frame_table(
        pd.DataFrame(
            {
                "Model": params["model"],
                "Parameter": params["parameter"],
                "Estimate": [significant(v) for v in params["estimate"]],
                "Std. error": [significant(v, 3) for v in params["std_error"]],
                "Meaning": params["meaning"],
            }
        ),
        id="clv-params-table",
    )


def stats_table(stats: pd.DataFrame):
    return frame_table(
        pd.DataFrame(
            {
                "Model": stats["model"],
                "Log-likelihood": [number(v, 1) for v in stats["log_likelihood"]],
                "Customers": [number(v) for v in stats["customers"]],
                "Time unit": stats["time_unit"],
                "Converged": [
                    "yes" + (f" (L2 penalty {p:g})" if p > 0 else "") if c else "no"
                    for c, p in zip(stats["converged"], stats["penalty"], strict=True)
                ],
                "Iterations": stats["iterations"],
            }
        )
    )


def independence_verdict(independence: Independence | None):
    if not independence or not np.isfinite(independence.pearson):
        return message(
            "Too few repeat customers with positive spend to check the assumption.", "secondary"
        )
    p, s = independence.pearson, independence.spearman
    strength = max(abs(p), abs(s) if np.isfinite(s) else 0.0)
    if strength < 0.1:
        text, color = "negligible: the assumption holds.", "success"
    elif strength < 0.3:
        text, color = "weak: the assumption is acceptable.", "info"
    else:
        text, color = (
            (
                "substantial: spend per purchase moves with frequency, so Gamma-Gamma's "
                "expected spend (and predicted CLV) may be biased; read it with care."
            ),
            "warning",
        )
    return dbc.Alert(
        [
            html.Strong(f"Pearson r = {p:.2f}, Spearman ρ = {s:.2f} "),
            f"over {independence.n:,} repeat customers; the correlation is {text}",
        ],
        color=color,
        className="py-2 mb-2",
        id="clv-indep-alert",
    )


def basic_table(basic: pd.DataFrame, currency: str):
    rows = []
    for rec in basic.itertuples(index=False):
        is_index = rec.column == "ranking_index"
        fmt = (lambda v: number(v)) if is_index else (lambda v: money(v, currency))
        rows.append(
            {
                "Measure": rec.measure,
                "Unit": rec.unit,
                "Total": fmt(rec.total),
                "Median customer": fmt(rec.median),
                "Top 10% hold": percent(rec.top10_share),
                "Spearman vs predicted": "—"
                if rec.column == "clv"
                else f"{rec.spearman_vs_predicted:.2f}",
            }
        )
    return frame_table(pd.DataFrame(rows))


def kpi_row(kpis: ClvKpis, currency: str, horizon: int, model: str) -> dcc.Markdown:
    """The page's headline numbers, one static block (:mod:`..markup`)."""
    row = dbc.Row(
        [
            dbc.Col(
                kpi_card(
                    f"Predicted CLV, {horizon} months",
                    money(kpis.total_clv, currency),
                    "all customers, discounted, after margin",
                    id_="clv-kpi-total",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Median customer",
                    money(kpis.median_clv, currency),
                    f"of {number(kpis.customers)} customers",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Expected purchases",
                    number(kpis.expected_purchases),
                    f"repeat purchase days in {horizon} months",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Mean P(alive)",
                    percent(kpis.mean_p_alive),
                    f"at {kpis.calibration_end:%Y-%m-%d}"
                    + ("; one-time buyers count as alive in BG/NBD" if model == "bgnbd" else ""),
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    f"Expected to churn, {kpis.churn_days} days",
                    number(kpis.expected_churners),
                    f"customers without a purchase in the next {kpis.churn_days} days "
                    f"({percent(kpis.expected_churners / max(kpis.customers, 1))})",
                    id_="clv-kpi-churn",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card("Top 20% of customers", percent(kpis.top20_share), "of predicted CLV"),
                md=True,
            ),
        ],
        className="g-3 mb-3",
    )
    return static_block(row)


def scorecard_table(card: pd.DataFrame, currency: str):
    def fmt(kind, v):
        if v is None or not np.isfinite(v):
            return "—"
        return {
            "count": lambda: number(v),
            "money": lambda: money(v, currency),
            "dec2": lambda: f"{v:.2f}",
            "dec3": lambda: f"{v:.3f}",
            "pct": lambda: percent(v),
        }[kind]()

    rows = []
    for metric, label, kind, better in SCORECARD_ROWS:
        m, b, a = (float(card.loc[metric, c]) for c in ("model", "baseline", "actual"))
        winner = ""
        if better and np.isfinite(m) and np.isfinite(b):
            if better == "close":
                em, eb = abs(m - a), abs(b - a)
            elif better == "low":
                em, eb = m, b
            else:
                em, eb = -m, -b
            winner = (
                "tie"
                if np.isclose(em, eb, rtol=1e-3, atol=1e-9)
                else ("model" if em < eb else "baseline")
            )
        rows.append(
            {
                "Metric": label,
                "Model": fmt(kind, m),
                "Naive baseline": fmt(kind, b),
                "Actual": fmt(kind, a)
                if metric not in ("mae_purchases", "spearman_purchases", "spearman_revenue")
                else "—",
                "Better": winner,
            }
        )
    return frame_table(pd.DataFrame(rows), id="clv-scorecard-table")


# --------------------------------------------------------------------------------------
# Model comparison and intervals
# --------------------------------------------------------------------------------------
def comparison_table(table: pd.DataFrame, winner: str | None):
    """The holdout comparison, one row per candidate (the recommended one marked)."""

    def num(v, fmt):
        return "—" if v is None or not np.isfinite(v) else fmt.format(v)

    has_churn = "churn_brier" in table.columns
    rows = []
    for key, rec in table.iterrows():
        row = {
            "Model": f"{rec['label']}{' ★' if key == winner else ''}",
            "Forecast total": num(rec.get("predicted_total"), "{:,.0f}"),
            "Actual total": num(rec.get("actual_total"), "{:,.0f}"),
            "Total error": num(rec.get("total_error_pct"), "{:+.1%}"),
            "MAE": num(rec.get("mae"), "{:.3f}"),
            "RMSE": num(rec.get("rmse"), "{:.3f}"),
            "Rank corr.": num(rec.get("spearman"), "{:.3f}"),
            "Top-10% capture": num(rec.get("top10_capture"), "{:.1%}"),
            "Calibration error": num(rec.get("calibration_error"), "{:.3f}"),
            "Fit time": num(rec.get("fit_seconds"), "{:.2f} s"),
        }
        if has_churn:
            row["Churn: expected / actual"] = (
                f"{num(rec.get('churn_predicted'), '{:,.0f}')} / "
                f"{num(rec.get('churn_actual'), '{:,.0f}')}"
            )
            row["Churn Brier"] = num(rec.get("churn_brier"), "{:.3f}")
        if not rec["converged"]:
            row["Model"] += " (did not converge)"
        rows.append(row)
    return frame_table(pd.DataFrame(rows), id="clv-comparison-table")


def interval_totals_table(totals: pd.DataFrame, currency: str, level: float):
    names = {
        "total_clv": ("Predicted CLV, all customers", lambda v: money(v, currency)),
        "total_expected_purchases": ("Expected purchases, all customers", number),
        "mean_p_alive": ("Mean P(alive)", percent),
    }
    rows = [
        {
            "Measure": label,
            "Estimate": fmt(totals.loc[key, "estimate"]),
            f"{level:.0%} interval": f"{fmt(totals.loc[key, 'lo'])} – {fmt(totals.loc[key, 'hi'])}",
        }
        for key, (label, fmt) in names.items()
    ]
    return frame_table(pd.DataFrame(rows), id="clv-interval-totals")


def holdout_interval_text(check: dict | None, level: float) -> str:
    if not check:
        return ""
    verdict = "inside" if check["inside"] else "outside"
    return (
        f"Check on the holdout (fitted up to {check['calibration_end']}): the actual total of "
        f"{check['actual']:,.0f} repeat purchase days falls {verdict} the {level:.0%} "
        f"prediction interval {check['lo']:,.0f} – {check['hi']:,.0f} (forecast "
        f"{check['estimate']:,.0f}; parameter uncertainty alone: {check['param_lo']:,.0f} – "
        f"{check['param_hi']:,.0f})."
    )


def comparison_section(show_label: str) -> dbc.Card:
    """The model comparison's section: an on-demand panel with the recommendation, the table
    and the calibration chart."""
    body = [
        progress_note(
            "clv-compare-progress",
            "Fitting BG/NBD, Pareto/NBD and MBG/NBD up to the calibration date and training "
            "the machine-learned model with its SHAP importance… in progress.",
        ),
        html.Div(id="clv-compare-message"),
        output_block("clv-compare-advice"),
        side_by_side(output_block("clv-compare-table"), graph("clv-compare-chart", 360), 7),
        html.H4(
            "What drives the machine-learned forecast (global SHAP importance)",
            className="h6 mt-3",
        ),
        graph("clv-compare-importance", 300),
    ]
    return section(
        "Model comparison on the holdout",
        on_demand_panel("clv-compare", show_label, body),
        note="Computed when shown. Every purchase model is fitted up to the holdout check's "
        "calibration date and forecasts each customer's repeat purchase days in the rest of "
        "the range, beside the naive baseline (each customer keeps the rate x/T). ★ = "
        "recommended: the best sum of ranks over total error, MAE, RMSE, rank correlation, "
        "top-10% capture and calibration error. Gradient boosting (ML) is trained on an "
        "earlier split (features up to one holdout length before the calibration date, "
        "target = the purchases after it), so it never sees the holdout; its importance is "
        "the mean |SHAP value| over 200 customers. The churn columns check P(no purchase in "
        "the next H days) against the first H days of the holdout. How the measures are "
        "defined: documentation.",
    )


def intervals_section(show_label: str, clv_level) -> dbc.Card:
    """The intervals' section: an on-demand panel with the level, the totals, the holdout
    check, the chart and the per-customer CSV."""
    body = [
        dbc.Row(control(params.CLV_LEVEL, clv_level, md=4), className="g-2 mb-2"),
        progress_note(
            "clv-intervals-progress",
            "Drawing parameter sets from the fit's uncertainty and recomputing every "
            "customer's CLV… in progress.",
        ),
        html.Div(id="clv-intervals-message"),
        side_by_side(
            html.Div(
                [
                    output_block("clv-intervals-totals"),
                    html.Div(id="clv-intervals-check", className="small mt-2"),
                    download_button("clv-intervals", "Download per-customer intervals (CSV)",
                                    className="mt-2"),
                ]
            ),
            graph("clv-intervals-chart", 520),
        ),
    ]  # fmt: skip
    return section(
        "Uncertainty of the forecast",
        on_demand_panel("clv-intervals", show_label, body),
        note="Computed when shown (a few seconds). 100 parameter sets drawn from the "
        "normal approximation of the likelihood around the fitted values (both models); "
        "every prediction is recomputed for each, and the interval holds the central 80 or "
        "90% of them. It says how sure the models are of each customer's expected value, "
        "not how much actual purchases will scatter; the holdout check uses a prediction "
        "interval that adds that scatter.",
    )
