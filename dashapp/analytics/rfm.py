"""Recency, frequency, monetary per customer, deterministic 1-5 scores and named segments.

Pure: pandas and numpy only. Input is the invoice-level "orders" table
(``dashapp.ingest.parts.invoice_table``); see ``docs/architecture.md`` for the column contracts.

Scoring policy ("average rank"): each customer's value is ranked among all customers with
ties given their average rank; the score is ``ceil(5 * rank / n)`` (5 = best). Equal values
therefore always get equal scores, the result does not depend on row order, and a value shared
by many customers (28% of Online Retail II customers buy once) lands in one score instead of
breaking ``qcut``. Bins can be uneven when ties are massive; :func:`score_bins` reports the
actual edges and sizes. Custom thresholds replace the ranks when given. Whatever the policy, a
customer with one purchase invoice has frequency score 1: one invoice is never "frequent".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

METRICS = ("recency", "frequency", "monetary")
SCORE_COLUMNS = {"recency": "r_score", "frequency": "f_score", "monetary": "m_score"}

#: The standard R x F segment grid (scores 1-5, 5 = best); M does not enter. Each row covers
#: a rectangle of the grid; together they cover all 25 cells exactly once.
SEGMENT_GRID = pd.DataFrame(
    [
        (
            "Champions",
            (5, 5),
            (4, 5),
            "Bought recently, buy often and spend the most.",
            "Reward them: early access, loyalty perks, ask for reviews and referrals.",
        ),
        (
            "Loyal Customers",
            (3, 4),
            (4, 5),
            "Buy often and respond to promotions.",
            "Upsell higher-value products; enrol in the loyalty programme.",
        ),
        (
            "Potential Loyalists",
            (4, 5),
            (2, 3),
            "Recent customers with a few purchases.",
            "Offer membership or a loyalty programme; recommend related products.",
        ),
        (
            "New Customers",
            (5, 5),
            (1, 1),
            "Bought very recently, only once.",
            "Onboard them well: welcome series, early support, a second-purchase incentive.",
        ),
        (
            "Promising",
            (4, 4),
            (1, 1),
            "Recent one-time buyers.",
            "Build brand awareness; offer free trials or small incentives.",
        ),
        (
            "Need Attention",
            (3, 3),
            (3, 3),
            "Average recency and frequency; may slip without a nudge.",
            "Limited-time offers and recommendations based on past purchases.",
        ),
        (
            "About To Sleep",
            (3, 3),
            (1, 2),
            "Below-average recency and frequency; will be lost without reactivation.",
            "Share popular products and time-limited discounts; reconnect.",
        ),
        (
            "At Risk",
            (1, 2),
            (3, 4),
            "Bought often, but a long time ago.",
            "Personalised win-back emails, renewals, helpful resources.",
        ),
        (
            "Can't Lose Them",
            (1, 2),
            (5, 5),
            "Were among the most frequent buyers, have not come back for a long time.",
            "Win them back with new products or a personal call; do not lose them to a competitor.",
        ),
        (
            "Hibernating",
            (1, 2),
            (1, 2),
            "Last purchase long ago, few orders.",
            "Offer relevant products and special discounts; otherwise spend little on them.",
        ),
    ],
    columns=["segment", "r_range", "f_range", "description", "action"],
)

#: Segment names in the order they are shown (best first).
SEGMENT_ORDER = tuple(SEGMENT_GRID["segment"])


def segment_lookup(grid: pd.DataFrame = SEGMENT_GRID) -> np.ndarray:
    """5 x 5 array of segment names indexed ``[r_score - 1, f_score - 1]``.

    Raises ValueError if the grid leaves a cell empty or assigns a cell twice.
    """
    cells = np.full((5, 5), None, dtype=object)
    for row in grid.itertuples(index=False):
        (r0, r1), (f0, f1) = row.r_range, row.f_range
        for r in range(r0, r1 + 1):
            for f in range(f0, f1 + 1):
                if cells[r - 1, f - 1] is not None:
                    raise ValueError(
                        f"Segment grid assigns cell R={r}, F={f} twice "
                        f"({cells[r - 1, f - 1]!r} and {row.segment!r})."
                    )
                cells[r - 1, f - 1] = row.segment
    empty = [(r + 1, f + 1) for r in range(5) for f in range(5) if cells[r, f] is None]
    if empty:
        raise ValueError(f"Segment grid leaves cells without a segment: {empty}")
    return cells


#: The standard grid's cells, looked up once.
_STANDARD_CELLS = segment_lookup()


def customer_rfm(orders: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Recency, frequency and monetary value per customer.

    Parameters
    ----------
    orders : DataFrame
        Invoice-level table (``dashapp.ingest.parts.invoice_table``), possibly filtered. Rows without a
        customer id are ignored.
    as_of : date-like, optional
        Reference date for recency and tenure. Default: the day after the last invoice in
        ``orders``.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (str), sorted by id, one row per customer with at
    least one purchase invoice in ``orders``. Columns: ``recency`` (int, days from the last
    purchase's day to ``as_of``), ``frequency`` (int, distinct purchase invoices), ``monetary``
    (float, GBP, net of the customer's cancellations in ``orders``), ``first_purchase``,
    ``last_purchase`` (datetime64), ``tenure`` (int, days from the first purchase's day to
    ``as_of``), ``aov`` (float, GBP per purchase invoice). ``attrs["as_of"]`` holds the date.
    """
    as_of = _as_of_date(orders, as_of)
    return rfm_at(InvoiceArrays.of(orders), as_of)


