"""Files the loader used to misread without a word (issue 13, point 5): dates in two orders,
dates that read either way, dates out of range, infinite prices, no customer id at all.
Each is refused with the column and the rows, or read right; nothing is half-loaded."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from dashapp.ingest import schema
from dashapp.ingest.errors import AmbiguousDateOrder
from dashapp.ingest.loading import DataLoadError, load_transactions
from dashapp.ingest.loading.cache import read_notes
from dashapp.ingest.loading.stream import csv_to_parquet
from tests.badinput.make_corpus import HEADER, _csv, _rows

GOOD = _rows()  # 90 lines, 30 customers, dates 2011-01-01 .. 2011-02-19 (ISO)


def _day_first(rows, fmt="{d}/{m}/{y} {t}"):
    out = []
    for r in rows:
        y, m, d = r[4][:10].split("-")
        out.append([*r[:4], fmt.format(d=d, m=m, y=y, t=r[4][11:16]), *r[5:]])
    return out


def _write(tmp_path, name, rows, header=HEADER):
    path = tmp_path / name
    path.write_bytes(_csv(rows, header=header))
    return path


def _iso(rows):
    return pd.to_datetime([r[4] for r in rows]).floor("min")


# -- dates in two orders -------------------------------------------------------------------
def test_a_day_first_file_with_one_iso_row_is_read_day_first(tmp_path):
    rows = _day_first(GOOD)
    rows[5][4] = GOOD[5][4]  # one row in ISO form (the "mixed" fallback read all month-first)
    frame = load_transactions(_write(tmp_path, "d.csv", rows))
    np.testing.assert_array_equal(frame["invoice_date"].dt.floor("min"), _iso(GOOD))
    assert frame.attrs.get("notes") is None  # the file showed its order: nothing assumed


def test_a_month_first_row_in_a_day_first_file_is_refused_with_its_row(tmp_path):
    rows = _day_first(GOOD)
    rows[7][4] = "01/31/2011 10:00"  # month-first, row 9 of the file
    with pytest.raises(DataLoadError) as err:
        load_transactions(_write(tmp_path, "d.csv", rows), cache_dir=tmp_path / "cache")
    text = str(err.value)
    assert "column 'InvoiceDate' has 1 month-first date while other dates are day-first" in text
    assert "'01/31/2011 10:00'" in text and "row 9." in text
    assert err.value.rows == [9] and err.value.column == "InvoiceDate"
    assert not list((tmp_path / "cache").glob("*.parquet"))  # nothing half-loaded


def test_a_numeric_date_in_no_known_format_is_refused_not_guessed(tmp_path):
    rows = _day_first(GOOD)
    rows[3][4] = "2011.13.01"
    with pytest.raises(DataLoadError, match=r"1 value that is not a date.*'2011.13.01'.*row 5"):
        load_transactions(_write(tmp_path, "d.csv", rows))


def test_a_chosen_order_that_the_file_contradicts_is_refused(tmp_path):
    path = _write(tmp_path, "d.csv", _day_first(GOOD))
    with pytest.raises(DataLoadError, match="day-first dates while the date order chosen are"):
        load_transactions(path, column_map={"date_order": "mdy"})
    frame = load_transactions(path, column_map={"date_order": "dmy"})
    np.testing.assert_array_equal(frame["invoice_date"].dt.floor("min"), _iso(GOOD))


def test_dates_with_month_names_are_read_when_both_orders_agree(tmp_path):
    rows = _day_first(GOOD)
    rows[0][4] = "1 January 2011 09:02"
    frame = load_transactions(_write(tmp_path, "d.csv", rows))
    assert frame["invoice_date"].iloc[0] == pd.Timestamp("2011-01-01 09:02")


# -- dates that read either way ------------------------------------------------------------
def _ambiguous(tmp_path):
    """Every day <= 12: 05/01/2011 is 5 January (day first) or 1 May (month first)."""
    rows = [r[:] for r in GOOD[:12]]
    for i, r in enumerate(rows):
        r[4] = f"{i + 1:02d}/01/2011 10:00"
    return _write(tmp_path, "ambiguous.csv", rows), rows


def test_an_ambiguous_file_with_ask_is_refused_with_a_choice(tmp_path):
    path, _ = _ambiguous(tmp_path)
    with pytest.raises(AmbiguousDateOrder) as err:
        load_transactions(path, column_map={"date_order": "ask"}, cache_dir=tmp_path / "c")
    text = str(err.value)
    assert "column 'InvoiceDate' has 11 dates that read both day-first and month-first" in text
    assert "choose the date order" in text and err.value.rows == [3, 4, 5, 6, 7]
    assert not list((tmp_path / "c").glob("*.parquet"))


@pytest.mark.parametrize(("order", "month"), [("dmy", 1), ("mdy", None)])
def test_an_ambiguous_file_reads_in_the_order_chosen(tmp_path, order, month):
    path, _ = _ambiguous(tmp_path)
    dates = load_transactions(path, column_map={"date_order": order})["invoice_date"]
    if month:  # day first: 01..12 January
        assert list(dates.dt.day) == list(range(1, 13)) and set(dates.dt.month) == {1}
    else:  # month first: 1 January .. 1 December
        assert list(dates.dt.month) == list(range(1, 13)) and set(dates.dt.day) == {1}


def test_an_ambiguous_file_without_a_choice_states_its_assumption(tmp_path, caplog):
    path, _ = _ambiguous(tmp_path)
    cache = tmp_path / "cache"
    with caplog.at_level(logging.WARNING, logger="dashapp.ingest.loading.convert"):
        frame = load_transactions(path, cache_dir=cache)
    assert list(frame["invoice_date"].dt.month) == list(range(1, 13))  # month first
    note = (
        "Dates such as '02/01/2011 10:00' read both day-first and month-first and the file "
        "does not tell which: they were read month first (01/31/2011 = 31 January)."
    )
    assert frame.attrs["notes"] == [note]
    assert "column 'InvoiceDate' has dates such as '02/01/2011 10:00'" in caplog.text
    (kept,) = cache.glob("*.parquet")
    assert read_notes(kept) == [note]
    assert load_transactions(path, cache_dir=cache).attrs["notes"] == [note]  # from the cache


def test_a_streamed_file_keeps_one_order_across_blocks(tmp_path):
    """Blocks are converted one by one: an early block with only ambiguous dates is read with
    the assumed order; a later block showing the other order is refused, not read its way."""
    ambiguous, rows = _ambiguous(tmp_path)
    tail = _day_first(GOOD)  # days up to 31: day first
    mixed = _write(tmp_path, "mixed.csv", rows * 400 + tail)
    with pytest.raises(DataLoadError, match="read with an assumed order"):
        csv_to_parquet(mixed, tmp_path / "mixed.parquet", block_bytes=1 << 14)
    assert not (tmp_path / "mixed.parquet").exists()
    # chosen day first: every block agrees
    rows_out = csv_to_parquet(
        mixed, tmp_path / "ok.parquet", column_map={"date_order": "dmy"}, block_bytes=1 << 14
    )
    frame = pd.read_parquet(tmp_path / "ok.parquet")
    assert rows_out == len(rows) * 400 + len(tail) and set(frame["invoice_date"].dt.year) == {2011}
    assert set(frame["invoice_date"].iloc[:12].dt.month) == {1}
    # a wholly ambiguous file streamed: assumed, and the note is in the parquet footer
    csv_to_parquet(ambiguous, tmp_path / "amb.parquet", block_bytes=1 << 14)
    assert read_notes(tmp_path / "amb.parquet")[0].startswith("Dates such as '02/01/2011")


# -- dates out of range ----------------------------------------------------------------------
def test_dates_before_1990_or_more_than_a_year_ahead_are_refused(tmp_path):
    rows = [r[:] for r in GOOD]
    rows[2][4] = "1900-01-01 10:00:00"
    rows[4][4] = "2099-12-31 10:00:00"
    with pytest.raises(DataLoadError) as err:
        load_transactions(_write(tmp_path, "far.csv", rows))
    latest = (pd.Timestamp.today().normalize() + pd.Timedelta(days=366)).strftime("%Y-%m-%d")
    assert f"column 'InvoiceDate' has 2 dates outside 1990-01-01 to {latest}" in str(err.value)
    assert "'1900-01-01', '2099-12-31'" in str(err.value) and err.value.rows == [4, 6]
    rows[2][4], rows[4][4] = "1990-01-01 00:00:00", f"{latest} 00:00:00"  # the bounds load
    assert len(load_transactions(_write(tmp_path, "edge.csv", rows))) == len(rows)


def test_excel_dates_out_of_range_are_refused_too(tmp_path):
    frame = pd.DataFrame(GOOD, columns=HEADER)
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    frame.loc[3, "InvoiceDate"] = pd.Timestamp("1985-06-01")
    path = tmp_path / "far.xlsx"
    frame.to_excel(path, index=False, sheet_name="Data")
    with pytest.raises(DataLoadError, match=r"1 date outside 1990-01-01 .*sheet 'Data' row 5"):
        load_transactions(path)


# -- numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_infinite_and_huge_prices_are_refused_like_nan(tmp_path, kind):
    rows = [r[:] for r in GOOD]
    rows[1][5], rows[3][5], rows[6][5] = "inf", "-Infinity", "1e308"
    if kind == "csv":
        path = _write(tmp_path, "p.csv", rows)
    else:
        frame = pd.DataFrame(rows, columns=HEADER)
        frame["Price"] = frame["Price"].astype(float)
        path = tmp_path / "p.parquet"
        frame.to_parquet(path)
    with pytest.raises(DataLoadError) as err:
        load_transactions(path)
    text = str(err.value)
    assert "column 'Price' has 3 values that are infinite or beyond ±1,000,000,000" in text
    assert err.value.rows == [3, 5, 8] and err.value.column == "Price"
    rows[1][5], rows[3][5], rows[6][5] = "1e9", "-1e9", "0"
    assert load_transactions(_write(tmp_path, "ok.csv", rows))["price"].iloc[1] == 1e9


# -- no customer id at all ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_where_no_row_has_a_customer_id_is_explained(tmp_path, kind):
    rows = [[*r[:6], "", r[7]] for r in GOOD]
    if kind == "csv":
        path = _write(tmp_path, "nobody.csv", rows)
    else:
        path = tmp_path / "nobody.xlsx"
        pd.DataFrame(rows, columns=HEADER).replace("", None).to_excel(path, index=False)
    with pytest.raises(DataLoadError) as err:
        load_transactions(path, cache_dir=tmp_path / "cache")
    assert f"column 'Customer ID' is empty in all {len(rows)} rows" in str(err.value)
    assert err.value.column == "Customer ID"
    assert not list((tmp_path / "cache").glob("*.parquet"))
    rows[0][6] = "12345"  # one customer is enough to load
    assert load_transactions(_write(tmp_path, "one.csv", rows))["customer_id"].notna().sum() == 1


def test_the_date_order_option_is_checked():
    with pytest.raises(DataLoadError, match="Unknown date order 'ymd'"):
        load_transactions(__file__, column_map={schema.DATE_ORDER_OPTION: "ymd"})
