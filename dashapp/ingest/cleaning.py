"""The cleaning rules: which exist (:data:`RULES`, in the order they apply), which are on
(:class:`CleaningRules`), and what the ledger reports for each.

The rules themselves are written once, as an ibis expression run by the engine that holds the
lines (:mod:`dashapp.ingest.engine.pipeline`); the result is the invoice table ("orders" in
``docs/architecture.md``) and a ledger with one row per rule: its plain-language meaning, the
number of lines it touched and the money involved (sum of quantity x price). Nothing is dropped
silently: every line that leaves is counted in exactly one ledger row.

:func:`filter_transactions` filters an invoice table by date range and countries.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

#: Stock codes that are not products: postage, carriage, fees, manual adjustments, tests,
#: samples. Compared case-insensitively after stripping. ``gift_0001_*`` vouchers are matched
#: by :data:`NON_PRODUCT_PATTERNS`.
DEFAULT_NON_PRODUCT_CODES: tuple[str, ...] = (
    "POST",
    "DOT",
    "C2",
    "C3",
    "M",
    "D",
    "S",
    "B",
    "CRUK",
    "PADS",
    "BANK CHARGES",
    "AMAZONFEE",
    "ADJUST",
    "ADJUST2",
    "TEST001",
    "TEST002",
    "DCGSSBOY",
    "DCGSSGIRL",
    "SP1002",
)
#: Regular expressions (case-insensitive, full match) for families of non-product codes.
NON_PRODUCT_PATTERNS: tuple[str, ...] = (r"GIFT_\d+_\d+",)


@dataclass(frozen=True)
class CleaningRules:
    """Which cleaning rules to apply. Every rule can be switched off.

    The instance is hashable and has a short text form (:meth:`key`) so that it can be part
    of a cache key.
    """

    drop_duplicates: bool = True
    drop_bad_debt: bool = True
    drop_non_product: bool = True
    drop_non_positive_price: bool = True
    drop_write_offs: bool = True
    net_cancellations: bool = True
    non_product_codes: tuple[str, ...] = DEFAULT_NON_PRODUCT_CODES

    def flags(self) -> str:
        """The on/off switches as a string of 0/1 in field order, e.g. ``"111111"``.

        Together with the default non-product codes this is the rule set's cache key."""
        return "".join("1" if getattr(self, name) else "0" for name in _FLAG_FIELDS)

    @classmethod
    def from_flags(cls, flags: str) -> CleaningRules:
        """Inverse of :meth:`flags` (default non-product codes)."""
        if len(flags) != len(_FLAG_FIELDS) or set(flags) - {"0", "1"}:
            raise ValueError(
                f"Cleaning rule flags must be {len(_FLAG_FIELDS)} characters of 0/1, got {flags!r}."
            )
        return cls(**{name: ch == "1" for name, ch in zip(_FLAG_FIELDS, flags, strict=True)})

    def with_changes(self, **changes) -> CleaningRules:
        return replace(self, **changes)


_FLAG_FIELDS = tuple(f.name for f in fields(CleaningRules) if f.name != "non_product_codes")


