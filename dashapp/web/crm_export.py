"""The Action list's CRM download: the list in the import layout of Klaviyo, Mailchimp,
HubSpot or a generic one (:mod:`dashapp.service.crm`), joined with an optional contacts
file uploaded in the browser; says how many customers have no contact."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashapp.ingest.loading import DataLoadError
from dashapp.service import crm
from dashapp.service.exports import csv_download
from dashapp.web.components import labelled

MAX_CONTACTS_BYTES = 20_000_000


def crm_export() -> html.Div:
    """Layout choice, contacts upload, download button and the join's summary."""
    return html.Div(
        [
            dbc.Row(
                [
                    labelled(
                        "CRM layout",
                        dbc.Select(
                            id="actions-crm-layout",
                            value="generic",
                            size="sm",
                            options=[
                                {"label": v, "value": k} for k, v in crm.LAYOUT_LABELS.items()
                            ],
                        ),
                        md=3,
                        className="mb-2",
                    ),
                    labelled(
                        "Contacts (CSV: customer_id, email, name; optional)",
                        dcc.Upload(
                            html.Div(
                                ["Drop or ", html.A("choose the file")], id="actions-contacts-name"
                            ),
                            id="actions-contacts",
                            max_size=MAX_CONTACTS_BYTES,
                            accept=".csv,text/csv",
                            className="border rounded p-1 text-center small",
                        ),
                        md=5,
                        className="mb-2",
                    ),
                    dbc.Col(
                        dbc.Button(
                            "Download for the CRM (CSV)",
                            id="actions-crm-btn",
                            color="secondary",
                            size="sm",
                        ),
                        md=4,
                        className="mb-2 d-flex align-items-end",
                    ),
                ],
                className="g-2",
            ),
            dcc.Download(id="actions-crm-download"),
            html.Div(id="actions-crm-info", className="small mb-2"),
        ]
    )


def _contacts(contents: str | None, filename: str | None) -> pd.DataFrame | None:
    if not contents:
        return None
    try:
        raw = base64.b64decode(contents.split(",", 1)[1], validate=True)
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (IndexError, binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise DataLoadError(f"The contacts file cannot be read as CSV ({exc}).") from None
    return crm.contacts_from_frame(frame, filename or "contacts.csv")


def register_crm_export(action_list: Callable, states: list[State]) -> None:
    """Wire the download to ``action_list(dataset, start, end, countries, *settings)``, the
    page's own call, with ``states`` its filters and settings."""

    @callback(
        Output("actions-crm-download", "data"),
        Output("actions-crm-info", "children"),
        Input("actions-crm-btn", "n_clicks"),
        State("actions-crm-layout", "value"),
        State("actions-contacts", "contents"),
        State("actions-contacts", "filename"),
        *states,
        prevent_initial_call=True,
    )
    def download_crm(n_clicks, layout, contents, filename, dataset, start, end, countries, *rest):
        try:
            result = action_list(dataset, start, end, countries, *rest)
            if result.reason:
                return no_update, result.reason
            made = crm.crm_file(result.table, layout or "generic", _contacts(contents, filename))
        except (DataLoadError, ValueError) as exc:
            return no_update, dbc.Alert(str(exc), color="warning", className="my-1 py-1")
        name = f"action_list_{made.layout}.csv"
        return csv_download(made.frame, name), f"{name}: {made.summary()}."

    @callback(
        Output("actions-contacts-name", "children"),
        Input("actions-contacts", "filename"),
        prevent_initial_call=True,
    )
    def show_contacts_name(filename):
        return f"Contacts: {filename}" if filename else no_update
