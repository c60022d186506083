"""CLV: basic (historic) and predicted customer lifetime value, the fitted models and their
holdout check.

Callbacks are split so that an input only recomputes what depends on it: the model fit
(filters + model) is memoized in the service; horizon, margin, discount and lifespan only
re-run the cheap prediction; the calibration date only the holdout check; the tracking
plot's weekly/cumulative switch picks one of the two figures in the browser.

The holdout check refits the models on the calibration period (0.3-0.5 s at full scale), so it
is computed only while its panel is open (as the clustering diagnostics): a model switch with
the panel closed sends three requests (model, values, grid). So are the model comparison and
the intervals (issue 18), each behind its own panel and gate.
"""

from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
from dash import (
    ClientsideFunction,
    Output,
    State,
    callback,
    clientside_callback,
    dcc,
    html,
    no_update,
)

from dashapp import service
from dashapp.service import ParamError, params
from dashapp.service.selection import select_or_all
from dashapp.service.views.stories import clv_story
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    download_button,
    empty_state,
    filter_bar,
    filters_from,
    graph,
    message,
    output_block,
    page_header,
    paged_grid,
    progress,
    progress_note,
    section,
    serve_rows,
    side_by_side,
)
from dashapp.web.components.clv import (
    BASIC_TEXT,
    basic_table,
    comparison_section,
    grid_columns,
    independence_verdict,
    intervals_section,
    kpi_row,
    params_table,
    scorecard_table,
    significant,
    stats_table,
)
from dashapp.web.components.drill import (
    drill_down,
    selection_chip,
    selection_input,
    selection_state,
    selection_words,
)
from dashapp.web.components.exporting import grid_export
from dashapp.web.components.story import clv_text, page_href, story_card
from dashapp.web.controls import (
    as_input,
    as_state,
    choices_id,
    control,
    param_alert,
    visual_switch,
)
from dashapp.web.figures.base import empty_figure
from dashapp.web.figures.clv import (
    clv_distribution,
    independence_scatter,
    p_alive_heatmap,
    pareto_curve,
    top_customers,
    tracking_plot,
)
from dashapp.web.format import number
from dashapp.web.outputs import kept_outputs

dash.register_page(
    __name__,
    path="/clv",
    name="CLV",
    order=2,
    title="Customer lifetime value · Customer Segments & CLV",
)

#: Control widths (Bootstrap columns at md and up) of the predicted-CLV parameters.
VALUE_WIDTHS = (3, 2, 2, 2, 2, 1)
#: The holdout panel's button while the panel is closed.
HOLDOUT_SHOW = "Show the holdout check"
COMPARE_SHOW = "Compare the models"
INTERVALS_SHOW = "Show the intervals"
#: Columns of the per-customer intervals' CSV.
INTERVAL_COLUMNS = [
    "customer_id",
    "clv",
    "clv_lo",
    "clv_hi",
    "expected_purchases",
    "expected_purchases_lo",
    "expected_purchases_hi",
    "p_alive",
    "p_alive_lo",
    "p_alive_hi",
]


def layout(
    clv_model=None,
    clv_horizon=None,
    clv_margin=None,
    clv_discount=None,
    clv_lifespan=None,
    clv_cal=None,
    clv_track=None,
    clv_churn=None,
    clv_level=None,
    clv_sel=None,
    **query,
):
    currency = service.currency(query.get("dataset"))
    raw = (clv_model, clv_horizon, clv_margin, clv_discount, clv_lifespan, clv_churn)
    return html.Div(
        [
            page_header(
                "Customer lifetime value",
                "What each customer is worth: the simple historic estimate and a "
                "probabilistic forecast (purchase model + Gamma-Gamma spend model), "
                "checked on a holdout period.",
            ),
            filter_bar(**query),
            _controls(raw),
            html.Div(id="clv-message"),
            html.Div(id="clv-param-message"),
            progress_note(
                "clv-progress",
                "Fitting ",
                html.Strong(id="clv-progress-model"),
                " and the Gamma-Gamma spend model on the filtered customers… in progress.",
            ),
            output_block("clv-story"),
            output_block("clv-kpis"),
            *_model_sections(),
            *_value_sections(),
            _holdout_section(clv_cal, clv_track),
            comparison_section(COMPARE_SHOW),
            intervals_section(INTERVALS_SHOW, clv_level),
            _customers_section(currency, clv_sel),
        ]
    )


