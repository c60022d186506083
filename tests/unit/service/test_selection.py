"""Drill-down selections: the customers behind a clicked chart element, applied by the
service to the grid's pages and to the export."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp.service.paging import grid_page
from dashapp.service.selection import (
    SelectionError,
    describe,
    parse,
    range_token,
    select_or_all,
    select_rows,
    token,
    top_token,
)


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(10)],
            "segment": ["Champions"] * 3 + ["Can't Lose Them"] * 2 + ["Hibernating"] * 5,
            "r_score": [5, 5, 4, 1, 1, 1, 2, 2, 1, 1],
            "f_score": [5, 4, 5, 4, 5, 1, 1, 2, 1, 1],
            "monetary": [900.0, 800.0, 700.0, 600.0, 500.0, 50.0, 40.0, 30.0, 20.0, None],
        }
    )


def test_a_cell_selects_the_customers_with_both_scores():
    table = _table()
    picked = select_rows(table, token(r_score=5, f_score=4))
    assert picked["customer_id"].tolist() == ["C1"]
    assert select_rows(table, token(segment="Can't Lose Them"))["customer_id"].tolist() == [
        "C3",
        "C4",
    ]


def test_ranges_and_top_shares():
    table = _table()
    assert select_rows(table, range_token("monetary", 40, 600))["customer_id"].tolist() == [
        "C4",
        "C5",
        "C6",
    ]
    assert select_rows(table, "monetary:~40")["customer_id"].tolist() == ["C7", "C8"]
    # 9 customers have a monetary value: the top 20 % are the ceil(1.8) = 2 largest
    assert select_rows(table, top_token("monetary", 20))["customer_id"].tolist() == ["C0", "C1"]
    assert len(select_rows(table, "monetary:top100")) == 9  # the blank one is not ranked


def test_a_blank_selection_keeps_every_row():
    table = _table()
    for blank in (None, "", "  "):
        assert select_rows(table, blank) is table
    assert parse("") == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("country:France", "names a column"),
        ("segment", "column:value"),
        ("monetary:a~b", "not a number"),
        ("monetary:top0", "percentage"),
        ("monetary:~", "no end"),
        ("a:1;b:2;c:3;d:4;e:5", "at most 4"),
    ],
)
def test_a_selection_the_table_cannot_answer_is_named(text, words):
    with pytest.raises(SelectionError, match=words):
        select_rows(_table(), text)
    # the grid and the export then list every customer (the chip says why)
    assert len(select_or_all(_table(), text)) == 10


def test_the_grid_pages_through_the_selected_customers_only():
    table = _table()
    page = grid_page(table, {"startRow": 0, "endRow": 100}, token(segment="Hibernating"))
    assert page["rowCount"] == 5
    assert {r["segment"] for r in page["rowData"]} == {"Hibernating"}
    # the grid's own filter applies on top of the selection
    request = {
        "startRow": 0,
        "endRow": 100,
        "filterModel": {"r_score": {"filterType": "number", "type": "equals", "filter": 2}},
    }
    assert grid_page(table, request, token(segment="Hibernating"))["rowCount"] == 2


def test_the_chip_says_what_is_selected_in_the_grid_headers_words():
    labels = {"r_score": "R score", "f_score": "F score", "predicted_clv": "Predicted CLV"}
    assert describe(token(r_score=5, f_score=4), labels) == "R score: 5 · F score: 4"
    assert describe(top_token("predicted_clv", 20), labels) == "Predicted CLV: top 20 %"
    assert describe(range_token("monetary", 100, 1500)) == "monetary 100 to 1,500"
    assert describe("") == ""


def test_the_chip_refuses_a_column_the_grid_lacks():
    with pytest.raises(SelectionError, match="colour:blue"):
        describe("colour:blue", columns=["segment"])
    assert describe("segment:Champions", columns=["segment"]) == "segment: Champions"


def test_a_list_column_selects_the_rows_whose_items_include_the_value():
    table = pd.DataFrame({"cohort": ["2010-12", "2010-12", "2011-01"],
                          "months_active": ["0 1 10", "0 2", "0 1"]})  # fmt: skip
    picked = select_rows(table, "cohort:2010-12;months_active:has1")
    assert picked.index.tolist() == [0]  # "10" is not "1"
    labels = {"cohort": "Cohort", "months_active": "bought in month"}
    assert describe("cohort:2010-12;months_active:has1", labels) == (
        "Cohort: 2010-12 · bought in month 1"
    )
