"""The customer table the command line exports: every column of the Action list
(:func:`~dashapp.service.views.actions.action_list`: segment, cluster, P(alive), CLV, the
recommended action, value at stake, and whatever later columns it gains) plus the RFM scores
and dates of the same customers (:func:`~dashapp.service.views.rfm.rfm_table`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashapp.service import params
from dashapp.service.filters import Filters
from dashapp.service.results import View
from dashapp.service.views.actions import action_list
from dashapp.service.views.clv import clv_intervals
from dashapp.service.views.rfm import rfm_table

#: The interval columns joined from the CLV intervals (each measure's lower and upper bound).
INTERVAL_BOUNDS = (
    "clv_lo", "clv_hi", "expected_purchases_lo", "expected_purchases_hi",
    "p_alive_lo", "p_alive_hi",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CustomerTable(View):
    """``table``: one row per customer, the Action list's columns first (same order, same
    sort: most value at stake first), then the RFM columns the Action list does not have
    (scores, RFM code, first and last purchase, tenure, average order value). ``notes`` are
    the Action list's."""

    table: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def customer_table(
    filters: Filters,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
    method=params.CLUSTER_METHOD.default,
    k=params.CLUSTER_K.default,
    churn_days=params.CLV_CHURN.default,
    level_pct=params.CLV_LEVEL.default,
) -> CustomerTable:
    """The Action list joined with the RFM table and the CLV intervals at ``level_pct`` %
    (:data:`INTERVAL_BOUNDS`; ``level_pct=None`` leaves them out, as the intervals cost a few
    seconds at full scale); the settings are validated by :func:`action_list` and
    :func:`clv_intervals` (same declarations, same messages). Every part is memoized, so the
    joins are all this adds."""
    result = action_list(
        filters, model, horizon_months, margin_pct, annual_discount_pct, method, k, churn_days
    )
    if result.reason:
        return CustomerTable(reason=result.reason)
    assert result.table is not None
    scored = rfm_table(filters)
    extra = [c for c in scored.columns if c not in result.table.columns]
    table = result.table.join(scored[extra], on="customer_id")
    notes = list(result.notes)
    if level_pct is not None:
        intervals = clv_intervals(
            filters, model, horizon_months, margin_pct, annual_discount_pct, level_pct
        )
        if intervals.reason or intervals.customers is None:
            notes.append(f"No intervals: {intervals.reason}")
        else:
            bounds = intervals.customers.set_index("customer_id")[list(INTERVAL_BOUNDS)]
            table = table.join(bounds, on="customer_id")
            notes += intervals.notes
    return CustomerTable(table=table.reset_index(drop=True), notes=notes)