def _controls(raw: tuple) -> dbc.Card:
    controls = dbc.Row(
        [
            control(param, value, md=width)
            for param, value, width in zip(params.CLV_VALUE_PARAMS, raw, VALUE_WIDTHS, strict=True)
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
    return dbc.Card(dbc.CardBody([controls, hint]), className="mb-3")


def _model_sections() -> list:
    fitted = section(
        "Fitted model",
        html.Div([output_block("clv-fit-params"), output_block("clv-fit-stats", className="mt-2")]),
        note="Maximum likelihood on each customer's repeat purchase days x, recency "
        "t_x and age T in weeks; std. errors from the observed information. "
        "Gamma-Gamma is fitted on repeat customers' mean spend per repeat day.",
    )
    p_alive = section(
        "P(alive) by repeat purchases and recency",
        graph("clv-palive", 360),
        note="For a customer observed over the whole range: recent "
        "buyers are alive; frequent buyers who stopped long ago "
        "probably are not.",
    )
    basic = section(
        "Basic CLV: ranking index, historic CLV and the forecast",
        side_by_side(
            dcc.Markdown(BASIC_TEXT, mathjax=True, className="small"), output_block("clv-basic"), 5
        ),
        note="Spearman = rank correlation with predicted CLV across customers. Historic "
        "CLV uses the margin and lifespan inputs; predicted CLV the margin, horizon "
        "and discount rate.",
    )
    return [side_by_side(fitted, p_alive), basic]


def _value_sections() -> list:
    pareto = section(
        "Revenue concentration (Pareto curve)",
        graph("clv-pareto", 340),
        note="Customers sorted by each measure, largest first.",
    )
    independence = section(
        "Gamma-Gamma independence check",
        html.Div([output_block("clv-indep-verdict"), graph("clv-indep", 340)]),
        note="Gamma-Gamma assumes a customer's spend per purchase does not depend on "
        "how often they buy. Correlations among repeat customers with positive "
        "spend; one dot per customer (at most 2,000 shown).",
    )
    return [
        side_by_side(section("Distribution of predicted CLV", graph("clv-dist", 340)), pareto),
        side_by_side(
            section("Top customers by predicted CLV", graph("clv-top", 520)), independence
        ),
    ]


def _holdout_section(clv_cal, clv_track) -> dbc.Card:
    validation_controls = dbc.Row(
        [
            control(params.CLV_CALIBRATION_END, clv_cal, md=4),
            control(params.CLV_TRACKING, clv_track, md=4),
            dbc.Col(html.Div(id="clv-cal-info", className="small text-muted"), md=4),
        ],
        className="g-2 mb-2 align-items-end",
    )
    # Open from the start when the link carries the check's settings (a shared or reloaded
    # view of it); otherwise a model or filter change sends no request for it.
    is_open = bool(clv_cal or clv_track)
    return section(
        "Holdout check",
        html.Div(
            [
                dbc.Button(
                    "Hide" if is_open else HOLDOUT_SHOW,
                    id="clv-holdout-toggle",
                    color="primary",
                    outline=True,
                    size="sm",
                ),
                dcc.Store(id="clv-holdout-label", data=HOLDOUT_SHOW),
                dcc.Store(id="clv-holdout-request"),
                dbc.Collapse(
                    [
                        validation_controls,
                        html.Div(id="clv-validation-message"),
                        side_by_side(
                            output_block("clv-scorecard"),
                            html.Div(
                                [
                                    graph("clv-tracking", 360),
                                    dcc.Store(id=choices_id("clv-tracking")),
                                ]
                            ),
                            5,
                        ),
                    ],
                    id="clv-holdout-panel",
                    is_open=is_open,
                    className="mt-2",
                ),
            ]
        ),
        note="Computed when shown. The models are refitted on the calibration period only and forecast the "
        "holdout for the customers acquired by then. Naive baseline: each customer "
        "keeps their calibration repeat rate x/T and their mean repeat spend. "
        "Revenue forecasts are undiscounted, before margin. The top-10% row's "
        "'actual' is the best share any ranking could capture.",
    )


def _customers_section(currency: str, clv_sel=None) -> dbc.Card:
    return section(
        "Customers",
        html.Div(
            [
                selection_chip(
                    "clv",
                    clv_sel,
                    "Click a bar of the distribution, a point of the Pareto curve or a top "
                    "customer to list those customers.",
                ),
                download_button("clv", className="mb-2"),
                paged_grid("clv-grid", grid_columns(currency)),
            ]
        ),
        note="Sorted by predicted CLV. The CSV holds the customers listed (the current "
        "filters, inputs and selection); cells a spreadsheet would run as a formula are "
        "neutralised.",
    )


# --------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------
VALUE_INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in params.CLV_VALUE_PARAMS)]
VALUE_STATES = [*FILTER_STATES, *(as_state(p) for p in params.CLV_VALUE_PARAMS)]


