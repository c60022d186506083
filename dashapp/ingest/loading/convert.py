"""Conversion of a raw table (:mod:`.columns`) into the canonical schema of
:mod:`dashapp.ingest.schema` (see docs/architecture.md).

Speed: text columns are never materialised as one Python string per row. They are read as
dictionary-encoded arrays (pyarrow) or factorized (Excel), so cleaning and parsing (strip,
'13085.0' -> '13085', date parsing) run once per *distinct* value, and the categorical columns
are built from integer codes. Missing or unparseable values raise a DataLoadError naming the
column, the count and the first spreadsheet rows.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dashapp.ingest import schema
from dashapp.ingest.errors import AmbiguousDateOrder, DataLoadError
from dashapp.ingest.loading.columns import _Labelled, _plural, _Raw
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


@dataclass
class DateReading:
    """How the all-numeric dates of one file are read; one object serves every block of a
    file read in blocks, so all blocks use one order.

    ``order``: the order chosen by the user (``"dmy"``/``"mdy"``), or None. ``ask``: with no
    order chosen and a file that cannot tell, refuse (:class:`AmbiguousDateOrder`) rather
    than assume :data:`~dashapp.ingest.schema.ASSUMED_DATE_ORDER`. After reading: ``decided``
    is the order used and ``why`` one of ``"chosen"``, ``"file"`` (a date such as 31/01/2011
    shows it) or ``"assumed"`` (then ``example`` is an ambiguous value so read).
    """

    order: str | None = None
    ask: bool = False
    decided: str | None = None
    why: str | None = None
    example: str | None = None

    @classmethod
    def of(cls, option: str | None) -> DateReading:
        """From the ``date_order`` reading option (see :mod:`dashapp.ingest.schema`)."""
        if option in (None, ""):
            return cls()
        if option == schema.DATE_ORDER_ASK:
            return cls(ask=True)
        if option not in schema.DATE_ORDERS:
            raise DataLoadError(
                f"Unknown date order {option!r}; expected one of "
                f"{', '.join(schema.DATE_ORDERS)} or {schema.DATE_ORDER_ASK!r}."
            )
        return cls(order=option, decided=option, why="chosen")

    def note(self) -> str | None:
        """The sentence stating an assumed order (None when the order was not assumed)."""
        if self.why != "assumed" or self.decided is None:
            return None
        return (
            f"Dates such as {self.example!r} read both day-first and month-first and the file "
            f"does not tell which: they were read {schema.DATE_ORDERS[self.decided]}."
        )


def _arrow_iso_dates(uniques: pa.Array) -> np.ndarray | None:
    """ISO 8601 strings -> datetime64[ns] (+ NaT slot for code -1) with arrow's parser; None
    when any value is blank or not ISO (the caller then takes the general, reporting path)."""
    try:
        ts = pc.cast(pc.utf8_trim_whitespace(uniques), pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if ts.null_count:
        return None
    out = ts.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    return np.append(out, np.datetime64("NaT", "ns"))


#: Formats that cannot be read in two orders (year first).
_YMD_FORMATS = (
    "ISO8601",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
)
_DMY_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y %H:%M:%S",
    "%d/%m/%y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y",
)
_MDY_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%y %H:%M",
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%y",
)
_ORDER_FORMATS = {schema.DAY_FIRST: _DMY_FORMATS, schema.MONTH_FIRST: _MDY_FORMATS}
_ORDER_WORD = {schema.DAY_FIRST: "day-first", schema.MONTH_FIRST: "month-first"}
_MONTH_NAME_RE = re.compile(r"[A-Za-z]{3}")


def _parse_formats(s: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Each string parsed with the first of ``formats`` that reads it (NaT: none does)."""
    out = pd.Series(np.datetime64("NaT", "ns"), index=s.index, dtype="datetime64[ns]")
    todo = s
    for fmt in _plausible(s, formats):
        if todo.empty:
            break
        try:
            conv = pd.to_datetime(todo, format=fmt, errors="coerce")
        except (ValueError, TypeError):
            continue
        if not isinstance(conv.dtype, pd.DatetimeTZDtype | np.dtype) or conv.dtype.kind != "M":
            continue  # mixed time zones come back as objects: not this format
        if getattr(conv.dt, "tz", None) is not None:
            conv = conv.dt.tz_localize(None)
        ok = conv.notna().to_numpy()
        out.loc[todo.index[ok]] = conv[ok].to_numpy(dtype="datetime64[ns]")
        todo = todo[~ok]
    return out


