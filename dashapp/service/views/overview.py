"""The Overview page: KPIs, monthly revenue and the cleaning ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashapp.analytics import overview as stats
from dashapp.ingest import cleaning
from dashapp.service.caching import memoized
from dashapp.service.results import View
from dashapp.service.store import cleaned
from dashapp.service.views.dataset import dataset_bounds


@dataclass(frozen=True, kw_only=True)
class OverviewView(View):
    """``kpis`` (:class:`~dashapp.analytics.overview.Kpis`), ``monthly`` (month, revenue,
    customer_revenue, orders, customers, partial), ``ledger`` (one row per cleaning rule),
    ``rows_in``/``rows_out`` (lines read and kept), ``period`` (first and last day shown)
    and ``comparisons``: for ``"previous"`` (the period of the same length just before) and
    ``"year_before"`` (the same days a year earlier), the window's days and its KPIs with the
    same countries, or None as KPIs when the data do not cover the whole window."""

    kpis: stats.Kpis
    monthly: pd.DataFrame
    ledger: pd.DataFrame
    rows_in: int | None
    rows_out: int | None
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None
    comparisons: dict = field(default_factory=dict)


@memoized
def overview(dataset, version, start, end, countries, rules) -> OverviewView:
    """KPIs, monthly revenue and the cleaning ledger of the filtered data."""
    data = cleaned(dataset, rules)
    orders = cleaning.filter_transactions(data.orders, start, end, countries)
    first_day, last_day = stats.covered_days(data.orders, start, end)
    comparisons = {}
    if not data.orders.empty and first_day <= last_day:
        data_start = data.orders["invoice_date"].min().normalize()
        for name, (a, b) in stats.comparison_windows(first_day, last_day).items():
            window = cleaning.filter_transactions(data.orders, a, b, countries)
            covered = a >= data_start
            comparisons[name] = ((a, b), stats.kpis(window) if covered else None)
    return OverviewView(
        kpis=stats.kpis(orders),
        monthly=stats.monthly(orders, first_day, last_day),
        ledger=data.ledger,
        rows_in=data.ledger.attrs.get("rows_in"),
        rows_out=data.ledger.attrs.get("rows_out"),
        period=(first_day, last_day),
        comparisons=comparisons,
    )


def period_preset(dataset_id: str, preset: str) -> tuple[str | None, str | None]:
    """The filter bar's From and To (``YYYY-MM-DD``, None for blank) of a date preset of the
    Overview (:data:`~dashapp.analytics.overview.PRESETS`), ending on the dataset's last
    day. ValueError names an unknown preset."""
    bounds = dataset_bounds(dataset_id)
    if bounds.start is None or bounds.end is None:
        return None, None
    first, last = stats.preset_range(preset, pd.Timestamp(bounds.start), pd.Timestamp(bounds.end))
    return (
        None if first is None else f"{first:%Y-%m-%d}",
        None if last is None else f"{last:%Y-%m-%d}",
    )
