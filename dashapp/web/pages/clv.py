"""CLV: basic (historic) and predicted customer lifetime value, the fitted models and their
holdout check.

Callbacks are split so that an input only recomputes what depends on it: the model fit
(filters + model) is memoized in the service; horizon, margin, discount and lifespan only
re-run the cheap prediction; the calibration date only the holdout check; the tracking
plot's weekly/cumulative switch only redraws.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashapp import service
from dashapp.analytics.clv import MODEL_LABELS
from dashapp.service.exports import to_safe_csv
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    data_grid,
    filter_bar,
    filters_from,
    frame_table,
    kpi_card,
    labelled,
    message,
    money_column,
    number_column,
    page_header,
    section,
)
from dashapp.web.figures import empty_figure, money, number, percent
from dashapp.web.figures.clv import (
    clv_distribution,
    independence_scatter,
    p_alive_heatmap,
    pareto_curve,
    top_customers,
    tracking_plot,
)
from dashapp.web.urlstate import date_id, number_or, state_id

dash.register_page(
    __name__,
    path="/clv",
    name="CLV",
    order=2,
    title="Customer lifetime value · Customer Segments & CLV",
)

DEFAULTS = {
    "clv_model": "bgnbd",
    "clv_horizon": 12,
    "clv_margin": 30.0,
    "clv_discount": 10.0,
    "clv_lifespan": 3.0,
    "clv_track": "weekly",
}
GRAPH_CONFIG = {"displaylogo": False}
EXPORT_COLUMNS = [
    "customer_id",
    "rank",
    "clv",
    "p_alive",
    "expected_purchases",
    "expected_aov",
    "historic_clv",
    "ranking_index",
    "orders",
    "recency_days",
    "monetary",
    "repeat_days",
    "recency_weeks",
    "age_weeks",
]
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


def _number_input(key: str, value, lo, hi, step) -> dbc.Input:
    return dbc.Input(
        id=state_id(key),
        type="number",
        value=value,
        min=lo,
        max=hi,
        step=step,
        debounce=True,
        size="sm",
        required=True,
    )


def _graph(id_: str, height: int = 340):
    return dcc.Loading(
        dcc.Graph(id=id_, figure=empty_figure(height=height), config=GRAPH_CONFIG), delay_show=200
    )


def _loading(id_: str, **kwargs):
    return dcc.Loading(html.Div(id=id_, **kwargs), delay_show=200)


def _grid_columns(currency: str) -> list[dict]:
    pct = {"function": "params.value == null ? '' : d3.format('.1%')(params.value)"}
    wide = {"wrapHeaderText": True, "autoHeaderHeight": True}
    columns = [
        {"field": "customer_id", "headerName": "Customer", "pinned": "left", "minWidth": 125},
        {**number_column("rank", "Rank"), "minWidth": 95},
        {**money_column("clv", "Predicted CLV", currency, 0), "minWidth": 115},
        {
            "field": "p_alive",
            "headerName": "P(alive)",
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
(BG/NBD or Pareto/NBD) discounts customers who have probably churned, Gamma-Gamma shrinks
each customer's average spend towards the population's.
"""


