"""Drill-down: a click on a chart lists those customers in the page's grid.

Each drillable figure carries, in every point, the selection text of the customers behind it
(the last item of the point's ``customdata``; :mod:`dashapp.service.selection`). A click puts
it into a hidden URL control ``<page>_sel`` in the browser (``assets/drill.js``, no request);
the URL follows it like any control (``assets/urlstate.js``), so a shared link or a reload
shows the same list; the page's paged grid refreshes with the selection applied by the
service (``serve_rows(..., selection=...)``), and the download callback applies it too. The
active selection shows as a chip with a remove button and the number of customers the grid
lists (sent with the grid's rows).
A figure with thousands of points (the clustering scatter) may carry its points' selection
once per trace instead, in the trace's ``meta.selection``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

from dashapp.service.selection import SelectionError, describe
from dashapp.web.urlstate import state_id


def selection_key(prefix: str) -> str:
    """The URL key of a page's selection (``rfm`` -> ``rfm_sel``): one per page, so a link
    carried to another page does not select there."""
    return f"{prefix}_sel"


def selection_input(prefix: str) -> Input:
    return Input(state_id(selection_key(prefix)), "value")


def selection_state(prefix: str) -> State:
    return State(state_id(selection_key(prefix)), "value")


def chip_id(prefix: str) -> str:
    return f"{prefix}-sel-chip"


def clear_id(prefix: str) -> str:
    return f"{prefix}-sel-clear"


def selection_chip(prefix: str, value=None, hint: str = "") -> html.Div:
    """The hidden URL control holding the selection (starting at the URL's ``value``), the
    chip that shows it with its remove button, and ``hint`` (what a click does) while
    nothing is selected."""
    return html.Div(
        [
            dcc.Input(
                id=state_id(selection_key(prefix)),
                type="hidden",
                value=value if isinstance(value, str) else "",
            ),  # fmt: skip
            html.Span(
                [
                    html.Span("Showing ", className="text-muted"),
                    html.Span(id=f"{chip_id(prefix)}-text", className="fw-semibold"),
                    html.Span(id=f"{chip_id(prefix)}-count", className="text-muted"),
                    html.Button(
                        "×",
                        id=clear_id(prefix),
                        type="button",
                        className="btn btn-link btn-sm p-0 ms-2 text-decoration-none drill-clear",
                        title="Remove this selection: list every customer",
                        **{"aria-label": "Remove the selection"},
                    ),
                ],
                id=chip_id(prefix),
                className="badge rounded-pill text-bg-light border drill-chip",
                hidden=True,
            ),
            html.Span(hint, id=f"{chip_id(prefix)}-hint", className="small text-muted"),
            html.Div(id=f"{chip_id(prefix)}-error"),
        ],
        className="mb-2 drill",
    )


def _labels(columns: Sequence[dict], labels: Mapping[str, str]) -> dict[str, str]:
    return {c["field"]: c.get("headerName", c["field"]) for c in columns} | dict(labels)


def selection_words(value, columns: Sequence[dict], labels: Mapping[str, str] = {}) -> str:  # noqa: B006
    """The selection as its chip says it ("" when blank or not understood: then every
    customer is listed)."""
    names = _labels(columns, labels)
    try:
        return describe(value, names, columns=names)
    except SelectionError:
        return ""


def count_output(selection: Input) -> Output:
    """Where the chip of ``selection`` (a :func:`selection_input`) counts the customers the
    grid lists: an output of the grid's own rows callback (``serve_rows``), so the count
    travels with the rows, in the same request."""
    key = selection.component_id
    prefix = str(key["key"] if isinstance(key, dict) else key).removesuffix("_sel")
    return Output(f"{chip_id(prefix)}-count", "children")


def count_text(count) -> str:
    """ " — 1,234 customers" (after the selection's words on its chip)."""
    if not isinstance(count, int):
        return ""
    return f" — {count:,} customer{'' if count == 1 else 's'}"


def drill_down(
    prefix: str, graphs: Sequence[str], columns: Sequence[dict], labels: Mapping[str, str]
) -> None:
    """Wire a page's drill-down: clicks on ``graphs`` (or the chip's remove button) set the
    selection in the browser; the chip describes it with the grid's ``columns`` (AG Grid
    column definitions: a selection naming another column is refused) or ``labels``."""
    clientside_callback(
        ClientsideFunction("drill", "pick"),
        Output(state_id(selection_key(prefix)), "value"),
        *(Input(graph, "clickData") for graph in graphs),
        Input(clear_id(prefix), "n_clicks"),
        prevent_initial_call=True,
    )
    names = _labels(columns, labels)

    def show_chip(value):
        try:
            text = describe(value, names, columns=names)
        except SelectionError as exc:
            error = dbc.Alert(f"{exc} Every customer is listed.", color="danger",
                              className="py-2 my-1 small")  # fmt: skip
            return "", True, False, error
        return text, not text, bool(text), None

    show_chip.__name__ = f"show_{prefix}_selection"
    callback(
        Output(f"{chip_id(prefix)}-text", "children"),
        Output(chip_id(prefix), "hidden"),
        Output(f"{chip_id(prefix)}-hint", "hidden"),
        Output(f"{chip_id(prefix)}-error", "children"),
        selection_input(prefix),
    )(show_chip)
