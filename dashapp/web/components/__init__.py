"""Shared layout pieces: filter bar, KPI cards, messages, tables and grids."""

from __future__ import annotations

import json
from collections.abc import Callable

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
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
from dashapp.ingest.loading import DataLoadError
from dashapp.web.components.drill import count_output, count_text
from dashapp.web.components.markup import static_block
from dashapp.web.figures.base import empty_figure
from dashapp.web.format import money, number
from dashapp.web.messages import user_text
from dashapp.web.urlstate import date_id, split_list, state_id

#: The filter bar's inputs, in the order page callbacks receive them.
FILTER_INPUTS = [
    Input(state_id("dataset"), "value"),
    Input(date_id("start"), "date"),
    Input(date_id("end"), "date"),
    Input(state_id("countries"), "value"),
]
#: Store holding the dataset the filter bar was built for (a pattern-matching id: pages
#: without a filter bar have none, and the URL callbacks read it with ALL).
FILTER_BAR_DATASET = {"kind": "filter-bar", "key": "dataset"}
#: The same four values as State (for download buttons and other click callbacks).
FILTER_STATES = [State(i.component_id, i.component_property) for i in FILTER_INPUTS]

DOWNLOAD_HINT = (
    "To analyse the real Online Retail II dataset, run "
    "`python -m dashapp download` (or put online_retail_II.xlsx / .csv in the "
    "data/ folder) and restart the app."
)


def filters_from(dataset, start, end, countries) -> service.Filters:
    """The service's filter value from the filter bar's inputs."""
    return service.Filters.build(
        dataset=dataset, start=start, end=end, countries=split_list(countries)
    )


def dom_id(id_) -> str:
    """The DOM id Dash gives a component id (dict ids become sorted compact JSON)."""
    if isinstance(id_, dict):
        return json.dumps(id_, sort_keys=True, separators=(",", ":"))
    return str(id_)


def labelled(label: str, control, width: int | None = None, **col_kwargs) -> dbc.Col:
    """A control with a visible label bound to it (``for`` = the control's DOM id)."""
    target = getattr(control, "id", None)
    return dbc.Col(
        [
            dbc.Label(
                label,
                html_for=dom_id(target) if target else None,
                className="small text-muted mb-1",
            ),
            control,
        ],
        width=width,
        **col_kwargs,
    )


def filter_bar(dataset=None, start=None, end=None, countries=None, **_ignored) -> html.Div:
    """The shared filter bar, initialised from the URL query values of the page."""
    notice = None
    try:
        options = service.datasets()
        if dataset:
            try:
                service.dataset_info(dataset)
            except DataLoadError as exc:
                notice = dbc.Alert(
                    f"{user_text(exc)} Showing the default dataset instead.",
                    color="warning",
                    className="py-2",
                )
                dataset = None
        dataset = dataset or service.default_dataset_id()
        info = service.dataset_info(dataset)
        bounds = service.dataset_bounds(dataset)
    except DataLoadError as exc:
        return html.Div(
            [
                dbc.Alert(
                    [html.Strong("The dataset cannot be loaded. "), user_text(exc)],
                    color="danger",
                    className="mb-3",
                )
            ]
        )
    choices = [{"label": d.label, "value": d.id} for d in options]
    if info.kind == "upload":
        choices.append({"label": info.label, "value": info.id})
    bar = dbc.Row(
        [
            labelled(
                "Dataset",
                dcc.Dropdown(
                    id=state_id("dataset"), clearable=False, value=dataset, options=choices
                ),
                md=3,
            ),
            labelled("From", _day_picker("start", start, bounds, bounds.start), md=2),
            labelled("To (inclusive)", _day_picker("end", end, bounds, bounds.end), md=2),
            labelled(
                "Countries (all when empty)",
                dcc.Dropdown(
                    id=state_id("countries"),
                    multi=True,
                    value=split_list(countries),
                    options=bounds.countries,
                    placeholder="All countries",
                ),
                md=5,
            ),
        ],
        className="g-2 align-items-end",
    )
    children = [
        dbc.Card(dbc.CardBody(bar, className="py-2"), className="mb-3 filter-bar"),
        html.Div(id="filter-bar-ready", hidden=True),
        # the dataset the bar was built for (its dates and countries): choosing another one
        # renders the page again (assets/urlstate.js)
        dcc.Store(id=FILTER_BAR_DATASET, data=dataset),
    ]
    if notice is not None:
        children.insert(0, notice)
    if info.is_demo:
        children.append(demo_notice())
    return html.Div(children)


