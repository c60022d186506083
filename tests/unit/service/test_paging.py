"""Server-side pages of the customer grids: AG Grid's filter and sort models applied by the
service, every response small whatever the number of customers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dashapp.service.paging import MAX_BLOCK_ROWS, filter_rows, grid_page, sort_rows


def _customers(n: int = 50_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(n)],
            "segment": rng.choice(["Champions", "At Risk", "Hibernating", "Can't Lose Them"], n),
            "monetary": rng.gamma(2.0, 300.0, n).round(2),
            "frequency": rng.integers(1, 40, n),
            "first_purchase": pd.Timestamp("2010-01-01")
            + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        }
    ).assign(first_purchase=lambda f: f["first_purchase"].dt.strftime("%Y-%m-%d"))


def test_a_block_of_rows_and_the_total_count():
    frame = _customers()
    page = grid_page(frame, {"startRow": 100, "endRow": 200, "sortModel": [], "filterModel": {}})
    assert page["rowCount"] == len(frame)
    assert [r["customer_id"] for r in page["rowData"]] == list(frame["customer_id"][100:200])
    assert len(json.dumps(page)) < 100_000  # whatever the number of customers


def test_a_request_for_too_many_rows_gets_a_block_at_most():
    page = grid_page(_customers(), {"startRow": 0, "endRow": 1_000_000})
    assert len(page["rowData"]) == MAX_BLOCK_ROWS


def test_sorting_by_several_columns_like_pandas():
    frame = _customers(5_000)
    model = [{"colId": "segment", "sort": "asc"}, {"colId": "monetary", "sort": "desc"}]
    expected = frame.sort_values(["segment", "monetary"], ascending=[True, False], kind="stable")
    assert sort_rows(frame, model).index.equals(expected.index)
    page = grid_page(frame, {"startRow": 0, "endRow": 50, "sortModel": model})
    assert [r["customer_id"] for r in page["rowData"]] == list(expected["customer_id"][:50])


def test_text_number_and_date_filters_like_pandas():
    frame = _customers(5_000)
    model = {
        "segment": {"filterType": "text", "type": "contains", "filter": "AT RISK"},
        "monetary": {"filterType": "number", "type": "inRange", "filter": 100, "filterTo": 900},
        "first_purchase": {"filterType": "date", "type": "greaterThan", "dateFrom": "2011-01-01"},
    }
    expected = frame[
        frame["segment"].str.lower().str.contains("at risk")
        & frame["monetary"].between(100, 900)
        & (frame["first_purchase"] > "2011-01-01")
    ]
    shown = filter_rows(frame, model)
    assert len(shown) > 0 and shown.index.equals(expected.index)
    page = grid_page(frame, {"startRow": 0, "endRow": 100, "filterModel": model})
    assert page["rowCount"] == len(expected)


def test_two_conditions_joined_by_or():
    frame = _customers(5_000)
    model = {
        "segment": {
            "filterType": "text",
            "operator": "OR",
            "conditions": [
                {"filterType": "text", "type": "equals", "filter": "champions"},
                {"filterType": "text", "type": "startsWith", "filter": "hib"},
            ],
        },
        "frequency": {"filterType": "number", "type": "greaterThanOrEqual", "filter": 10},
    }
    expected = frame[
        frame["segment"].isin(["Champions", "Hibernating"]) & (frame["frequency"] >= 10)
    ]
    assert filter_rows(frame, model).index.equals(expected.index)


def test_malformed_requests_are_ignored_not_errors():
    frame = _customers(300)
    for request in (
        None,
        "rows please",
        {"startRow": "0", "endRow": None},
        {"startRow": -5, "endRow": float("nan")},
        {"sortModel": "monetary", "filterModel": ["x"]},
        {"sortModel": [{"colId": "nope", "sort": "up"}, 3]},
        {"filterModel": {"nope": {"filterType": "text", "type": "contains", "filter": "a"}}},
        {"filterModel": {"monetary": {"filterType": "number", "type": "equals", "filter": "abc"}}},
        {"filterModel": {"segment": {"filterType": "text", "type": "regex", "filter": ".*"}}},
        {
            "filterModel": {
                "first_purchase": {"filterType": "date", "type": "equals", "dateFrom": 5}
            }
        },
    ):
        page = grid_page(frame, request)
        assert page["rowCount"] == len(frame), request
        assert 0 < len(page["rowData"]) <= MAX_BLOCK_ROWS, request
    assert grid_page(None, {}) == {"rowData": [], "rowCount": 0}
    assert grid_page(frame.iloc[:0], {}) == {"rowData": [], "rowCount": 0}


def test_blank_filters():
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "cluster": ["x", None, ""]})
    blank = {"cluster": {"filterType": "text", "type": "blank"}}
    assert list(filter_rows(frame, blank)["customer_id"]) == ["b", "c"]
    not_blank = {"cluster": {"filterType": "text", "type": "notBlank"}}
    assert list(filter_rows(frame, not_blank)["customer_id"]) == ["a"]