@dataclass(frozen=True)
class InvoiceArrays:
    """The columns RFM reads, as arrays, for the invoices with a customer id: built once,
    scored as of many days (:func:`rfm_at`; the migration history scores 25 month ends).

    ``codes`` index ``ids`` (the customer ids as text, sorted); ``purchase`` is False on
    cancellation invoices; ``dates`` are the invoice times (datetime64[ns]), ``days`` their
    days (int, days since 1970-01-01)."""

    ids: np.ndarray
    codes: np.ndarray
    purchase: np.ndarray
    revenue: np.ndarray
    dates: np.ndarray
    days: np.ndarray

    @classmethod
    def of(cls, orders: pd.DataFrame) -> InvoiceArrays:
        # the four columns read, each masked alone (a mask of the whole table copied every
        # column, the invoices' text too: ~0.2 s per 5M invoices)
        known = orders["customer_id"].notna().to_numpy()
        every = bool(known.all())

        def column(name: str, dtype) -> np.ndarray:
            values = orders[name].to_numpy(dtype=dtype)
            return values if every else values[known]

        ids = orders["customer_id"]
        codes, names = _sorted_codes(ids if every else ids[known])
        dates = column("invoice_date", "datetime64[ns]")
        return cls(
            ids=names,
            codes=codes,
            purchase=~column("is_cancellation", bool),
            revenue=column("revenue", np.float64),
            dates=dates,
            days=dates.astype("datetime64[D]").astype(np.int64),
        )

    def before(self, day: pd.Timestamp, since: pd.Timestamp | None = None) -> np.ndarray:
        """Mask of the invoices before ``day`` (and at or after ``since``)."""
        mask = self.dates < np.datetime64(day, "ns")
        if since is not None:
            mask &= self.dates >= np.datetime64(since, "ns")
        return mask


def _sorted_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(ids.astype(str), sort=True)`` (codes, and the ids as text, sorted, as
    an object array), from a categorical's codes when it is one: the text of its categories
    in use is sorted, not the text of every row."""
    if isinstance(ids.dtype, pd.CategoricalDtype) and len(ids):
        cat_codes = ids.cat.codes.to_numpy()
        n_categories = len(ids.cat.categories)
        if (cat_codes >= 0).all():  # the categories in use, in O(rows) (np.unique sorts)
            used = np.flatnonzero(np.bincount(cat_codes, minlength=n_categories))
        else:
            used = np.unique(cat_codes)
        names = np.asarray(ids.cat.categories.astype(str), dtype=object)[used]
        order = np.argsort(names, kind="stable")
        if len(set(names)) == len(names):  # else two categories read as one text
            remap = np.empty(len(ids.cat.categories), dtype=np.int64)
            remap[used[order]] = np.arange(len(used))
            return remap[cat_codes], names[order]
    codes, uniques = pd.factorize(ids.astype(str), sort=True)
    return codes, np.asarray(uniques)


def rfm_at(arrays: InvoiceArrays, as_of: pd.Timestamp, rows: np.ndarray | None = None):
    """:func:`customer_rfm` of the invoices ``rows`` (a mask; all when None) as of ``as_of``.

    Each customer's sums add the same invoices in the same order whichever rows are chosen,
    so a subset gives exactly what :func:`customer_rfm` gives on that subset's table."""
    values = rfm_values(arrays, as_of, rows)
    columns = {k: v for k, v in values.items() if k != "code"}
    columns["first_purchase"] = columns["first_purchase"].astype("datetime64[ns]")
    columns["last_purchase"] = columns["last_purchase"].astype("datetime64[ns]")
    if len(arrays.codes if rows is None else arrays.codes[rows]):
        index = pd.Index(arrays.ids[values["code"]], name="customer_id")
    else:  # no invoice at all (not: invoices but no purchase)
        index = pd.Index([], name="customer_id", dtype=str)
    out = pd.DataFrame(columns, index=index)
    out.attrs["as_of"] = as_of
    return out


