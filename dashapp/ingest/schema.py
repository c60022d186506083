"""Canonical transaction schema and the header aliases accepted by the loader.

Pure module (no dash / flask). ``loading.load_transactions`` turns any supported file into a
DataFrame with exactly the columns of :data:`CANONICAL_COLUMNS`, in that order, with the dtypes
of :data:`DTYPES` (see docs/architecture.md).

Source headers are matched to canonical names with :func:`normalize_header`, which ignores case,
spaces, underscores, hyphens and dots, so ``Customer ID``, ``customer_id``, ``CUSTOMER-ID`` and
``CustomerID`` all mean ``customer_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# -- canonical column names ------------------------------------------------------------------
INVOICE = "invoice"
STOCK_CODE = "stock_code"
DESCRIPTION = "description"
QUANTITY = "quantity"
INVOICE_DATE = "invoice_date"
PRICE = "price"
CUSTOMER_ID = "customer_id"
COUNTRY = "country"
LINE_TOTAL = "line_total"


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column: its dtype, whether the source must provide it, its aliases."""

    name: str
    dtype: str
    doc: str
    required: bool = True
    aliases: tuple[str, ...] = ()
    default: str | None = None  # value used when an optional column is absent


COLUMN_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        INVOICE,
        "category",
        "Invoice number as text (category of str). A 'C' prefix marks a cancellation, "
        "an 'A' prefix a bad-debt adjustment.",
        aliases=("Invoice", "InvoiceNo", "Invoice Number", "Invoice ID", "Order ID", "OrderNo"),
    ),
    ColumnSpec(
        STOCK_CODE,
        "category",
        "Product code (category of str), stripped and upper-cased. Non-product codes such as "
        "POST, M, DOT, BANK CHARGES stay as they are. Missing when absent from the source.",
        required=False,
        aliases=("StockCode", "Stock Code", "SKU", "Product Code", "ProductID", "Item Code"),
    ),
    ColumnSpec(
        DESCRIPTION,
        "category",
        "Product description (category of str), stripped of surrounding whitespace; missing "
        "stays missing.",
        required=False,
        aliases=("Description", "Product Description", "Product Name", "Item Description"),
    ),
    ColumnSpec(
        QUANTITY,
        "int32",
        "Units on the line (int32). Negative for returns, cancellations and stock write-offs.",
        aliases=("Quantity", "Qty", "Units"),
    ),
    ColumnSpec(
        INVOICE_DATE,
        "datetime64[ns]",
        "Invoice timestamp (datetime64[ns], naive local time of the shop).",
        aliases=("InvoiceDate", "Invoice Date", "Date", "Order Date", "Timestamp"),
    ),
    ColumnSpec(
        PRICE,
        "float64",
        "Unit price (float64), in pounds sterling (GBP) for Online Retail II. Zero or negative "
        "for free items and bad-debt adjustments.",
        aliases=("Price", "UnitPrice", "Unit Price"),
    ),
    ColumnSpec(
        CUSTOMER_ID,
        "category",
        "Customer identifier (category of str): '13085', never '13085.0'. Missing stays "
        "missing (NaN): about a fifth of Online Retail II lines have no customer.",
        aliases=("Customer ID", "CustomerID", "Customer", "Customer Number", "Client ID"),
    ),
    ColumnSpec(
        COUNTRY,
        "category",
        "Customer's country (category of str) as written in the data ('EIRE', 'RSA', "
        "'Unspecified' ...). 'Unknown' when the source has no country column.",
        required=False,
        aliases=("Country", "Country Name"),
        default="Unknown",
    ),
    ColumnSpec(
        LINE_TOTAL,
        "float64",
        "quantity * price (float64), in the currency of price (GBP). Derived, never read.",
        required=False,
    ),
)

SPECS: dict[str, ColumnSpec] = {s.name: s for s in COLUMN_SPECS}

# -- what the loader accepts as values ------------------------------------------------------
#: Invoice dates before this day are refused (a typo, a spreadsheet's day 0 = 1900-01-00, a
#: placeholder such as 1900-01-01).
EARLIEST_DATE = "1990-01-01"
#: Invoice dates more than this many days after today are refused (a placeholder such as
#: 2099-12-31, a two-digit year read in the wrong century).
LATEST_DAYS_AHEAD = 366
#: Unit prices must be finite and at most this in absolute value (inf, -Infinity, 1e308 are
#: refused like empty prices: their totals overflow or dwarf every real amount).
MAX_ABS_PRICE = 1e9
#: Orders of all-numeric dates such as 05/01/2011 (ISO 2011-01-05 is never ambiguous).
DAY_FIRST = "dmy"
MONTH_FIRST = "mdy"
DATE_ORDERS: dict[str, str] = {
    DAY_FIRST: "day first (31/01/2011 = 31 January)",
    MONTH_FIRST: "month first (01/31/2011 = 31 January)",
}
#: The order assumed for a file given on the command line (``--data``) whose dates could be
#: read either way; the assumption is logged and shown. Uploads ask instead.
ASSUMED_DATE_ORDER = MONTH_FIRST
#: A reading option that travels in the column map (so it is part of the cache key and the
#: dataset version): ``{"date_order": "dmy" | "mdy" | "ask"}``. Absent: ambiguous dates are
#: read with :data:`ASSUMED_DATE_ORDER` and the assumption is reported; ``"ask"``: they are
#: refused with :class:`~dashapp.ingest.errors.AmbiguousDateOrder` (the upload page then
#: offers the choice).
DATE_ORDER_OPTION = "date_order"
DATE_ORDER_ASK = "ask"


