"""dashapp.ingest.loading: reading every supported format into the canonical schema, cache, errors."""

from __future__ import annotations

import os
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from dashapp.ingest import loading, schema
from dashapp.ingest.loading import (
    DataLoadError,
    dataset_fingerprint,
    excel_reader,
    load,
    load_transactions,
    zip_reader,
)
from dashapp.ingest.loading import cache as loading_cache
from tests.factories import RAW_HEADERS, raw_frame

CANON = list(schema.CANONICAL_COLUMNS)


def assert_canonical(df: pd.DataFrame) -> None:
    assert list(df.columns) == CANON
    for col, dtype in schema.DTYPES.items():
        assert str(df[col].dtype) == dtype, col
    for col in schema.CATEGORY_COLUMNS:
        assert df[col].cat.categories.dtype == "str", col
    assert isinstance(df.index, pd.RangeIndex)
    np.testing.assert_allclose(df["line_total"], df["quantity"] * df["price"])


def write_csv(path, df: pd.DataFrame, **kw) -> os.PathLike:
    df.to_csv(path, index=False, **kw)
    return path


def write_xlsx(path, sheets: dict[str, pd.DataFrame]) -> os.PathLike:
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            frame.to_excel(xw, sheet_name=name, index=False)
    return path


# ------------------------------------------------------------------------------------------
# the real extract
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_df(shared_sample_xlsx):
    return load_transactions(shared_sample_xlsx)


def test_sample_both_sheets_loaded(sample_df):
    assert len(sample_df) == 34_766  # 14,269 + 20,497 raw rows, overlap kept
    assert_canonical(sample_df)
    assert sample_df["invoice_date"].min() < pd.Timestamp("2010-12-01")
    assert sample_df["invoice_date"].max() > pd.Timestamp("2011-11-01")


def test_sample_customer_ids_are_clean_strings(sample_df):
    ids = sample_df["customer_id"].cat.categories
    assert len(ids) > 100
    assert not any(s.endswith(".0") for s in ids)
    assert all(s.isdigit() for s in ids)
    assert sample_df["customer_id"].isna().any()  # missing stays missing
    assert sample_df["customer_id"].notna().mean() > 0.9


def test_sample_quirks_kept(sample_df):
    inv = sample_df["invoice"].astype(str)
    assert inv.str.startswith("C").any()
    assert (sample_df.loc[inv.str.startswith("C"), "quantity"] < 0).all()
    codes = set(sample_df["stock_code"].cat.categories)
    assert {"POST", "M"} <= codes
    assert all(c == c.strip() and c == c.upper() for c in codes)
    descs = sample_df["description"].cat.categories
    assert all(d == d.strip() for d in descs)


def test_sample_cached_load_is_identical(shared_sample_xlsx, sample_df, tmp_path):
    first = load_transactions(shared_sample_xlsx, cache_dir=tmp_path)
    second = load_transactions(shared_sample_xlsx, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first, sample_df)
    pd.testing.assert_frame_equal(second, sample_df)
    assert len(list(tmp_path.glob("online_retail_II_sample-*.parquet"))) == 1


# ------------------------------------------------------------------------------------------
# formats and header matching
# ------------------------------------------------------------------------------------------
def test_csv_basic(tmp_path, raw_df):
    df = load_transactions(write_csv(tmp_path / "t.csv", raw_df))
    assert_canonical(df)
    assert len(df) == len(raw_df)
    assert df["customer_id"].iloc[0] == "13085"
    assert df["customer_id"].isna().sum() == 3
    assert df["description"].iloc[0] == raw_df["Description"].iloc[0].strip()
    assert df["invoice"].astype(str).tolist() == raw_df["Invoice"].tolist()
    assert (df["quantity"].to_numpy() == raw_df["Quantity"].to_numpy()).all()


