"""CLV page, second part: the model comparison and the intervals (issue 18), each computed
only while its panel is open (``on_demand``), one request when opened. The panels' layout is
in :mod:`dashapp.web.pages.clv`; this module holds their callbacks."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Output, State, callback, html, no_update

from dashapp import service
from dashapp.service import ParamError, params
from dashapp.service.exports import csv_download
from dashapp.web.components import FILTER_INPUTS, filters_from, message, progress
from dashapp.web.components.clv import (
    comparison_table,
    holdout_interval_text,
    interval_totals_table,
)
from dashapp.web.controls import as_input, on_demand, param_alert
from dashapp.web.figures.base import empty_figure
from dashapp.web.figures.clv import calibration_deciles, clv_interval_bars, shap_importance
from dashapp.web.format import number
from dashapp.web.pages.clv import INTERVAL_COLUMNS

# --------------------------------------------------------------------------------------
# Model comparison and intervals: computed only while their panels are open
# --------------------------------------------------------------------------------------
COMPARE_INPUTS = [
    *FILTER_INPUTS,
    as_input(params.CLV_CALIBRATION_END),
    as_input(params.CLV_CHURN),
]
INTERVAL_INPUTS = [
    *FILTER_INPUTS,
    *(as_input(p) for p in params.CLV_VALUE_PARAMS[:4]),
    as_input(params.CLV_LEVEL),
]


def _states(inputs: list) -> list:
    return [State(i.component_id, i.component_property) for i in inputs]


on_demand("clv-compare", COMPARE_INPUTS)
on_demand("clv-intervals", INTERVAL_INPUTS)


@callback(
    Output("clv-compare-table", "children"),
    Output("clv-compare-chart", "figure"),
    Output("clv-compare-advice", "children"),
    Output("clv-compare-message", "children"),
    Output("clv-compare-importance", "figure"),
    dash.Input("clv-compare-request", "data"),
    *_states(COMPARE_INPUTS),
    prevent_initial_call=True,
    running=progress("clv-compare-progress"),
)
def update_clv_comparison(_request, dataset, start, end, countries, calibration_end, churn):
    filters = filters_from(dataset, start, end, countries)
    try:
        result = service.clv_comparison(filters, calibration_end, churn)
    except ParamError as exc:
        return no_update, no_update, no_update, param_alert(exc), no_update
    if result.reason:
        blank = empty_figure("Not available: see the message above")
        return None, blank, None, message(result.reason), blank
    advice = dbc.Alert(
        [html.Strong("Recommended: "), result.recommendation],
        color="success" if result.winner != "baseline" else "warning",
        className="py-2 mb-2",
        id="clv-compare-winner",
    )
    info = html.Div(
        f"Fitted up to {result.calibration_end}, holdout to {result.observation_end}; "
        f"{number(result.n_customers)} customers; churn horizon H = {result.churn_days} days.",
        className="small text-muted mb-2",
    )
    notes = [message(n, "info") for n in result.notes]
    return (
        comparison_table(result.table, result.winner),
        calibration_deciles(result.deciles, result.winner),
        html.Div([info, advice]),
        notes or None,
        shap_importance(result.importance),
    )


@callback(
    Output("clv-intervals-totals", "children"),
    Output("clv-intervals-chart", "figure"),
    Output("clv-intervals-check", "children"),
    Output("clv-intervals-message", "children"),
    dash.Input("clv-intervals-request", "data"),
    *_states(INTERVAL_INPUTS),
    prevent_initial_call=True,
    running=progress("clv-intervals-progress"),
)
def update_clv_intervals(_request, dataset, start, end, countries, *values):
    currency = service.currency(dataset)
    try:
        result = service.clv_intervals(filters_from(dataset, start, end, countries), *values)
    except ParamError as exc:
        return no_update, no_update, no_update, param_alert(exc)
    if result.reason:
        return (
            None,
            empty_figure("Not available: see the message above"),
            None,
            message(result.reason),
        )
    notes = [message(n, "info") for n in result.notes]
    return (
        interval_totals_table(result.totals, currency, result.level),
        clv_interval_bars(result.customers, currency),
        holdout_interval_text(result.holdout, result.level),
        notes or None,
    )


@callback(
    Output("clv-intervals-download", "data"),
    dash.Input("clv-intervals-download-btn", "n_clicks"),
    *_states(INTERVAL_INPUTS),
    prevent_initial_call=True,
)
def download_clv_intervals(n_clicks, dataset, start, end, countries, *values):
    try:
        result = service.clv_intervals(filters_from(dataset, start, end, countries), *values)
    except ParamError:
        return no_update
    if result.reason or result.customers is None:
        return no_update
    return csv_download(result.customers[INTERVAL_COLUMNS].round(4), "clv_intervals.csv")