def _plausible(s: pd.Series, formats: tuple[str, ...]) -> list[str]:
    """The formats whose separators and time parts occur in some of the strings (a format
    that cannot match any of them is not tried: each try costs a pass over the values)."""
    if s.empty:
        return []
    text = "\n".join(s.tolist())  # one C-level pass per test, not one per value
    has = {sep: sep in text for sep in "/.-"}
    seconds = re.search(r"\d:\d+:\d", text) is not None
    minutes_only = re.search(r"(^|[^:\d])\d+:\d+($|[^:\d])", text, re.M) is not None
    year_first = re.search(r"(?m)^\d{4}[/.-]", text) is not None
    keep = []
    for fmt in formats:
        if fmt == "ISO8601":
            if has["-"]:
                keep.append(fmt)
            continue
        if fmt.startswith("%Y") and not year_first:
            continue
        date_part = fmt.split(" ", 1)[0]
        sep = next(c for c in date_part if c in "/.-")
        if not has[sep]:
            continue
        if ("%S" in fmt and not seconds) or ("%H" in fmt and "%S" not in fmt and not minutes_only):
            continue
        keep.append(fmt)
    return keep


@dataclass
class _ParsedDates:
    values: np.ndarray  # datetime64[ns] per distinct raw value
    missing: np.ndarray  # blank
    bad: np.ndarray  # not a date in any accepted format
    problem: tuple | None = None  # (what, mask over the distinct values, error class)
    assumed: str | None = None  # an ambiguous value read in the assumed order


def _parse_date_uniques(uniques: np.ndarray, reading: DateReading | None = None) -> _ParsedDates:
    """Parse distinct raw date values. All-numeric dates are read in one order for the whole
    file: the user's, the one the file shows (a day or month above 12), or, when nothing
    tells, the assumed one (or :class:`AmbiguousDateOrder` when ``reading.ask``). A file
    showing both orders is refused; nothing is ever read in the other order silently."""
    reading = reading if reading is not None else DateReading()
    n = len(uniques)
    out = np.full(n, np.datetime64("NaT", "ns"))
    missing = np.zeros(n, dtype=bool)
    str_idx: list[int] = []
    strs: list[str] = []
    other_idx: list[int] = []
    others: list = []
    for i, v in enumerate(uniques.tolist()):
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            missing[i] = True
        elif isinstance(v, str):
            s = v.strip()
            if not s:
                missing[i] = True
            else:
                str_idx.append(i)
                strs.append(s)
        elif isinstance(v, _dt.datetime | _dt.date | np.datetime64 | pd.Timestamp):
            other_idx.append(i)
            others.append(v)
        else:
            pass  # numbers, booleans, times: not dates -> left NaT and reported
    if others:
        conv = pd.to_datetime(pd.Series(others, dtype=object), errors="coerce")
        if getattr(conv.dt, "tz", None) is not None:
            conv = conv.dt.tz_localize(None)
        out[other_idx] = conv.to_numpy(dtype="datetime64[ns]")
    problem = None
    assumed = None
    if strs:
        values, problem_s, assumed = _parse_date_strings(pd.Series(strs, dtype=object), reading)
        out[str_idx] = values
        if problem_s is not None:
            what, mask_s, error = problem_s
            mask = np.zeros(n, dtype=bool)
            mask[np.asarray(str_idx)[mask_s]] = True
            problem = (what, mask, error)
    bad = np.isnat(out) & ~missing
    return _ParsedDates(out, missing, bad, problem, assumed)


