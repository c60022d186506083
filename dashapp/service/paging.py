"""One page of a large table for a grid: filtered, sorted and sliced by the service.

The customer grids use AG Grid's infinite row model: the browser asks for rows
``startRow``..``endRow`` with the grid's ``filterModel`` and ``sortModel``, and gets only those
(at most :data:`MAX_BLOCK_ROWS`), whatever the number of customers. The request comes from
the browser: anything malformed (unknown columns, filter types, values of the wrong type) is
ignored rather than answered with an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dashapp.service.results import records
from dashapp.service.selection import select_or_all

#: Most rows one response carries (the grids ask for blocks of 100).
MAX_BLOCK_ROWS = 200
_TEXT_TESTS = {"contains", "notContains", "equals", "notEqual", "startsWith", "endsWith"}
_NUMBER_TESTS = {
    "equals",
    "notEqual",
    "lessThan",
    "lessThanOrEqual",
    "greaterThan",
    "greaterThanOrEqual",
    "inRange",
}


def grid_page(frame: pd.DataFrame | None, request: Any, selection: Any = None) -> dict:
    """``{"rowData": [...], "rowCount": n}`` for AG Grid's ``getRowsResponse``: the rows
    ``request["startRow"]``..``request["endRow"]`` of ``frame`` after the drill-down
    ``selection`` (:mod:`dashapp.service.selection`; one the table cannot answer selects
    every row, and the page says why) and the request's ``filterModel`` and
    ``sortModel``; ``rowCount`` counts every row that passes them."""
    frame = select_or_all(frame, selection)
    if frame is None or frame.empty:
        return {"rowData": [], "rowCount": 0}
    request = request if isinstance(request, dict) else {}
    start = _int(request.get("startRow"), 0)
    end = _int(request.get("endRow"), start + 100)
    end = min(max(end, start), start + MAX_BLOCK_ROWS)
    shown = filter_rows(frame, request.get("filterModel"))
    shown = sort_rows(shown, request.get("sortModel"))
    return {"rowData": records(shown.iloc[start:end]), "rowCount": len(shown)}


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        return default
    return max(int(value), 0)


def sort_rows(frame: pd.DataFrame, sort_model: Any) -> pd.DataFrame:
    """``frame`` sorted by AG Grid's ``sortModel`` (``[{"colId", "sort": "asc"|"desc"}]``,
    first key first; missing values last); unchanged without a usable model."""
    keys, ascending = [], []
    for item in sort_model if isinstance(sort_model, list) else []:
        if not isinstance(item, dict):
            continue
        column, order = item.get("colId"), item.get("sort")
        if column in frame.columns and column not in keys and order in ("asc", "desc"):
            keys.append(column)
            ascending.append(order == "asc")
    if not keys:
        return frame
    return frame.sort_values(keys, ascending=ascending, kind="stable", na_position="last")


def filter_rows(frame: pd.DataFrame, filter_model: Any) -> pd.DataFrame:
    """The rows of ``frame`` that pass AG Grid's ``filterModel`` (text, number and date
    filters, with up to two conditions joined by AND / OR); unknown columns are ignored."""
    if not isinstance(filter_model, dict) or not filter_model:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    for column, model in filter_model.items():
        if column in frame.columns and isinstance(model, dict):
            keep &= _passes(frame[column], model)
    return frame[keep]


def _passes(values: pd.Series, model: dict) -> np.ndarray:
    conditions = model.get("conditions")
    if isinstance(conditions, list) and conditions:
        masks = [_passes(values, c) for c in conditions if isinstance(c, dict)]
        if not masks:
            return np.ones(len(values), dtype=bool)
        join = np.logical_or if model.get("operator") == "OR" else np.logical_and
        return join.reduce(masks)
    kind, test = model.get("filterType"), model.get("type")
    if test == "blank":
        return values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    if test == "notBlank":
        return ~_passes(values, {**model, "type": "blank"})
    if kind == "number":
        return _number_test(values, test, model.get("filter"), model.get("filterTo"))
    if kind == "date":
        return _date_test(values, test, model.get("dateFrom"), model.get("dateTo"))
    return _text_test(values, test, model.get("filter"))


def _text_test(values: pd.Series, test: Any, wanted: Any) -> np.ndarray:
    if test not in _TEXT_TESTS or not isinstance(wanted, str | int | float):
        return np.ones(len(values), dtype=bool)
    text = values.astype(str).str.lower()
    wanted = str(wanted).lower()
    if test in ("contains", "notContains"):
        hit = text.str.contains(wanted, regex=False)
    elif test in ("equals", "notEqual"):
        hit = text == wanted
    elif test == "startsWith":
        hit = text.str.startswith(wanted)
    else:
        hit = text.str.endswith(wanted)
    hit = hit.fillna(False).to_numpy(dtype=bool)
    return ~hit if test in ("notContains", "notEqual") else hit


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _number_test(values: pd.Series, test: Any, low: Any, high: Any) -> np.ndarray:
    x, a = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), _number(low)
    if test not in _NUMBER_TESTS or a is None:
        return np.ones(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        if test == "inRange":
            b = _number(high)
            return (x >= a) & (x <= b) if b is not None else x >= a
        compare = {
            "equals": np.equal,
            "notEqual": np.not_equal,
            "lessThan": np.less,
            "lessThanOrEqual": np.less_equal,
            "greaterThan": np.greater,
            "greaterThanOrEqual": np.greater_equal,
        }[test]
        return compare(x, a)


def _date_test(values: pd.Series, test: Any, low: Any, high: Any) -> np.ndarray:
    days = pd.to_datetime(values, errors="coerce").dt.normalize()
    first = pd.to_datetime(low, errors="coerce") if isinstance(low, str) else pd.NaT
    if pd.isna(first) or test not in _NUMBER_TESTS:
        return np.ones(len(values), dtype=bool)
    first = first.normalize()
    if test == "inRange":
        last = pd.to_datetime(high, errors="coerce") if isinstance(high, str) else pd.NaT
        keep = days >= first
        return (keep & (days <= last.normalize())).to_numpy() if pd.notna(last) else keep.to_numpy()
    compare = {
        "equals": days == first,
        "notEqual": days != first,
        "lessThan": days < first,
        "lessThanOrEqual": days <= first,
        "greaterThan": days > first,
        "greaterThanOrEqual": days >= first,
    }[test]
    return compare.fillna(False).to_numpy(dtype=bool)
