"""Reading date values: the formats accepted and the one order (day or month first) used
for the all-numeric dates of a file (:class:`DateReading`), shared by :mod:`.convert`'s
converter and the blocks of a streamed file.

All-numeric dates are read in the order the user chose, else the one the file shows (a day
or month above 12), else the assumed one (or :class:`AmbiguousDateOrder` when the caller
asks). A file showing both orders is refused, and a value that fits no accepted format is
reported, never read in the other order to make it fit (pandas' "mixed" parsing did that).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dashapp.ingest import schema
from dashapp.ingest.errors import AmbiguousDateOrder, DataLoadError


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
