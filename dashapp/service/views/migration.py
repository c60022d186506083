"""The Segment migration page: how customers moved between RFM segments from one period's end
to the next (:mod:`dashapp.analytics.migration`), and the monthly segment sizes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashapp.analytics import migration as mig
from dashapp.service import params
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View, empty_reason
from dashapp.service.store import filtered_orders
from dashapp.service.views.dataset import analysed_range


@dataclass(frozen=True, kw_only=True)
class MigrationView(View):
    """``first``/``second`` (:class:`~dashapp.analytics.migration.Period`), ``customers``
    (one row per customer: ``customer_id, from_state, to_state, from_rfm, to_rfm, revenue``),
    ``counts``/``revenue`` (the matrix, states x states), ``flows`` (its non-empty cells),
    ``net`` (customers per state at both ends, net change), ``sizes`` (customers per state at
    every month end of the range), ``notes`` (a partial period, the window)."""

    first: mig.Period | None = None
    second: mig.Period | None = None
    customers: pd.DataFrame | None = None
    counts: pd.DataFrame | None = None
    revenue: pd.DataFrame | None = None
    flows: pd.DataFrame | None = None
    net: pd.DataFrame | None = None
    sizes: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def migration_view(
    filters: Filters,
    period=params.MIG_PERIOD.default,
    first=None,
    second=None,
    window_months=None,
    r_cuts=None,
    f_cuts=None,
    m_cuts=None,
) -> MigrationView:
    """The migration between two periods of the date range (validated against the
    declarations in :mod:`dashapp.service.params`; :class:`~dashapp.service.params.ParamError`
    names a bad value, e.g. a period outside the range or a first period after the second).
    The RFM cut points are the RFM page's (same URL keys), so segments match that page."""
    freq = params.MIG_PERIOD.parse(period)
    window = params.MIG_WINDOW.parse(window_months)
    thresholds = params.thresholds(r_cuts, f_cuts, m_cuts)
    rng = analysed_range(filters)
    if rng is None:
        return MigrationView(reason=empty_reason(0))
    chosen = _periods(rng, freq, params.MIG_FIRST.parse(first), params.MIG_SECOND.parse(second))
    if isinstance(chosen, str):
        return MigrationView(reason=chosen)
    p1, p2 = chosen
    return _migration_view(
        filters, freq, f"{p1.start:%Y-%m-%d}", f"{p2.start:%Y-%m-%d}", window, thresholds
    )


def _periods(rng, freq: str, first: str | None, second: str | None):
    """The two periods (checked against the range ``rng``), or the reason there are none."""
    lo, hi = rng
    within = f"a day of the date range, {lo:%Y-%m-%d} to {hi:%Y-%m-%d}"
    for param, value in ((params.MIG_SECOND, second), (params.MIG_FIRST, first)):
        param.check_dates(value, f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}", within)
    if second is None:
        p2 = mig.default_periods(hi, freq)[1]
        if p2.end < lo:  # the range is shorter than one full period: use the partial one
            p2 = mig.period_of(hi, freq, last_day=hi)
    else:
        p2 = mig.period_of(second, freq, last_day=hi)
    if first is None:
        p1 = mig.period_of(p2.start - pd.Timedelta(days=1), freq)
    else:
        p1 = mig.period_of(first, freq)
        if p1.start >= p2.start:
            raise params.ParamError(
                params.MIG_FIRST,
                f"{params.MIG_FIRST.title} must come before the second period ({p2.label}); "
                f"got {first!r} ({p1.label}).",
            )
    if p1.end < lo:
        return (
            f"The {freq} before {p2.label} ({p1.label}) ends before the date range starts "
            f"({lo:%Y-%m-%d}): nobody has a segment then. Widen the date range or compare "
            "months."
        )
    return p1, p2


@memoized
def monthly_states(dataset, version, start, end, countries, rules, window, thresholds):
    """Every customer's RFM scores and state at each month end of the range
    (:func:`~dashapp.analytics.migration.monthly_states`); the customer page reads a
    customer's history from it."""
    filters = Filters.of(dataset, start, end, countries, rules)
    rng = analysed_range(filters)
    if rng is None:
        return mig.monthly_states(filtered_orders(filters), [])
    ends = mig.month_ends(*rng)
    cuts = dict(thresholds) if thresholds else None
    return mig.monthly_states(filtered_orders(filters), ends, window, cuts)


@memoized
def _migration_view(
    dataset, version, start, end, countries, rules, freq, first, second, window, thresholds
) -> MigrationView:
    filters = Filters.of(dataset, start, end, countries, rules)
    rng = analysed_range(filters)
    assert rng is not None  # checked by migration_view
    p1 = mig.period_of(first, freq, last_day=rng[1])
    p2 = mig.period_of(second, freq, last_day=rng[1])
    cuts = dict(thresholds) if thresholds else None
    # both period ends are month ends of the range: their states are read from the history
    monthly = monthly_states(filters, window, thresholds)
    result = mig.migration(filtered_orders(filters), p1, p2, window, cuts, monthly=monthly)
    if result.customers.empty:
        return MigrationView(reason=empty_reason(0), first=p1, second=p2)
    notes = []
    if p2.partial:
        notes.append(
            f"{p2.label} is not over: the data stop on {p2.end:%Y-%m-%d}, so its segments "
            "are as of the day after."
        )
    if window:
        notes.append(
            f"Each period end is scored on the last {window} months of invoices; customers "
            f"without a purchase in them are '{mig.LAPSED}'."
        )
    return MigrationView(
        first=p1,
        second=p2,
        customers=result.customers,
        counts=result.counts,
        revenue=result.revenue,
        flows=mig.flows(result),
        net=result.net,
        sizes=mig.segment_sizes(monthly),
        notes=notes,
    )


def flow_customers(view: MigrationView, from_state: str, to_state: str) -> pd.DataFrame:
    """The customers of one flow (largest second-period revenue first); empty when the view
    has none or the states are unknown."""
    if view.customers is None:
        return pd.DataFrame()
    table = view.customers
    picked = table[(table["from_state"] == from_state) & (table["to_state"] == to_state)]
    return picked.sort_values(["revenue", "customer_id"], ascending=[False, True]).reset_index(
        drop=True
    )
