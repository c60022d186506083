"""Products: top products by revenue and by customers, returns rate, what the best customers
buy against the rest, and the products that distinguish a segment (lift)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashapp import service
from dashapp.service import DataLoadError, ParamError, params
from dashapp.service.views import products as views
from dashapp.web.components import (
    FILTER_INPUTS,
    empty_state,
    filter_bar,
    filters_from,
    frame_table,
    graph,
    money_column,
    number_column,
    output_block,
    page_header,
    paged_grid,
    section,
    serve_rows,
    side_by_side,
)
from dashapp.web.controls import as_input, control, hidden, param_alert
from dashapp.web.figures import products as figures
from dashapp.web.figures.base import empty_figure
from dashapp.web.format import money, number, percent

dash.register_page(
    __name__,
    path="/products",
    name="Products",
    order=6.7,
    title="Products · Customer Segments & CLV",
)

#: The charts and the grid depend on who the best customers are; the lift on the segment only
#: (a segment change re-renders the lift table alone).
#: The lift table's settings: the segment and the fewest buyers a product needs in it.
LIFT_PARAMS = (params.PRODUCT_SEGMENT, params.PRODUCT_MIN_BUYERS)
TABLE_INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in (params.PRODUCT_BEST, *views.CLV_SETTINGS))]
LIFT_INPUTS = [*FILTER_INPUTS, *(as_input(p) for p in LIFT_PARAMS)]
#: While the product lines are being prepared (a fresh process), the page asks again every
#: RETRY_MS: update_products starts the ticks and, once it has its data, allows one more
#: round (another worker's answers may have been "being prepared" a moment longer).
RETRY_MS = 2000
RETRY = Input("prod-retry", "n_intervals")


def layout(prod_segment=None, prod_best=None, prod_min_buyers=None, **query):
    currency = service.currency(query.get("dataset"))
    controls = dbc.Row(
        [
            control(params.PRODUCT_BEST, prod_best, md=5),
            control(params.PRODUCT_SEGMENT, prod_segment, select=True, md=4),
            control(params.PRODUCT_MIN_BUYERS, prod_min_buyers, md=3),
        ],
        className="g-2",
    )
    carried = html.Div([hidden(p, query.get(p.key)) for p in views.CLV_SETTINGS], hidden=True)
    columns = [
        money_column("revenue", "Net revenue", currency) if c["field"] == "revenue" else c
        for c in GRID_COLUMNS
    ]
    return _layout(query, controls, carried, columns)


#: The grid's columns (only these travel to the browser).
GRID_COLUMNS = [
    {"field": "stock_code", "headerName": "Stock code", "pinned": "left", "minWidth": 110},
    # wide enough for Online Retail II's longest description (35 capitals); longer ones of
    # other data are cut, with the whole text in the tooltip
    {
        "field": "description",
        "headerName": "Description",
        "contentChars": 40,
        "tooltipField": "description",
    },
    money_column("revenue", "Net revenue"),
    number_column("units", "Units sold"),
    number_column("customers", "Customers"),
    number_column("returned_units", "Units returned"),
    number_column("returns_rate", "Returns rate", 3),
    number_column("best_index", "Best customers' index", 2),
    number_column("descriptions", "Descriptions"),
]


def _layout(query: dict, controls, carried, columns: list[dict]) -> html.Div:
    return html.Div(
        [
            page_header(
                "Products",
                "What sells, to whom, what comes back, and what the best customers and each "
                "segment buy.",
            ),
            filter_bar(**query),
            dbc.Card(dbc.CardBody(controls), className="mb-3"),
            carried,
            html.Div(id="prod-message"),
            dcc.Interval(id="prod-retry", interval=RETRY_MS, max_intervals=0),
            output_block("prod-summary"),
            side_by_side(
                section("Top products by net revenue", graph("prod-revenue", 600)),
                section("Top products by customers", graph("prod-customers", 600)),
            ),
            side_by_side(
                section(
                    "What the best customers buy",
                    graph("prod-best", 640),
                    note="Each product's share of the best customers' spend beside its share of "
                    "everyone else's; the index in the table is their ratio.",
                ),
                section(
                    "Top product types by net revenue",
                    graph("prod-types-chart", 600),
                    note="The product type is derived from the description (its last word "
                    "once trailing colours, patterns and sizes are dropped, in the singular): "
                    "approximate, the data have no category column. The table below has "
                    "the customers and returns rate of each.",
                ),
            ),
            # full width: seven columns of counts and shares stay on one line each
            section(
                "Products that distinguish the segment",
                html.Div([html.Div(id="prod-lift-message"), output_block("prod-lift")]),
                note="Lift = share of the segment's customers who bought the product / share of "
                "all customers who did; only products bought by at least the chosen number of "
                "the segment's customers. The 95 % range is the Wilson interval of the "
                "segment's share over the overall share: a wide range rests on few buyers. "
                "Ranked by the range's lower end (the lift the buyers support at least): a "
                "product bought by many of the segment ranks above a higher lift resting on "
                "a few.",
            ),
            section(
                "By product type",
                output_block("prod-types"),
                note="Customers: distinct customers who bought a product of the type; products: "
                "its stock codes. Returns rate = units on cancellation invoices / units sold.",
            ),
            section(
                "All products",
                paged_grid("prod-grid", columns),
                note="Returns rate = units on cancellation invoices / units sold. A stock "
                "code sold under several descriptions is shown under its most frequent one.",
            ),
        ]
    )


def _lift_table(lift: pd.DataFrame | None):
    """The segment's size, what the minimum left out, and the 15 products with the highest
    lower end of the lift's 95 % range, with their lift, range and buyers."""
    if lift is None:
        return None
    info = lift.attrs
    need, below = info.get("min_customers", 1), info.get("below", 0)
    head = [
        html.Strong(number(info.get("n_segment", 0))),
        " customers in the segment, ",
        html.Strong(number(info.get("n_rest", 0))),
        " others.",
    ]
    if below:
        head.append(
            f" {number(below)} products bought by fewer than {number(need)} of the segment's "
            "customers are left out."
        )
    summary = html.P(head, className="small mb-2", id="prod-lift-summary")
    if lift.empty:
        return html.Div(
            [
                summary,
                html.P(
                    f"No product is bought by {number(need)} or more of the segment's "
                    "customers: lower the fewest segment buyers to see more.",
                    className="text-muted",
                ),
            ]
        )
    shown = lift.head(15)
    table = frame_table(
        pd.DataFrame(
            {
                "Product": [
                    f"{d} ({c})"
                    for c, d in zip(shown["stock_code"], shown["description"], strict=True)
                ],
                # the lift next to the product: on a phone the table scrolls sideways
                "Lift": [f"{v:.2f}" for v in shown["lift"]],
                "95 % range": [
                    f"{lo:.2f}\u2011{hi:.2f}"  # a non-breaking hyphen: one line on a phone
                    for lo, hi in zip(shown["lift_low"], shown["lift_high"], strict=True)
                ],
                "Buyers in segment": [number(v) for v in shown["in_segment"]],
                "Buyers elsewhere": [number(v) for v in shown["in_rest"]],
                "In segment": [percent(v) for v in shown["segment_share"]],
                "All customers": [percent(v) for v in shown["overall_share"]],
            }
        ),  # fmt: skip
        id="prod-lift-table",
    )
    return html.Div([summary, table])