def date_picker(id_, day, **kwargs) -> dcc.DatePickerSingle:
    """Every date picker of the app (the filter bar's, a declared date parameter's): a day as
    ``YYYY-MM-DD``, clearable. Without a day the ``date`` prop is left out rather than null:
    Dash 4's picker sets it to undefined on mount, and null -> undefined counts as a change,
    which ran every callback of the page a second time on load."""
    return dcc.DatePickerSingle(
        id=id_,
        **({"date": day} if day else {}),
        display_format="YYYY-MM-DD",
        clearable=True,
        **kwargs,
    )


def _day_picker(key: str, day, bounds, shown) -> dcc.DatePickerSingle:
    """A date picker of the filter bar, limited to the dataset's days; ``shown`` is the day
    its calendar opens at and its placeholder."""
    return date_picker(
        date_id(key),
        day,
        min_date_allowed=bounds.start,
        max_date_allowed=bounds.end,
        initial_visible_month=day or shown,
        placeholder=shown or ("first day" if key == "start" else "last day"),
    )


def demo_notice() -> dbc.Alert:
    return dbc.Alert(
        [
            html.Strong("Demo data. "),
            "These numbers come from generated transactions in the Online Retail II layout, "
            "not from a real shop. ",
            dcc.Markdown(DOWNLOAD_HINT, className="d-inline"),
        ],
        color="info",
        className="py-2 mb-3 demo-notice",
        id="demo-notice",
    )


def page_header(title: str, subtitle: str = "") -> html.Div:
    return html.Div(
        [
            html.H2(title, className="h3 mb-1"),
            html.P(subtitle, className="text-muted mb-3") if subtitle else None,
        ]
    )


