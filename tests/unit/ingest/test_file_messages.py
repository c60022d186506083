"""Files the loader refuses with a message in plain words: a 20 MB field (pyarrow's "straddling
object straddles two block boundaries"), two columns with the same name."""

from __future__ import annotations

import pytest

from dashapp.ingest.loading import DataLoadError, load_transactions

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
ROW = "540001,20001,MUG,2,2011-01-01 10:00:00,1.25,12000,France\n"


def test_a_20_mb_field_is_refused_in_plain_words(tmp_path):
    path = tmp_path / "huge_field.csv"
    huge = '540002,20001,"' + "x" * 20_000_000 + '",2,2011-01-02 10:00:00,1.25,12001,France\n'
    path.write_text(HEADER + ROW * 5 + huge + ROW)
    with pytest.raises(DataLoadError) as caught:
        load_transactions(path)
    text = str(caught.value)
    assert "huge_field.csv" in text and "longer than 4 MB" in text and "quote" in text
    assert "straddl" not in text and "block" not in text


@pytest.mark.parametrize(
    "price_headers", [("Price", "Price"), ("Price", " price "), ("Price", "PRICE")]
)
def test_two_columns_with_the_same_name_are_not_resolved_silently(tmp_path, price_headers):
    first, second = price_headers
    path = tmp_path / "dup.csv"
    path.write_text(
        f"Invoice,StockCode,Description,Quantity,InvoiceDate,{first},{second},Customer ID,Country\n"
        + "540001,20001,MUG,2,2011-01-01 10:00:00,1.25,9.99,12000,France\n" * 3
    )
    with pytest.raises(DataLoadError) as caught:
        load_transactions(path)
    text = str(caught.value)
    assert "Two columns are named" in text and "columns 6 and 7" in text and "price" in text
    assert text.startswith("dup.csv: ")  # names the file


def test_a_duplicated_column_nobody_uses_is_fine(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text(HEADER.replace("\n", ",Note,Note\n") + ROW.replace("\n", ",a,b\n") * 3)
    assert len(load_transactions(path)) == 3
