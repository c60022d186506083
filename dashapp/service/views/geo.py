"""The Countries page: customers, revenue, predicted CLV and churn risk by country
(:func:`dashapp.analytics.geo.country_table`), with the countries a map cannot place."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashapp.analytics import geo
from dashapp.service import params
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View, empty_reason
from dashapp.service.store import filtered_orders
from dashapp.service.views.clv import clv_view

#: The CLV settings read from the URL (the CLV page's keys).
CLV_SETTINGS = params.CLV_VALUE_PARAMS[:4]


@dataclass(frozen=True, kw_only=True)
class CountryView(View):
    """``table`` (:data:`~dashapp.analytics.geo.COLUMNS`, largest revenue first, every
    country), ``unplaced`` (its rows the map cannot show), ``notes`` (e.g. why CLV is
    missing)."""

    table: pd.DataFrame | None = None
    unplaced: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def country_view(
    filters: Filters,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
) -> CountryView:
    """Countries under the filters; the CLV settings are the CLV page's (validated by their
    declarations)."""
    values = params.parse_all(
        zip(CLV_SETTINGS, (model, horizon_months, margin_pct, annual_discount_pct), strict=True)
    )
    return _country_view(filters, *values)


@memoized
def _country_view(
    dataset, version, start, end, countries, rules, model, horizon, margin, discount
) -> CountryView:
    filters = Filters.of(dataset, start, end, countries, rules)
    orders = filtered_orders(filters)
    if orders.empty:
        return CountryView(reason=empty_reason(0))
    values = clv_view(filters, model, horizon, margin, discount)
    notes = []
    if values.reason:
        notes.append(f"No predicted CLV or churn risk: {values.reason}")
    table = geo.country_table(orders, None if values.reason else values.customers)
    return CountryView(table=table, unplaced=table[~table["placed"]], notes=notes)