def layout(
    clv_model=None,
    clv_horizon=None,
    clv_margin=None,
    clv_discount=None,
    clv_lifespan=None,
    clv_cal=None,
    clv_track=None,
    **query,
):
    currency = service.currency(query.get("dataset"))
    model = clv_model if clv_model in MODEL_LABELS else DEFAULTS["clv_model"]
    track = clv_track if clv_track in ("weekly", "cumulative") else DEFAULTS["clv_track"]
    controls = dbc.Row(
        [
            labelled(
                "Purchase model",
                dbc.RadioItems(
                    id=state_id("clv_model"),
                    value=model,
                    inline=True,
                    options=[{"label": label, "value": key} for key, label in MODEL_LABELS.items()],
                ),
                md=3,
            ),
            labelled(
                "Horizon (months of 30 days)",
                _number_input(
                    "clv_horizon", number_or(clv_horizon, DEFAULTS["clv_horizon"], int), 1, 120, 1
                ),
                md=2,
            ),
            labelled(
                "Margin (% of revenue)",
                _number_input(
                    "clv_margin", number_or(clv_margin, DEFAULTS["clv_margin"]), 0, 100, "any"
                ),
                md=2,
            ),
            labelled(
                "Annual discount rate (%)",
                _number_input(
                    "clv_discount", number_or(clv_discount, DEFAULTS["clv_discount"]), 0, 100, "any"
                ),
                md=2,
            ),
            labelled(
                "Expected lifespan, historic CLV (years)",
                _number_input(
                    "clv_lifespan", number_or(clv_lifespan, DEFAULTS["clv_lifespan"]), 0, 50, "any"
                ),
                md=3,
            ),
        ],
        className="g-2 mb-1 align-items-end",
    )
    hint = html.Div(
        [
            "Models fitted on the filtered range, time unit weeks (7 days); the discount rate "
            "converts to a monthly rate (1 + annual)^(1/12) − 1. How the models work: ",
            dcc.Link("documentation", href=dash.get_relative_path("/docs") + "#clv"),
            ".",
        ],
        className="small text-muted",
    )
    validation_controls = dbc.Row(
        [
            labelled(
                "Calibration end (fit up to this day, forecast the rest)",
                dcc.DatePickerSingle(
                    id=date_id("clv_cal"),
                    date=clv_cal,
                    clearable=True,
                    display_format="YYYY-MM-DD",
                    placeholder="default",
                ),
                md=4,
            ),
            labelled(
                "Tracking plot",
                dbc.RadioItems(
                    id=state_id("clv_track"),
                    value=track,
                    inline=True,
                    options=[
                        {"label": "Weekly", "value": "weekly"},
                        {"label": "Cumulative", "value": "cumulative"},
                    ],
                ),
                md=4,
            ),
            dbc.Col(html.Div(id="clv-cal-info", className="small text-muted"), md=4),
        ],
        className="g-2 mb-2 align-items-end",
    )
    return html.Div(
        [
            page_header(
                "Customer lifetime value",
                "What each customer is worth: the simple historic estimate and a "
                "probabilistic forecast (purchase model + Gamma-Gamma spend model), "
                "checked on a holdout period.",
            ),
            filter_bar(**query),
            dbc.Card(dbc.CardBody([controls, hint]), className="mb-3"),
            html.Div(id="clv-message"),
            html.Div(id="clv-param-message"),
            _loading("clv-kpis"),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Fitted model",
                            html.Div(
                                [
                                    _loading("clv-fit-params"),
                                    _loading("clv-fit-stats", className="mt-2"),
                                ]
                            ),
                            note="Maximum likelihood on each customer's repeat purchase days x, recency "
                            "t_x and age T in weeks; std. errors from the observed information. "
                            "Gamma-Gamma is fitted on repeat customers' mean spend per repeat day.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section(
                            "P(alive) by repeat purchases and recency",
                            _graph("clv-palive", 360),
                            note="For a customer observed over the whole range: recent "
                            "buyers are alive; frequent buyers who stopped long ago "
                            "probably are not.",
                        ),
                        lg=6,
                    ),
                ]
            ),
            section(
                "Basic CLV: ranking index, historic CLV and the forecast",
                dbc.Row(
                    [
                        dbc.Col(dcc.Markdown(BASIC_TEXT, mathjax=True, className="small"), lg=5),
                        dbc.Col(_loading("clv-basic"), lg=7),
                    ]
                ),
                note="Spearman = rank correlation with predicted CLV across customers. Historic "
                "CLV uses the margin and lifespan inputs; predicted CLV the margin, horizon "
                "and discount rate.",
            ),
            dbc.Row(
                [
                    dbc.Col(section("Distribution of predicted CLV", _graph("clv-dist")), lg=6),
                    dbc.Col(
                        section(
                            "Revenue concentration (Pareto curve)",
                            _graph("clv-pareto"),
                            note="Customers sorted by each measure, largest first.",
                        ),
                        lg=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section("Top customers by predicted CLV", _graph("clv-top", 520)), lg=6
                    ),
                    dbc.Col(
                        section(
                            "Gamma-Gamma independence check",
                            html.Div([_loading("clv-indep-verdict"), _graph("clv-indep")]),
                            note="Gamma-Gamma assumes a customer's spend per purchase does not depend on "
                            "how often they buy. Correlations among repeat customers with positive "
                            "spend; one dot per customer (at most 2,000 shown).",
                        ),
                        lg=6,
                    ),
                ]
            ),
            section(
                "Holdout check",
                html.Div(
                    [
                        validation_controls,
                        html.Div(id="clv-validation-message"),
                        dbc.Row(
                            [
                                dbc.Col(_loading("clv-scorecard"), lg=5),
                                dbc.Col(_graph("clv-tracking", 360), lg=7),
                            ]
                        ),
                    ]
                ),
                note="The models are refitted on the calibration period only and forecast the "
                "holdout for the customers acquired by then. Naive baseline: each customer "
                "keeps their calibration repeat rate x/T and their mean repeat spend. "
                "Revenue forecasts are undiscounted, before margin. The top-10% row's "
                "'actual' is the best share any ranking could capture.",
            ),
            section(
                "Customers",
                html.Div(
                    [
                        dbc.Button(
                            "Download CSV",
                            id="clv-download-btn",
                            color="primary",
                            size="sm",
                            className="mb-2",
                        ),
                        dcc.Download(id="clv-download"),
                        dcc.Loading(data_grid("clv-grid", _grid_columns(currency)), delay_show=200),
                    ]
                ),
                note="Sorted by predicted CLV. The CSV holds every customer of the current "
                "filters and inputs; cells a spreadsheet would run as a formula are "
                "neutralised.",
            ),
        ]
    )


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def _model(value) -> str:
    return value if value in MODEL_LABELS else DEFAULTS["clv_model"]


