"""The Cohorts page: monthly acquisition cohorts of the filtered orders."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashapp.analytics import cohorts
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View, empty_reason
from dashapp.service.store import filtered_orders
from dashapp.service.views.clv import clv_range


@dataclass(frozen=True, kw_only=True)
class CohortsView(View):
    """``tables`` (:class:`~dashapp.analytics.cohorts.CohortTables`) and ``average`` (the
    size-weighted cumulative revenue per acquired customer, see
    :func:`~dashapp.analytics.cohorts.average_cumulative_revenue`)."""

    tables: cohorts.CohortTables | None = None
    average: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None  # cohorts.customer_cohorts: the page's grid


@memoized
def cohorts_view(dataset, version, start, end, countries, rules) -> CohortsView:
    """Monthly acquisition cohorts (``cohorts.cohort_tables``). The data's first and last day
    are those of :func:`~dashapp.service.views.clv.clv_range` (not the first and last invoice
    of the filtered customers), so a country filter does not make the last month look partial
    or hide months in which the country's customers did not buy."""
    filters = Filters.of(dataset, start, end, countries, rules)
    orders = filtered_orders(filters)[["customer_id", "invoice_date", "revenue", "is_cancellation"]]
    customers = cohorts.customer_cohorts(orders)
    rng = clv_range(filters)
    if rng is not None:  # rows without a customer only set the data's first and last day
        edges = pd.DataFrame(
            {
                "customer_id": pd.Series([None, None], dtype=orders["customer_id"].dtype),
                "invoice_date": [rng[0], rng[1]],
                "revenue": [0.0, 0.0],
                "is_cancellation": [False, False],
            }
        )
        orders = pd.concat([orders, edges], ignore_index=True)
    tables = cohorts.cohort_tables(orders)
    if tables.sizes.empty:
        return CohortsView(reason=empty_reason(0), tables=tables)
    return CohortsView(
        tables=tables, average=cohorts.average_cumulative_revenue(tables), customers=customers
    )