def _view(dataset, start, end, countries, *values) -> service.ClvView:
    """Predicted CLV for the filter bar and the page's values (ParamError names a bad one)."""
    return service.clv_view(filters_from(dataset, start, end, countries), *values)


@callback(
    Output("clv-fit-params", "children"),
    Output("clv-fit-stats", "children"),
    Output("clv-palive", "figure"),
    Output("clv-indep-verdict", "children"),
    Output("clv-indep", "figure"),
    Output("clv-message", "children"),
    *FILTER_INPUTS,
    as_input(params.CLV_MODEL),
    running=progress("clv-progress"),
)
def update_clv_model(dataset, start, end, countries, model):
    currency = service.currency(dataset)
    try:
        fit = service.clv_model(filters_from(dataset, start, end, countries), model)
    except ParamError as exc:
        return (no_update,) * 5 + (param_alert(exc),)
    alerts = []
    if fit.reason:
        # nothing to fit (no customers, too few repeat buyers) is an empty state, neutral
        # grey text; a fit that went wrong is a warning
        alerts.append(empty_state(fit.reason) if fit.params.empty else message(fit.reason))
    alerts += [message(note, "info") for note in fit.notes]
    fitted = (
        params_table(fit.params)
        if not fit.params.empty
        else html.Div("No model was fitted.", className="text-muted")
    )
    derived = (
        html.Ul([html.Li(t) for t in fit.derived], className="small mb-0 mt-2")
        if fit.derived
        else None
    )
    stats = html.Div([stats_table(fit.stats) if not fit.stats.empty else None, derived])
    indep = fit.independence
    if _only_model_changed():
        # Gamma-Gamma's independence check does not depend on the purchase model: the
        # browser keeps the verdict and the 2,000-dot scatter it has
        verdict, scatter = no_update, no_update
    else:
        verdict = independence_verdict(indep)
        scatter = independence_scatter(indep.points if indep else None, currency)
    return fitted, stats, p_alive_heatmap(fit.p_alive), verdict, scatter, alerts or None


def _only_model_changed() -> bool:
    """True when this call was triggered by the model control alone (a switch), not by the
    filters or the page's first render."""
    model_input = as_input(params.CLV_MODEL)
    triggered = dash.ctx.triggered_prop_ids
    return bool(triggered) and all(t == model_input.component_id for t in triggered.values())


# The progress note names the model being fitted: set in the browser, no request.
clientside_callback(
    "function (model) { var labels = "
    + json.dumps(dict(params.CLV_MODEL.choices))
    + "; return labels[model] || model; }",
    Output("clv-progress-model", "children"),
    as_input(params.CLV_MODEL),
)


@callback(
    Output("clv-kpis", "children"),
    Output("clv-basic", "children"),
    Output("clv-dist", "figure"),
    Output("clv-pareto", "figure"),
    Output("clv-top", "figure"),
    Output("clv-param-message", "children"),
    Output("clv-story", "children"),
    *VALUE_INPUTS,
)
@kept_outputs
def update_clv_values(dataset, start, end, countries, *values):
    currency = service.currency(dataset)
    try:
        view = _view(dataset, start, end, countries, *values)
    except ParamError as exc:
        return (no_update,) * 5 + (param_alert(exc), None)
    if view.reason:
        blank = empty_figure("Not available: see the message above")
        return None, None, blank, blank, blank, None, None
    model, horizon = params.CLV_MODEL.parse(values[0]), params.CLV_HORIZON.parse(values[1])
    kpis = view.kpis
    story = clv_story(view.customers, kpis.total_clv, kpis.median_clv, kpis.top20_share)
    sentences, step, link = clv_text(story, currency, horizon)
    query = {"dataset": dataset, "start": start, "end": end, "countries": countries,
             **{p.key: v for p, v in zip(params.CLV_VALUE_PARAMS, values, strict=True)},
             "clv_sel": story.top.selection}  # fmt: skip
    story_block = story_card(sentences, step, page_href("/clv", query), link)
    return (
        kpi_row(view.kpis, currency, horizon, model),
        basic_table(view.basic, currency),
        clv_distribution(view.customers, currency, horizon),
        pareto_curve(view.pareto, view.kpis.top20_share),
        top_customers(view.top, currency, horizon),
        None,
        story_block,
    )


def _grid_rows(dataset, start, end, countries, *values):
    """The customer grid's table, best first (the service pages, sorts and filters it)."""
    try:
        view = _view(dataset, start, end, countries, *values)
    except ParamError:
        return None
    return None if view.reason else view.customers