def kpi_card(
    title: str, value: str, hint: str = "", id_: str | None = None, extra=None
) -> dbc.Card:
    """A headline number; ``extra`` (e.g. its change against other periods) goes below."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(title, className="small text-muted text-uppercase"),
                html.Div(value, className="fs-3 fw-bold kpi-value", id=id_ or {}),
                html.Div(hint, className="small text-muted") if hint else None,
                html.Div(extra, className="mt-1") if extra else None,
            ]
        ),
        className="h-100 shadow-sm",
    )


def message(text: str, color: str = "warning") -> dbc.Alert:
    return dbc.Alert(text, color=color, className="my-2")


def empty_state(text: str) -> html.P:
    """Why a view has nothing to show (no customers match the filters, too few for a model):
    neutral grey text, not an alert; nothing went wrong."""
    return html.P(text, className="empty-state text-muted my-2")


def section(title: str, body, note: str | None = None) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(html.H3(title, className="h6 m-0")),
            dbc.CardBody(
                [body, html.Div(note, className="small text-muted mt-2") if note else None]
            ),
        ],
        className="mb-3 shadow-sm",
    )


#: Plotly's mode bar without the Plotly logo.
GRAPH_CONFIG = {"displaylogo": False}


def graph(id_: str, height: int = 320, phone_width: int | None = None) -> dcc.Graph | html.Div:
    """A chart, empty until its callback answers. ``phone_width``: on a phone-sized screen the
    chart keeps this width (px) and scrolls sideways inside its box, so that the labels of a
    wide heatmap or of side-by-side panels stay readable instead of piling up; the page
    itself never scrolls sideways (``assets/app.css``, ``.chart-scroll``).

    No spinner of its own: while any callback runs, the page shows one progress bar at its
    top (``assets/busy.js``) and dims the outputs being computed (``assets/app.css``). A
    ``dcc.Loading`` around every output cost the browser 100-300 ms per click (each one
    re-rendered with its children as the callbacks started and ended; docs/benchmarks.md,
    "One progress bar instead of a spinner per output")."""
    chart = dcc.Graph(id=id_, figure=empty_figure(height=height), config=GRAPH_CONFIG)
    if not phone_width:
        return chart
    return html.Div(chart, className="chart-scroll",
                    style={"--chart-phone-width": f"{int(phone_width)}px"})  # fmt: skip


def progress_note(id_: str, *text) -> html.Div:
    """What a slow callback is computing, shown while it runs: pass :func:`progress` of the
    same id as the callback's ``running=``. Hidden until the callback starts; the stylesheet
    fades it in after 1 s (``.fit-progress``), so a quick update does not flash it. Set in
    the browser when the request starts and ends: no request of its own."""
    return html.Div(
        [dbc.Spinner(size="sm", spinner_class_name="me-2"), html.Span(list(text))],
        id=id_,
        hidden=True,
        role="status",
        className="fit-progress alert alert-info py-2 px-3 mb-2 small",
    )


def progress(id_: str) -> list:
    """The ``running=`` argument that shows :func:`progress_note` ``id_`` during a callback."""
    return [(Output(id_, "hidden"), False, True)]


def output_block(id_: str, **kwargs) -> html.Div:
    """A block filled by a callback (see :func:`graph` for what shows progress)."""
    return html.Div(id=id_, **kwargs)


def on_demand_panel(prefix: str, show_label: str, body, is_open: bool = False) -> html.Div:
    """A button that opens a panel computed only while it is open: ``<prefix>-toggle``,
    the collapse ``<prefix>-panel``, the store ``<prefix>-label`` (the button's text while
    closed) and the gate's store ``<prefix>-request`` (see ``switches.gate``)."""
    return html.Div(
        [
            dbc.Button(
                "Hide" if is_open else show_label,
                id=f"{prefix}-toggle",
                color="primary",
                outline=True,
                size="sm",
            ),
            dcc.Store(id=f"{prefix}-label", data=show_label),
            dcc.Store(id=f"{prefix}-request"),
            dbc.Collapse(body, id=f"{prefix}-panel", is_open=is_open, className="mt-2"),
        ]
    )


def download_button(prefix: str, label: str = "Download CSV", **kwargs) -> html.Div:
    """A download button ``<prefix>-download-btn`` and its ``dcc.Download``
    ``<prefix>-download``."""
    button = dbc.Button(label, id=f"{prefix}-download-btn", color="primary", size="sm", **kwargs)
    return html.Div([button, dcc.Download(id=f"{prefix}-download")])


def side_by_side(left, right, left_width: int = 6) -> dbc.Row:
    """Two blocks next to each other on wide screens (``lg``), stacked on narrow ones."""
    return dbc.Row([dbc.Col(left, lg=left_width), dbc.Col(right, lg=12 - left_width)])


def frame_table(frame: pd.DataFrame, formats: dict | None = None, **kwargs) -> dcc.Markdown:
    """A small DataFrame as a Bootstrap table; ``formats`` maps column -> callable. It is one
    static block (:mod:`.markup`): one component to mount however many cells it has."""
    formats = formats or {}
    header = html.Thead(html.Tr([html.Th(c) for c in frame.columns]))
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, rec, strict=True):
            fmt = formats.get(col)
            cells.append(html.Td(fmt(value) if fmt else value))
        rows.append(html.Tr(cells))
    kwargs["className"] = "mb-0 " + kwargs.get("className", "")
    table = dbc.Table(
        [header, html.Tbody(rows)],
        bordered=False,
        hover=True,
        striped=True,
        size="sm",
        responsive=True,
        **kwargs,
    )
    return static_block(table)


