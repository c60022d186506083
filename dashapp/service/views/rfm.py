"""The RFM page: scored customers, segment summary, score bins and the R x F grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashapp.analytics import rfm
from dashapp.service import params
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View, empty_reason
from dashapp.service.store import filtered_orders
from dashapp.service.views.dataset import analysed_range

#: Below this many customers the page warns that the scores say little.
MIN_CUSTOMERS = 10


@dataclass(frozen=True, kw_only=True)
class RfmView(View):
    """``scored`` (the customer table with scores and segments, see :func:`rfm_table`),
    ``summary`` (customers and revenue per segment, grid order), ``bins`` (actual edges and
    sizes of each score), ``counts``/``revenue`` (5 x 5 arrays of the R x F grid),
    ``table`` (the customer table as the grid shows it, dates as text), ``as_of`` (the reference
    date), ``warning`` (text when so few customers match that the scores say little)."""

    scored: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    bins: pd.DataFrame | None = None
    counts: np.ndarray | None = None
    revenue: np.ndarray | None = None
    table: pd.DataFrame | None = None
    as_of: pd.Timestamp | None = None
    warning: str | None = None


def rfm_table(filters: Filters, as_of=None, thresholds=None) -> pd.DataFrame:
    """Scored customer table (``rfm.customer_rfm`` + ``rfm.rfm_scores``) for the filters.

    ``as_of`` is a date (``YYYY-MM-DD``) or None; ``thresholds`` a tuple of ``(metric, (e1,
    e2, e3, e4))`` pairs (see :func:`dashapp.service.params.thresholds`) or None.
    ``attrs["as_of"]`` holds the reference date used. A blank ``as_of`` is the day after the
    last day analysed (:func:`~dashapp.service.views.dataset.analysed_range`: the end of the
    date range, never the last invoice of the filtered rows), so a country filter does not
    move it; CLV, cohorts, clustering and the action list use the same range.
    """
    return _rfm_table(filters, checked_as_of(filters, as_of), thresholds or None)


def checked_as_of(filters: Filters, raw) -> str | None:
    """The as-of date ``raw`` parsed and checked against the data: from the day after the
    last day analysed (an earlier day would give negative recencies to customers who bought
    after it) to :data:`~dashapp.service.params.RFM_AS_OF_MAX_YEARS` years later
    (:class:`~dashapp.service.params.ParamError` otherwise); None for blank."""
    as_of = params.RFM_AS_OF.parse(raw)
    rng = analysed_range(filters)
    if as_of is None or rng is None:
        return as_of
    earliest = rng[1].normalize() + pd.Timedelta(days=1)
    latest = earliest + pd.DateOffset(years=params.RFM_AS_OF_MAX_YEARS)
    params.RFM_AS_OF.check_dates(
        as_of,
        f"{earliest:%Y-%m-%d}",
        f"{latest:%Y-%m-%d}",
        f"the day after the last day analysed, {rng[1]:%Y-%m-%d}, at the earliest",
    )
    return as_of


@memoized
def _rfm_table(dataset, version, start, end, countries, rules, as_of, thresholds):
    filters = Filters.of(dataset, start, end, countries, rules)
    if as_of is None:
        rng = analysed_range(filters)
        as_of = None if rng is None else rng[1].normalize() + pd.Timedelta(days=1)
    customers = rfm.customer_rfm(filtered_orders(filters), as_of=as_of)
    scored = rfm.rfm_scores(customers, thresholds=dict(thresholds) if thresholds else None)
    scored.attrs["as_of"] = customers.attrs["as_of"]
    return scored


def rfm_view(filters: Filters, as_of=None, r_cuts=None, f_cuts=None, m_cuts=None) -> RfmView:
    """Everything the RFM page shows, computed once per filter and parameter set. The
    parameters are validated against their declarations (:class:`~dashapp.service.params.
    ParamError` names a bad one)."""
    as_of = checked_as_of(filters, as_of)
    return _rfm_view(filters, as_of, params.thresholds(r_cuts, f_cuts, m_cuts))


@memoized
def _rfm_view(dataset, version, start, end, countries, rules, as_of, thresholds) -> RfmView:
    scored = rfm_table(Filters.of(dataset, start, end, countries, rules), as_of, thresholds)
    if scored.empty:
        return RfmView(reason=empty_reason(0))
    counts, revenue = rfm.rf_grid_counts(scored)
    table = scored.reset_index()
    for col in ("first_purchase", "last_purchase"):
        table[col] = table[col].dt.strftime("%Y-%m-%d")
    few = empty_reason(len(scored), MIN_CUSTOMERS)
    return RfmView(
        scored=scored,
        summary=rfm.segment_summary(scored),
        bins=rfm.score_bins(scored),
        counts=counts,
        revenue=revenue,
        table=table,
        as_of=scored.attrs.get("as_of"),
        warning=few + " Scores over so few customers say little." if few else None,
    )