def test_older_online_retail_headers(tmp_path, raw_df):
    old = raw_df.rename(
        columns={"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
    )
    # the old UCI CSV copies write dates month-first without seconds
    old["InvoiceDate"] = [
        "12/1/2010 8:26",
        "12/1/2010 8:26",
        "12/1/2010 8:26",
        "12/13/2010 9:05",
    ] * 3
    df = load_transactions(write_csv(tmp_path / "old.csv", old))
    assert_canonical(df)
    assert df["invoice_date"].iloc[0] == pd.Timestamp("2010-12-01 08:26")
    assert df["invoice_date"].iloc[3] == pd.Timestamp("2010-12-13 09:05")


def test_header_matching_ignores_case_spaces_underscores_hyphens(tmp_path, raw_df):
    odd = raw_df.copy()
    odd.columns = [
        "invoice",
        "STOCK_CODE",
        " description ",
        "quantity",
        "Invoice-Date",
        "PRICE",
        "customer id",
        "COUNTRY",
    ]
    df = load_transactions(write_csv(tmp_path / "odd.csv", odd))
    assert_canonical(df)
    assert df["stock_code"].notna().all()
    assert df["country"].notna().all()


def test_schema_match_headers():
    m = schema.match_headers(["Customer_ID", "invoice no", "UNIT-PRICE", "Qty", "Date", "x"])
    assert m == {"customer_id": 0, "invoice": 1, "price": 2, "quantity": 3, "invoice_date": 4}
    assert schema.canonical_for("CustomerID") == "customer_id"
    assert schema.canonical_for("nonsense") is None


def test_column_map_overrides_aliases(tmp_path, raw_df):
    renamed = raw_df.rename(columns={"Invoice": "Beleg", "Customer ID": "Kunde"})
    path = write_csv(tmp_path / "de.csv", renamed)
    with pytest.raises(DataLoadError, match="invoice"):
        load_transactions(path)
    df = load_transactions(path, column_map={"invoice": "Beleg", "customer_id": "kunde"})
    assert_canonical(df)
    assert df["customer_id"].iloc[0] == "13085"


def test_column_map_errors(tmp_path, raw_df):
    path = write_csv(tmp_path / "t.csv", raw_df)
    with pytest.raises(DataLoadError, match="'Nope'"):
        load_transactions(path, column_map={"invoice": "Nope"})
    with pytest.raises(DataLoadError, match="unknown column"):
        load_transactions(path, column_map={"bogus": "Invoice"})


def test_optional_columns_default(tmp_path, raw_df):
    df = load_transactions(
        write_csv(
            tmp_path / "min.csv", raw_df.drop(columns=["StockCode", "Description", "Country"])
        )
    )
    assert_canonical(df)
    assert df["stock_code"].isna().all()
    assert df["description"].isna().all()
    assert (df["country"] == "Unknown").all()


def test_csv_cp1252_fallback(tmp_path):
    big = raw_frame(3000, seed=1)
    big.loc[2900, "Description"] = "CAFÉ AU LAIT £5 VOUCHER"  # past the first 64 KB
    path = write_csv(tmp_path / "latin.csv", big, encoding="cp1252")
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    df = load_transactions(path)
    assert df["description"].iloc[2900] == "CAFÉ AU LAIT £5 VOUCHER"
    assert len(df) == 3000


def test_csv_utf8_bom_and_semicolons(tmp_path, raw_df):
    raw_df.loc[0, "Description"] = "CRÈME £ POT"
    path = write_csv(tmp_path / "semi.csv", raw_df, sep=";", encoding="utf-8-sig")
    df = load_transactions(path)
    assert_canonical(df)
    assert df["description"].iloc[0] == "CRÈME £ POT"
    assert df["invoice"].iloc[0] == "489434"


def test_customer_id_forms(tmp_path, raw_df):
    as_int = raw_df.assign(**{"Customer ID": raw_df["Customer ID"].astype("Int64")})
    as_str = raw_df.assign(**{"Customer ID": ["13085.0", "13085", " 13085 ", ""] * 3})
    for i, frame in enumerate([raw_df, as_int, as_str]):
        for ext in ("csv", "parquet"):
            path = tmp_path / f"ids{i}.{ext}"
            if ext == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            df = load_transactions(path)
            assert df["customer_id"].iloc[0] == "13085", (i, ext)
            assert not any(c.endswith(".0") for c in df["customer_id"].cat.categories)
            assert df["customer_id"].isna().sum() == 3, (i, ext)


def test_xlsx_float_ids_and_title_rows(tmp_path, raw_df):
    path = tmp_path / "titled.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        raw_df.to_excel(xw, sheet_name="Data", index=False, startrow=2)
        pd.DataFrame({"note": ["read me"]}).to_excel(xw, sheet_name="Notes", index=False)
    df = load_transactions(path)
    assert_canonical(df)
    assert len(df) == len(raw_df)
    assert df["customer_id"].iloc[0] == "13085"


def test_zip_holding_csv(tmp_path, raw_df):
    csv_path = write_csv(tmp_path / "inner.csv", raw_df)
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(csv_path, "folder/online_retail.csv")
        zf.writestr("__MACOSX/._online_retail.csv", b"junk")
    df = load_transactions(zpath)
    assert_canonical(df)
    pd.testing.assert_frame_equal(df, load_transactions(csv_path))


def test_zip_holding_xlsx(tmp_path, raw_df):
    x = write_xlsx(tmp_path / "inner.xlsx", {"Year 2009-2010": raw_df})
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(x, "online_retail_II.xlsx")
    df = load_transactions(zpath)
    assert len(df) == len(raw_df)


def test_parquet_raw_and_canonical(tmp_path, raw_df):
    raw_df.to_parquet(tmp_path / "raw.parquet", index=False)
    df = load_transactions(tmp_path / "raw.parquet")
    assert_canonical(df)
    # a parquet already in the canonical schema reads back unchanged
    df.to_parquet(tmp_path / "canon.parquet", index=False)
    pd.testing.assert_frame_equal(load_transactions(tmp_path / "canon.parquet"), df)


def test_integral_float_quantities_accepted(tmp_path, raw_df):
    raw_df["Quantity"] = raw_df["Quantity"].astype(float)
    df = load_transactions(write_csv(tmp_path / "q.csv", raw_df))
    assert df["quantity"].dtype == "int32"


def test_blank_rows_skipped(tmp_path, raw_df):
    path = write_csv(tmp_path / "blank.csv", raw_df)
    with open(path, "a") as fh:
        fh.write(",,,,,,,\n,,,,,,,\n")
    assert len(load_transactions(path)) == len(raw_df)


# ------------------------------------------------------------------------------------------
# cache and fingerprint
# ------------------------------------------------------------------------------------------
def test_cache_second_load_reads_cache(tmp_path, raw_df, monkeypatch):
    src = write_csv(tmp_path / "t.csv", raw_df)
    cache = tmp_path / "cache"
    first = load_transactions(src, cache_dir=cache)
    files = list(cache.glob("*.parquet"))
    assert [f.name for f in files] == [f"t-{dataset_fingerprint(src)}.parquet"]
    assert not list(cache.glob("*.tmp"))

    def boom(*a, **k):
        raise AssertionError("source parsed again instead of reading the cache")

    monkeypatch.setattr(load, "_load_file", boom)
    second = load_transactions(src, cache_dir=cache)
    pd.testing.assert_frame_equal(first, second)
    assert second["customer_id"].dtype == "category"


def test_changed_file_never_served_stale(tmp_path, raw_df):
    src = tmp_path / "t.csv"
    cache = tmp_path / "cache"
    write_csv(src, raw_df)
    fp1 = dataset_fingerprint(src)
    st = os.stat(src)
    load_transactions(src, cache_dir=cache)
    text = src.read_text()
    src.write_text(text.replace("13085.0", "13086.0", 1))  # same size
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # and even the old mtime
    fp2 = dataset_fingerprint(src)
    assert fp1 != fp2
    df = load_transactions(src, cache_dir=cache)
    assert df["customer_id"].iloc[0] == "13086"
    assert len(list(cache.glob("*.parquet"))) == 2


def test_fingerprint_is_content_hash(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"x,y\n1,2\n")
    b.write_bytes(b"x,y\n1,2\n")
    assert dataset_fingerprint(a) == dataset_fingerprint(b)
    assert len(dataset_fingerprint(a)) == 32
    b.write_bytes(b"x,y\n1,3\n")
    assert dataset_fingerprint(a) != dataset_fingerprint(b)


def test_corrupt_cache_file_is_rebuilt(tmp_path, raw_df):
    src = write_csv(tmp_path / "t.csv", raw_df)
    cache = tmp_path / "cache"
    first = load_transactions(src, cache_dir=cache)
    (cache_file,) = cache.glob("*.parquet")
    cache_file.write_bytes(b"not parquet")
    again = load_transactions(src, cache_dir=cache)
    pd.testing.assert_frame_equal(first, again)
    assert cache_file.read_bytes()[:4] == b"PAR1"


def test_column_map_gets_its_own_cache(tmp_path, raw_df):
    src = write_csv(tmp_path / "t.csv", raw_df.assign(Other="Atlantis"))
    cache = tmp_path / "cache"
    a = load_transactions(src, cache_dir=cache)
    b = load_transactions(src, cache_dir=cache, column_map={"country": "Other"})
    assert (b["country"] == "Atlantis").all() and not (a["country"] == "Atlantis").any()
    assert len(list(cache.glob("*.parquet"))) == 2


# ------------------------------------------------------------------------------------------
# bad input -> DataLoadError with a useful message
# ------------------------------------------------------------------------------------------
def test_file_not_found(tmp_path):
    with pytest.raises(DataLoadError, match="not found") as exc:
        load_transactions(tmp_path / "nope.csv")
    assert "nope.csv" in str(exc.value)


def test_unsupported_extension(tmp_path):
    p = tmp_path / "data.json"
    p.write_text("{}")
    with pytest.raises(DataLoadError) as exc:
        load_transactions(p)
    msg = str(exc.value)
    assert "data.json" in msg and "'.json'" in msg
    for ext in (".csv", ".xlsx", ".zip", ".parquet"):
        assert ext in msg


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(DataLoadError, match=r"empty\.csv is empty"):
        load_transactions(p)


def test_header_only(tmp_path):
    p = tmp_path / "head.csv"
    p.write_text(",".join(RAW_HEADERS) + "\n")
    with pytest.raises(DataLoadError, match="no data rows"):
        load_transactions(p)


def test_missing_required_columns(tmp_path, raw_df):
    path = write_csv(tmp_path / "t.csv", raw_df.drop(columns=["InvoiceDate", "Price"]))
    with pytest.raises(DataLoadError) as exc:
        load_transactions(path)
    msg = str(exc.value)
    assert "t.csv" in msg
    assert "invoice_date" in msg and "price" in msg
    assert "'InvoiceDate'" in msg and "'UnitPrice'" in msg  # accepted aliases listed
    assert "'Quantity'" in msg  # columns found
    assert "quantity (" not in msg  # present columns are not reported missing


@pytest.mark.parametrize(
    "content, what",
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF"),
        (bytes(range(256)) * 40, "binary"),
        (b"PK\x03\x04" + b"\x00" * 100, "zip"),
    ],
)
def test_not_a_table(tmp_path, content, what):
    p = tmp_path / "report.csv"
    p.write_bytes(content)
    with pytest.raises(DataLoadError) as exc:
        load_transactions(p)
    assert "report.csv is not a CSV table" in str(exc.value)
    assert what in str(exc.value)


