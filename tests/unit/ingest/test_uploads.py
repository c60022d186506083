import base64

import pytest

from dashapp.ingest.loading import DataLoadError
from dashapp.ingest.uploads import (
    UploadError,
    decode_contents,
    find_upload,
    guess_column_map,
    safe_file_name,
    set_column_map,
    store_upload,
)


def as_contents(raw: bytes, mime="text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def test_decode_accepts_csv_and_refuses_bad_uploads():
    assert decode_contents(as_contents(b"a,b\n1,2\n"), "x.csv", 1000) == b"a,b\n1,2\n"
    with pytest.raises(UploadError, match="only CSV"):
        decode_contents(as_contents(b"x"), "evil.exe", 1000)
    with pytest.raises(UploadError, match="larger than the upload limit"):
        decode_contents(as_contents(b"x" * 5000), "big.csv", 1000)
    with pytest.raises(UploadError, match="empty"):
        decode_contents("data:text/csv;base64,", "e.csv", 1000)
    with pytest.raises(UploadError, match="base64"):
        decode_contents("data:text/csv;base64,@@@", "e.csv", 1000)
    with pytest.raises(UploadError, match="No file"):
        decode_contents(None, None, 1000)


def test_file_names_never_escape_the_upload_folder(tmp_path):
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("..\\..\\boot.ini") == "boot.ini"
    assert safe_file_name("<script>.csv") == "_script_.csv"
    stored = store_upload(b"a,b\n", "../../x.csv", tmp_path)
    assert stored.path.parent.parent == tmp_path
    assert stored.path.name == "x.csv"


def test_uploads_never_overwrite_each_other_and_ids_are_checked(tmp_path):
    one = store_upload(b"Invoice,Price\n1,2\n", "sales.csv", tmp_path)
    two = store_upload(b"Invoice,Price\n1,3\n", "sales.csv", tmp_path)
    assert one.id != two.id
    assert one.path.read_bytes() != two.path.read_bytes()
    again = store_upload(b"Invoice,Price\n1,2\n", "sales.csv", tmp_path, currency="$")
    assert again.id == one.id and again.currency == "$"
    updated = set_column_map(tmp_path, one.id, {"invoice": "Invoice", "bogus": "x"})
    assert updated.column_map == {"invoice": "Invoice"}
    assert find_upload(tmp_path, one.id).column_map == {"invoice": "Invoice"}
    for bad in ("../etc", "upload-../../x", "upload-ZZZZZZZZZZZZ", "demo"):
        with pytest.raises(DataLoadError, match="Unknown dataset"):
            find_upload(tmp_path, bad)


def test_guess_column_map_for_nonstandard_headers():
    headers = ["Order No", "Order Date", "Client", "Qty", "Unit Cost", "Market", "SKU", "Item name"]
    guess = guess_column_map(headers)
    assert guess["invoice"] == "Order No"
    assert guess["invoice_date"] == "Order Date"
    assert guess["customer_id"] == "Client"
    assert guess["quantity"] == "Qty"
    assert guess["price"] == "Unit Cost"
    assert guess["country"] == "Market"
    assert guess["stock_code"] == "SKU"
    std = guess_column_map(
        [
            "Invoice",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "Price",
            "Customer ID",
            "Country",
        ]
    )
    assert std["invoice"] == "Invoice" and std["invoice_date"] == "InvoiceDate"
