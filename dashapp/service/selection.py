"""Drill-down selections: the customers behind a clicked chart element (pure).

A click on a chart (an R x F cell, a segment tile or bar, a Pareto-curve region, a cluster)
selects customers of the page's table. The figure carries the selection as text in its
points (the last item of a point's ``customdata``); the browser puts it in the URL
(``<page>_sel``), and the service applies it to the page's customer table, both when paging
the grid (:func:`dashapp.service.paging.grid_page`) and in the CSV export, so what the grid
lists is what the file holds.

Grammar: clauses joined by ``;``, all of which must hold; each clause is ``column:value``

* ``segment:Champions`` -- the column's text equals the value;
* ``monetary:100~500`` -- a number from 100 (inclusive) to 500 (exclusive); either end may be
  left out (``monetary:~500``);
* ``predicted_clv:top20`` -- the 20 % of rows with the largest values of the column
  (ties at the boundary included);
* ``months_active:has3`` -- the column's space-separated items include ``3``.

A selection naming a column the table lacks, or a malformed clause, raises
:class:`SelectionError` with a message that names it; nothing is silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Most clauses one selection may hold (a URL is typed by a person or made by a click).
MAX_CLAUSES = 4


class SelectionError(ValueError):
    """A selection the table cannot answer; ``str(err)`` is the message a user sees."""


@dataclass(frozen=True)
class Clause:
    column: str
    value: str = ""
    low: float | None = None
    high: float | None = None
    top: float | None = None
    member: str | None = None

    @property
    def kind(self) -> str:
        if self.member is not None:
            return "has"
        if self.top is not None:
            return "top"
        if self.low is not None or self.high is not None:
            return "range"
        return "equals"


def token(**columns) -> str:
    """The selection text of equality clauses (``token(r_score=5, f_score=4)`` ->
    ``"r_score:5;f_score:4"``); what a figure puts in its points."""
    return ";".join(f"{column}:{_text(value)}" for column, value in columns.items())


def range_token(column: str, low: float | None, high: float | None) -> str:
    """``column:low~high`` (a number range, low inclusive, high exclusive)."""
    ends = ("" if v is None else f"{float(v):.10g}" for v in (low, high))
    return f"{column}:{'~'.join(ends)}"


def top_token(column: str, percent: float) -> str:
    """``column:topP`` (the ``percent`` % of rows with the largest ``column``)."""
    return f"{column}:top{float(percent):.10g}"


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def parse(text) -> tuple[Clause, ...]:
    """The clauses of a selection text; () for a blank one. :class:`SelectionError` names a
    malformed clause."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return ()
    if not isinstance(text, str):
        raise SelectionError(f"The selection in the link is not text: {text!r}.")
    parts = [p for p in text.split(";") if p.strip()]
    if len(parts) > MAX_CLAUSES:
        raise SelectionError(
            f"The selection in the link has {len(parts)} parts; at most {MAX_CLAUSES}."
        )
    return tuple(_clause(p.strip()) for p in parts)


def _clause(part: str) -> Clause:
    column, sep, value = part.partition(":")
    column = column.strip()
    if not sep or not column or value == "":
        raise SelectionError(f"The selection '{part}' in the link is not of the form column:value.")
    if value.startswith("top"):
        share = _number(value[3:], part)
        if share is None or not 0 < share <= 100:
            raise SelectionError(
                f"The selection '{part}' asks for the top share of customers; it must be a "
                "percentage above 0 and at most 100."
            )
        return Clause(column, value, top=share)
    if value.startswith("has") and value[3:].strip():
        return Clause(column, value, member=value[3:].strip())
    if "~" in value:
        low_text, _, high_text = value.partition("~")
        low, high = _number(low_text, part), _number(high_text, part)
        if low is None and high is None:
            raise SelectionError(f"The selection '{part}' gives a range with no end.")
        return Clause(column, value, low=low, high=high)
    return Clause(column, value)


def _number(text: str, part: str) -> float | None:
    if text.strip() == "":
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise SelectionError(f"The selection '{part}' holds '{text}', which is not a number.")
    return number


def select_rows(frame: pd.DataFrame | None, text) -> pd.DataFrame | None:
    """The rows of ``frame`` the selection ``text`` picks (all rows when it is blank).
    :class:`SelectionError` when it is malformed or names a column ``frame`` lacks."""
    clauses = parse(text)
    if frame is None or not clauses:
        return frame
    _check_columns(clauses, frame.columns)
    keep = np.ones(len(frame), dtype=bool)
    for clause in clauses:
        keep &= _mask(frame[clause.column], clause)
    return frame[keep]


def _check_columns(clauses: tuple[Clause, ...], columns) -> None:
    for clause in clauses:
        if clause.column not in columns:
            raise SelectionError(
                f"The selection '{clause.column}:{clause.value}' in the link names a column "
                "this table does not have."
            )


def select_or_all(frame: pd.DataFrame | None, text) -> pd.DataFrame | None:
    """:func:`select_rows`, or every row of ``frame`` when the selection cannot be answered
    (the page shows :func:`describe`'s message and that every customer is listed)."""
    try:
        return select_rows(frame, text)
    except SelectionError:
        return frame


def _mask(values: pd.Series, clause: Clause) -> np.ndarray:
    if clause.kind == "has":
        items = values.astype("string").str.split()
        return items.map(lambda v: isinstance(v, list) and clause.member in v).to_numpy(bool)
    if clause.kind == "equals":
        text = values.map(_text, na_action="ignore").astype("string")
        return (text == clause.value).fillna(False).to_numpy(dtype=bool)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        if clause.kind == "range":
            keep = np.ones(len(values), dtype=bool)
            if clause.low is not None:
                keep &= numbers >= clause.low
            if clause.high is not None:
                keep &= numbers < clause.high
            return keep
        finite = np.isfinite(numbers)
        n = int(math.ceil(finite.sum() * float(clause.top or 0) / 100.0))
        if n == 0:
            return np.zeros(len(values), dtype=bool)
        cut = np.sort(numbers[finite])[::-1][n - 1]
        return finite & (numbers >= cut)


def describe(text, labels: Mapping[str, str] | None = None, columns=None) -> str:
    """The selection in words for its chip (``"Segment: Champions"``, ``"R score 5 · F score
    4"``, ``"Predicted CLV: top 20 %"``); ``labels`` maps columns to their grid headers.
    :class:`SelectionError` when it is malformed or names a column not in ``columns`` (the
    table's, when given)."""
    labels = labels or {}
    clauses = parse(text)
    if columns is not None:
        _check_columns(clauses, columns)
    words = []
    for clause in clauses:
        name = labels.get(clause.column, clause.column.replace("_", " "))
        if clause.kind == "has":
            words.append(f"{name} {clause.member}")
        elif clause.kind == "top":
            words.append(f"{name}: top {clause.top:g} %")
        elif clause.kind == "range":
            if clause.low is None:
                words.append(f"{name} below {_short(clause.high)}")
            elif clause.high is None:
                words.append(f"{name} from {_short(clause.low)}")
            else:
                words.append(f"{name} {_short(clause.low)} to {_short(clause.high)}")
        else:
            words.append(f"{name}: {clause.value}")
    return " · ".join(words)


def _short(value: float | None) -> str:
    """A range end for the chip: thousands separated, at most two decimals."""
    return f"{value or 0:,.2f}".rstrip("0").rstrip(".")
