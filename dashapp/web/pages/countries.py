"""Countries: customers, revenue, predicted CLV and churn risk on a world map with the table
beside it; clicking a country filters the app on it. Countries a map cannot place are listed."""

from __future__ import annotations

import dash
import pandas as pd
from dash import (
    ClientsideFunction,
    Input,
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
from dashapp.service.views import geo as views
from dashapp.web.components import (
    FILTER_INPUTS,
    empty_state,
    filter_bar,
    filters_from,
    frame_table,
    output_block,
    page_header,
    section,
    side_by_side,
)
from dashapp.web.controls import as_input, as_state, choices_id, hidden, param_alert, visual_switch
from dashapp.web.controls import widget as control_widget
from dashapp.web.figures import geo as figures
from dashapp.web.figures.base import empty_figure
from dashapp.web.format import money, number, percent
from dashapp.web.outputs import kept_outputs
from dashapp.web.urlstate import state_id

dash.register_page(
    __name__,
    path="/countries",
    name="Countries",
    order=6.5,
    title="Countries · Customer Segments & CLV",
)

INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in views.CLV_SETTINGS)]


def layout(geo_measure=None, **query):
    carried = html.Div([hidden(p, query.get(p.key)) for p in views.CLV_SETTINGS], hidden=True)
    return html.Div(
        [
            page_header(
                "Countries",
                "Customers, revenue, predicted CLV and churn risk by country. Click a country "
                "to filter every page on it.",
            ),
            filter_bar(**query),
            carried,
            html.Div(id="geo-message"),
            side_by_side(
                section(
                    "World map",
                    html.Div(
                        [
                            control_widget(params.COUNTRY_MEASURE, geo_measure, className="small"),
                            dcc.Graph(
                                id="geo-map",
                                figure=empty_figure(height=460),
                                config=figures.graph_config(),
                            ),
                            dcc.Store(id=choices_id("geo-map")),
                        ]
                    ),
                    note="Predicted CLV and churn risk use the CLV page's settings; each "
                    "customer counts in the country of most of their invoices.",
                ),
                section("By country", output_block("geo-table", className="geo-table")),
                left_width=7,
            ),
            section("Not on the map", output_block("geo-unplaced")),
        ]
    )


visual_switch(params.COUNTRY_MEASURE, "geo-map")  # the measure is switched in the browser


def _table(table: pd.DataFrame, currency: str):
    shown = pd.DataFrame(
        {
            "Country": table["country"],
            "Customers": [number(v) for v in table["customers"]],
            "Revenue": [money(v, currency) for v in table["revenue"]],
            "Predicted CLV": ["—" if pd.isna(v) else money(v, currency) for v in table["clv"]],
            "Churn risk": ["—" if pd.isna(v) else percent(v) for v in table["churn_risk"]],
        }
    )
    return frame_table(shown)


@callback(
    Output(choices_id("geo-map"), "data"),
    Output("geo-table", "children"),
    Output("geo-unplaced", "children"),
    Output("geo-message", "children"),
    *INPUTS,
    as_state(params.COUNTRY_MEASURE),
)
@kept_outputs
def update_countries(dataset, start, end, countries, *settings):
    *clv_settings, measure = settings
    try:
        params.COUNTRY_MEASURE.parse(measure)
        view = views.country_view(filters_from(dataset, start, end, countries), *clv_settings)
    except ParamError as exc:
        return no_update, no_update, no_update, param_alert(exc)
    if view.reason:
        blank = empty_figure("No customers")
        return (
            {m: blank for m in params.COUNTRY_MEASURE.values},
            None,
            None,
            empty_state(view.reason),
        )
    currency = service.currency(dataset)
    assert view.table is not None and view.unplaced is not None
    maps = {m: figures.choropleth(view.table, m, currency) for m in params.COUNTRY_MEASURE.values}
    if view.unplaced.empty:
        unplaced = html.P("Every country of the data is on the map.", className="mb-0")
    else:
        unplaced = html.Ul(
            [
                html.Li(
                    [
                        html.Strong(row.country),
                        f": {row.note}; {number(row.customers)} customers, "
                        f"{money(row.revenue, currency)} revenue.",
                    ]
                )
                for row in view.unplaced.itertuples(index=False)
            ],
            className="mb-0",
            id="geo-unplaced-list",
        )
    notes = [html.P(n, className="small text-muted mb-1") for n in view.notes]
    return maps, _table(view.table, currency), unplaced, html.Div(notes) if notes else None


# A click on a country makes it the country filter (the URL follows), in the browser.
clientside_callback(
    ClientsideFunction("drill", "country"),
    Output(state_id("countries"), "value"),
    Input("geo-map", "clickData"),
    State(state_id("countries"), "value"),
    prevent_initial_call=True,
)