def _types_table(types: pd.DataFrame, currency: str):
    if types is None or types.empty:
        return html.P("No product lines under these filters.", className="text-muted")
    shown = types.head(15)
    return frame_table(
        pd.DataFrame(
            {
                "Type": shown["product_type"],
                "Net revenue": [money(v, currency) for v in shown["revenue"]],
                "Customers": [number(v) for v in shown["customers"]],
                "Products": [number(v) for v in shown["products"]],
                "Units sold": [number(v) for v in shown["units"]],
                "Units returned": [number(v) for v in shown["returned_units"]],
                "Returns rate": [percent(v) if pd.notna(v) else "" for v in shown["returns_rate"]],
            }
        ),
        id="prod-types-table",
    )


def _grid_rows(dataset, start, end, countries, *settings_and_tick):
    """The product table's shown columns, largest revenue first (the service pages, sorts and
    filters it: only the block the grid shows travels); None while the product lines are being
    prepared (the retry's tick asks again)."""
    settings = settings_and_tick[:-1]
    try:
        view = views.product_table_view(filters_from(dataset, start, end, countries), *settings)
    except (ParamError, DataLoadError):
        return None
    if view.reason or view.table is None:
        return None
    return view.table[[c["field"] for c in GRID_COLUMNS]]


serve_rows("prod-grid", [*TABLE_INPUTS, RETRY], _grid_rows)


