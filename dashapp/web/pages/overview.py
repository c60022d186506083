"""Overview: KPIs, monthly revenue and the cleaning ledger for the filtered data."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashapp import service
from dashapp.analytics.overview import PRESETS
from dashapp.web.components import (
    FILTER_INPUTS,
    empty_state,
    filter_bar,
    filters_from,
    graph,
    kpi_card,
    ledger_table,
    output_block,
    page_header,
    section,
    static_block,
)
from dashapp.web.figures.overview import monthly_revenue
from dashapp.web.format import money, number, percent
from dashapp.web.outputs import kept_outputs
from dashapp.web.urlstate import date_id, state_id

dash.register_page(
    __name__, path="/", name="Overview", order=0, title="Overview · Customer Segments & CLV"
)


def layout(**query):
    return html.Div(
        [
            page_header(
                "Overview",
                "Revenue, customers and orders after cleaning, and what the "
                "cleaning did to the data.",
            ),
            filter_bar(**query),
            _presets(),
            html.Div(id="overview-message"),
            html.Div(id="overview-kpis"),
            section(
                "Monthly net revenue",
                graph("overview-trend", phone_width=760),
                note="Net of returns. Lines without a customer id count here but not in customer "
                "analytics.",
            ),
            section(
                "Cleaning ledger",
                output_block("overview-ledger"),
                note="One row per rule: how many lines it touched and the money involved (GBP).",
            ),
        ]
    )


def preset_id(preset: str) -> str:
    return f"overview-preset-{preset}"


def _presets() -> html.Div:
    """Buttons that set the filter bar's From and To to a period ending on the last day of
    data; the KPIs then compare it with the period before and the year before."""
    buttons = [
        dbc.Button(
            label,
            id=preset_id(value),
            color="primary",  # the theme's grey outline reads as disabled
            outline=True,
            size="sm",
            className="me-1 mb-1",
        )  # fmt: skip
        for value, label in PRESETS
    ]
    return html.Div(
        [
            html.Span("Period (to the last day of data): ", className="small text-muted me-2"),
            *buttons,
        ],  # fmt: skip
        className="mb-2 overview-presets",
    )


@callback(
    Output(date_id("start"), "date"),
    Output(date_id("end"), "date"),
    *(Input(preset_id(value), "n_clicks") for value, _ in PRESETS),
    State(state_id("dataset"), "value"),
    prevent_initial_call=True,
)
def apply_preset(*clicks_and_dataset):
    """A preset sets From and To (the URL follows them in the browser, assets/urlstate.js)."""
    dataset = clicks_and_dataset[-1]
    chosen = str(ctx.triggered_id or "").removeprefix("overview-preset-")
    if chosen not in dict(PRESETS):
        return no_update, no_update
    return service.period_preset(dataset or service.default_dataset_id(), chosen)


#: How each KPI's change is written: relative change, or percentage points for a rate.
_CHANGES = {"net_revenue": "relative", "customers": "relative", "orders": "relative",
            "aov": "relative", "repeat_rate": "points"}  # fmt: skip
_WINDOW_WORDS = {"previous": "vs the {days} days before", "year_before": "vs a year before"}


def _change(now: float, before, field: str) -> str:
    if before is None:
        return "not covered"
    old = getattr(before, field)
    if old is None or old != old or now != now:  # NaN: nothing to compare
        return "no data to compare"
    if _CHANGES[field] == "points":
        return f"{100 * (now - old):+.1f} pts"
    if old == 0:
        return "no data to compare" if now == 0 else "new"
    return f"{100 * (now / old - 1):+.1f}%"


def _comparison_lines(view, field: str) -> list:
    """One line per comparison window the data cover: '+12.3% vs the 90 days before' (the
    windows they do not cover are said once, above the cards: :func:`_uncovered_note`)."""
    lines = []
    if view.period is None:
        return lines
    days = (view.period[1] - view.period[0]).days + 1
    for name, ((a, b), kpis) in view.comparisons.items():
        if kpis is None:
            continue
        words = _WINDOW_WORDS[name].format(days=f"{days:,}")
        text = _change(getattr(view.kpis, field), kpis, field)
        lines.append(
            html.Div(
                f"{words}: {text}" if kpis is None else f"{text} {words}",
                title=f"{a:%Y-%m-%d} to {b:%Y-%m-%d}",
                className="small kpi-change " + ("text-muted" if kpis is None else ""),
                **{"data-window": name},
            )
        )
    return lines


def _uncovered_note(view) -> html.Div | None:
    """One line for the comparison windows the data do not cover (rather than 'not covered'
    twice in every card): 'No comparison: the data do not cover the 739 days before ...'."""
    if view.period is None:
        return None
    days = (view.period[1] - view.period[0]).days + 1
    missing = [(_WINDOW_WORDS[name].format(days=f"{days:,}").removeprefix("vs "), a, b)
               for name, ((a, b), kpis) in view.comparisons.items() if kpis is None]  # fmt: skip
    if not missing:
        return None
    spans = " nor ".join(f"{words} ({a:%Y-%m-%d} to {b:%Y-%m-%d})" for words, a, b in missing)
    hint = " Pick a shorter period to compare." if len(missing) == len(view.comparisons) else ""
    return html.Div(f"No comparison with {spans}: the data do not cover it.{hint}",
                    className="small text-muted mb-2", id="overview-uncovered")  # fmt: skip


def _kpi_cards(result, currency: str) -> dcc.Markdown:
    """The five KPI cards, each with its change against the comparison periods."""
    k = result.kpis
    row = dbc.Row(
        [
            dbc.Col(
                kpi_card(
                    "Net revenue",
                    money(k.net_revenue, currency),
                    f"returns {money(k.cancellation_revenue, currency)}",
                    id_="kpi-revenue",
                    extra=_comparison_lines(result, "net_revenue"),
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Customers",
                    number(k.customers),
                    "with a purchase",
                    id_="kpi-customers",
                    extra=_comparison_lines(result, "customers"),
                ),  # fmt: skip
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Orders",
                    number(k.orders),
                    "purchase invoices",
                    id_="kpi-orders",
                    extra=_comparison_lines(result, "orders"),
                ),  # fmt: skip
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Average order value",
                    money(k.aov, currency, 2),
                    "per invoice, not per line",
                    id_="kpi-aov",
                    extra=_comparison_lines(result, "aov"),
                ),
                md=True,
            ),
            dbc.Col(
                kpi_card(
                    "Repeat customers",
                    percent(k.repeat_rate),
                    "2+ orders in the range",
                    id_="kpi-repeat",
                    extra=_comparison_lines(result, "repeat_rate"),
                ),
                md=True,
            ),
        ],
        className="g-3 mb-3",
        id="kpi-row",
    )
    return static_block(row)


@callback(
    Output("overview-kpis", "children"),
    Output("overview-trend", "figure"),
    Output("overview-ledger", "children"),
    Output("overview-message", "children"),
    *FILTER_INPUTS,
)
@kept_outputs
def update_overview(dataset, start, end, countries):
    filters = filters_from(dataset, start, end, countries)
    result = service.overview(filters)
    k = result.kpis
    currency = service.currency(dataset)
    cards = html.Div([_uncovered_note(result), _kpi_cards(result, currency)])
    note = None
    if k.orders == 0:
        note = empty_state(
            "No invoices match these filters. Widen the date range or clear the country filter."
        )
    rows_in, rows_out = result.rows_in, result.rows_out
    ledger = html.Div(
        [
            html.P(
                f"{number(rows_in)} lines read, {number(rows_out)} kept after cleaning "
                "(the ledger covers the whole dataset; the filters apply after cleaning).",
                className="small",
            ),
            *(
                html.P(text, className="small text-warning-emphasis", id="overview-data-note")
                for text in service.dataset_notes(filters.dataset)
            ),
            ledger_table(result.ledger, currency),
        ]
    )
    return cards, monthly_revenue(result.monthly, currency), ledger, note