def test_garbage_xlsx(tmp_path):
    p = tmp_path / "book.xlsx"
    p.write_bytes(b"hello, this is not a workbook")
    with pytest.raises(DataLoadError, match=r"book\.xlsx is not a valid Excel workbook"):
        load_transactions(p)


def test_xlsx_without_usable_sheet(tmp_path):
    p = write_xlsx(
        tmp_path / "book.xlsx",
        {
            "Summary": pd.DataFrame({"Region": ["N"], "Sales": [1]}),
            "Orders": pd.DataFrame({"Invoice": ["1"], "Quantity": [1], "Price": [1.0]}),
        },
    )
    with pytest.raises(DataLoadError) as exc:
        load_transactions(p)
    msg = str(exc.value)
    assert "book.xlsx has no sheet with the required columns" in msg
    assert "'Summary'" in msg and "'Orders'" in msg
    assert "invoice_date" in msg and "customer_id" in msg


def test_unparseable_dates_csv_rows(tmp_path):
    df = raw_frame(12)
    df["InvoiceDate"] = df["InvoiceDate"].astype(str).astype(object)
    for i in (1, 4, 5, 7, 9, 10):
        df.loc[i, "InvoiceDate"] = "soon"
    df.loc[10, "InvoiceDate"] = "31/31/2010"
    with pytest.raises(DataLoadError) as exc:
        load_transactions(write_csv(tmp_path / "d.csv", df))
    msg = str(exc.value)
    assert "d.csv" in msg and "'InvoiceDate'" in msg
    assert "6 values that are not dates" in msg
    assert "rows 3, 6, 7, 9, 11" in msg  # header is row 1, first data row is row 2
    assert "'soon'" in msg
    assert exc.value.rows == [3, 6, 7, 9, 11]


