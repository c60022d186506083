"""What every page needs of a dataset: its date span and countries."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashapp.analytics.clv import holdout
from dashapp.ingest import cleaning
from dashapp.service import registry
from dashapp.service.caching import memoize_plain
from dashapp.service.filters import Filters
from dashapp.service.store import cleaned


@dataclass(frozen=True)
class DatasetBounds:
    """First and last invoice day (``YYYY-MM-DD``, None when empty) and the countries,
    largest revenue first."""

    start: str | None
    end: str | None
    countries: list[str]


def dataset_bounds(dataset_id: str) -> DatasetBounds:
    """First and last invoice day and the countries (by revenue, largest first)."""
    return _dataset_bounds(dataset_id, registry.dataset_version(dataset_id))


@memoize_plain
def _dataset_bounds(dataset_id: str, version: str) -> DatasetBounds:
    orders = cleaned(dataset_id, cleaning.CleaningRules().flags()).orders
    if orders.empty:
        return DatasetBounds(None, None, [])
    by_country = (
        orders.groupby("country", observed=True)["revenue"].sum().sort_values(ascending=False)
    )
    return DatasetBounds(
        start=orders["invoice_date"].min().strftime("%Y-%m-%d"),
        end=orders["invoice_date"].max().strftime("%Y-%m-%d"),
        countries=[str(c) for c in by_country.index],
    )


def analysed_range(filters: Filters) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last day analysed: the dataset's invoice span (all countries) intersected
    with the date filter (``holdout.analysed_range``); None when empty. The one reference for
    "as of" in RFM, CLV, cohorts, clustering and the action list: a country filter never
    moves it."""
    bounds = dataset_bounds(filters.dataset)
    return holdout.analysed_range(bounds.start, bounds.end, filters.start, filters.end)
