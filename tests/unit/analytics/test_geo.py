"""Country names to map ids (analytics.geo), checked on every country of Online Retail II and
against the map the app ships (assets/topojson/world_50m.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dashapp.analytics import geo
from dashapp.ingest import engine
from tests.factories import make_lines

MAP = Path(__file__).resolve().parents[3] / "assets" / "topojson" / "world_50m.json"

#: The 43 countries of the full Online Retail II dataset (2009-12-01 .. 2011-12-09), as spelt
#: there: the ten of the extract in ../shared/data, the United Kingdom and the 32 others.
ONLINE_RETAIL_II = [
    "Australia", "Austria", "Bahrain", "Belgium", "Bermuda", "Brazil", "Canada",
    "Channel Islands", "Cyprus", "Czech Republic", "Denmark", "EIRE", "European Community",
    "Finland", "France", "Germany", "Greece", "Hong Kong", "Iceland", "Israel", "Italy",
    "Japan", "Korea", "Lebanon", "Lithuania", "Malta", "Netherlands", "Nigeria", "Norway",
    "Poland", "Portugal", "RSA", "Saudi Arabia", "Singapore", "Spain", "Sweden",
    "Switzerland", "Thailand", "USA", "United Arab Emirates", "United Kingdom",
    "Unspecified", "West Indies",
]  # fmt: skip


def map_ids() -> set[str]:
    topo = json.loads(MAP.read_text())
    return {g.get("id") for g in topo["objects"]["countries"]["geometries"]} - {None}


def test_every_online_retail_ii_country_is_placed_or_listed_with_a_reason():
    assert len(ONLINE_RETAIL_II) == 43
    ids = map_ids()
    placed = {c: geo.iso3(c) for c in ONLINE_RETAIL_II if geo.iso3(c)}
    unplaced = [c for c in ONLINE_RETAIL_II if not geo.iso3(c)]
    assert sorted(unplaced) == sorted(geo.UNPLACED)  # exactly the four, each with a reason
    missing = {c: code for c, code in placed.items() if code not in ids}
    assert missing == {}, f"codes the shipped map does not have: {missing}"
    assert placed["EIRE"] == "IRL" and placed["RSA"] == "ZAF" and placed["Korea"] == "KOR"
    assert placed["USA"] == "USA" and placed["United Kingdom"] == "GBR"


def test_every_country_of_the_real_extract(sample_lines):
    names = sorted(sample_lines["country"].dropna().astype(str).unique())
    assert names  # the extract's ten countries
    for name in names:
        assert geo.iso3(name) or name in geo.UNPLACED, name
    assert set(names) <= set(ONLINE_RETAIL_II)


def test_country_table_keeps_unplaced_countries_and_counts_each_customer_once():
    rows = [
        ("1", "P1", 2, "2011-01-01 10:00", 10.0, "c1", "France"),
        ("2", "P1", 1, "2011-01-02 10:00", 10.0, "c1", "France"),
        ("3", "P1", 1, "2011-01-03 10:00", 5.0, "c1", "Unspecified"),
        ("4", "P1", 1, "2011-01-04 10:00", 7.0, "c2", "Unspecified"),
        ("5", "P1", 1, "2011-01-05 10:00", 3.0, None, "EIRE"),
    ]
    orders = engine.clean(make_lines(rows))[0]
    clv = pd.DataFrame({"customer_id": ["c1", "c2"], "clv": [100.0, 40.0], "p_alive": [0.9, 0.5]})
    table = geo.country_table(orders, clv).set_index("country")
    assert list(table.index) == ["France", "Unspecified", "EIRE"]  # by revenue
    assert table.loc["France", "revenue"] == 30.0 and table.loc["Unspecified", "revenue"] == 12.0
    assert table.loc["France", "customers"] == 1 and table.loc["Unspecified", "customers"] == 1
    assert table.loc["EIRE", "customers"] == 0 and table.loc["EIRE", "iso3"] == "IRL"
    assert not table.loc["Unspecified", "placed"] and table.loc["Unspecified", "note"]
    assert table.loc["France", "clv"] == 100.0
    assert abs(table.loc["Unspecified", "churn_risk"] - 0.5) < 1e-12
    assert geo.country_table(orders.iloc[0:0]).empty