def test_unparseable_numbers_csv_rows(tmp_path, raw_df):
    raw_df = raw_df.astype({"Price": object})
    raw_df.loc[2, "Price"] = "£1.25"
    raw_df.loc[5, "Price"] = "n/a price"
    with pytest.raises(DataLoadError) as exc:
        load_transactions(write_csv(tmp_path / "p.csv", raw_df))
    msg = str(exc.value)
    assert "'Price'" in msg and "2 values that are not numbers" in msg
    assert "rows 4, 7" in msg and "'£1.25'" in msg


def test_fractional_quantity_rows(tmp_path, raw_df):
    raw_df = raw_df.astype({"Quantity": float})
    raw_df.loc[3, "Quantity"] = 1.5
    with pytest.raises(DataLoadError) as exc:
        load_transactions(write_csv(tmp_path / "q.csv", raw_df))
    assert "not a whole number" in str(exc.value) and "row 5" in str(exc.value)


def test_missing_values_in_required_columns(tmp_path, raw_df):
    raw_df = raw_df.astype({"Quantity": float})
    raw_df.loc[6, "Quantity"] = np.nan
    with pytest.raises(DataLoadError) as exc:
        load_transactions(write_csv(tmp_path / "q.csv", raw_df))
    assert "'Quantity' has 1 empty value" in str(exc.value) and "row 8" in str(exc.value)


