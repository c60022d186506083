"""Cleaning of canonical transaction lines, with a ledger of what each rule did.

``clean(lines, rules)`` applies the rules of :class:`CleaningRules` in a fixed order and
returns the cleaned lines and a ledger: one row per rule with its plain-language meaning,
the number of lines it touched and the money (sum of ``line_total``, GBP for Online Retail II)
involved. Nothing is dropped silently: every line that leaves the frame is counted in exactly
one ledger row.

``invoice_table(clean_lines)`` collapses lines to one row per invoice (the "orders" table of
``docs/architecture.md``); every customer-level analytic reads that table.

Pure: pandas and numpy only.
"""

from __future__ import annotations

import re
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


def _category_mask(series: pd.Series, predicate) -> np.ndarray:
    """Evaluate ``predicate`` on the categories of a categorical once, then map to rows.

    Returns a boolean ndarray of the series' length; missing values are False.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        hit = np.asarray(predicate(pd.Index(cats.astype(str))), dtype=bool)
        codes = series.cat.codes.to_numpy()
        return np.where(codes >= 0, hit[codes], False)
    values = series.astype("string")
    return (
        np.asarray(predicate(pd.Index(values.fillna(""))), dtype=bool) & series.notna().to_numpy()
    )


def cancellation_mask(invoices: pd.Series) -> np.ndarray:
    """True where the invoice number starts with 'C' (a cancellation / return)."""
    return _category_mask(invoices, lambda s: s.str.upper().str.startswith("C"))


def _non_product_mask(stock_codes: pd.Series, codes: tuple[str, ...]) -> np.ndarray:
    wanted = {c.strip().upper() for c in codes}
    pattern = re.compile("|".join(f"(?:{p})" for p in NON_PRODUCT_PATTERNS), re.IGNORECASE)

    def predicate(s: pd.Index) -> np.ndarray:
        up = s.str.strip().str.upper()
        return up.isin(wanted) | np.array([bool(pattern.fullmatch(v)) for v in up], dtype=bool)

    return _category_mask(stock_codes, predicate)


def _unmatched_return_units(lines: pd.DataFrame, is_cancel: np.ndarray) -> np.ndarray:
    """Units of each line's return that no earlier purchase of the same customer and stock
    code can explain.

    For each (customer, stock code), in time order (purchases before returns at equal
    timestamps), the running excess ``returned_so_far - bought_so_far`` is tracked; its running
    maximum (floored at 0) is the number of returned units without a matching purchase. Later
    purchases cannot explain earlier returns. Returns an int array (0 for other lines).
    """
    out = np.zeros(len(lines), dtype=np.int64)
    has_id = lines["customer_id"].notna().to_numpy()
    ret = is_cancel & has_id & (lines["quantity"].to_numpy() < 0)
    if not ret.any():
        return out
    cust = (
        lines["customer_id"].cat.codes.to_numpy()
        if isinstance(lines["customer_id"].dtype, pd.CategoricalDtype)
        else pd.factorize(lines["customer_id"])[0]
    )
    stock = (
        lines["stock_code"].cat.codes.to_numpy()
        if isinstance(lines["stock_code"].dtype, pd.CategoricalDtype)
        else pd.factorize(lines["stock_code"])[0]
    )
    pair = cust.astype(np.int64) * (int(stock.max()) + 2) + stock.astype(np.int64)
    # Only (customer, stock code) pairs that have a return need the running balance.
    relevant = has_id & pd.Series(pair).isin(np.unique(pair[ret])).to_numpy()
    idx = np.flatnonzero(relevant)
    qty = lines["quantity"].to_numpy()[idx].astype(np.int64)
    when = lines["invoice_date"].to_numpy()[idx].astype("datetime64[ns]").astype(np.int64)
    is_ret = ret[idx]
    order = np.lexsort((is_ret, when, pair[idx]))
    idx, qty, is_ret, p = idx[order], qty[order], is_ret[order], pair[idx][order]
    bought = np.where(is_ret, 0, np.maximum(qty, 0))
    returned = np.where(is_ret, -qty, 0)
    frame = pd.DataFrame({"p": p, "bal": returned - bought})
    excess = frame.groupby("p", sort=False)["bal"].cumsum()
    running_max = excess.groupby(frame["p"], sort=False).cummax().clip(lower=0).to_numpy()
    prev = np.concatenate(([0], running_max[:-1]))
    first_of_group = np.concatenate(([True], p[1:] != p[:-1]))
    prev[first_of_group] = 0
    unmatched = (running_max - prev).astype(np.int64)
    out[idx] = np.where(is_ret, unmatched, 0)
    return out


def _column_codes(series: pd.Series) -> np.ndarray:
    """An int64 per row that is equal exactly when the values are equal (NaN equals NaN)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.int64)
    values = series.to_numpy()
    if values.dtype.kind == "f":
        values = np.where(np.isnan(values), np.nan, values + 0.0)  # one NaN, no -0.0
        return values.view(np.int64)
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    if values.dtype.kind == "M":
        return values.astype("datetime64[ns]").view(np.int64)
    return pd.factorize(series)[0].astype(np.int64)


