"""Page controls built from the parameter declarations (:mod:`dashapp.service.params`).

A control's id, label, limits, step, placeholder and starting value come from its
:class:`~dashapp.service.params.Param`; its value lives in the URL (``state_id`` /
``date_id``). Values are not checked here: the service validates them and a
:class:`~dashapp.service.params.ParamError` becomes :func:`param_alert`, the same message on
every page.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc

from dashapp.service.params import Param
from dashapp.web.components import date_picker, labelled
from dashapp.web.urlstate import date_id, split_list, state_id


def control_id(param: Param) -> dict:
    """The control's pattern-matching id (its value is written to the URL)."""
    return date_id(param.key) if param.kind == "date" else state_id(param.key)


def control_property(param: Param) -> str:
    return "date" if param.kind == "date" else "value"


def as_input(param: Param) -> Input:
    return Input(control_id(param), control_property(param))


def as_state(param: Param) -> State:
    return State(control_id(param), control_property(param))


def widget(param: Param, raw: Any = None, *, select: bool = False, **kwargs: Any):
    """The bare control of ``param``, starting at the URL's value ``raw`` (or the default).

    Numbers are number inputs with the declared limits; choices radio buttons (or a select
    with ``select=True``); several choices a checklist; dates a date picker; cut points a
    text box.
    """
    value = param.initial(raw)
    ident = control_id(param)
    if param.kind in ("int", "float"):
        # No min/max/step in the browser: an out-of-range or fractional number would be
        # "invalid" there and reach the callback as a blank (a wrong "is required" message);
        # the service checks the declared limits and names the value as typed.
        return dbc.Input(
            id=ident,
            type="number",
            value=value,
            step="any",
            debounce=True,
            size="sm",
            required=not param.optional,
            placeholder=param.blank or None,
            **kwargs,
        )
    if param.kind == "choice":
        options = [{"label": label, "value": v} for v, label in param.choices]
        if select:
            return dbc.Select(id=ident, value=value, options=options, size="sm", **kwargs)
        return dbc.RadioItems(id=ident, value=value, options=options, inline=True, **kwargs)
    if param.kind == "choices":
        options = [{"label": label, "value": v} for v, label in param.choices]
        chosen = split_list(value) or list(param.default)
        return dbc.Checklist(id=ident, value=chosen, options=options, inline=True, **kwargs)
    if param.kind == "date":
        return date_picker(ident, value, placeholder=param.blank or None, **kwargs)
    return dbc.Input(
        id=ident,
        # "" rather than None: leaving an untouched box (blur) sends "", which would count as
        # a change from None and run the page's callbacks for nothing
        value="" if value is None else value,
        type="text",
        debounce=True,
        size="sm",
        placeholder=param.example or param.blank or None,
        **kwargs,
    )


def control(
    param: Param,
    raw: Any = None,
    *,
    select: bool = False,
    label: str | None = None,
    widget_kwargs: dict | None = None,
    **col_kwargs: Any,
) -> dbc.Col:
    """The labelled control of ``param`` in a grid column (``col_kwargs`` go to the column;
    the declaration's help text is in the parameter tables on ``/docs``)."""
    return labelled(
        label or param.control_label,
        widget(param, raw, select=select, **(widget_kwargs or {})),
        **col_kwargs,
    )


def hidden(param: Param, raw: Any = None) -> dcc.Input:
    """A hidden control that carries a parameter set on another page (e.g. the Action list
    reads the CLV page's horizon from the URL): validated like a visible one."""
    value = param.initial(raw)
    if isinstance(value, tuple | list):
        value = ",".join(map(str, value))
    return dcc.Input(id=control_id(param), value=None if value is None else str(value),
                     type="hidden")  # fmt: skip


def param_alert(error: Exception) -> dbc.Alert:
    """How every page shows a parameter it cannot use (:class:`ParamError`)."""
    return dbc.Alert(str(error), color="danger", className="my-2 param-error")


def choices_id(graph_id: str) -> str:
    """Id of the store holding every variant of a switched figure (see :func:`visual_switch`)."""
    return f"{graph_id}-choices"


def visual_switch(param: Param, graph_id: str) -> None:
    """Let the choice control ``param`` pick the figure of ``graph_id`` in the browser.

    The page's callback fills the store :func:`choices_id` with ``{choice value: figure}``
    (every choice of ``param``); switching is then a purely visual change with no server
    request (``assets/switches.js``). The callback keeps ``param`` as a State to report a
    bad value from the URL."""
    clientside_callback(
        ClientsideFunction("switches", "pick"),
        Output(graph_id, "figure"),
        Input(choices_id(graph_id), "data"),
        as_input(param),
    )


def on_demand(prefix: str, inputs: list) -> None:
    """The clientside toggle of a panel built by
    :func:`dashapp.web.components.on_demand_panel` (``<prefix>-toggle``, ``-panel``,
    ``-label``) and the gate that passes ``inputs`` on to ``<prefix>-request`` only while
    the panel is open and they changed: a closed panel sends no request."""
    clientside_callback(
        ClientsideFunction("switches", "toggle"),
        Output(f"{prefix}-panel", "is_open"),
        Output(f"{prefix}-toggle", "children"),
        Input(f"{prefix}-toggle", "n_clicks"),
        State(f"{prefix}-panel", "is_open"),
        State(f"{prefix}-label", "data"),
        prevent_initial_call=True,
    )
    clientside_callback(
        ClientsideFunction("switches", "gate"),
        Output(f"{prefix}-request", "data"),
        Input(f"{prefix}-panel", "is_open"),
        *inputs,
        State(f"{prefix}-request", "data"),
    )