def latest_date():
    """The last invoice date accepted: today + :data:`LATEST_DAYS_AHEAD` days."""
    import pandas as pd

    return pd.Timestamp.today().normalize() + pd.Timedelta(days=LATEST_DAYS_AHEAD)


def split_options(
    column_map: dict[str, str] | None,
) -> tuple[dict[str, str] | None, str | None]:
    """(column map without reading options, date order option or None)."""
    if not column_map or DATE_ORDER_OPTION not in column_map:
        return column_map, None
    rest = {k: v for k, v in column_map.items() if k != DATE_ORDER_OPTION}
    return rest or None, column_map[DATE_ORDER_OPTION]


#: Canonical output columns, in output order.
CANONICAL_COLUMNS: tuple[str, ...] = tuple(s.name for s in COLUMN_SPECS)
#: dtype of each canonical column ("category" columns hold str categories).
DTYPES: dict[str, str] = {s.name: s.dtype for s in COLUMN_SPECS}
#: Columns the source must provide (the loader raises DataLoadError without them).
REQUIRED_COLUMNS: tuple[str, ...] = tuple(s.name for s in COLUMN_SPECS if s.required)
#: Source columns that may be absent; filled with their default (missing, or 'Unknown').
OPTIONAL_COLUMNS: tuple[str, ...] = (STOCK_CODE, DESCRIPTION, COUNTRY)
#: Columns read from the source (everything except the derived line_total).
SOURCE_COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_COLUMNS if c != LINE_TOTAL)
#: Text columns stored as category of str.
CATEGORY_COLUMNS: tuple[str, ...] = tuple(c for c, d in DTYPES.items() if d == "category")
#: Accepted source header names per canonical column (display spelling).
ALIASES: dict[str, tuple[str, ...]] = {s.name: s.aliases for s in COLUMN_SPECS if s.aliases}

#: Headers of the UCI "Online Retail II" file, in file order.
ONLINE_RETAIL_II_HEADERS: tuple[str, ...] = (
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
)
#: Headers of the older UCI "Online Retail" file, in file order.
ONLINE_RETAIL_HEADERS: tuple[str, ...] = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

_NORMALIZE_RE = re.compile(r"[\s_\-.]+")


def normalize_header(name: object) -> str:
    """Header key used for matching: lower case without spaces, underscores, hyphens, dots."""
    return _NORMALIZE_RE.sub("", str(name)).casefold()


_ALIAS_INDEX: dict[str, str] = {}
for _canon, _names in ALIASES.items():
    for _n in (_canon, *_names):
        _ALIAS_INDEX.setdefault(normalize_header(_n), _canon)


def canonical_for(header: object) -> str | None:
    """Canonical column name that a source header stands for, or None when it matches none."""
    return _ALIAS_INDEX.get(normalize_header(header))


def match_headers(
    headers: list[object], column_map: dict[str, str] | None = None, source: str | None = None
) -> dict[str, int]:
    """Map canonical column -> position in ``headers``.

    ``column_map`` (canonical -> source header) takes precedence over alias matching; its
    source headers are themselves matched ignoring case/spaces/underscores/hyphens. The first
    header matching a canonical column wins. Columns that cannot be matched are left out.
    Raises KeyError for an unknown canonical name in ``column_map``.
    """
    found: dict[str, int] = {}
    keys = [normalize_header(h) for h in headers]
    used: set[int] = set()
    for canon, source in (column_map or {}).items():
        if canon not in SOURCE_COLUMNS:
            raise KeyError(canon)
        if source is None or source == "":
            continue
        want = normalize_header(source)
        for i, k in enumerate(keys):
            if k == want:
                found[canon] = i
                used.add(i)
                break
    for i, k in enumerate(keys):
        if i in used:
            continue
        canon = _ALIAS_INDEX.get(k)
        if canon is not None and canon not in found and canon not in (column_map or {}):
            found[canon] = i
            used.add(i)
    _refuse_duplicated_headers(headers, keys, found, source)
    return found


def _refuse_duplicated_headers(
    headers: list[object], keys: list[str], found: dict, source: str | None = None
) -> None:
    """Two headers with the same name, one of them chosen for a column: which one holds the
    data cannot be told (a mapping names headers, so it cannot tell either)."""
    from dashapp.ingest.errors import DataLoadError

    for canon, i in found.items():
        same = [j for j, k in enumerate(keys) if k == keys[i]]
        if len(same) > 1:
            columns = " and ".join(str(j + 1) for j in same[:3])
            raise DataLoadError(
                (f"{source}: " if source else "")
                + f"Two columns are named {str(headers[i]).strip()!r} (columns {columns}), so it "
                f"is unclear which one holds the {canon.replace('_', ' ')}: rename or remove "
                "one of them and load the file again.",
                column=str(headers[i]),
                path=source,
            )


def describe_aliases(column: str) -> str:
    """Human readable list of the headers accepted for a canonical column."""
    return ", ".join(repr(a) for a in ALIASES.get(column, ()))
