"""Your data: upload a CSV or Excel file, map its columns when the headers are not the
standard ones, and analyse it on every page (the dataset becomes selectable in the filter bar
for this browser session)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashapp import service
from dashapp.ingest import schema
from dashapp.ingest.errors import AmbiguousDateOrder
from dashapp.ingest.loading import DataLoadError
from dashapp.ingest.uploads import UploadError, guess_column_map
from dashapp.web.format import number
from dashapp.web.messages import user_text

dash.register_page(
    __name__, path="/upload", name="Your data", order=8, title="Your data · Customer Segments & CLV"
)

#: Source columns offered in the mapping step, in display order, with their labels.
MAPPED = (
    (schema.INVOICE, "Invoice / order number"),
    (schema.INVOICE_DATE, "Invoice date"),
    (schema.CUSTOMER_ID, "Customer id"),
    (schema.QUANTITY, "Quantity"),
    (schema.PRICE, "Unit price"),
    (schema.COUNTRY, "Country"),
    (schema.STOCK_CODE, "Product / stock code"),
    (schema.DESCRIPTION, "Product description"),
)
NONE = "__none__"
HIDDEN = {"display": "none"}
SHOWN = {"display": "inline-block"}
SHOWN_BLOCK = {"display": "block"}


def layout(**query):
    limit = service.settings().max_upload_mb
    return html.Div(
        [
            html.H2("Your data", className="h3 mb-1"),
            html.P(
                "Analyse your own transactions: one row per invoice line with an invoice "
                "number, a date, a customer id, a quantity and a unit price (country, stock "
                "code and description are optional). The file is checked by the same loader "
                "as files on disk; when its headers are not the standard ones you can say "
                "which column is which.",
                className="text-muted",
            ),
            dcc.Upload(
                id="upload-file",
                children=html.Div(
                    [
                        "Drag and drop a file here, or ",
                        html.A("choose a CSV or Excel file", href="#"),
                        html.Div(f"Up to {limit} MB", className="small text-muted"),
                    ]
                ),
                max_size=limit * 1024 * 1024,
                multiple=False,
                accept=".csv,.xlsx",
                className="upload-box mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label(
                                "Currency symbol for this file",
                                html_for="upload-currency",
                                className="small text-muted mb-1",
                            ),
                            dbc.Input(
                                id="upload-currency",
                                value=service.settings().currency,
                                maxLength=4,
                                size="sm",
                            ),
                        ],
                        md=2,
                    ),
                ],
                className="mb-3",
            ),
            dcc.Loading(html.Div(id="upload-result"), delay_show=200),
            html.Div(id="upload-mapping"),
            dbc.Button(
                "Load with this mapping",
                id="upload-apply",
                color="primary",
                className="mt-2",
                style=HIDDEN,
            ),
            html.Div(
                [
                    dbc.Label("Date order of this file", html_for="upload-date-order"),
                    dbc.RadioItems(
                        id="upload-date-order",
                        options=[
                            {"label": label[0].upper() + label[1:], "value": order}
                            for order, label in schema.DATE_ORDERS.items()
                        ],
                        value=None,
                        className="mb-2",
                    ),
                    dbc.Button(
                        "Load with this date order", id="upload-date-apply", color="primary"
                    ),
                ],
                id="upload-dates",
                className="mt-2",
                style=HIDDEN,
            ),
            dcc.Store(id="upload-pending"),
        ]
    )


def _mapping_form(headers: list[str], guess: dict, problem: str) -> html.Div:
    options = [{"label": h, "value": h} for h in headers]
    rows = []
    for column, label in MAPPED:
        required = column in schema.REQUIRED_COLUMNS
        rows.append(
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Label(
                            label + (" *" if required else ""),
                            html_for=f'{{"column":"{column}","kind":"map"}}',
                        ),
                        md=3,
                    ),
                    dbc.Col(
                        dcc.Dropdown(
                            id={"kind": "map", "column": column},
                            options=options
                            + (
                                []
                                if required
                                else [{"label": "— not in the file —", "value": NONE}]
                            ),
                            value=guess.get(column) or (None if required else NONE),
                            clearable=False,
                            placeholder="Choose the column",
                        ),
                        md=5,
                    ),
                ],
                className="mb-2 align-items-center",
            )
        )
    return html.Div(
        [
            dbc.Alert([html.Strong("The columns need a mapping. "), problem], color="warning"),
            html.P("Choose which column of your file holds each field (* = required):"),
            *rows,
        ]
    )


def _success(upload_id: str, label: str, rows: int, customers: int) -> dbc.Alert:
    prefix = dash.get_relative_path("/")
    return dbc.Alert(
        [
            html.H4("Loaded", className="alert-heading h5"),
            html.P(
                f"{label}: {number(rows)} lines, {number(customers)} customers. The dataset is "
                "now selectable in the filter bar of every page for this browser session. It "
                "is yours alone: a link to it shows other people the default dataset."
            ),
            dbc.Button(
                "Open the Overview",
                href=f"{prefix}?dataset={upload_id}",
                color="success",
                className="me-2",
                id="upload-open",
            ),
            dbc.Button(
                "RFM segments",
                href=f"{dash.get_relative_path('/rfm')}?dataset={upload_id}",
                color="secondary",
                outline=True,
            ),
        ],
        color="success",
    )


def _try_load(upload_id: str):
    """Load through the service; returns (ok_component | None, error DataLoadError | None)."""
    lines = service.transactions(upload_id)
    info = service.dataset_info(upload_id)
    customers = int(lines["customer_id"].nunique())
    return _success(upload_id, info.label, len(lines), customers)


@callback(
    Output("upload-result", "children"),
    Output("upload-mapping", "children"),
    Output("upload-apply", "style"),
    Output("upload-pending", "data"),
    Output("session-uploads", "data"),
    Output("upload-dates", "style"),
    Input("upload-file", "contents"),
    Input("upload-apply", "n_clicks"),
    Input("upload-date-apply", "n_clicks"),
    State("upload-file", "filename"),
    State("upload-currency", "value"),
    State({"kind": "map", "column": ALL}, "value"),
    State({"kind": "map", "column": ALL}, "id"),
    State("upload-date-order", "value"),
    State("upload-pending", "data"),
    State("session-uploads", "data"),
    prevent_initial_call=True,
)
def handle_upload(
    contents,
    apply_clicks,
    date_clicks,
    filename,
    currency,
    map_values,
    map_ids,
    date_order,
    pending,
    session_uploads,
):
    keep = no_update, no_update, no_update, no_update, no_update
    trigger = ctx.triggered_id
    sent = {"upload-apply": apply_clicks, "upload-date-apply": date_clicks}.get(trigger, contents)
    if not sent:
        return (no_update, *keep)  # the page mounting its controls: nothing was sent yet

    def error(text):
        return (dbc.Alert(text, color="danger"),) + keep

    mapping = None
    if trigger in ("upload-apply", "upload-date-apply") and not (
        isinstance(pending, dict) and pending.get("id")
    ):
        return error("Upload a file first.")
    if trigger == "upload-date-apply" and date_order not in schema.DATE_ORDERS:
        return error("Choose the date order of the file.")
    if trigger == "upload-apply":
        mapping = {
            i["column"]: v for i, v in zip(map_ids, map_values, strict=True) if v and v != NONE
        }
        missing = [
            label
            for column, label in MAPPED
            if column in schema.REQUIRED_COLUMNS and column not in mapping
        ]
        if missing:
            return error("Choose a column for: " + ", ".join(missing) + ".")
        if len(set(mapping.values())) < len(mapping):
            return error("Each column of the file can be used for one field only.")
    try:
        with service.upload_slot():  # one upload decoded and parsed at a time per worker
            if trigger == "upload-date-apply":
                stored = service.choose_date_order(str(pending.get("id")), date_order, currency)
            elif mapping is not None:
                stored = service.remap_upload(str(pending.get("id")), mapping, currency)
            else:
                stored = service.receive_upload(contents, filename, currency)
            return _checked(stored, list(session_uploads or []))
    except (UploadError, DataLoadError) as exc:
        return error(user_text(exc))


def _checked(stored, session_uploads: list):
    """Load the stored upload once (the loader's checks): the success message, the mapping
    form when its columns are not recognised, the date-order choice when its dates read
    both day-first and month-first, or the loader's message."""
    try:
        result = _try_load(stored.id)
    except AmbiguousDateOrder as exc:
        alert = dbc.Alert(
            [
                html.Strong("Which date order does this file use? "),
                user_text(exc),
                " Nothing is loaded until you choose.",
            ],
            color="warning",
        )
        return (alert, None, HIDDEN, {"id": stored.id}, no_update, SHOWN_BLOCK)
    except DataLoadError as exc:
        headers = getattr(exc, "headers", None)
        if headers:
            guess = stored.column_map or guess_column_map(headers)
            return (
                None,
                _mapping_form(headers, guess, user_text(exc)),
                SHOWN,
                {"id": stored.id},
                no_update,
                HIDDEN,
            )
        alert = dbc.Alert(user_text(exc), color="danger")
        return (alert, None, HIDDEN, {"id": stored.id}, no_update, HIDDEN)
    entry = {"id": stored.id, "label": f"{stored.label} (uploaded)"}
    session_uploads = [u for u in session_uploads if u.get("id") != stored.id] + [entry]
    return result, None, HIDDEN, None, session_uploads, HIDDEN
