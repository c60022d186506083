"""RFM: recency / frequency / monetary per customer, 1-5 scores, named segments, export."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html, no_update

from dashapp import service
from dashapp.analytics import rfm
from dashapp.service import ParamError, params
from dashapp.service.selection import select_or_all
from dashapp.service.views.stories import rfm_story
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    customer_column,
    download_button,
    empty_state,
    filter_bar,
    filters_from,
    frame_table,
    graph,
    message,
    money_column,
    number_column,
    output_block,
    page_header,
    paged_grid,
    section,
    serve_rows,
    side_by_side,
)
from dashapp.web.components.drill import (
    drill_down,
    selection_chip,
    selection_input,
    selection_state,
    selection_words,
)
from dashapp.web.components.exporting import grid_export
from dashapp.web.components.story import page_href, rfm_text, story_card
from dashapp.web.controls import (
    as_input,
    as_state,
    choices_id,
    control,
    param_alert,
    visual_switch,
    widget,
)
from dashapp.web.figures.base import empty_figure
from dashapp.web.figures.rfm import rf_heatmap, rfm_distributions, segment_bars, segment_treemap
from dashapp.web.format import money, number, percent
from dashapp.web.outputs import kept_outputs

dash.register_page(
    __name__, path="/rfm", name="RFM", order=1, title="RFM segments · Customer Segments & CLV"
)


def _grid_columns(currency: str) -> list[dict]:
    return [
        customer_column(),
        {"field": "segment", "headerName": "Segment", "minWidth": 150},
        {"field": "rfm_code", "headerName": "RFM", "maxWidth": 90},
        number_column("recency", "Recency (days)"),
        number_column("frequency", "Frequency (invoices)"),
        money_column("monetary", "Monetary", currency),
        money_column("aov", "Avg order value", currency),
        number_column("tenure", "Tenure (days)"),
        {"field": "first_purchase", "headerName": "First purchase"},
        {"field": "last_purchase", "headerName": "Last purchase"},
        number_column("r_score", "R"),
        number_column("f_score", "F"),
        number_column("m_score", "M"),
    ]


#: What a click on the R x F grid, the treemap or the bars selects (components.drill).
DRILL_LABELS = {"segment": "Segment", "r_score": "R score", "f_score": "F score"}


def layout(as_of=None, r_cuts=None, f_cuts=None, m_cuts=None, heat=None, rfm_sel=None, **query):
    currency = service.currency(query.get("dataset"))
    return html.Div(
        [
            page_header(
                "RFM segments",
                "Recency, frequency and monetary value per customer, "
                "scored 1-5 (5 = best) and named from the R x F grid.",
            ),
            filter_bar(**query),
            _controls(as_of, r_cuts, f_cuts, m_cuts, currency),
            html.Div(id="rfm-message"),
            output_block("rfm-story"),
            output_block("rfm-kpis"),
            side_by_side(
                section(
                    "R x F grid",
                    html.Div(
                        [
                            widget(params.RFM_HEAT, heat, className="small mb-1"),
                            graph("rfm-heatmap"),
                            dcc.Store(id=choices_id("rfm-heatmap")),
                        ]
                    ),
                ),
                section("Revenue by segment", graph("rfm-treemap")),
            ),
            side_by_side(
                section("Customers and revenue by segment", graph("rfm-bars")),
                section(
                    "Score bins (actual edges and sizes)",
                    output_block("rfm-bins"),
                    note="Min and max raw value of the customers in each score.",
                ),
            ),
            section("Distributions", graph("rfm-dist", phone_width=960)),
            section(
                "Segments and recommended actions",
                output_block("rfm-actions"),
                note="The segment grid is data (rfm.SEGMENT_GRID): every one of the 25 R x F "
                "cells belongs to exactly one segment; M does not enter.",
            ),
            section(
                "Customers",
                html.Div(
                    [
                        selection_chip(
                            "rfm",
                            rfm_sel,
                            "Click a cell of the R x F grid, a tile or a bar to list "
                            "those customers.",
                        ),
                        download_button("rfm", className="mb-2"),
                        paged_grid("rfm-grid", _grid_columns(currency)),
                    ]
                ),
                note="The CSV holds the customers listed (the current filters and "
                "selection), with the grid's columns; cells that a spreadsheet would run "
                "as a formula are neutralised.",
            ),
        ]
    )


def _controls(as_of, r_cuts, f_cuts, m_cuts, currency: str) -> dbc.Card:
    m_label = f"{params.RFM_M_CUTS.label} ({currency})"
    controls = dbc.Row(
        [
            control(params.RFM_AS_OF, as_of, md=3),
            control(params.RFM_R_CUTS, r_cuts, md=3),
            control(params.RFM_F_CUTS, f_cuts, md=3),
            control(params.RFM_M_CUTS, m_cuts, label=m_label, md=3),
        ],
        className="g-2 mb-2",
    )
    note = html.Div(
        "Without cut points, scores come from average ranks: equal values always get "
        "equal scores, whatever the row order.",
        className="small text-muted",
    )
    return dbc.Card(dbc.CardBody([controls, note]), className="mb-3")


def _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts) -> service.RfmView:
    """The RFM view for the filter bar and the page's controls (ParamError names a bad
    one)."""
    filters = filters_from(dataset, start, end, countries)
    return service.rfm_view(filters, as_of, r_cuts, f_cuts, m_cuts)


def _bins_table(bins: pd.DataFrame, currency: str):
    rows = {score: {"Score": score} for score in range(5, 0, -1)}
    for rec in bins.itertuples(index=False):
        if rec.customers == 0:
            text = "— (0)"
        elif rec.metric == "monetary":
            text = f"{money(rec.min, currency)} – {money(rec.max, currency)} ({rec.customers:,})"
        else:
            unit = " d" if rec.metric == "recency" else ""
            text = f"{rec.min:,.0f}{unit} – {rec.max:,.0f}{unit} ({rec.customers:,})"
        rows[rec.score][rec.metric.title()] = text
    return frame_table(pd.DataFrame(list(rows.values())))


def _actions_table(summary: pd.DataFrame, currency: str):
    grid = rfm.SEGMENT_GRID
    return frame_table(
        pd.DataFrame(
            {
                "Segment": grid["segment"],
                "R": [f"{a}-{b}" if a != b else f"{a}" for a, b in grid["r_range"]],
                "F": [f"{a}-{b}" if a != b else f"{a}" for a, b in grid["f_range"]],
                "Customers": [number(v) for v in summary["customers"]],
                "Revenue": [money(v, currency) for v in summary["revenue"]],
                "Who they are": grid["description"],
                "Recommended action": grid["action"],
            }
        ),
        className="segment-table",  # score ranges and amounts never break ("4-\n5")
    )


RFM_INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in params.RFM_PARAMS[:4])]
visual_switch(params.RFM_HEAT, "rfm-heatmap")  # colour by customers or revenue: no request


@callback(
    Output("rfm-kpis", "children"),
    Output(choices_id("rfm-heatmap"), "data"),
    Output("rfm-treemap", "figure"),
    Output("rfm-bars", "figure"),
    Output("rfm-bins", "children"),
    Output("rfm-dist", "figure"),
    Output("rfm-actions", "children"),
    Output("rfm-message", "children"),
    Output("rfm-story", "children"),
    *RFM_INPUTS,
    as_state(params.RFM_HEAT),  # checked here; the switch itself is in the browser
)
@kept_outputs
def update_rfm(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts, heat):
    currency = service.currency(dataset)
    try:
        view = _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts)
        params.RFM_HEAT.parse(heat)
    except ParamError as exc:
        return (no_update,) * 7 + (param_alert(exc), None)
    if view.reason:
        blank = empty_figure("No customers")
        blanks = {value: blank for value, _ in params.RFM_HEAT.choices}
        return None, blanks, blank, blank, None, blank, None, empty_state(view.reason), None
    story = rfm_story(view.summary)
    sentences, step, link = rfm_text(story, currency)
    query = {"dataset": dataset, "start": start, "end": end, "countries": countries,
             "as_of": as_of, "r_cuts": r_cuts, "f_cuts": f_cuts, "m_cuts": m_cuts,
             "heat": heat, "rfm_sel": story.target.selection}  # fmt: skip
    story_block = story_card(sentences, step, page_href("/rfm", query), link)
    scored, summary = view.scored, view.summary
    champions = summary.loc[summary["segment"] == "Champions", "revenue_share"].iloc[0]
    as_of_day = view.as_of
    kpis = html.P(
        [
            html.Strong(number(len(scored))),
            " customers scored as of ",
            html.Strong(f"{as_of_day:%Y-%m-%d}" if as_of_day is not None else "—"),
            f" · total monetary {money(summary['revenue'].sum(), currency)} · "
            f"Champions hold {percent(champions)} of it.",
        ],
        className="mb-2",
    )
    return (
        kpis,
        {
            value: rf_heatmap(view.counts, view.revenue, rfm.segment_lookup(), value, currency)
            for value, _ in params.RFM_HEAT.choices
        },
        segment_treemap(summary, currency),
        segment_bars(summary),
        _bins_table(view.bins, currency),
        rfm_distributions(scored, currency),
        _actions_table(summary, currency),
        message(view.warning) if view.warning else None,
        story_block,
    )


def _grid_rows(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts):
    """The customer grid's table (the service pages, sorts and filters it)."""
    try:
        view = _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts)
    except ParamError:
        return None
    return view.table


serve_rows("rfm-grid", RFM_INPUTS, _grid_rows, selection=selection_input("rfm"))
drill_down("rfm", ("rfm-heatmap", "rfm-treemap", "rfm-bars"), _grid_columns("£"), DRILL_LABELS)


@callback(
    Output("rfm-download", "data"),
    Input("rfm-download-btn", "n_clicks"),
    *FILTER_STATES,
    *(as_state(p) for p in params.RFM_PARAMS[:4]),
    selection_state("rfm"),
    prevent_initial_call=True,
)
def download_rfm(n_clicks, dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts, sel):
    try:
        view = _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts)
    except ParamError:
        return no_update
    if view.reason:
        return no_update
    currency = service.currency(dataset)
    return grid_export(
        select_or_all(view.table, sel),
        _grid_columns(currency),
        title="RFM segments, customers",
        page="rfm",
        dataset=dataset or service.default_dataset_id(),
        start=start,
        end=end,
        countries=countries,
        currency=currency,
        as_of=view.as_of,
        selection=selection_words(sel, _grid_columns(currency), DRILL_LABELS),
    )
