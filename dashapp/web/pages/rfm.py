"""RFM: recency / frequency / monetary per customer, 1-5 scores, named segments, export."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashapp import service
from dashapp.analytics import rfm
from dashapp.service.exports import to_safe_csv
from dashapp.web.components import (
    FILTER_INPUTS,
    FILTER_STATES,
    data_grid,
    filter_bar,
    filters_from,
    frame_table,
    labelled,
    message,
    money_column,
    number_column,
    page_header,
    section,
)
from dashapp.web.figures import (
    empty_figure,
    money,
    number,
    percent,
    rf_heatmap,
    rfm_distributions,
    segment_bars,
    segment_treemap,
)
from dashapp.web.urlstate import date_id, state_id

dash.register_page(
    __name__, path="/rfm", name="RFM", order=1, title="RFM segments · Customer Segments & CLV"
)

MIN_CUSTOMERS = 10
CUT_KEYS = {"recency": "r_cuts", "frequency": "f_cuts", "monetary": "m_cuts"}
EXPORT_COLUMNS = [
    "customer_id",
    "recency",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
    "segment",
]


def _grid_columns(currency: str) -> list[dict]:
    return [
        {"field": "customer_id", "headerName": "Customer", "pinned": "left", "minWidth": 110},
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


def _cuts_input(metric: str, value, placeholder: str):
    return dbc.Input(
        id=state_id(CUT_KEYS[metric]),
        value=value,
        debounce=True,
        type="text",
        placeholder=placeholder,
        size="sm",
    )


def layout(as_of=None, r_cuts=None, f_cuts=None, m_cuts=None, heat="customers", **query):
    currency = service.currency(query.get("dataset"))
    controls = dbc.Row(
        [
            labelled(
                "As-of date (recency counted to it)",
                dcc.DatePickerSingle(
                    id=date_id("as_of"),
                    date=as_of,
                    placeholder="day after last invoice",
                    display_format="YYYY-MM-DD",
                    clearable=True,
                ),
                md=3,
            ),
            labelled(
                "Custom R cut points (days, 4 values)",
                _cuts_input("recency", r_cuts, "e.g. 14,30,90,180"),
                md=3,
            ),
            labelled(
                "Custom F cut points (invoices)",
                _cuts_input("frequency", f_cuts, "e.g. 2,3,5,10"),
                md=3,
            ),
            labelled(
                "Custom M cut points (" + currency + ")",
                _cuts_input("monetary", m_cuts, "e.g. 250,500,1000,3000"),
                md=3,
            ),
        ],
        className="g-2 mb-2",
    )
    return html.Div(
        [
            page_header(
                "RFM segments",
                "Recency, frequency and monetary value per customer, "
                "scored 1-5 (5 = best) and named from the R x F grid.",
            ),
            filter_bar(**query),
            dbc.Card(
                dbc.CardBody(
                    [
                        controls,
                        html.Div(
                            "Without cut points, scores come from average ranks: equal values always get "
                            "equal scores, whatever the row order.",
                            className="small text-muted",
                        ),
                    ]
                ),
                className="mb-3",
            ),
            html.Div(id="rfm-message"),
            dcc.Loading(html.Div(id="rfm-kpis"), delay_show=200),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "R x F grid",
                            html.Div(
                                [
                                    dbc.RadioItems(
                                        id=state_id("heat"),
                                        value=heat,
                                        inline=True,
                                        options=[
                                            {"label": "Colour by customers", "value": "customers"},
                                            {"label": "Colour by revenue", "value": "revenue"},
                                        ],
                                        className="small mb-1",
                                    ),
                                    dcc.Loading(
                                        dcc.Graph(
                                            id="rfm-heatmap",
                                            figure=empty_figure(),
                                            config={"displaylogo": False},
                                        ),
                                        delay_show=200,
                                    ),
                                ]
                            ),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section(
                            "Revenue by segment",
                            dcc.Loading(
                                dcc.Graph(
                                    id="rfm-treemap",
                                    figure=empty_figure(),
                                    config={"displaylogo": False},
                                ),
                                delay_show=200,
                            ),
                        ),
                        lg=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Customers and revenue by segment",
                            dcc.Loading(
                                dcc.Graph(
                                    id="rfm-bars",
                                    figure=empty_figure(),
                                    config={"displaylogo": False},
                                ),
                                delay_show=200,
                            ),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section(
                            "Score bins (actual edges and sizes)",
                            dcc.Loading(html.Div(id="rfm-bins"), delay_show=200),
                            note="Min and max raw value of the customers in each score.",
                        ),
                        lg=6,
                    ),
                ]
            ),
            section(
                "Distributions",
                dcc.Loading(
                    dcc.Graph(id="rfm-dist", figure=empty_figure(), config={"displaylogo": False}),
                    delay_show=200,
                ),
            ),
            section(
                "Segments and recommended actions",
                dcc.Loading(html.Div(id="rfm-actions"), delay_show=200),
                note="The segment grid is data (rfm.SEGMENT_GRID): every one of the 25 R x F "
                "cells belongs to exactly one segment; M does not enter.",
            ),
            section(
                "Customers",
                html.Div(
                    [
                        dbc.Button(
                            "Download CSV",
                            id="rfm-download-btn",
                            color="primary",
                            size="sm",
                            className="mb-2",
                        ),
                        dcc.Download(id="rfm-download"),
                        data_grid("rfm-grid", _grid_columns(currency)),
                    ]
                ),
                note="The CSV holds every customer of the current filters; cells that a "
                "spreadsheet would run as a formula are neutralised.",
            ),
        ]
    )


def parse_cuts(text) -> tuple[float, ...] | None:
    """``"14, 30, 90, 180"`` -> (14.0, 30.0, 90.0, 180.0); blank -> None; else ValueError."""
    if text is None or str(text).strip() == "":
        return None
    try:
        values = tuple(float(v) for v in str(text).replace(";", ",").split(",") if v.strip())
    except ValueError:
        raise ValueError(f"Cut points must be numbers separated by commas, got '{text}'.") from None
    if len(values) != 4 or list(values) != sorted(values) or len(set(values)) != 4:
        raise ValueError(f"Cut points need exactly 4 increasing numbers, got '{text}'.")
    return values


def _thresholds(r_cuts, f_cuts, m_cuts):
    pairs = []
    for metric, text in (("recency", r_cuts), ("frequency", f_cuts), ("monetary", m_cuts)):
        cuts = parse_cuts(text)
        if cuts:
            pairs.append((metric, cuts))
    return tuple(pairs) or None


def _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts) -> dict:
    filters = filters_from(dataset, start, end, countries)
    as_of = pd.Timestamp(as_of).strftime("%Y-%m-%d") if as_of else None
    return service.rfm_view(filters, as_of, _thresholds(r_cuts, f_cuts, m_cuts))


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
        )
    )


RFM_INPUTS = [
    *FILTER_INPUTS,
    Input(date_id("as_of"), "date"),
    Input(state_id("r_cuts"), "value"),
    Input(state_id("f_cuts"), "value"),
    Input(state_id("m_cuts"), "value"),
]


@callback(
    Output("rfm-kpis", "children"),
    Output("rfm-heatmap", "figure"),
    Output("rfm-treemap", "figure"),
    Output("rfm-bars", "figure"),
    Output("rfm-bins", "children"),
    Output("rfm-dist", "figure"),
    Output("rfm-actions", "children"),
    Output("rfm-message", "children"),
    *RFM_INPUTS,
    Input(state_id("heat"), "value"),
)
def update_rfm(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts, heat):
    currency = service.currency(dataset)
    try:
        view = _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts)
    except ValueError as exc:
        return (no_update,) * 7 + (message(str(exc), "danger"),)
    scored, summary = view["scored"], view["summary"]
    reason = service.empty_reason(len(scored), MIN_CUSTOMERS)
    if reason and scored.empty:
        blank = empty_figure("No customers")
        return None, blank, blank, blank, None, blank, None, message(reason)
    note = message(reason + " Scores over so few customers say little.") if reason else None
    champions = summary.loc[summary["segment"] == "Champions", "revenue_share"].iloc[0]
    as_of_day = view["as_of"]
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
        rf_heatmap(
            view["counts"], view["revenue"], rfm.segment_lookup(), heat or "customers", currency
        ),
        segment_treemap(summary, currency),
        segment_bars(summary),
        _bins_table(view["bins"], currency),
        rfm_distributions(scored, currency),
        _actions_table(summary, currency),
        note,
    )


@callback(Output("rfm-grid", "rowData"), *RFM_INPUTS)
def update_rfm_grid(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts):
    try:
        return _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts)["records"]
    except ValueError:
        return no_update


@callback(
    Output("rfm-download", "data"),
    Input("rfm-download-btn", "n_clicks"),
    *FILTER_STATES,
    State(date_id("as_of"), "date"),
    State(state_id("r_cuts"), "value"),
    State(state_id("f_cuts"), "value"),
    State(state_id("m_cuts"), "value"),
    prevent_initial_call=True,
)
def download_rfm(n_clicks, dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts):
    try:
        scored = _view(dataset, start, end, countries, as_of, r_cuts, f_cuts, m_cuts)["scored"]
    except ValueError:
        return no_update
    table = scored.reset_index()[EXPORT_COLUMNS]
    return {"content": to_safe_csv(table), "filename": "rfm_customers.csv", "type": "text/csv"}