def test_unparseable_dates_xlsx_names_sheet(tmp_path):
    good = raw_frame(6)
    bad = raw_frame(6, seed=3)
    bad["InvoiceDate"] = bad["InvoiceDate"].astype(object)
    bad.loc[1, "InvoiceDate"] = "yesterday"
    bad.loc[4, "InvoiceDate"] = "13.13.2011"
    p = write_xlsx(tmp_path / "two.xlsx", {"Year 2009-2010": good, "Year 2010-2011": bad})
    with pytest.raises(DataLoadError) as exc:
        load_transactions(p)
    msg = str(exc.value)
    assert "two.xlsx" in msg and "2 values that are not dates" in msg
    assert "sheet 'Year 2010-2011' rows 3, 6" in msg
    assert exc.value.sheet == "Year 2010-2011"


def test_zip_without_table(tmp_path):
    z = tmp_path / "docs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt.md", "hello")
        zf.writestr("picture.png", b"\x89PNG")
    with pytest.raises(DataLoadError) as exc:
        load_transactions(z)
    assert "docs.zip holds no table" in str(exc.value) and "picture.png" in str(exc.value)


def test_zip_with_several_tables(tmp_path, raw_df):
    z = tmp_path / "many.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.csv", raw_df.to_csv(index=False))
        zf.writestr("b.csv", raw_df.to_csv(index=False))
    with pytest.raises(DataLoadError) as exc:
        load_transactions(z)
    assert "several tables" in str(exc.value) and "a.csv" in str(exc.value)


