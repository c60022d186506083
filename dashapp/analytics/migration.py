"""Segment migration: how customers moved between RFM segments from one period to the next.

Pure: pandas and numpy. Input is the invoice-level "orders" table (see
``docs/architecture.md``), already filtered by the caller.

A customer's *state* at the end of a period is their RFM segment computed as of that day with
exactly the rules of :mod:`dashapp.analytics.rfm` (:func:`~dashapp.analytics.rfm.customer_rfm`
on the invoices up to the period's last day, as of the next day, then
:func:`~dashapp.analytics.rfm.rfm_scores`: average-rank scores among the customers known then,
or the same custom cut points, and the same R x F grid). Nothing is approximated: each period
end is scored again from the invoices.

Two states are not segments:

* :data:`NEW` -- no purchase up to that day (only a first period's state: the customer's first
  purchase falls after the first period);
* :data:`LAPSED` -- with a history window of ``w`` months, a customer who bought before but
  not in the ``w`` months up to that day (scores are computed on the window's invoices). With
  no window (the default) the whole history counts and nobody is lapsed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashapp.analytics import rfm

NEW = "New (no purchase yet)"
LAPSED = "Lapsed (none in window)"
#: Every state in the order shown: new, the segments best first, lapsed.
STATES = (NEW, *rfm.SEGMENT_ORDER, LAPSED)
#: Period lengths a migration compares (pandas period codes).
FREQS = {"quarter": "Q", "month": "M"}


@dataclass(frozen=True)
class Period:
    """A calendar period ``[start, end]`` (days, inclusive) with its label (``2011Q3``,
    ``2011-09``); ``partial`` when the data stop before its last day (``end`` is then the
    last day analysed)."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp
    partial: bool = False


def period_of(day, freq: str, last_day=None) -> Period:
    """The calendar quarter or month (``freq`` a key of :data:`FREQS`) holding ``day``, cut at
    ``last_day`` (the last day analysed) when the data stop inside it."""
    p = pd.Period(pd.Timestamp(day), FREQS[freq])
    start, end = p.start_time.normalize(), p.end_time.normalize()
    partial = last_day is not None and pd.Timestamp(last_day).normalize() < end
    if partial:
        end = pd.Timestamp(last_day).normalize()
    return Period(label=str(p), start=start, end=end, partial=partial)


def default_periods(last_day, freq: str) -> tuple[Period, Period]:
    """The last full period up to ``last_day`` and the one before it."""
    last_day = pd.Timestamp(last_day).normalize()
    p = pd.Period(last_day, FREQS[freq])
    if last_day < p.end_time.normalize():
        p -= 1
    second = period_of(p.start_time, freq)
    first = period_of((p - 1).start_time, freq)
    return first, second