@callback(
    Output("prod-summary", "children"),
    Output("prod-revenue", "figure"),
    Output("prod-customers", "figure"),
    Output("prod-best", "figure"),
    Output("prod-message", "children"),
    Output("prod-retry", "max_intervals"),
    *TABLE_INPUTS,
    RETRY,
    State("prod-retry", "max_intervals"),
)
def update_products(dataset, start, end, countries, *settings_tick_limit):
    *settings, tick, limit = settings_tick_limit
    # once answered after "being prepared": one more round of ticks, then none
    settled = (tick or 0) + 1 if limit == -1 else no_update
    try:
        view = views.product_table_view(filters_from(dataset, start, end, countries), *settings)
    except ParamError as exc:
        return (no_update,) * 4 + (param_alert(exc), settled)
    except service.DataPreparing as exc:  # the product lines: asked again every RETRY_MS
        blank = empty_figure("")
        return None, blank, blank, blank, empty_state(str(exc)), -1
    except DataLoadError as exc:
        blank = empty_figure("")
        return None, blank, blank, blank, empty_state(str(exc)), settled
    if view.reason:
        blank = empty_figure("No products")
        return None, blank, blank, blank, empty_state(view.reason), settled
    currency = service.currency(dataset)
    table = view.table
    assert table is not None
    summary = html.P(
        [
            html.Strong(number(len(table))),
            " products; the best customers are ",
            html.Strong(view.best_label),
            f" ({number(view.n_best)}).",
        ],
        className="mb-2",
    )
    notes = [html.P(n, className="small text-muted mb-1") for n in view.notes]
    return (
        summary,
        figures.top_bars(table, "revenue", "Net revenue", currency),
        figures.top_bars(table, "customers", "Customers"),
        figures.best_vs_rest(table, view.best_label),
        html.Div(notes) if notes else None,
        settled,
    )


@callback(
    Output("prod-lift", "children"),
    Output("prod-lift-message", "children"),
    *LIFT_INPUTS,
    RETRY,
)
def update_lift(dataset, start, end, countries, segment, min_buyers, _tick):
    try:
        lift = views.segment_lift_view(
            filters_from(dataset, start, end, countries), segment, min_buyers
        )
    except ParamError as exc:
        return no_update, param_alert(exc)
    except DataLoadError:  # said once, above the charts
        return None, None
    return _lift_table(lift), None


@callback(
    Output("prod-types", "children"),
    Output("prod-types-chart", "figure"),
    *FILTER_INPUTS,
    RETRY,
)
def update_types(dataset, start, end, countries, _tick):
    try:
        types = views.product_type_view(filters_from(dataset, start, end, countries))
    except DataLoadError:  # said once, above the charts
        return None, empty_figure("")
    currency = service.currency(dataset)
    return _types_table(types, currency), figures.type_bars(types, currency)
