import base64

import pytest

from dashapp.ingest.loading import DataLoadError
from dashapp.ingest.uploads import (
    ID_PATTERN,
    UploadError,
    UploadNotAvailable,
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
    stored = store_upload(b"a,b\n", "../../x.csv", tmp_path, ANA)
    assert stored.path.parent.parent == tmp_path
    assert stored.path.name == "x.csv"


ANA, BOB = "session:ana-token", "session:bob-token"


def test_uploads_never_overwrite_each_other_and_ids_are_checked(tmp_path):
    one = store_upload(b"Invoice,Price\n1,2\n", "sales.csv", tmp_path, ANA)
    two = store_upload(b"Invoice,Price\n1,3\n", "sales.csv", tmp_path, ANA)
    assert one.id != two.id
    assert one.path.read_bytes() != two.path.read_bytes()
    again = store_upload(b"Invoice,Price\n1,2\n", "sales.csv", tmp_path, ANA, currency="$")
    assert again.id == one.id and again.currency == "$"
    updated = set_column_map(tmp_path, one.id, ANA, {"invoice": "Invoice", "bogus": "x"})
    assert updated.column_map == {"invoice": "Invoice"}
    assert find_upload(tmp_path, one.id, ANA).column_map == {"invoice": "Invoice"}
    for bad in ("../etc", "upload-../../x", "upload-ZZZZZZZZZZZZ", "demo"):
        with pytest.raises(DataLoadError, match="Unknown dataset"):
            find_upload(tmp_path, bad, ANA)


def test_an_upload_belongs_to_its_owner(tmp_path):
    raw = b"Invoice,Price\n1,2\n"
    ana = store_upload(raw, "sales.csv", tmp_path, ANA, currency="£")
    bob = store_upload(raw, "sales.csv", tmp_path, BOB, currency="$")
    # the same file by two people: two uploads, each with its own currency and mapping
    assert ana.id != bob.id and (ana.currency, bob.currency) == ("£", "$")
    set_column_map(tmp_path, bob.id, BOB, {"invoice": "Price"}, currency="€")
    assert find_upload(tmp_path, ana.id, ANA).column_map is None
    assert find_upload(tmp_path, ana.id, ANA).currency == "£"
    # a stranger can neither read nor change it, and learns nothing (same as a missing id)
    for stranger in (BOB, "", "session:other"):
        with pytest.raises(UploadNotAvailable, match="not available to you"):
            find_upload(tmp_path, ana.id, stranger)
        with pytest.raises(UploadNotAvailable, match="not available to you"):
            set_column_map(tmp_path, ana.id, stranger, {"invoice": "Price"}, currency="USD")
    missing = "upload-" + "0" * 32
    with pytest.raises(UploadNotAvailable, match="not available to you"):
        find_upload(tmp_path, missing, ANA)
    assert find_upload(tmp_path, ana.id, ANA).currency == "£"
    # the owner's token is not on disk, only a hash of it
    assert "ana-token" not in (ana.path.parent / "meta.json").read_text()
    # ids are random: 128 bits, not derived from the content
    assert ID_PATTERN.match(ana.id) and ID_PATTERN.match(bob.id)
    assert ana.id != store_upload(raw, "s.csv", tmp_path / "elsewhere", ANA).id
    with pytest.raises(UploadError, match="browser session"):
        store_upload(raw, "sales.csv", tmp_path, "")


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


def _age(stored, seconds_ago: float) -> None:
    import os
    import time

    meta = stored.path.parent / "meta.json"
    stamp = time.time() - seconds_ago
    os.utime(meta, (stamp, stamp))


def test_retention_deletes_uploads_older_than_the_limit(tmp_path):
    from dashapp.ingest.uploads import prune_uploads

    old = store_upload(b"a,b\n1,2\n", "old.csv", tmp_path, ANA)
    new = store_upload(b"a,b\n1,3\n", "new.csv", tmp_path, BOB)
    _age(old, 25 * 3600)
    gone = prune_uploads(tmp_path, max_age_s=24 * 3600, max_total_bytes=10**9)
    assert gone == [old.id]
    with pytest.raises(UploadNotAvailable):
        find_upload(tmp_path, old.id, ANA)
    assert find_upload(tmp_path, new.id, BOB).path.is_file()


def test_owner_quota_and_total_size_drop_the_oldest_first(tmp_path):
    from dashapp.ingest.uploads import prune_uploads

    kb = b"x" * 1000
    ana = [store_upload(kb + bytes([i]), f"a{i}.csv", tmp_path, ANA) for i in range(3)]
    bob = store_upload(kb + b"b", "b.csv", tmp_path, BOB)
    for i, stored in enumerate(ana):
        _age(stored, 100 - i)  # a0 oldest
    _age(bob, 200)  # older than all of Ana's
    # Ana's quota: 2.5 kB with 1 kB incoming -> her two oldest go, Bob's stays
    gone = prune_uploads(
        tmp_path,
        max_age_s=3600,
        max_total_bytes=10**9,
        owner=ANA,
        owner_quota_bytes=2600,
        incoming_bytes=1001,
    )
    assert gone == [ana[0].id, ana[1].id]
    assert find_upload(tmp_path, bob.id, BOB)
    # the total bound: the oldest of anyone (Bob's) goes first
    gone = prune_uploads(tmp_path, max_age_s=3600, max_total_bytes=2600, incoming_bytes=1001)
    assert gone == [bob.id]
    assert find_upload(tmp_path, ana[2].id, ANA)