def ledger_table(ledger: pd.DataFrame, currency: str = "£") -> dcc.Markdown:
    shown = pd.DataFrame(
        {
            "Rule": ledger["title"],
            "What it means": ledger["meaning"],
            "Action": [
                a if on else "off"
                for a, on in zip(ledger["action"], ledger["enabled"], strict=True)
            ],
            "Lines": [number(v) for v in ledger["rows"]],
            "Money": [money(v, currency) for v in ledger["money"]],
        }
    )
    return frame_table(shown, className="ledger-table")


#: Rows per block a paged grid asks the server for (5 pages of 20; ~25 kB of JSON).
GRID_BLOCK_ROWS = 100


def data_grid(id_, columns: list[dict], paged: bool = False, **kwargs) -> dag.AgGrid:
    """dash-ag-grid with sorting, filtering and paging.

    Client-side row model (``rowData`` from a callback) for small tables; with
    ``paged=True`` the infinite row model: the grid asks the server for blocks of
    :data:`GRID_BLOCK_ROWS` rows, filtered and sorted by the service (:func:`serve_rows`),
    so a response stays small whatever the number of customers."""
    if paged:
        rows: dict = {"rowModelType": "infinite"}
        paging = {"cacheBlockSize": GRID_BLOCK_ROWS, "maxBlocksInCache": 10,
                  "infiniteInitialRowCount": 1}  # fmt: skip
    else:
        rows, paging = {"rowData": []}, {}
    return dag.AgGrid(
        id=id_,
        columnDefs=[fit_min_width(c) for c in columns],
        **rows,
        defaultColDef={
            "sortable": True,
            "filter": True,
            "resizable": True,
            "minWidth": 90,
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
        },
        dashGridOptions={
            "pagination": True,
            "paginationPageSize": 20,
            "paginationPageSizeSelector": [20, 50, 100],
            "animateRows": False,
            **paging,
        },
        columnSize="responsiveSizeToFit",
        className="ag-theme-alpine",
        style={"height": "560px"},
        **kwargs,
    )


#: Rough widths (px) of the grid's text: a character of a header or cell, a cell's padding and
#: a header's padding with its sort and menu icons (AG Grid's Alpine theme, 13-14 px font).
CHAR_PX, CELL_PAD_PX, HEADER_PAD_PX = 8, 36, 52


def fit_min_width(column: dict) -> dict:
    """``column`` with a minimum width that holds its longest header word on one line (a
    header wraps between words, never inside one: "Frequen cy") and, for money, the widest
    amount (``£1,234,567.89``), so that a narrow screen scrolls the grid sideways instead of
    cutting "£2,009..."."""
    words = str(column.get("headerName", column.get("field", ""))).split()
    need = max((len(w) for w in words), default=0) * CHAR_PX + HEADER_PAD_PX
    need = max(need, column.get("contentChars", 0) * CHAR_PX + CELL_PAD_PX)
    out = {k: v for k, v in column.items() if k != "contentChars"}
    out["minWidth"] = max(int(column.get("minWidth", 90)), need)
    return out


def customer_column(min_width: int = 110) -> dict:
    """The customer id column every customer grid starts with, pinned on the left; each id
    links to the customer page (``assets/customer_links.js``)."""
    return {"field": "customer_id", "headerName": "Customer", "pinned": "left",
            "minWidth": min_width, "cellRenderer": "CustomerLink"}  # fmt: skip


def money_column(field: str, header: str, currency: str = "£", decimals: int = 2) -> dict:
    return {
        "field": field,
        "headerName": header,
        # the widest amount shown whole: currency, 1,234,567 and the decimals
        "contentChars": len(currency) + 9 + (decimals + 1 if decimals else 0),
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "valueFormatter": {
            "function": f"params.value == null ? '' : '{currency}' + "
            f"d3.format(',.{decimals}f')(params.value)"
        },
    }