def states_at(
    orders: pd.DataFrame | rfm.InvoiceArrays,
    end,
    window_months: int | None = None,
    thresholds: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """RFM as of the day after ``end`` (inclusive last day), for every customer with a
    purchase invoice up to ``end``.

    ``orders``: the invoice table, or its :class:`~dashapp.analytics.rfm.InvoiceArrays` when
    many ends are scored (built once). Returns the scored customer table of
    :func:`rfm.rfm_scores` (index ``customer_id``) with a ``state`` column: the segment, or
    :data:`LAPSED` for customers without a purchase in the window (their scores are NaN).
    ``attrs["as_of"]`` holds the as-of day."""
    arrays = orders if isinstance(orders, rfm.InvoiceArrays) else rfm.InvoiceArrays.of(orders)
    as_of, known, scored_on = _rows_at(arrays, end, window_months)
    scored = rfm.rfm_scores(rfm.rfm_at(arrays, as_of, scored_on), thresholds=thresholds)
    scored["state"] = scored["segment"]
    if window_months:
        # every customer who bought up to then (ids are sorted, so are their codes)
        bought = np.unique(arrays.codes[known & arrays.purchase])
        ever = pd.Index(arrays.ids[bought], name="customer_id")
        scored = scored.reindex(ever)
        scored["state"] = scored["state"].fillna(LAPSED)
    scored.attrs["as_of"] = as_of
    return scored


def _rows_at(arrays: rfm.InvoiceArrays, end, window_months: int | None):
    """The as-of day of the period end ``end`` (the next day), the invoices known then and
    those scored (the window's, or all known)."""
    as_of = pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
    known = arrays.before(as_of)
    if not window_months:
        return as_of, known, known
    since = as_of - pd.DateOffset(months=int(window_months))
    return as_of, known, arrays.before(as_of, since)


@dataclass(frozen=True)
class Migration:
    """``customers``: one row per customer known at the second period's end (``customer_id,
    from_state, to_state, revenue`` = net revenue in the second period, ``from_*``/``to_*``
    scores); ``counts``/``revenue``: the matrix (rows = from, columns = to, every state of
    :data:`STATES`); ``net``: per state, customers at each end and the net change."""

    customers: pd.DataFrame
    counts: pd.DataFrame
    revenue: pd.DataFrame
    net: pd.DataFrame


def migration(
    orders: pd.DataFrame,
    first: Period,
    second: Period,
    window_months: int | None = None,
    thresholds: Mapping[str, Sequence[float]] | None = None,
    monthly: pd.DataFrame | None = None,
) -> Migration:
    """Who moved from which state at ``first.end`` to which at ``second.end``.

    ``monthly``: :func:`monthly_states` of the same orders, window and cut points at month
    ends that include both period ends (the states are then read from it, not scored
    again; the same values)."""
    if monthly is not None:
        before, after = (_states_of(monthly, p.end) for p in (first, second))
    else:
        before = states_at(orders, first.end, window_months, thresholds)
        after = states_at(orders, second.end, window_months, thresholds)
    table = pd.DataFrame(index=after.index)
    table["from_state"] = before["state"].reindex(after.index).fillna(NEW)
    table["to_state"] = after["state"]
    for side, frame in (("from", before), ("to", after)):
        table[f"{side}_rfm"] = frame["rfm_code"].reindex(after.index)
    in_second = orders[
        orders["customer_id"].notna()
        & (orders["invoice_date"] >= first.end + pd.Timedelta(days=1))
        & (orders["invoice_date"] < second.end + pd.Timedelta(days=1))
    ]
    spent = in_second.groupby(in_second["customer_id"].astype(str))["revenue"].sum()
    table["revenue"] = spent.reindex(table.index).fillna(0.0).round(2).to_numpy()
    table = table.reset_index()
    k = len(STATES)
    cat_from = pd.Categorical(table["from_state"], categories=STATES).codes.astype(np.int64)
    cat_to = pd.Categorical(table["to_state"], categories=STATES).codes.astype(np.int64)
    cell = cat_from * k + cat_to  # the matrix cell of each customer
    counts = pd.DataFrame(
        np.bincount(cell, minlength=k * k).reshape(k, k).astype(np.int64),
        index=pd.Index(STATES),
        columns=pd.Index(STATES),
    )
    # summed per cell as pandas sums a group (the customers in table order)
    summed = table["revenue"].groupby(cell).sum()
    cells = np.zeros(k * k)
    cells[summed.index.to_numpy()] = summed.to_numpy()
    revenue = pd.DataFrame(cells.reshape(k, k), index=pd.Index(STATES), columns=pd.Index(STATES))
    counts.index.name = revenue.index.name = "from_state"
    counts.columns.name = revenue.columns.name = "to_state"
    start_n = counts.sum(axis=1)
    end_n = counts.sum(axis=0)
    net = pd.DataFrame(
        {
            "state": STATES,
            "customers_first": start_n.reindex(STATES).to_numpy(),
            "customers_second": end_n.reindex(STATES).to_numpy(),
        }
    )
    net.loc[net["state"] == NEW, "customers_second"] = 0
    net["net_change"] = net["customers_second"] - net["customers_first"]
    return Migration(customers=table, counts=counts, revenue=revenue, net=net)


def _states_of(monthly: pd.DataFrame, end) -> pd.DataFrame:
    """The ``state`` and ``rfm_code`` (NaN when lapsed) of every customer at the month end
    ``end`` of a :func:`monthly_states` table (none when it has no row then), indexed by
    ``customer_id``."""
    end = pd.Timestamp(end)
    if end not in monthly.attrs.get("month_ends", ()):
        raise ValueError(f"The monthly states have no month end {end:%Y-%m-%d}.")
    part = _month_rows(monthly, end)
    out = part[["customer_id", "state"]].set_index("customer_id")
    scored = part["r_score"].notna().to_numpy()
    r, f, m = (part[c].to_numpy()[scored].astype(np.int64) - 1 for c in SCORES)
    codes = np.full(len(part), np.nan, dtype=object)
    codes[scored] = _RFM_CODES[r * 25 + f * 5 + m]
    out["rfm_code"] = pd.array(codes, dtype=str)
    return out


def _month_rows(monthly: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """The rows of the month end ``end``: a slice when the month ends are in order, as
    :func:`monthly_states` writes them (no mask over every row and column), else a mask."""
    month_end = monthly["month_end"]
    if month_end.is_monotonic_increasing:
        values, day = month_end.to_numpy(), end.to_datetime64()
        lo, hi = np.searchsorted(values, day, "left"), np.searchsorted(values, day, "right")
        return monthly.iloc[lo:hi]
    return monthly[month_end == end]


def flows(result: Migration) -> pd.DataFrame:
    """The non-empty cells of the matrix: ``from_state, to_state, customers, revenue``,
    largest first."""
    c = result.counts.stack()
    r = result.revenue.stack()
    out = pd.DataFrame({"customers": c, "revenue": r}).reset_index()
    out.columns = ["from_state", "to_state", "customers", "revenue"]
    out = out[out["customers"] > 0]
    return out.sort_values(["customers", "revenue"], ascending=False, kind="stable").reset_index(
        drop=True
    )


def month_ends(first_day, last_day) -> list[pd.Timestamp]:
    """The last day of every month from ``first_day``'s to ``last_day``'s, the final one cut
    at ``last_day``."""
    first_day, last_day = pd.Timestamp(first_day), pd.Timestamp(last_day).normalize()
    months = pd.period_range(first_day, last_day, freq="M")
    return [min(m.end_time.normalize(), last_day) for m in months]


#: The score columns of :func:`monthly_states` (R, F, M: the digits of an RFM code).
SCORES = ("r_score", "f_score", "m_score")
#: Every RFM code ("111" to "555") at ``(r - 1) * 25 + (f - 1) * 5 + (m - 1)``.
_RFM_CODES = np.array([f"{r}{f}{m}" for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)],
                      dtype=object)  # fmt: skip
#: The columns of :func:`monthly_states`.
MONTHLY_COLUMNS = ["month_end", "customer_id", "recency", "frequency", "monetary", "r_score",
                   "f_score", "m_score", "state"]  # fmt: skip


def monthly_states(
    orders: pd.DataFrame,
    ends: Sequence[pd.Timestamp],
    window_months: int | None = None,
    thresholds: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Every customer's scores and state at each of ``ends``: long table ``month_end,
    customer_id, recency, frequency, monetary, r_score, f_score, m_score, state``;
    ``attrs["month_ends"]`` lists ``ends``.

    Each end is exactly :func:`states_at` of that end (the same :func:`rfm.rfm_values` and
    :func:`rfm.score_values` on the same invoices, in the same order), computed on arrays
    (no table per end) and put together into one table at the end."""
    if not len(ends):
        out = pd.DataFrame(columns=MONTHLY_COLUMNS)
        out.attrs["month_ends"] = []
        return out
    arrays = rfm.InvoiceArrays.of(orders)  # once for every month end
    cells = rfm.segment_lookup()
    names = pd.array([*rfm.SEGMENT_ORDER, LAPSED], dtype=str)  # states as codes until the end
    cell_codes = np.vectorize(list(names).index, otypes=[np.int64])(cells)
    metrics = ("recency", "frequency", "monetary", "r_score", "f_score", "m_score")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("code", "state", *metrics)}
    sizes, lapsed_any = [], False
    for end in ends:
        as_of, known, scored_on = _rows_at(arrays, end, window_months)
        values = rfm.rfm_values(arrays, as_of, scored_on)
        scores = rfm.score_values(values, thresholds)
        columns = {
            **{m: values[m] for m in rfm.METRICS},
            **{rfm.SCORE_COLUMNS[m]: scores[m] for m in rfm.METRICS},
        }
        state = cell_codes[scores["recency"] - 1, scores["frequency"] - 1]
        code = values["code"]
        if window_months:  # every customer who bought up to then, lapsed if not scored
            ever = np.unique(arrays.codes[known & arrays.purchase])
            if len(ever) > len(code):
                lapsed_any = True
                at = np.searchsorted(ever, code)
                for name, column in columns.items():
                    full = np.full(len(ever), np.nan)
                    full[at] = column
                    columns[name] = full
                full_state = np.full(len(ever), len(names) - 1)
                full_state[at] = state
                state = full_state
            code = ever
        parts["code"].append(code)
        parts["state"].append(state)
        for name in metrics:
            parts[name].append(columns[name])
        sizes.append(len(code))
    if lapsed_any:  # as a table per end put together: a column with a gap is float
        for name in metrics:
            parts[name] = [np.asarray(a, dtype=np.float64) for a in parts[name]]
    month_end = pd.DatetimeIndex([pd.Timestamp(e) for e in ends])
    code = np.concatenate(parts["code"])
    ids = pd.Index(arrays.ids).take(code) if len(code) else pd.Index(arrays.ids[code])
    if 0 in sizes:  # a month end without customers: the ids are objects, as tables put
        ids = ids.astype(object)  # together with an empty one give (the same values)
    out = pd.DataFrame(
        {
            "month_end": month_end[np.repeat(np.arange(len(ends)), sizes)],
            "customer_id": ids,
            **{name: np.concatenate(parts[name]) for name in metrics},
            "state": names.take(np.concatenate(parts["state"])),
        }
    )
    out.attrs["month_ends"] = list(month_end)
    return out


def segment_sizes(monthly: pd.DataFrame) -> pd.DataFrame:
    """Customers per state and month end (every state of :data:`STATES` but :data:`NEW`, 0
    when empty): columns ``month_end, state, customers``."""
    states = [s for s in STATES if s != NEW]
    if monthly.empty:
        return pd.DataFrame({"month_end": [], "state": [], "customers": []})
    # counted on codes (a groupby of the long table costs ~30 ms at full scale): the month
    # ends that have rows, in order, each with every state in STATES' order
    ends, end_code = np.unique(monthly["month_end"].to_numpy(), return_inverse=True)
    # codes of the states by factorizing (Arrow text: ~5x faster than a Categorical of it)
    codes, names = pd.factorize(monthly["state"])
    state = np.append(pd.Index(states).get_indexer(names), -1)[codes].astype(np.int64)
    k, known = len(states), state >= 0
    counts = np.bincount(end_code[known] * k + state[known], minlength=len(ends) * k)
    return pd.DataFrame(
        {
            "month_end": pd.DatetimeIndex(ends).repeat(k),
            "state": pd.Index(states).take(np.tile(np.arange(k), len(ends))),
            "customers": counts.astype(np.int64),
        }
    )