def _parse_date_strings(
    s: pd.Series, reading: DateReading
) -> tuple[np.ndarray, tuple | None, str | None]:
    """(datetime64[ns] per string, problem or None, an ambiguous value read by assumption)."""
    result = _parse_formats(s, _YMD_FORMATS)
    rest = s[result.isna().to_numpy()]
    problem = None
    assumed = None
    if not rest.empty:
        d = _parse_formats(rest, _DMY_FORMATS)
        m = _parse_formats(rest, _MDY_FORMATS)
        only = {
            schema.DAY_FIRST: (d.notna() & m.isna()).to_numpy(),
            schema.MONTH_FIRST: (m.notna() & d.isna()).to_numpy(),
        }
        ambiguous = (d.notna() & m.notna() & (d != m)).to_numpy()
        shown = [o for o, mask in only.items() if mask.any()]
        order = reading.order or reading.decided
        if len(shown) == 2:
            # both orders in one file: name the rarer one's rows
            rare = min(shown, key=lambda o: int(only[o].sum()))
            other = next(o for o in shown if o != rare)
            example = rest.to_numpy()[only[other]][0]
            what = (
                f"{_ORDER_WORD[rare]} date while other dates are {_ORDER_WORD[other]} (such as "
                f"{example!r}), so the order of every date is in doubt",
                f"{_ORDER_WORD[rare]} dates while other dates are {_ORDER_WORD[other]} (such "
                f"as {example!r}), so the order of every date is in doubt",
            )
            problem = (what, _spread(rest, s, only[rare]), None)
        elif shown and order is not None and shown[0] != order:
            because = {
                "chosen": "the date order chosen",
                "file": "earlier dates of the file",
                "assumed": "earlier dates of the file (read with an assumed order)",
            }[reading.why or "chosen"]
            what = (
                f"{_ORDER_WORD[shown[0]]} date while {because} are {_ORDER_WORD[order]}",
                f"{_ORDER_WORD[shown[0]]} dates while {because} are {_ORDER_WORD[order]}",
            )
            problem = (what, _spread(rest, s, only[shown[0]]), None)
        else:
            if order is None and shown:
                order, reading.decided, reading.why = shown[0], shown[0], "file"
            if order is None and ambiguous.any():
                if reading.ask:
                    what = (
                        "date that reads both day-first and month-first (no day above 12 in "
                        "the file): choose the date order",
                        "dates that read both day-first and month-first (no day above 12 in "
                        "the file): choose the date order",
                    )
                    problem = (what, _spread(rest, s, ambiguous), AmbiguousDateOrder)
                else:
                    order = schema.ASSUMED_DATE_ORDER
                    assumed = str(rest.to_numpy()[ambiguous][0])
                    reading.decided, reading.why, reading.example = order, "assumed", assumed
            chosen = d if (order or schema.DAY_FIRST) == schema.DAY_FIRST else m
            result.loc[rest.index] = chosen.to_numpy(dtype="datetime64[ns]")
    left = result.isna().to_numpy() & s.str.contains(_MONTH_NAME_RE).to_numpy()
    if left.any():  # "5 January 2011", "Jan 5, 2011": kept only when both orders agree
        words = s[left]
        first = pd.to_datetime(words, format="mixed", dayfirst=True, errors="coerce")
        second = pd.to_datetime(words, format="mixed", dayfirst=False, errors="coerce")
        if first.dtype.kind == "M" and second.dtype.kind == "M":
            if getattr(first.dt, "tz", None) is not None:
                first, second = first.dt.tz_localize(None), second.dt.tz_localize(None)
            agree = (first == second).to_numpy()
            result.loc[words.index[agree]] = first[agree].to_numpy(dtype="datetime64[ns]")
    return result.to_numpy(dtype="datetime64[ns]"), problem, assumed


def _spread(rest: pd.Series, s: pd.Series, mask_rest: np.ndarray) -> np.ndarray:
    """A mask over ``rest`` (a subset of ``s`` by index) as a mask over ``s``."""
    out = np.zeros(len(s), dtype=bool)
    out[s.index.get_indexer(rest.index[mask_rest])] = True
    return out


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
    price = conv.numbers(PRICE, raw_or_labels(PRICE))
    huge = ~(np.abs(price) <= schema.MAX_ABS_PRICE)  # inf, -inf, 1e308 (NaN refused above)
    if huge.any():
        conv.fail(
            PRICE,
            (
                f"value that is infinite or beyond ±{schema.MAX_ABS_PRICE:,.0f}",
                f"values that are infinite or beyond ±{schema.MAX_ABS_PRICE:,.0f}",
            ),
            huge,
            [price[i] for i in np.flatnonzero(huge)[:3]],
        )
    dates = conv.dates(INVOICE_DATE, raw_or_labels(INVOICE_DATE))
    customer = category(CUSTOMER_ID, float_suffix=True, null_tokens=True)
    if customer.isna().all():
        header = raw.headers.get(CUSTOMER_ID, CUSTOMER_ID)
        raise DataLoadError(
            f"{raw.name}: column '{header}' is empty in all {m:,} rows: customer segments and "
            "lifetime values need a customer id on the lines (lines without one are set "
            "aside, but not all of them). Check that the right column holds the customer id.",
            path=raw.name,
            column=header,
        )
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
