"""The Overview page: KPIs, monthly revenue and the cleaning ledger."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashapp.analytics import overview as stats
from dashapp.ingest import cleaning
from dashapp.service.caching import memoized
from dashapp.service.results import View
from dashapp.service.store import cleaned


@dataclass(frozen=True, kw_only=True)
class OverviewView(View):
    """``kpis`` (:class:`~dashapp.analytics.overview.Kpis`), ``monthly`` (month, revenue,
    customer_revenue, orders, customers, partial), ``ledger`` (one row per cleaning rule),
    ``rows_in``/``rows_out`` (lines read and kept)."""

    kpis: stats.Kpis
    monthly: pd.DataFrame
    ledger: pd.DataFrame
    rows_in: int | None
    rows_out: int | None


@memoized
def overview(dataset, version, start, end, countries, rules) -> OverviewView:
    """KPIs, monthly revenue and the cleaning ledger of the filtered data."""
    data = cleaned(dataset, rules)
    orders = cleaning.filter_transactions(data.orders, start, end, countries)
    first_day, last_day = stats.covered_days(data.orders, start, end)
    return OverviewView(
        kpis=stats.kpis(orders),
        monthly=stats.monthly(orders, first_day, last_day),
        ledger=data.ledger,
        rows_in=data.ledger.attrs.get("rows_in"),
        rows_out=data.ledger.attrs.get("rows_out"),
    )