def number_column(field: str, header: str, decimals: int = 0) -> dict:
    return {
        "field": field,
        "headerName": header,
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "valueFormatter": {
            "function": f"params.value == null ? '' : d3.format(',.{decimals}f')(params.value)"
        },
    }


def refresh_id(grid_id: str) -> str:
    """Id of the store a paged grid's refresh writes to (a clientside callback needs an
    output); :func:`paged_grid` puts it next to the grid."""
    return f"{grid_id}-refresh"


def paged_grid(id_: str, columns: list[dict], **kwargs) -> html.Div:
    """A paged :func:`data_grid` (infinite row model) and its refresh store."""
    return html.Div([data_grid(id_, columns, paged=True, **kwargs), dcc.Store(id=refresh_id(id_))])


def serve_rows(
    grid_id: str,
    inputs: list[Input],
    rows: Callable[..., pd.DataFrame | None],
    extra_outputs: tuple[Output, ...] = (),
    selection: Input | None = None,
    pass_selection: bool = False,
    states: tuple[State, ...] = (),
    answer_rows_only: bool = False,
) -> None:
    """Serve a paged grid's rows from the page's inputs.

    ``rows(*values)`` (``values`` of ``inputs``) returns the whole table (None when there is
    nothing to show); with ``extra_outputs`` it returns ``(table, *extras)``. The service
    filters, sorts and slices it per request (:func:`dashapp.service.paging.grid_page`), so
    only the block the grid shows travels. When an input changes, the grid drops its rows in
    the browser and asks again (``assets/grids.js``) at once, next to the page's callbacks.
    ``selection`` is the page's drill-down selection (``components.drill``): the service
    applies it to the table before paging; changing it refreshes the grid only. With
    ``pass_selection``, ``rows`` also gets the selection, last (to say what it lists).
    ``states``: values ``rows`` also reads (after the inputs') whose change alone does not
    refresh the grid (e.g. the filters, when their change clears the input that does).
    With ``answer_rows_only``, a request is left unanswered while ``rows`` has nothing to
    show (None): dash-ag-grid 35.3 drops the first answer that follows one of 0 rows (its
    effect's cleanup clears the timeout that would hand the rows to AG Grid), so a grid that
    starts empty and fills later (the clicked migration flow) must never answer 0 rows; the
    page hides it meanwhile.
    """
    watched = [*inputs, selection] if selection is not None else list(inputs)
    read = [*inputs, *states, selection] if selection is not None else [*inputs, *states]
    read_states = [State(i.component_id, i.component_property) for i in read]

    clientside_callback(
        ClientsideFunction("grids", "refresh"),
        Output(refresh_id(grid_id), "data"),
        *watched,
        State(grid_id, "id"),
        prevent_initial_call=True,
    )

    def serve(request, *values):
        chosen = values[-1] if selection is not None else None
        values = values[:-1] if selection is not None else values
        result = rows(*values, chosen) if pass_selection else rows(*values)
        table, extras = (result[0], result[1:]) if extra_outputs else (result, ())
        unanswered = table is None and answer_rows_only
        page = no_update if unanswered else service.grid_page(table, request, chosen)
        if selection is not None:  # the chip counts the customers listed
            extras = (*extras, count_text(page["rowCount"]) if chosen and not unanswered else "")
        return (page, *extras) if extra_outputs or selection is not None else page

    serve.__name__ = f"serve_{grid_id.replace('-', '_')}"  # e.g. serve_rfm_grid
    counted = (count_output(selection),) if selection is not None else ()
    callback(
        Output(grid_id, "getRowsResponse"),
        *extra_outputs,
        *counted,
        Input(grid_id, "getRowsRequest"),
        *read_states,
        # the grid asks for its first block once mounted (getRowsRequest): a call on page
        # load, before it asks, would compute the table for nothing and a request more
        prevent_initial_call=True,
    )(serve)