def _inputs(horizon, margin, discount, lifespan) -> tuple:
    """Validated (horizon_months, margin_pct, annual_discount_pct, lifespan_years); raises
    ValueError with a message naming the input."""
    checks = (
        ("Horizon", horizon, 1, 120, "months"),
        ("Margin", margin, 0, 100, "%"),
        ("Annual discount rate", discount, 0, 100, "%"),
        ("Expected lifespan", lifespan, 0, 50, "years"),
    )
    for name, value, lo, hi, unit in checks:
        if value is None or value == "" or not lo <= float(value) <= hi:
            raise ValueError(f"{name} must be a number from {lo} to {hi} ({unit}).")
    if float(horizon) != int(float(horizon)):
        raise ValueError("Horizon must be a whole number of months.")
    return int(float(horizon)), float(margin), float(discount), float(lifespan)


def _view(dataset, start, end, countries, model, horizon, margin, discount, lifespan) -> dict:
    filters = filters_from(dataset, start, end, countries)
    return service.clv_view(filters, _model(model), *_inputs(horizon, margin, discount, lifespan))


# --------------------------------------------------------------------------------------
# Tables and texts
# --------------------------------------------------------------------------------------
def _sig(value: float, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:,.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"


def _params_table(params: pd.DataFrame):
    return frame_table(
        pd.DataFrame(
            {
                "Model": params["model"],
                "Parameter": params["parameter"],
                "Estimate": [_sig(v) for v in params["estimate"]],
                "Std. error": [_sig(v, 3) for v in params["std_error"]],
                "Meaning": params["meaning"],
            }
        ),
        id="clv-params-table",
    )


def _stats_table(stats: pd.DataFrame):
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


def _verdict(independence: dict | None):
    if not independence or not np.isfinite(independence["pearson"]):
        return message(
            "Too few repeat customers with positive spend to check the assumption.", "secondary"
        )
    p, s = independence["pearson"], independence["spearman"]
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
            f"over {independence['n']:,} repeat customers; the correlation is {text}",
        ],
        color=color,
        className="py-2 mb-2",
        id="clv-indep-alert",
    )


def _basic_table(basic: pd.DataFrame, currency: str):
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