def rfm_values(
    arrays: InvoiceArrays, as_of: pd.Timestamp, rows: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The arrays :func:`rfm_at` makes its table of (no DataFrame: the migration history
    computes 25 month ends): ``code`` (the customers with a purchase among ``rows``, indexes
    of ``arrays.ids``, increasing), then ``recency, frequency, monetary, first_purchase,
    last_purchase`` (datetime64[D]), ``tenure``, ``aov``, one value per ``code``."""
    codes, purchase = arrays.codes, arrays.purchase
    revenue, days = arrays.revenue, arrays.days
    if rows is not None:
        codes, purchase, revenue, days = codes[rows], purchase[rows], revenue[rows], days[rows]
    n = len(arrays.ids) if len(codes) else 0
    frequency = np.bincount(codes[purchase], minlength=n)
    monetary = np.bincount(codes, weights=revenue, minlength=n).astype(np.float64, copy=False)
    big = np.iinfo(np.int64).max
    first = np.full(n, big)
    last = np.full(n, -big)
    np.minimum.at(first, codes[purchase], days[purchase])
    np.maximum.at(last, codes[purchase], days[purchase])
    has = frequency > 0
    as_of_day = np.datetime64(as_of.date(), "D").astype(np.int64)
    frequency = frequency[has].astype(np.int64)
    monetary = np.round(monetary[has], 2)
    first, last = first[has], last[has]
    return {
        "code": np.flatnonzero(has),
        "recency": (as_of_day - last).astype(np.int64),
        "frequency": frequency,
        "monetary": monetary,
        "first_purchase": first.astype("datetime64[D]"),
        "last_purchase": last.astype("datetime64[D]"),
        "tenure": (as_of_day - first).astype(np.int64),
        "aov": np.round(monetary / frequency, 2) if len(frequency) else np.zeros(0),
    }


def _as_of_date(orders: pd.DataFrame, as_of) -> pd.Timestamp:
    if as_of is not None and as_of != "":
        return pd.Timestamp(as_of).normalize()
    if orders.empty:
        return pd.Timestamp.today().normalize()
    return orders["invoice_date"].max().normalize() + pd.Timedelta(days=1)


def _rank_scores(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """1-5 scores from average ranks: equal values get equal scores, order-independent."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    v = values if higher_is_better else -values
    return np.clip(np.ceil(5 * average_ranks(v) / n), 1, 5).astype(np.int8)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` (no NaN), ties given their average rank: exactly
    ``pandas.Series.rank(method="average")`` (a tie of ranks a+1..a+d gets a + (d+1)/2, a
    value a float holds exactly), without a Series per call. Whole numbers over a span of at
    most a few times ``n`` (recency days, purchase counts) are counted instead of sorted."""
    n = len(values)
    if n:
        low, high = values.min(), values.max()
        if high - low <= 4 * n + 1024 and np.array_equal(values, np.floor(values)):
            at = (values - low).astype(np.int64)
            ties = np.bincount(at)
            below = np.cumsum(ties) - ties  # values smaller than each, i.e. a tie's start
            return (2 * below[at] + 1 + ties[at]) / 2.0  # (start + 1 + stop) / 2, as below
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(n, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(first)
    stops = np.append(starts[1:], n)
    ranks = np.empty(n)
    ranks[order] = np.repeat((starts + 1 + stops) / 2.0, stops - starts)
    return ranks


def _threshold_scores(values: np.ndarray, cuts: Sequence[float], higher_is_better: bool):
    edges = np.asarray(sorted(float(e) for e in cuts))
    if len(edges) != 4:
        raise ValueError(
            "Custom thresholds need exactly 4 increasing values per metric "
            f"(they split 5 scores); got {len(edges)}."
        )
    if higher_is_better:  # value >= edge[i] moves up a score
        return (1 + np.searchsorted(edges, values, side="right")).astype(np.int8)
    # recency: value <= edge[0] days is best
    return (5 - np.searchsorted(edges, values, side="left")).astype(np.int8)


def score_values(
    values: Mapping[str, np.ndarray], thresholds: Mapping[str, Sequence[float]] | None = None
) -> dict[str, np.ndarray]:
    """The 1-5 scores (int8) of :func:`rfm_scores` per metric of ``values`` (``recency``,
    ``frequency``, ``monetary``: one array each, one value per customer): average ranks, or the
    metric's custom cut points; one purchase invoice always scores frequency 1."""
    thresholds = thresholds or {}
    scores = {}
    for metric in METRICS:
        v = np.asarray(values[metric], dtype=np.float64)
        better_high = metric != "recency"
        if thresholds.get(metric):
            scores[metric] = _threshold_scores(v, thresholds[metric], better_high)
        else:
            scores[metric] = _rank_scores(v, better_high)
    # One invoice is never "frequent": when many customers buy once, their average rank can
    # land above score 1 (more than 40 % of them: score 2 or 3, "At Risk: bought often").
    scores["frequency"] = np.where(
        np.asarray(values["frequency"]) <= 1, np.int8(1), scores["frequency"]
    ).astype(np.int8)
    return scores


def rfm_scores(
    customers: pd.DataFrame,
    thresholds: Mapping[str, Sequence[float]] | None = None,
    grid: pd.DataFrame = SEGMENT_GRID,
) -> pd.DataFrame:
    """Add 1-5 scores, the RFM code and the segment to a customer table.

    Parameters
    ----------
    customers : DataFrame from :func:`customer_rfm`.
    thresholds : mapping metric -> 4 increasing cut points, optional
        Custom score boundaries, e.g. ``{"frequency": [2, 3, 5, 10]}`` (a value at or above
        10 scores 5). For recency the cut points are days, smaller is better (``[14, 30, 90,
        180]``: at most 14 days scores 5). Metrics not given use the average-rank policy.

    Returns
    -------
    Copy of ``customers`` with ``r_score``, ``f_score``, ``m_score`` (int8, 1-5, 5 = best),
    ``rfm_code`` (str, e.g. "545") and ``segment`` (str).
    """
    out = customers.copy()
    scores = score_values({m: out[m].to_numpy() for m in METRICS}, thresholds)
    for metric, col in SCORE_COLUMNS.items():
        out[col] = scores[metric]
    out["rfm_code"] = (
        out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    )
    cells = _STANDARD_CELLS if grid is SEGMENT_GRID else segment_lookup(grid)
    out["segment"] = (
        cells[out["r_score"].to_numpy() - 1, out["f_score"].to_numpy() - 1]
        if len(out)
        else pd.Series([], dtype=str)
    )
    out["segment"] = out["segment"].astype(str)
    return out


def score_bins(scored: pd.DataFrame) -> pd.DataFrame:
    """Actual bin edges and sizes per metric and score.

    Returns a DataFrame with columns ``metric, score, min, max, customers``: 15 rows, scores
    5..1 per metric; a score no customer got has 0 customers and NaN edges.
    """
    rows = []
    for metric, col in SCORE_COLUMNS.items():
        values = scored[metric].to_numpy(dtype=np.float64)
        scores = scored[col].to_numpy(dtype=np.int64) - 1 if len(scored) else np.zeros(0, int)
        lo = np.full(5, np.inf)
        hi = np.full(5, -np.inf)
        np.minimum.at(lo, scores, values)
        np.maximum.at(hi, scores, values)
        n = np.bincount(scores, minlength=5)
        for score in range(5, 0, -1):
            k = score - 1
            rows.append(
                (metric, score, lo[k] if n[k] else np.nan, hi[k] if n[k] else np.nan, int(n[k]))
            )
    return pd.DataFrame(rows, columns=["metric", "score", "min", "max", "customers"])


def segment_summary(scored: pd.DataFrame, grid: pd.DataFrame = SEGMENT_GRID) -> pd.DataFrame:
    """Customers, revenue and mean R/F/M per segment, in grid order (all segments listed).

    Columns: ``segment, customers, customer_share, revenue, revenue_share, recency,
    frequency, monetary, description, action`` (shares in 0..1; means of the raw values, NaN
    for an empty segment).
    """
    names = list(grid["segment"])
    codes = (
        pd.Categorical(scored["segment"], categories=names).codes
        if len(scored)
        else np.zeros(0, dtype=np.int8)
    )
    k = len(names)
    customers = np.bincount(codes, minlength=k)
    sums = {
        m: np.bincount(codes, weights=scored[m].to_numpy(dtype=np.float64), minlength=k)
        for m in METRICS
    }
    n, revenue_total = customers.sum(), sums["monetary"].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "segment": names,
                "customers": customers,
                "customer_share": customers / n if n else np.zeros(k),
                "revenue": sums["monetary"],
                "revenue_share": sums["monetary"] / revenue_total if revenue_total else np.zeros(k),
                "recency": sums["recency"] / customers,
                "frequency": sums["frequency"] / customers,
                "monetary": sums["monetary"] / customers,
                "description": grid["description"].to_numpy(),
                "action": grid["action"].to_numpy(),
            }
        )
    return out


def rf_grid_counts(scored: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Customers and revenue per (R score, F score) cell: two 5x5 arrays ``[r-1, f-1]``."""
    counts = np.zeros((5, 5), dtype=np.int64)
    revenue = np.zeros((5, 5), dtype=np.float64)
    if len(scored):
        r = scored["r_score"].to_numpy(dtype=np.int64) - 1
        f = scored["f_score"].to_numpy(dtype=np.int64) - 1
        np.add.at(counts, (r, f), 1)
        np.add.at(revenue, (r, f), scored["monetary"].to_numpy(dtype=np.float64))
    return counts, revenue
