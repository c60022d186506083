"""Static blocks that a callback returns, rendered in the browser as ONE component.

Why: Dash's renderer (4.x) dispatches a state reset for every component a callback mounts,
and every dispatch runs the selector of every component on the page. A callback that returns
a 10-row table as ``html.Tr``/``html.Td`` components therefore costs O(cells x components on
the page) in the browser's main thread: a CLV model switch mounted 162 components and spent
1.1-1.5 s in those resets (Chromium's profiler, 1M-row data, load 12), against 20-100 ms on
the server. A table, a row of KPI cards or a story has no callback inside it, so it can travel
as one HTML string in a ``dcc.Markdown`` (``dangerously_allow_html``): one component to mount.

:func:`static_block` converts a tree of ``dash.html`` components and the few Bootstrap
components used for static content (Row, Col, Card, CardBody, CardHeader, Table, Alert, Badge)
into that HTML, with the class names dash-bootstrap-components gives them. Every text and
attribute value is escaped, links must be relative or http(s), and a component it does not
know (a graph, a control, a ``dcc.Link``) is refused with TypeError rather than dropped.
"""

from __future__ import annotations

import html as html_escape
import re
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc
from dash.development.base_component import Component

#: HTML elements without a closing tag.
_VOID = {"br", "hr", "img", "wbr", "col"}
#: Attributes copied as they are (besides ``className``, ``id``, ``style`` and ``data-*``).
_ATTRIBUTES = {"title", "href", "target", "colSpan", "rowSpan", "role", "scope", "alt", "src"}
_CAMEL = re.compile(r"(?<!^)([A-Z])")
_SAFE_URL = re.compile(r"^(https?://|/|\.|#|\?|mailto:)|^[\w./-]*$", re.IGNORECASE)


def static_block(component: Component | str | list, id: str | None = None, **kwargs: Any):
    """``component`` as one ``dcc.Markdown`` holding its HTML (see the module docstring)."""
    markup = to_html(component)
    options = {"id": id} if id else {}
    # "dash-static" takes away the Markdown's own margins (assets/style.css)
    class_name = ("dash-static " + kwargs.pop("className", "")).strip()
    return dcc.Markdown(
        markup, dangerously_allow_html=True, className=class_name, **options, **kwargs
    )


def to_html(node: Any) -> str:
    """The HTML of a component tree (text escaped; no newlines, so Markdown reads it as one
    raw block)."""
    if node is None or node is False:
        return ""
    if isinstance(node, (list, tuple)):
        return "".join(to_html(child) for child in node)
    if isinstance(node, (str, int, float)):
        return html_escape.escape(str(node)).replace("\n", " ")
    if not isinstance(node, Component):
        raise TypeError(f"cannot render {type(node).__name__} as static HTML")
    if _is_static_block(node):  # a block inside a block: its HTML, in its own wrapper
        attributes = _attributes({"id": node.id if hasattr(node, "id") else None,
                                  "className": node.className}, [])  # fmt: skip
        return f"<div{attributes}>{node.children}</div>"
    tag, classes, wrapper = _element(node)
    props = node.to_plotly_json()["props"]
    attributes = _attributes(props, classes)
    inner = to_html(props.get("children"))
    element = f"<{tag}{attributes}>" if tag in _VOID else f"<{tag}{attributes}>{inner}</{tag}>"
    return f'<div class="{wrapper}">{element}</div>' if wrapper else element


def _is_static_block(node: Component) -> bool:
    return isinstance(node, dcc.Markdown) and "dash-static" in (
        getattr(node, "className", "") or ""
    )


def _element(node: Component) -> tuple[str, list[str], str | None]:
    """Tag, the classes dash-bootstrap-components would add, and an optional wrapper class."""
    namespace, name = node._namespace, node._type
    if namespace == "dash_html_components":
        return name.lower(), [], None
    if namespace != "dash_bootstrap_components":
        raise TypeError(f"{namespace}.{name} has behaviour and cannot be a static block")
    props = node.to_plotly_json()["props"]
    if isinstance(node, dbc.Row):
        return "div", ["row"], None
    if isinstance(node, dbc.Col):
        return "div", _col_classes(props), None
    if isinstance(node, dbc.Card):
        return "div", ["card"], None
    if isinstance(node, dbc.CardBody):
        return "div", ["card-body"], None
    if isinstance(node, dbc.CardHeader):
        return "div", ["card-header"], None
    if isinstance(node, dbc.Alert):
        return "div", ["alert", f"alert-{props.get('color', 'success')}"], None
    if isinstance(node, dbc.Badge):
        return "span", ["badge", f"bg-{props.get('color', 'secondary')}"], None
    if isinstance(node, dbc.Table):
        classes = ["table"] + [
            f"table-{flag}"
            for flag in ("striped", "bordered", "hover", "borderless")
            if props.get(flag)
        ]
        if props.get("size"):
            classes.append(f"table-{props['size']}")
        return "table", classes, "table-responsive" if props.get("responsive") else None
    raise TypeError(f"dbc.{name} is not supported as a static block")


def _col_classes(props: dict) -> list[str]:
    """dbc.Col's classes: ``width`` (all sizes) and ``xs``..``xxl``; True means "share the
    row equally", a number the columns out of 12."""
    classes = []
    for prop in ("width", "xs", "sm", "md", "lg", "xl", "xxl"):
        value = props.get(prop)
        if value is None:
            continue
        infix = "" if prop in ("width", "xs") else f"-{prop}"
        classes.append(f"col{infix}" if value is True else f"col{infix}-{value}")
    return classes or ["col"]


def _attributes(props: dict, classes: list[str]) -> str:
    out = []
    class_name = " ".join([*classes, props.get("className") or ""]).strip()
    if class_name:
        out.append(("class", class_name))
    if isinstance(props.get("id"), str):
        out.append(("id", props["id"]))
    if props.get("style"):
        out.append(("style", _css(props["style"])))
    for key, value in props.items():
        if value is None or value is False:
            continue
        if key in _ATTRIBUTES:
            if key in ("href", "src") and not _SAFE_URL.match(str(value)):
                raise ValueError(f"unsafe URL in a static block: {value!r}")
            out.append((key.lower(), value))
        elif key.startswith(("data-", "aria-")):
            out.append((key, value))
    return "".join(f' {k}="{html_escape.escape(str(v), quote=True)}"' for k, v in out)


def _css(style: dict) -> str:
    """React's camelCase style dict as CSS (``borderLeft`` -> ``border-left``)."""
    dashed = r"-\1"
    return ";".join(
        f"{_CAMEL.sub(dashed, key).lower()}:{_css_value(key, value)}"
        for key, value in style.items()
    )


#: Style properties React writes without a unit when given a number.
_UNITLESS = {"flex", "flexGrow", "flexShrink", "fontWeight", "lineHeight", "opacity", "order",
             "zIndex", "zoom"}  # fmt: skip


def _css_value(key: str, value: Any) -> str:
    """React appends "px" to a number (``{"width": 10}`` is 10px) unless the property is
    unitless."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in _UNITLESS:
        return f"{value}px"
    return str(value)


__all__ = ["static_block", "to_html"]
