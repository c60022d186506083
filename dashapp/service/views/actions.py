"""The Action list: every customer to act on, most value at stake first
(:func:`dashapp.analytics.actions.action_table`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashapp.analytics import actions
from dashapp.analytics.clv.predict import customer_p_alive
from dashapp.service import params
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View
from dashapp.service.views.clustering import cluster_view
from dashapp.service.views.clv import clv_fit, clv_view
from dashapp.service.views.rfm import rfm_table


@dataclass(frozen=True, kw_only=True)
class ActionList(View):
    """``table`` (``actions.COLUMNS``, most value at stake first) and ``notes`` (e.g. why
    there are no cluster labels)."""

    table: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def action_list(
    filters: Filters,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
    method=params.CLUSTER_METHOD.default,
    k=params.CLUSTER_K.default,
    churn_days=params.CLV_CHURN.default,
) -> ActionList:
    """One row per customer: RFM segment, cluster label, P(alive), predicted CLV, the
    segment's recommended action (a win-back when an active segment has probably lapsed),
    the value at stake (value if still active x P(not alive)) and the churn probabilities
    over ``churn_days`` (``p_churn``, ``p_not_alive``). The CLV and clustering settings are
    those of the CLV and Clustering pages (same declarations, same messages)."""
    clv_args = params.parse_all(
        zip(
            params.CLV_VALUE_PARAMS[:4],
            (model, horizon_months, margin_pct, annual_discount_pct),
            strict=True,
        )
    )
    method = params.CLUSTER_METHOD.parse(method)
    k = params.CLUSTER_K.parse(k) if method != "dbscan" else params.CLUSTER_K.default
    churn_days = params.CLV_CHURN.parse(churn_days)
    return _action_list(filters, *clv_args, method, k, churn_days)


@memoized
def _action_list(
    dataset, version, start, end, countries, rules, model, horizon, margin, discount, method, k,
    churn_days,
) -> ActionList:  # fmt: skip
    filters = Filters.of(dataset, start, end, countries, rules)
    clv = clv_view(filters, model, horizon, margin, discount, churn_days=churn_days)
    if clv.reason:
        return ActionList(reason=clv.reason)
    notes = []
    clusters = cluster_view(filters, method, k)
    labels = None
    if clusters.reason:
        notes.append(f"No cluster labels: {clusters.reason}")
    else:
        assert clusters.customers is not None  # an available view has its customers
        labels = clusters.customers.set_index("customer_id")["cluster"]
        if clusters.note:
            notes.append(clusters.note)
    one_time = None
    if model == "bgnbd":
        # BG/NBD puts P(alive) = 1 for every one-time buyer by construction; their chance of
        # having left comes from Pareto/NBD on the same data (analytics.actions explains):
        # its P(alive) alone, as the CLV page shows it (rounded alike), not its CLV table
        pareto = clv_fit(filters, "pareto_nbd")
        if pareto.reason:
            notes.append(
                "No value at stake for one-time buyers: BG/NBD cannot tell whether they "
                f"have left and Pareto/NBD could not be fitted ({pareto.reason})."
            )
        else:
            assert pareto.summary is not None  # a fitted model has its summary
            one_time = customer_p_alive(pareto.purchase, pareto.summary).round(4)
            notes.append(ONE_TIME_NOTE)
    table = actions.action_table(rfm_table(filters), clv.customers, labels, one_time)
    # The churn probabilities over the chosen horizon, after the list's own columns;
    # P(not alive) is that of the list's P(alive) (Pareto/NBD's for one-time buyers above).
    assert clv.customers is not None  # an available view has its customers
    table = table.join(clv.customers.set_index("customer_id")[["p_churn"]], on="customer_id")
    table["p_not_alive"] = 1.0 - table["p_alive"]
    return ActionList(table=table, notes=notes)


#: Why one-time buyers' P(alive) differs from the CLV page's under BG/NBD.
ONE_TIME_NOTE = (
    "For customers without a repeat purchase, P(alive) is Pareto/NBD's: BG/NBD puts it at 1 "
    "by construction, so it cannot say whether they have left."
)
