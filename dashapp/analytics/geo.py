"""Customers, revenue, predicted CLV and churn risk by country, and where a map can place each
country.

Pure: pandas and numpy. Country names are matched to ISO 3166 alpha-3 codes by an explicit
table (:data:`ISO3`), not guessed: the data's own spellings (Online Retail II writes "EIRE",
"RSA", "USA", "Korea") are listed, and names that are not one country on a map
(:data:`UNPLACED`: "Unspecified", "European Community", "Channel Islands", "West Indies") are
kept in the table with the reason, never dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Country name as written in the data -> ISO 3166-1 alpha-3 (the map's country ids).
ISO3: dict[str, str] = {
    "Australia": "AUS",
    "Austria": "AUT",
    "Bahrain": "BHR",
    "Belgium": "BEL",
    "Bermuda": "BMU",
    "Brazil": "BRA",
    "Canada": "CAN",
    "Cyprus": "CYP",
    "Czech Republic": "CZE",
    "Czechia": "CZE",
    "Denmark": "DNK",
    "EIRE": "IRL",
    "Ireland": "IRL",
    "Finland": "FIN",
    "France": "FRA",
    "Germany": "DEU",
    "Greece": "GRC",
    "Hong Kong": "HKG",
    "Iceland": "ISL",
    "Israel": "ISR",
    "Italy": "ITA",
    "Japan": "JPN",
    "Korea": "KOR",
    "South Korea": "KOR",
    "Lebanon": "LBN",
    "Lithuania": "LTU",
    "Malta": "MLT",
    "Netherlands": "NLD",
    "Nigeria": "NGA",
    "Norway": "NOR",
    "Poland": "POL",
    "Portugal": "PRT",
    "RSA": "ZAF",
    "South Africa": "ZAF",
    "Saudi Arabia": "SAU",
    "Singapore": "SGP",
    "Spain": "ESP",
    "Sweden": "SWE",
    "Switzerland": "CHE",
    "Thailand": "THA",
    "USA": "USA",
    "United States": "USA",
    "United Arab Emirates": "ARE",
    "United Kingdom": "GBR",
    "UK": "GBR",
}
#: Names in the data that are not one country on a map, with the reason shown beside the map.
UNPLACED: dict[str, str] = {
    "Unspecified": "no country given",
    "European Community": "a group of countries, not one",
    "Channel Islands": "Jersey and Guernsey together; the map has them apart",
    "West Indies": "a region of many island states",
}

COLUMNS = ["country", "iso3", "placed", "customers", "revenue", "clv", "churn_risk", "note"]


def iso3(name: str) -> str | None:
    """The map id of a country name (None when the name is not one placeable country);
    surrounding spaces and letter case are ignored."""
    text = str(name).strip()
    if text in ISO3:
        return ISO3[text]
    folded = {k.casefold(): v for k, v in ISO3.items()}
    return folded.get(text.casefold())


def country_table(orders: pd.DataFrame, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per country of ``orders`` (every one, placeable or not), largest revenue first.

    ``revenue`` is the net revenue of the country's invoices (customer or not); ``customers``
    counts the customers whose invoices are mostly in that country (each customer counted
    once); ``clv`` and ``churn_risk`` (mean of ``1 - p_alive``) come from ``customers``
    (``customer_id, clv, p_alive``; NaN without it) by the same main country. ``iso3``,
    ``placed`` and ``note`` say where and whether the map shows the country."""
    if orders.empty:
        return pd.DataFrame(columns=COLUMNS)
    countries = orders["country"].astype(object).fillna("Unspecified").astype(str)
    revenue = orders["revenue"].groupby(countries.to_numpy()).sum()
    # customers are those with a purchase (an order returned in full is none), as in RFM
    known = orders["customer_id"].notna().to_numpy() & ~orders["is_cancellation"].to_numpy(
        dtype=bool
    )
    pairs = pd.DataFrame(
        {
            "customer_id": orders.loc[known, "customer_id"].astype(str).to_numpy(),
            "country": countries[known].to_numpy(),
        }
    )
    main = (
        pairs.groupby(["customer_id", "country"]).size().rename("n").reset_index()
        .sort_values(["customer_id", "n", "country"], ascending=[True, False, True])
        .drop_duplicates("customer_id")
        .set_index("customer_id")["country"]
    )  # fmt: skip
    out = pd.DataFrame({"country": revenue.index.astype(str), "revenue": revenue.to_numpy()})
    out["customers"] = out["country"].map(main.value_counts()).fillna(0).astype(np.int64)
    if customers is not None and len(customers):
        c = customers.set_index(customers["customer_id"].astype(str))
        country_of = main.reindex(c.index)
        clv = c["clv"].groupby(country_of.to_numpy()).sum()
        churn = (1 - c["p_alive"]).groupby(country_of.to_numpy()).mean()
        out["clv"] = out["country"].map(clv)
        out["churn_risk"] = out["country"].map(churn)
    else:
        out["clv"] = np.nan
        out["churn_risk"] = np.nan
    out["iso3"] = [iso3(c) for c in out["country"]]
    out["placed"] = out["iso3"].notna()
    out["note"] = [
        "" if placed else UNPLACED.get(c, "name not in the country table")
        for c, placed in zip(out["country"], out["placed"], strict=True)
    ]
    out["revenue"] = out["revenue"].round(2)
    out = out.sort_values(["revenue", "country"], ascending=[False, True], kind="stable")
    return out[COLUMNS].reset_index(drop=True)