serve_rows("clv-grid", VALUE_INPUTS, _grid_rows, selection=selection_input("clv"))
drill_down("clv", ("clv-dist", "clv-pareto", "clv-top"), grid_columns("£"), {})


visual_switch(params.CLV_TRACKING, "clv-tracking")  # weekly or cumulative: no request

clientside_callback(
    ClientsideFunction("switches", "toggle"),
    Output("clv-holdout-panel", "is_open"),
    Output("clv-holdout-toggle", "children"),
    dash.Input("clv-holdout-toggle", "n_clicks"),
    State("clv-holdout-panel", "is_open"),
    State("clv-holdout-label", "data"),
    prevent_initial_call=True,
)
HOLDOUT_INPUTS = [*FILTER_INPUTS, as_input(params.CLV_MODEL), as_input(params.CLV_CALIBRATION_END)]
# The settings reach the holdout check only while its panel is open.
clientside_callback(
    ClientsideFunction("switches", "gate"),
    Output("clv-holdout-request", "data"),
    dash.Input("clv-holdout-panel", "is_open"),
    *HOLDOUT_INPUTS,
    State("clv-holdout-request", "data"),
)


@callback(
    Output("clv-scorecard", "children"),
    Output(choices_id("clv-tracking"), "data"),
    Output("clv-validation-message", "children"),
    Output("clv-cal-info", "children"),
    Output(as_input(params.CLV_CALIBRATION_END).component_id, "placeholder"),
    dash.Input("clv-holdout-request", "data"),
    *(State(i.component_id, i.component_property) for i in HOLDOUT_INPUTS),
    as_state(params.CLV_TRACKING),  # checked here; the switch itself is in the browser
    prevent_initial_call=True,
)
def update_clv_validation(_request, dataset, start, end, countries, model, calibration_end, track):
    currency = service.currency(dataset)
    filters = filters_from(dataset, start, end, countries)
    try:
        result = service.clv_validation(filters, model, calibration_end)
        params.CLV_TRACKING.parse(track)
    except ParamError as exc:
        return no_update, no_update, param_alert(exc), None, no_update
    try:
        default, _ = service.clv_calibration_end(filters, None)
    except ValueError:
        default = "default"
    if result.reason:
        blank = empty_figure("Not available: see the message above")
        blanks = {value: blank for value, _ in params.CLV_TRACKING.choices}
        return None, blanks, message(result.reason), None, default
    fitted = ", ".join(
        f"{p} {significant(v, 3)}"
        for p, v in zip(result.params["parameter"], result.params["estimate"], strict=True)
    )
    info = (
        f"Fitted on data up to {result.calibration_end}"
        f"{' (default)' if result.is_default else ''}; holdout "
        f"{result.holdout_weeks:.1f} weeks to {result.observation_end}; "
        f"{number(result.n_customers)} customers. Calibration fit: {fitted}."
    )
    notes = [message("Calibration fit: " + note, "info") for note in result.notes]
    return (
        scorecard_table(result.scorecard, currency),
        {
            value: tracking_plot(
                result.tracking, result.calibration_end, cumulative=value == "cumulative"
            )
            for value, _ in params.CLV_TRACKING.choices
        },
        notes or None,
        info,
        default,
    )


@callback(
    Output("clv-download", "data"),
    dash.Input("clv-download-btn", "n_clicks"),
    *VALUE_STATES,
    selection_state("clv"),
    prevent_initial_call=True,
)
def download_clv(n_clicks, dataset, start, end, countries, *values_and_selection):
    *values, sel = values_and_selection
    try:
        view = _view(dataset, start, end, countries, *values)
    except ParamError:
        return no_update
    if view.reason:
        return no_update
    currency = service.currency(dataset)
    model, horizon, margin, discount, lifespan, churn = values
    return grid_export(
        select_or_all(view.customers, sel),
        grid_columns(currency),
        title="Customer lifetime value, customers",
        page="clv",
        dataset=dataset or service.default_dataset_id(),
        start=start,
        end=end,
        countries=countries,
        currency=currency,
        selection=selection_words(sel, grid_columns(currency)),
        extra=[
            f"Model {model}; horizon {horizon} months; margin {margin} %; discount "
            f"{discount} % a year; lifespan {lifespan} years (historic CLV); churn horizon "
            f"{churn} days"
        ],
    )


# The model comparison's and the intervals' callbacks (their panels are above).
from dashapp.web.pages import clv_panels  # noqa: E402, F401
