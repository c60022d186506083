"""URL state: every page input lives in the query string (pure, Dash-free).

Controls that belong in the URL carry a pattern-matching id ``{"kind": "state", "key": K}``
(property ``value``) or ``{"kind": "date", "key": K}`` (property ``date``). The browser writes
their values to the query string when the user changes one (``assets/urlstate.js``: keys
sorted, lists comma-joined, blanks left out, a new dataset drops the previous one's dates and
countries), without a server request and without rendering the page again; page
``layout(**query)`` functions read them back, so reloading, sharing a link or pressing the
browser's back button reproduces the view.
"""

from __future__ import annotations


def state_id(key: str) -> dict:
    """Id of a control whose ``value`` lives in the URL."""
    return {"kind": "state", "key": key}


def date_id(key: str) -> dict:
    """Id of a date picker whose ``date`` lives in the URL."""
    return {"kind": "date", "key": key}


def split_list(value) -> list[str]:
    """A list value from the URL (``"France,Germany"``) or from a control (list)."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v not in (None, "")]
    return [v for v in str(value).split(",") if v]


def query_string(values: dict) -> str:
    """The query string (with ``?``, or ``""``) of ``{key: value}`` written the way the
    browser writes it (``assets/urlstate.js``): keys sorted, lists comma-joined, blanks left
    out; for links that open a view (e.g. a story's next step)."""
    from urllib.parse import urlencode

    texts = {}
    for key in sorted(values):
        value = values[key]
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value if v not in (None, ""))
        elif isinstance(value, bool):
            value = "1" if value else ""
        if value is None or value == "":
            continue
        texts[key] = str(value)
    return "?" + urlencode(texts) if texts else ""