def duplicate_mask(frame: pd.DataFrame) -> np.ndarray:
    """Same result as ``frame.duplicated(keep="first")``, several times faster.

    Rows are hashed from per-column integer codes; only rows whose hash occurs more than
    once (a few percent) are compared exactly with pandas.
    """
    n = len(frame)
    if n == 0:
        return np.zeros(0, dtype=bool)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in frame.columns:
            x = _column_codes(frame[col]).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = (h * np.uint64(1_000_003)) ^ (x ^ (x >> np.uint64(31)))
    candidates = pd.Series(h).duplicated(keep=False).to_numpy()
    out = np.zeros(n, dtype=bool)
    if candidates.any():
        idx = np.flatnonzero(candidates)
        out[idx] = frame.iloc[idx].duplicated(keep="first").to_numpy()
    return out


# One pass over the rules in ledger order: each rule sees what the earlier ones kept, and
# the ledger records them in that order; split, the keep mask and ledger would be passed around.
def clean(
    lines: pd.DataFrame, rules: CleaningRules | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the cleaning rules to canonical transaction lines.

    Parameters
    ----------
    lines : DataFrame, shape (n_lines, 9)
        Canonical lines as produced by ``loading.load_transactions``.
    rules : CleaningRules, optional
        Which rules to apply (all on by default).

    Returns
    -------
    clean_lines : DataFrame, shape (n_kept, 10)
        The kept lines with an added boolean column ``is_cancellation``; the index is reset.
    ledger : DataFrame, one row per rule
        Columns ``rule, title, meaning, action, enabled, rows, money``. ``rows`` is the number
        of lines affected and ``money`` the sum of their ``line_total`` (for unmatched returns:
        of the removed part). ``ledger.attrs`` holds ``rows_in`` and ``rows_out``.
    """
    rules = rules or CleaningRules()
    n = len(lines)
    keep = np.ones(n, dtype=bool)
    total = lines["line_total"].to_numpy(dtype=np.float64)
    is_cancel = cancellation_mask(lines["invoice"])
    rows: list[dict] = []

    def record(rule: str, enabled: bool, mask: np.ndarray | None, money: float | None = None):
        title, meaning, action = RULE_INFO[rule]
        count = int(mask.sum()) if mask is not None else 0
        if money is None:
            money = float(total[mask].sum()) if mask is not None else 0.0
        rows.append(
            {
                "rule": rule,
                "title": title,
                "meaning": meaning,
                "action": action,
                "enabled": enabled,
                "rows": count,
                "money": round(money, 2),
            }
        )

    def drop(rule: str, enabled: bool, mask_fn):
        nonlocal keep
        if not enabled:
            record(rule, False, None)
            return
        mask = mask_fn() & keep
        keep &= ~mask
        record(rule, True, mask)

    drop("duplicates", rules.drop_duplicates, lambda: duplicate_mask(lines))
    drop(
        "bad_debt",
        rules.drop_bad_debt,
        lambda: _category_mask(lines["invoice"], lambda s: s.str.upper().str.startswith("A")),
    )
    drop(
        "non_product",
        rules.drop_non_product,
        lambda: _non_product_mask(lines["stock_code"], rules.non_product_codes),
    )
    drop(
        "non_positive_price", rules.drop_non_positive_price, lambda: lines["price"].to_numpy() <= 0
    )
    drop(
        "write_offs", rules.drop_write_offs, lambda: (lines["quantity"].to_numpy() < 0) & ~is_cancel
    )

    quantity = lines["quantity"].to_numpy()
    new_qty = None
    if rules.net_cancellations:
        kept_cancel = is_cancel & keep
        record("cancellations", True, kept_cancel)
        kept_idx = np.flatnonzero(keep)
        unmatched = np.zeros(n, dtype=np.int64)
        unmatched[kept_idx] = _unmatched_return_units(
            lines.iloc[kept_idx].reset_index(drop=True), is_cancel[kept_idx]
        )
        touched = unmatched > 0
        # A return line whose whole quantity is unmatched leaves; a partly matched one keeps
        # its matched units.
        full = touched & (unmatched >= -quantity)
        removed_money = float((-unmatched[touched] * lines["price"].to_numpy()[touched]).sum())
        record("unmatched_returns", True, touched, money=removed_money)
        keep &= ~full
        partial = touched & ~full
        if partial.any():
            new_qty = quantity.astype(np.int64).copy()
            new_qty[partial] = quantity[partial] + unmatched[partial]
        record("cancellations_dropped", False, None)
    else:
        record("cancellations", False, None)
        record("unmatched_returns", False, None)
        drop("cancellations_dropped", True, lambda: is_cancel)

    missing = lines["customer_id"].isna().to_numpy() & keep
    record("missing_customer", True, missing)

    out = lines.loc[keep].copy()
    if new_qty is not None:
        q = new_qty[keep]
        out["quantity"] = q.astype(lines["quantity"].dtype)
        out["line_total"] = q * out["price"].to_numpy()
    out["is_cancellation"] = is_cancel[keep]
    out = out.reset_index(drop=True)
    ledger = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    ledger.attrs["rows_in"] = n
    ledger.attrs["rows_out"] = len(out)
    return out, ledger


def invoice_table(clean_lines: pd.DataFrame) -> pd.DataFrame:
    """Collapse cleaned lines to one row per invoice.

    Returns
    -------
    DataFrame, shape (n_invoices, 7)
        ``invoice, customer_id, invoice_date, country, revenue, is_cancellation, lines``;
        ``revenue`` is the net sum of ``line_total`` (GBP; negative for cancellations);
        sorted by ``invoice_date`` then ``invoice``.
    """
    codes, uniques = pd.factorize(clean_lines["invoice"], sort=False)
    first = np.unique(codes, return_index=True)[1]
    revenue = np.bincount(codes, weights=clean_lines["line_total"].to_numpy(), minlength=len(first))
    lines = np.bincount(codes, minlength=len(first))
    head = clean_lines.iloc[first]
    orders = pd.DataFrame(
        {
            "invoice": head["invoice"].to_numpy(),
            "customer_id": head["customer_id"].to_numpy(),
            "invoice_date": head["invoice_date"].to_numpy(),
            "country": head["country"].to_numpy(),
            "revenue": revenue,
            "is_cancellation": head["is_cancellation"].to_numpy(),
            "lines": lines.astype(np.int32),
        }
    )
    for col in ("invoice", "customer_id", "country"):
        if isinstance(clean_lines[col].dtype, pd.CategoricalDtype):
            orders[col] = pd.Categorical(orders[col], categories=clean_lines[col].cat.categories)
            orders[col] = orders[col].cat.remove_unused_categories()
    return orders.sort_values(["invoice_date", "invoice"], kind="stable").reset_index(drop=True)


def filter_transactions(frame: pd.DataFrame, start=None, end=None, countries=None) -> pd.DataFrame:
    """Rows of ``frame`` (lines or orders) within a date range and a set of countries.

    ``start`` and ``end`` are dates (str ``YYYY-MM-DD``, date or Timestamp) and both inclusive:
    ``end`` keeps the whole day, so ``start == end`` selects one day. ``countries`` is an
    iterable of names; ``None`` or empty means all countries.
    """
    mask = np.ones(len(frame), dtype=bool)
    dates = frame["invoice_date"]
    if start is not None and start != "":
        mask &= (dates >= pd.Timestamp(start).normalize()).to_numpy()
    if end is not None and end != "":
        mask &= (dates < pd.Timestamp(end).normalize() + pd.Timedelta(days=1)).to_numpy()
    if countries:
        mask &= frame["country"].isin(list(countries)).to_numpy()
    return frame if mask.all() else frame.loc[mask]
