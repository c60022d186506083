"""URL state: every page input lives in the query string (pure, Dash-free).

Controls that belong in the URL carry a pattern-matching id ``{"kind": "state", "key": K}``
(property ``value``) or ``{"kind": "date", "key": K}`` (property ``date``). The shell writes
their values to the query string when the user changes one; page ``layout(**query)``
functions read them back, so reloading, sharing a link or pressing the browser's back button
reproduces the view.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

#: Query keys of the shared filter bar.
FILTER_KEYS = ("dataset", "start", "end", "countries")
#: Keys whose values are lists, written comma-separated.
LIST_KEYS = {"countries"}


def state_id(key: str) -> dict:
    """Id of a control whose ``value`` lives in the URL."""
    return {"kind": "state", "key": key}


def date_id(key: str) -> dict:
    """Id of a date picker whose ``date`` lives in the URL."""
    return {"kind": "date", "key": key}


def parse_query(search: str | None) -> dict[str, str]:
    """``?a=1&b=x`` -> ``{"a": "1", "b": "x"}`` (last value wins; blank values dropped)."""
    if not search:
        return {}
    return {k: v for k, v in parse_qsl(search.lstrip("?"), keep_blank_values=False) if v != ""}


def split_list(value) -> list[str]:
    """A list value from the URL (``"France,Germany"``) or from a control (list)."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v not in (None, "")]
    return [v for v in str(value).split(",") if v]


def build_query(values: dict) -> str:
    """Query string (with ``?``, or ``""``) from control values; empty values are left out,
    lists are joined with commas, keys are sorted so a view has one URL."""
    items = []
    for key in sorted(values):
        value = values[key]
        if key in LIST_KEYS or isinstance(value, list | tuple):
            value = ",".join(split_list(value))
        if value is None or value == "" or value is False:
            continue
        if value is True:
            value = "1"
        items.append((key, str(value)))
    return "?" + urlencode(items) if items else ""


def merge_control_values(keys_values: list[tuple[str, object]], changed: str | None) -> dict:
    """Values of the controls on the page; when the dataset changed, the date range and
    countries of the previous dataset are dropped."""
    values = dict(keys_values)
    if changed == "dataset":
        for key in ("start", "end", "countries"):
            values.pop(key, None)
    return values