def test_zip_bomb_ratio(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.csv", b"0" * (40 * 1024**2))  # 40 MiB of zeros, ~40 KB compressed
    with pytest.raises(DataLoadError) as exc:
        load_transactions(z)
    assert "zip bomb" in str(exc.value) and "bomb.zip" in str(exc.value)


def test_zip_bomb_total_size(tmp_path, raw_df, monkeypatch):
    monkeypatch.setattr(zip_reader, "MAX_UNCOMPRESSED_BYTES", 100)
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.csv", raw_df.to_csv(index=False))
    with pytest.raises(DataLoadError, match="limit"):
        load_transactions(z)


def test_not_a_zip(tmp_path):
    z = tmp_path / "fake.zip"
    z.write_bytes(b"plain text")
    with pytest.raises(DataLoadError, match="not a valid zip"):
        load_transactions(z)


def test_not_a_parquet(tmp_path):
    p = tmp_path / "fake.parquet"
    p.write_bytes(b"plain text, no parquet here")
    with pytest.raises(DataLoadError, match="not a valid parquet"):
        load_transactions(p)


def test_error_is_value_error():
    assert issubclass(DataLoadError, ValueError)


def test_a_larger_csv_loads_every_row(tmp_path):
    """50,000 lines (loading speed is measured in bench/bench_app.py, not here)."""
    df = raw_frame(50_000, seed=2)
    out = load_transactions(write_csv(tmp_path / "mid.csv", df))
    assert len(out) == 50_000
    assert out["quantity"].sum() == df["Quantity"].sum()


def test_fingerprint_memo_on_disk_is_safe(tmp_path, raw_df, monkeypatch):
    # files changed < 2 s before hashing are never memoized; shrink that margin for the test
    monkeypatch.setattr(loading_cache, "_RACY_MARGIN_NS", 0)
    src = write_csv(tmp_path / "old.csv", raw_df)
    cache = tmp_path / "cache"
    past = time.time_ns() - 3600 * 10**9
    os.utime(src, ns=(past, past))
    time.sleep(0.05)
    fp = loading.cache_path_for(src, cache).name
    assert list(cache.glob(".fingerprint-*.json"))
    loading_cache._FP_MEMO.clear()

    def no_hashing(path):
        raise AssertionError("hashed again")

    real_hash = loading_cache._hash_file

    monkeypatch.setattr(loading_cache, "_hash_file", no_hashing)
    assert loading.cache_path_for(src, cache).name == fp  # served by the on-disk memo
    monkeypatch.setattr(loading_cache, "_hash_file", real_hash)
    # same size, same mtime, new content: ctime moved, so the memo does not match
    src.write_text(src.read_text().replace("13085.0", "13086.0", 1))
    os.utime(src, ns=(past, past))
    assert loading.cache_path_for(src, cache).name != fp
    assert load_transactions(src, cache_dir=cache)["customer_id"].iloc[0] == "13086"


def test_recently_changed_file_is_not_memoized(tmp_path, raw_df):
    src = write_csv(tmp_path / "new.csv", raw_df)
    loading_cache._FP_MEMO.clear()
    dataset_fingerprint(src)
    assert not loading_cache._FP_MEMO  # changed < 2 s before hashing: too racy to memoize


def test_csv_quoted_newlines(tmp_path, raw_df):
    raw_df.loc[4, "Description"] = "TWO\nLINES, WITH COMMA"
    raw_df.loc[0, "Description"] = "LAST\nFIELD"
    path = write_csv(
        tmp_path / "nl.csv", raw_df[[*RAW_HEADERS[:2], *RAW_HEADERS[3:], "Description"]]
    )
    df = load_transactions(path)
    assert len(df) == len(raw_df)
    assert df["description"].iloc[4] == "TWO\nLINES, WITH COMMA"
    assert df["description"].iloc[0] == "LAST\nFIELD"


def test_ragged_csv_is_reported(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text(",".join(RAW_HEADERS) + "\n1,2,3,4,2010-01-01,5,6,7,8,9\n")
    with pytest.raises(DataLoadError, match=r"ragged\.csv is not a well-formed CSV table"):
        load_transactions(p)


def test_xlsx_row_numbers_below_title_rows(tmp_path, raw_df):
    raw_df["Price"] = raw_df["Price"].astype(object)
    raw_df.loc[1, "Price"] = "free"
    path = tmp_path / "titled.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        raw_df.to_excel(xw, sheet_name="Data", index=False, startrow=2)  # header on row 3
    with pytest.raises(DataLoadError) as exc:
        load_transactions(path)
    assert "sheet 'Data' row 5" in str(exc.value)  # data row index 1 -> row 3 + 2


def test_xlsx_chunked_factorizing_matches(tmp_path, raw_df, monkeypatch):
    path = write_xlsx(tmp_path / "b.xlsx", {"A": raw_df, "B": raw_frame(7, seed=5)})
    whole = load_transactions(path)
    real = excel_reader._factorize_rows
    monkeypatch.setattr(
        excel_reader,
        "_factorize_rows",
        lambda rows, mapping, width: real(rows, mapping, width, chunk=5),
    )
    pd.testing.assert_frame_equal(load_transactions(path), whole)
    assert len(whole) == 19


def test_html_page_saved_as_csv(tmp_path):
    p = tmp_path / "online_retail_II.csv"
    p.write_text("<!DOCTYPE html>\n<html><body>Not Found</body></html>\n")
    with pytest.raises(DataLoadError, match="HTML web page"):
        load_transactions(p)


def test_utf16_tab_separated(tmp_path, raw_df):
    raw_df.loc[0, "Description"] = "CAFÉ £"
    path = write_csv(tmp_path / "excel_unicode.tsv", raw_df, sep="\t", encoding="utf-16")
    df = load_transactions(path)
    assert_canonical(df)
    assert df["description"].iloc[0] == "CAFÉ £"
    assert df["customer_id"].iloc[0] == "13085"
