"""The look shared by every figure: the app's Plotly template (matching the Flatly Bootstrap
theme), its colours and colour scales, and helpers for empty and plain-dict figures.

Figure builders use plain dicts, not ``plotly.graph_objects`` (plotly.express costs tens of
milliseconds per figure) and never compute analytics: they receive results from the service.
"""

from __future__ import annotations

import numpy as np

PRIMARY = "#2c3e50"


COLORS = [
    "#2c3e50",
    "#18bc9c",
    "#3498db",
    "#f39c12",
    "#e74c3c",
    "#8e44ad",
    "#16a085",
    "#d35400",
    "#7f8c8d",
    "#27ae60",
    "#c0392b",
]


MUTED = "#b4bcc2"


FONT = "Lato, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


_AXIS = {
    "gridcolor": "#ebf0f8",
    "linecolor": "#ebf0f8",
    "zerolinecolor": "#ebf0f8",
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 12},
}


#: The app's Plotly template (matches the Flatly Bootstrap theme). Figures are plain dicts:
#: building ``plotly.graph_objects`` figures validates every property and costs 20-30 ms per
#: figure, more than the whole computation behind a view.
TEMPLATE = {
    "layout": {
        "colorway": COLORS,
        "font": {"family": FONT, "size": 13, "color": "#212529"},
        "hoverlabel": {"font": {"family": FONT}, "align": "left"},
        "hovermode": "closest",
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "title": {"font": {"size": 15}, "x": 0.02},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "legend": {"orientation": "h", "y": 1.1, "x": 0},
    }
}

# Explicit colour scales: plotly.js only knows a few names, and its "Blues" runs dark to light
# (the biggest values would look empty), so no figure uses a named scale.
RED_YELLOW_GREEN = [
    [0.0, "#d73027"],
    [0.25, "#fc8d59"],
    [0.5, "#fee08b"],
    [0.75, "#91cf60"],
    [1.0, "#1a9850"],
]


#: The app's one sequential scale, for every "how much" heatmap (R x F grid, cohorts, cluster
#: agreement): near white for none .. dark blue for the most. More is always darker.
SEQUENTIAL = [
    [0.0, "#f7fbff"],
    [0.15, "#deebf7"],
    [0.4, "#9ecae1"],
    [0.7, "#4292c6"],
    [1.0, "#08306b"],
]


def figure(data: list[dict], **layout) -> dict:
    """A Plotly figure as a dict, with the app template."""
    return {"data": data, "layout": {"template": TEMPLATE, **layout}}


#: Width (px) of one character of the template's 13 px font, rounded up: the digits and
#: letters of the sans-serif fonts a browser falls back to measure 6-7 px.
CHAR_PX = 7.0


def label_room(labels, pad: int = 12) -> int:
    """Pixels for the longest line of ``labels`` (lines split at ``<br>``), plus ``pad``.

    A figure whose margins already hold its labels, legend and colour bar is laid out once;
    Plotly's automatic margins (left on as a safety net) push a margin that is too small and
    lay the whole chart out a second time: a first draw then costs 2-3x as much in Chromium
    (docs/benchmarks.md, "Charts laid out once")."""
    longest = max((len(line) for text in labels for line in str(text).split("<br>")), default=0)
    return int(np.ceil(longest * CHAR_PX)) + pad


def month_axis(months: int) -> dict:
    """A date axis with a label every 1, 3, 6 or 12 months (eight at most), ``Jan`` over
    ``2011``: narrow enough for a phone. Each label sits in the middle of its period, so the
    point of a month's end is drawn inside the period that names it. Plotly's own tick choice depends on the
    axis length, which its automatic margins change, which in turn depend on the ticks: on
    the migration page's monthly sizes that loop redrew the chart up to 15 times per change
    (0.5-1.3 s in the browser, docs/benchmarks.md "Each chart drawn once per change")."""
    step = next((m for m in (1, 3, 6, 12) if months <= 8 * m), 12 * (1 + months // 96))
    return {"tickformat": "%b<br>%Y", "dtick": f"M{step}", "ticklabelmode": "period"}


def empty_figure(message: str = "", height: int = 320) -> dict:
    layout = {"height": height, "xaxis": {"visible": False}, "yaxis": {"visible": False}}
    if message:
        layout["annotations"] = [
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": "#7b8a8b"},
            }
        ]
    return figure([], **layout)


def log_histogram(values: np.ndarray, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges of the positive values on log-spaced bins."""
    positive = values[values > 0]
    if len(positive) == 0:
        return np.zeros(0, dtype=int), np.zeros(1)
    lo, hi = np.log10(positive.min()), np.log10(positive.max())
    edges = (
        np.logspace(lo, hi + 1e-9, bins + 1)
        if hi > lo
        else np.array([positive.min(), positive.min() * 1.01])
    )
    counts, edges = np.histogram(positive, bins=edges)
    return counts, edges


def log_axis(values, **extra) -> dict:
    """A log axis for ``values`` whose ticks are the powers of ten ("100", "1k", "10k") when
    the values span two decades or more, instead of Plotly's small "2" and "5" between them
    that crowd the axis; a narrower span keeps Plotly's own ticks."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    axis = {"type": "log", **extra}
    if len(finite) and finite.max() / finite.min() >= 100:
        axis |= {"dtick": 1, "tickformat": "~s"}
    return axis


def rounded(values, digits: int = 4) -> np.ndarray:
    """Rounded floats for a figure. Numeric numpy arrays go to the browser as they are (Dash
    serialises them with orjson, NaN as null, which Plotly draws as a gap): much faster than
    lists of Python floats."""
    return np.round(np.asarray(values, dtype=float), digits)