#: One entry per ledger row, in the order the rules are applied: (rule id, title, meaning,
#: action). ``action`` says what happens to the affected lines. The docs page renders this.
RULES: tuple[tuple[str, str, str, str], ...] = (
    (
        "duplicates",
        "Exact duplicate lines",
        "Lines identical in every column to an earlier line (the two Excel sheets of Online "
        "Retail II overlap on 2010-12-01..09, and some invoices repeat a line).",
        "removed",
    ),
    (
        "bad_debt",
        "Bad-debt adjustments",
        "Invoices starting with 'A' ('Adjust bad debt'): accounting entries, not sales.",
        "removed",
    ),
    (
        "non_product",
        "Non-product stock codes",
        "Postage, carriage, bank charges, Amazon fees, manual adjustments, discounts, samples, "
        "tests and gift vouchers (configurable list).",
        "removed",
    ),
    (
        "non_positive_price",
        "Zero or negative prices",
        "Lines with a unit price of 0 or below (free items, stock adjustments).",
        "removed",
    ),
    (
        "write_offs",
        "Stock write-offs",
        "Negative quantities on invoices that are not cancellations ('damaged', 'lost', ...): "
        "stock movements, not customer returns.",
        "removed",
    ),
    (
        "cancellations",
        "Cancellations netted",
        "Lines of 'C' invoices (returns) stay in the data with negative quantity, so each "
        "customer's revenue is net of returns.",
        "netted",
    ),
    (
        "unmatched_returns",
        "Returns without a matching purchase",
        "The part of a customer's return that exceeds what the same customer bought of the same "
        "product earlier in the data (purchases made before the data starts). Removed so that no "
        "customer gets negative revenue from them.",
        "removed",
    ),
    (
        "cancelled_orders",
        "Orders cancelled in full",
        "Each matched return is booked against the order it cancels (the customer's latest "
        "earlier purchase of that product: last in, first out), so a partial return lowers "
        "that order's value. An order whose every unit came back is no purchase: it counts in "
        "no frequency, recency, tenure, spend model, RFM score or cohort. Money shown: the "
        "orders' value before the returns; the orders stay in the data as cancelled with no "
        "revenue, and their returns keep nothing, so total revenue is unchanged.",
        "kept as cancelled, not counted as purchases",
    ),
    (
        "cancellations_dropped",
        "Cancellations removed",
        "Rule 'net cancellations' is off: all 'C' invoice lines are removed and revenue is gross.",
        "removed",
    ),
    (
        "missing_customer",
        "Lines without a customer id",
        "Kept for revenue totals and the revenue trend; excluded from every customer analytic "
        "(RFM, CLV, cohorts, clusters).",
        "kept, excluded from customer analytics",
    ),
)
RULE_INFO = {rid: (title, meaning, action) for rid, title, meaning, action in RULES}

LEDGER_COLUMNS = ["rule", "title", "meaning", "action", "enabled", "rows", "money"]


def filter_transactions(frame: pd.DataFrame, start=None, end=None, countries=None) -> pd.DataFrame:
    """Rows of ``frame`` (lines or orders) within a date range and a set of countries.

    ``start`` and ``end`` are dates (str ``YYYY-MM-DD``, date or Timestamp) and both inclusive:
    ``end`` keeps the whole day, so ``start == end`` selects one day. ``countries`` is an
    iterable of names; ``None`` or empty means all countries.

    A frame sorted by ``invoice_date`` (missing dates last), as the invoice table and the
    product lines are, gives its date range as a slice found by binary search (no copy of its
    columns: at 100M lines each range of the 5M-row invoice table was a ``.loc`` copy); any
    other frame is masked. Both give the same rows.
    """
    dates = frame["invoice_date"]
    low = pd.Timestamp(start).normalize() if start is not None and start != "" else None
    high = (
        pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
        if end is not None and end != ""
        else None
    )
    if low is not None or high is not None:
        span = _sorted_span(dates)
        if span is not None:
            values = dates.to_numpy()[:span]
            first = 0 if low is None else int(np.searchsorted(values, low.to_datetime64()))
            stop = span if high is None else int(np.searchsorted(values, high.to_datetime64()))
            frame = frame if (first, stop) == (0, len(frame)) else frame.iloc[first:stop]
            low = high = None
    mask = np.ones(len(frame), dtype=bool)
    dates = frame["invoice_date"]
    if low is not None:
        mask &= (dates >= low).to_numpy()
    if high is not None:
        mask &= (dates < high).to_numpy()
    if countries:
        mask &= frame["country"].isin(list(countries)).to_numpy()
    return frame if mask.all() else frame.loc[mask]


def _sorted_span(dates: pd.Series) -> int | None:
    """How many leading dates of ``dates`` are present, when they ascend and every missing
    date follows them (the order a binary search needs); None otherwise (or not datetime64)."""
    if not (isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M"):
        return None
    values = dates.to_numpy()
    missing = np.isnat(values)
    span = len(values) - int(missing.sum())
    if missing[:span].any():
        return None
    ticks = values[:span].view(np.int64)
    return span if bool((ticks[1:] >= ticks[:-1]).all()) else None
