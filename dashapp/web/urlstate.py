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