def _kpis(kpis: dict, currency: str, horizon: int, model: str):
    return dbc.Row(
        [
            dbc.Col(
                kpi_card(
                    f"Predicted CLV, {horizon} months",
                    money(kpis["total_clv"], currency),
                    "all customers, discounted, after margin",
                    id_="clv-kpi-total",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Median customer",
                    money(kpis["median_clv"], currency),
                    f"of {number(kpis['customers'])} customers",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Expected purchases",
                    number(kpis["expected_purchases"]),
                    f"repeat purchase days in {horizon} months",
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Mean P(alive)",
                    percent(kpis["mean_p_alive"]),
                    f"at {kpis['calibration_end']:%Y-%m-%d}"
                    + ("; one-time buyers count as alive in BG/NBD" if model == "bgnbd" else ""),
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card("Top 20% of customers", percent(kpis["top20_share"]), "of predicted CLV"),
                md=True,
            ),
        ],
        className="g-3 mb-3",
    )


def _scorecard_table(card: pd.DataFrame, currency: str):
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
# Callbacks
# --------------------------------------------------------------------------------------
VALUE_INPUTS = [
    *FILTER_INPUTS,
    Input(state_id("clv_model"), "value"),
    Input(state_id("clv_horizon"), "value"),
    Input(state_id("clv_margin"), "value"),
    Input(state_id("clv_discount"), "value"),
    Input(state_id("clv_lifespan"), "value"),
]


@callback(
    Output("clv-fit-params", "children"),
    Output("clv-fit-stats", "children"),
    Output("clv-palive", "figure"),
    Output("clv-indep-verdict", "children"),
    Output("clv-indep", "figure"),
    Output("clv-message", "children"),
    *FILTER_INPUTS,
    Input(state_id("clv_model"), "value"),
)
def update_clv_model(dataset, start, end, countries, model):
    currency = service.currency(dataset)
    fit = service.clv_model(filters_from(dataset, start, end, countries), _model(model))
    alerts = [message(fit["reason"])] if fit["reason"] else []
    alerts += [message(note, "info") for note in fit["notes"]]
    params = (
        _params_table(fit["params"])
        if not fit["params"].empty
        else html.Div("No model was fitted.", className="text-muted")
    )
    derived = (
        html.Ul([html.Li(t) for t in fit["derived"]], className="small mb-0 mt-2")
        if fit["derived"]
        else None
    )
    stats = html.Div([_stats_table(fit["stats"]) if not fit["stats"].empty else None, derived])
    indep = fit["independence"]
    return (
        params,
        stats,
        p_alive_heatmap(fit["p_alive"]),
        _verdict(indep),
        independence_scatter(indep["points"] if indep else None, currency),
        alerts or None,
    )


@callback(
    Output("clv-kpis", "children"),
    Output("clv-basic", "children"),
    Output("clv-dist", "figure"),
    Output("clv-pareto", "figure"),
    Output("clv-top", "figure"),
    Output("clv-param-message", "children"),
    *VALUE_INPUTS,
)
def update_clv_values(dataset, start, end, countries, model, horizon, margin, discount, lifespan):
    currency = service.currency(dataset)
    try:
        view = _view(dataset, start, end, countries, model, horizon, margin, discount, lifespan)
    except ValueError as exc:
        return (no_update,) * 5 + (message(str(exc), "danger"),)
    if view["reason"]:
        blank = empty_figure("Not available: see the message above")
        return None, None, blank, blank, blank, None
    h = int(float(horizon))
    return (
        _kpis(view["kpis"], currency, h, _model(model)),
        _basic_table(view["basic"], currency),
        clv_distribution(view["customers"], currency, h),
        pareto_curve(view["pareto"], view["kpis"]),
        top_customers(view["top"], currency, h),
        None,
    )


@callback(Output("clv-grid", "rowData"), *VALUE_INPUTS)
def update_clv_grid(dataset, start, end, countries, model, horizon, margin, discount, lifespan):
    try:
        view = _view(dataset, start, end, countries, model, horizon, margin, discount, lifespan)
    except ValueError:
        return no_update
    return [] if view["reason"] else service.records(view["customers"])


@callback(
    Output("clv-scorecard", "children"),
    Output("clv-tracking", "figure"),
    Output("clv-validation-message", "children"),
    Output("clv-cal-info", "children"),
    Output(date_id("clv_cal"), "placeholder"),
    *FILTER_INPUTS,
    Input(state_id("clv_model"), "value"),
    Input(date_id("clv_cal"), "date"),
    Input(state_id("clv_track"), "value"),
)
def update_clv_validation(dataset, start, end, countries, model, calibration_end, track):
    currency = service.currency(dataset)
    filters = filters_from(dataset, start, end, countries)
    cal = pd.Timestamp(calibration_end).strftime("%Y-%m-%d") if calibration_end else None
    result = service.clv_validation(filters, _model(model), cal)
    try:
        default, _ = service.clv_calibration_end(filters, None)
    except ValueError:
        default = "default"
    if result["reason"]:
        blank = empty_figure("Not available: see the message above")
        return None, blank, message(result["reason"]), None, default
    params = result["params"]
    fitted = ", ".join(
        f"{p} {_sig(v, 3)}" for p, v in zip(params["parameter"], params["estimate"], strict=True)
    )
    info = (
        f"Fitted on data up to {result['calibration_end']}"
        f"{' (default)' if result['is_default'] else ''}; holdout "
        f"{result['holdout_weeks']:.1f} weeks to {result['observation_end']}; "
        f"{number(result['n_customers'])} customers. Calibration fit: {fitted}."
    )
    notes = [message("Calibration fit: " + note, "info") for note in result["notes"]]
    return (
        _scorecard_table(result["scorecard"], currency),
        tracking_plot(
            result["tracking"], result["calibration_end"], cumulative=track == "cumulative"
        ),
        notes or None,
        info,
        default,
    )


@callback(
    Output("clv-download", "data"),
    Input("clv-download-btn", "n_clicks"),
    *FILTER_STATES,
    State(state_id("clv_model"), "value"),
    State(state_id("clv_horizon"), "value"),
    State(state_id("clv_margin"), "value"),
    State(state_id("clv_discount"), "value"),
    State(state_id("clv_lifespan"), "value"),
    prevent_initial_call=True,
)
def download_clv(
    n_clicks, dataset, start, end, countries, model, horizon, margin, discount, lifespan
):
    try:
        view = _view(dataset, start, end, countries, model, horizon, margin, discount, lifespan)
    except ValueError:
        return no_update
    if view["reason"]:
        return no_update
    return {
        "content": to_safe_csv(view["customers"][EXPORT_COLUMNS]),
        "filename": "clv_customers.csv",
        "type": "text/csv",
    }
