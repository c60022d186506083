"""Conversion of a raw table (:mod:`.columns`) into the canonical schema of
:mod:`dashapp.ingest.schema` (see docs/architecture.md).

Speed: text columns are never materialised as one Python string per row. They are read as
dictionary-encoded arrays (pyarrow) or factorized (Excel), so cleaning and parsing (strip,
'13085.0' -> '13085', date parsing) run once per *distinct* value, and the categorical columns
are built from integer codes. Missing or unparseable values raise a DataLoadError naming the
column, the count and the first spreadsheet rows.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dashapp.ingest import schema
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading.columns import _Labelled, _plural, _Raw
from dashapp.ingest.loading.dates import DateReading, _arrow_iso_dates, _parse_date_uniques
from dashapp.ingest.schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE,
    INVOICE_DATE,
    LINE_TOTAL,
    PRICE,
    QUANTITY,
    STOCK_CODE,
)

log = logging.getLogger(__name__)

_NULL_TOKENS = frozenset({"nan", "none", "null", "na", "n/a", "#n/a", "-"})
_EMPTY = ("empty value", "empty values")
_FLOAT_INT_RE = re.compile(r"^[+-]?\d+\.0*$")


def _labels(col) -> tuple[np.ndarray, np.ndarray | pa.Array]:
    """(codes, uniques): codes index uniques, -1 = missing. Works on arrow and numpy columns.

    ``uniques`` stays a pyarrow string array for arrow text columns (cleaned with arrow
    compute kernels, see _to_category), else it is a numpy object array of Python values.
    """
    if isinstance(col, _Labelled):
        return col.codes, col.uniques
    if isinstance(col, pa.ChunkedArray):
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            col = pc.dictionary_encode(col)
            t = col.type
        if pa.types.is_dictionary(t):
            arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            codes = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            uniques = arr.dictionary
            if pa.types.is_large_string(uniques.type):
                uniques = uniques.cast(pa.string())
            if not pa.types.is_string(uniques.type):
                uniques = np.asarray(uniques.to_pylist(), dtype=object)
            return codes, uniques
        col = col.to_numpy(zero_copy_only=False)
    codes, uniques = pd.factorize(np.asarray(col), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _text_value(v: object, *, float_suffix: bool) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        if float_suffix and _FLOAT_INT_RE.match(s):
            s = s.split(".", 1)[0]
        return s
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        if v != v:
            return None
        if float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if v is pd.NaT:
        return None
    return str(v).strip() or None


def _lookup(new_codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Raw unique slot -> sorted category code (-1 = missing); every label may be missing (a
    column with no value at all), then there are no categories."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    if not len(order):
        return np.full(len(new_codes), -1, dtype=np.int64)
    return np.where(new_codes >= 0, rank[np.maximum(new_codes, 0)], -1)


def _to_category(
    codes: np.ndarray,
    uniques: np.ndarray,
    *,
    float_suffix: bool = False,
    upper: bool = False,
    null_tokens: bool = False,
    fill: str | None = None,
) -> pd.Categorical:
    """Categorical of str from (codes, raw uniques), working on the distinct values only.

    Strips whitespace, turns 123.0 / '123.0' (with ``float_suffix``) into '123', upper-cases
    (``upper``), treats 'nan'/'NULL'/... as missing (``null_tokens``), replaces missing by
    ``fill`` when given, merges labels that became equal and sorts the categories (by code
    point, the same order for the arrow and the Python path).
    """
    if isinstance(uniques, pa.Array):
        return _to_category_arrow(
            codes,
            uniques,
            float_suffix=float_suffix,
            upper=upper,
            null_tokens=null_tokens,
            fill=fill,
        )
    labels = [_text_value(v, float_suffix=float_suffix) for v in uniques.tolist()]
    if upper:
        labels = [s.upper() if s is not None else None for s in labels]
    if null_tokens:
        labels = [None if (s is not None and s.casefold() in _NULL_TOKENS) else s for s in labels]
    labels.append(fill)  # slot for raw missing values (code -1)
    if fill is not None:
        labels = [fill if s is None else s for s in labels]
    new_codes, new_uniques = pd.factorize(np.asarray(labels, dtype=object), use_na_sentinel=True)
    order = np.argsort(np.asarray(new_uniques, dtype=object), kind="stable")
    lut = _lookup(new_codes, order)
    final = lut[codes]  # code -1 picks the last slot (raw missing)
    cats = pd.Index(np.asarray(new_uniques, dtype=object)[order], dtype="str")
    return pd.Categorical.from_codes(final, dtype=pd.CategoricalDtype(cats, ordered=False))


def _to_category_arrow(
    codes: np.ndarray,
    uniques: pa.Array,
    *,
    float_suffix: bool,
    upper: bool,
    null_tokens: bool,
    fill: str | None,
) -> pd.Categorical:
    """_to_category for a pyarrow string dictionary, with arrow compute kernels."""
    v = pc.utf8_trim_whitespace(uniques)
    if float_suffix:
        v = pc.replace_substring_regex(v, pattern=r"^([+-]?\d+)\.0*$", replacement=r"\1")
    if upper:
        v = pc.utf8_upper(v)
    blank = pc.equal(v, "")
    if null_tokens:
        blank = pc.or_(blank, pc.is_in(pc.utf8_lower(v), value_set=pa.array(sorted(_NULL_TOKENS))))
    v = pc.if_else(blank, pa.scalar(None, pa.string()), v)
    v = pa.concat_arrays([v, pa.array([fill], pa.string())])  # slot for raw missing (code -1)
    if fill is not None:
        v = pc.fill_null(v, fill)
    enc = pc.dictionary_encode(v)
    new_codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    order = pc.array_sort_indices(enc.dictionary).to_numpy()
    lut = _lookup(new_codes, order)
    final = lut[codes]
    cats = pd.Index(
        enc.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False), dtype="str"
    )
    return pd.Categorical.from_codes(final, dtype=pd.CategoricalDtype(cats, ordered=False))


def _py_uniques(uniques) -> np.ndarray:
    """uniques as a numpy object array of Python values."""
    if isinstance(uniques, pa.Array):
        return np.asarray(uniques.to_pylist(), dtype=object)
    return uniques


def _number_value(v: object) -> float | None:
    """float, None for missing, NaN for unparseable."""
    if v is None:
        return None
    if isinstance(v, bool | np.bool_):
        return np.nan
    if isinstance(v, int | float | np.integer | np.floating):
        f = float(v)
        return None if f != f else f
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return float(s)
        except ValueError:
            return np.nan
    return np.nan


class _Converter:
    def __init__(self, raw: _Raw, keep: np.ndarray | None, reading: DateReading) -> None:
        self.raw = raw
        self.keep = keep  # positions kept (blank rows removed), or None for all
        self.reading = reading

    def fail(
        self,
        column: str,
        what: tuple[str, str],
        bad_mask: np.ndarray,
        examples: list | None = None,
        error: type[DataLoadError] | None = None,
    ):
        """Raise DataLoadError: ``what`` = (singular, plural) description of the bad values."""
        positions = np.flatnonzero(bad_mask)
        if self.keep is not None:
            positions = self.keep[positions]
        where, rows, sheet = self.raw.where(positions)
        header = self.raw.headers.get(column, column)
        ex = ""
        if examples:
            ex = " (e.g. " + ", ".join(repr(str(e)) for e in examples[:3]) + ")"
        count = int(np.count_nonzero(bad_mask))
        raise (error or DataLoadError)(
            f"{self.raw.name}: column '{header}' has {_plural(count, *what)}{ex}, at {where}.",
            path=self.raw.name,
            column=header,
            rows=rows,
            sheet=sheet,
        )

    def numbers(self, column: str, col) -> np.ndarray:
        """float64 values; raises on missing or unparseable values."""
        if isinstance(col, pa.ChunkedArray) and (
            pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        ):
            values = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            values = values if self.keep is None else values[self.keep]
            missing = np.isnan(values)
            if missing.any():
                self.fail(column, _EMPTY, missing)
            return values
        if isinstance(col, np.ndarray) and col.dtype.kind in "iuf":
            values = col.astype(np.float64, copy=False)
            values = values if self.keep is None else values[self.keep]
            missing = np.isnan(values)
            if missing.any():
                self.fail(column, _EMPTY, missing)
            return values
        codes, uniques = _labels(col)
        uniques = _py_uniques(uniques)
        if self.keep is not None:
            codes = codes[self.keep]
        parsed = [_number_value(v) for v in uniques.tolist()]
        miss_u = np.array([x is None for x in parsed] + [True])
        vals_u = np.array([np.nan if x is None else x for x in parsed] + [np.nan], dtype=np.float64)
        missing = miss_u[codes]
        if missing.any():
            self.fail(column, _EMPTY, missing)
        bad_u = np.isnan(vals_u) & ~miss_u
        bad = bad_u[codes]
        if bad.any():
            ex = [uniques[i] for i in np.flatnonzero(bad_u[:-1])[:3]]
            self.fail(
                column, ("value that is not a number", "values that are not numbers"), bad, ex
            )
        return vals_u[codes]

    def prices(self, column: str, col) -> np.ndarray:
        """float64 values; like :meth:`numbers`, and raises on infinite values and values
        beyond ``schema.MAX_ABS_PRICE`` (inf, -Infinity, 1e308 are refused like NaN)."""
        price = self.numbers(column, col)
        huge = ~(np.abs(price) <= schema.MAX_ABS_PRICE)
        if huge.any():
            limit = f"{schema.MAX_ABS_PRICE:,.0f}"
            self.fail(
                column,
                (
                    f"value that is infinite or beyond ±{limit}",
                    f"values that are infinite or beyond ±{limit}",
                ),
                huge,
                [price[i] for i in np.flatnonzero(huge)[:3]],
            )
        return price

    def dates(self, column: str, col) -> np.ndarray:
        """datetime64[ns] values; raises on missing, unparseable, out-of-range values and on
        all-numeric dates whose order (day or month first) is mixed or cannot be told."""
        values = self._parse_dates(column, col)
        lo, hi = np.datetime64(schema.EARLIEST_DATE, "ns"), schema.latest_date().to_datetime64()
        out = (values < lo) | (values > hi)
        if out.any():
            shown = pd.DatetimeIndex(values[np.flatnonzero(out)[:3]]).strftime("%Y-%m-%d")
            self.fail(
                column,
                (
                    f"date outside {schema.EARLIEST_DATE} to {hi.astype('datetime64[D]')}",
                    f"dates outside {schema.EARLIEST_DATE} to {hi.astype('datetime64[D]')}",
                ),
                out,
                list(shown),
            )
        return values

    def _parse_dates(self, column: str, col) -> np.ndarray:
        if isinstance(col, pa.ChunkedArray) and pa.types.is_timestamp(col.type):
            if col.type.tz is not None:
                col = pc.local_timestamp(col)
            values = col.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
            values = values if self.keep is None else values[self.keep]
            missing = np.isnat(values)
            if missing.any():
                self.fail(column, ("empty date", "empty dates"), missing)
            return values
        if isinstance(col, pa.ChunkedArray) and pa.types.is_date(col.type):
            col = col.cast(pa.timestamp("ns"))
            return self._parse_dates(column, col)
        codes, uniques = _labels(col)
        if self.keep is not None:
            codes = codes[self.keep]
        if isinstance(uniques, pa.Array) and not (codes < 0).any():
            fast = _arrow_iso_dates(uniques)
            if fast is not None:
                return fast[codes]
        uniques = _py_uniques(uniques)
        parsed = _parse_date_uniques(uniques, self.reading)
        conv = np.append(parsed.values, np.datetime64("NaT", "ns"))
        missing = np.append(parsed.missing, True)[codes]
        if missing.any():
            self.fail(column, ("empty date", "empty dates"), missing)
        if parsed.problem is not None:
            what, mask_u, error = parsed.problem
            mask = np.append(mask_u, False)[codes]
            ex = [uniques[i] for i in np.flatnonzero(mask_u)[:3]]
            self.fail(column, what, mask, ex, error=error)
        bad = np.append(parsed.bad, False)[codes]
        if bad.any():
            ex = [uniques[i] for i in np.flatnonzero(parsed.bad)[:3]]
            self.fail(column, ("value that is not a date", "values that are not dates"), bad, ex)
        if parsed.assumed:
            header = self.raw.headers.get(column, column)
            log.warning(
                "%s: column '%s' has dates such as %r that read both day-first and month-first "
                "and nothing in the file tells which; read %s (assumed).",
                self.raw.name,
                header,
                parsed.assumed,
                schema.DATE_ORDERS[self.reading.decided or schema.ASSUMED_DATE_ORDER],
            )
        return conv[codes]


def _missing_mask(col, labels) -> np.ndarray:
    """True where a raw value is missing/blank (before any conversion)."""
    if labels is not None:
        codes, uniques = labels
        if isinstance(uniques, pa.Array):
            blank = pc.equal(pc.utf8_trim_whitespace(uniques), "").fill_null(True)
            blank_u = np.append(blank.to_numpy(zero_copy_only=False), True)
            return blank_u[codes]
        blank_u = np.array(
            [
                v is None
                or (isinstance(v, str) and not v.strip())
                or (isinstance(v, float) and v != v)
                for v in uniques.tolist()
            ]
            + [True]
        )
        return blank_u[codes]
    if isinstance(col, pa.ChunkedArray):
        mask = col.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_floating(col.type):
            mask = mask | np.isnan(col.to_numpy(zero_copy_only=False))
        return mask
    arr = np.asarray(col)
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    if arr.dtype.kind == "M":
        return np.isnat(arr)
    return np.zeros(len(arr), dtype=bool)


def _is_typed(col) -> bool:
    """True for columns that need no factorizing (numeric / timestamp arrays)."""
    if isinstance(col, _Labelled):
        return False
    if isinstance(col, pa.ChunkedArray):
        t = col.type
        return (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_timestamp(t)
            or pa.types.is_date(t)
        )
    return np.asarray(col).dtype.kind in "iufM"


def _empty_category(m: int, fill: str | None = None) -> pd.Categorical:
    cats = [] if fill is None else [fill]
    codes = np.full(m, -1 if fill is None else 0, dtype=np.int8)
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(cats, dtype="str")))


def _no_customer_ids(raw: _Raw, m: int) -> DataLoadError:
    header = raw.headers.get(CUSTOMER_ID, CUSTOMER_ID)
    return DataLoadError(
        f"{raw.name}: column '{header}' is empty in all {m:,} rows: customer segments and "
        "lifetime values need a customer id on the lines (lines without one are set aside, "
        "but not all of them). Check that the right column holds the customer id.",
        path=raw.name,
        column=header,
    )


def _build_frame(raw: _Raw, reading: DateReading | None = None) -> pd.DataFrame:
    """The canonical frame of a raw table; ``reading`` says how to read all-numeric dates
    (shared by the blocks of one file; a fresh :class:`DateReading` when None)."""
    cols = raw.columns
    n = raw.n
    labels: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def lab(c: str) -> tuple[np.ndarray, np.ndarray]:
        if c not in labels:
            labels[c] = _labels(cols[c])
        return labels[c]

    # rows where every required field is blank (trailing Excel rows, ",,,,") are skipped
    blank = np.ones(n, dtype=bool)
    for c in (INVOICE, QUANTITY, PRICE, INVOICE_DATE):
        blank &= _missing_mask(cols[c], None if _is_typed(cols[c]) else lab(c))
        if not blank.any():
            break
    keep = np.flatnonzero(~blank) if blank.any() else None
    m = n if keep is None else len(keep)
    if m == 0:
        raise DataLoadError(f"{raw.name} has no data rows.", path=raw.name)
    conv = _Converter(raw, keep, reading if reading is not None else DateReading())

    def category(c: str, **kw) -> pd.Categorical:
        codes, uniques = lab(c)
        if keep is not None:
            codes = codes[keep]
        return _to_category(codes, uniques, **kw)

    def raw_or_labels(c: str):
        return cols[c] if _is_typed(cols[c]) else _Labelled(*lab(c))

    invoice = category(INVOICE, float_suffix=True)
    if invoice.isna().any():
        conv.fail(INVOICE, _EMPTY, np.asarray(invoice.isna()))
    qty = conv.numbers(QUANTITY, raw_or_labels(QUANTITY))
    frac = qty != np.round(qty)
    if frac.any():
        conv.fail(
            QUANTITY,
            ("value that is not a whole number", "values that are not whole numbers"),
            frac,
            [qty[i] for i in np.flatnonzero(frac)[:3]],
        )
    big = np.abs(qty) > np.iinfo(np.int32).max
    if big.any():
        conv.fail(
            QUANTITY, ("value too large for a quantity", "values too large for a quantity"), big
        )
    price = conv.prices(PRICE, raw_or_labels(PRICE))
    dates = conv.dates(INVOICE_DATE, raw_or_labels(INVOICE_DATE))
    customer = category(CUSTOMER_ID, float_suffix=True, null_tokens=True)
    if customer.isna().all():
        raise _no_customer_ids(raw, m)
    stock = category(STOCK_CODE, upper=True) if STOCK_CODE in cols else _empty_category(m)
    desc = category(DESCRIPTION) if DESCRIPTION in cols else _empty_category(m)
    default_country = schema.SPECS[COUNTRY].default
    country = (
        category(COUNTRY, fill=default_country)
        if COUNTRY in cols
        else _empty_category(m, default_country)
    )
    quantity = qty.astype(np.int32)
    return pd.DataFrame(
        {
            INVOICE: invoice,
            STOCK_CODE: stock,
            DESCRIPTION: desc,
            QUANTITY: quantity,
            INVOICE_DATE: dates.astype("datetime64[ns]", copy=False),
            PRICE: price.astype(np.float64, copy=False),
            CUSTOMER_ID: customer,
            COUNTRY: country,
            LINE_TOTAL: quantity.astype(np.float64) * price,
        },
        copy=False,
    )
