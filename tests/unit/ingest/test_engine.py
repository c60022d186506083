"""The embedded engine around the cleaning: the prepared cache (a second process never
re-cleans; a cache folder that cannot be written costs only the cache), the lines parquet
written off the request path, large CSV files converted block by block with the same results and the same
messages, and the Spark source's message when Spark is missing."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from dashapp.ingest import engine
from dashapp.ingest.cleaning import CleaningRules
from dashapp.ingest.engine import local, prepared
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading import cache_path_for, load_transactions
from dashapp.ingest.loading.stream import csv_to_parquet
from tests.factories import RAW_ROWS, write_raw_csv

ROWS = [
    *RAW_ROWS,
    ["104", "B2", "Bowl", "2", "2010-02-01 09:00", "5.0", "2", "Spain"],
]


def _csv(path, rows, repeat=1):
    return write_raw_csv(path, rows, repeat)


def test_a_second_process_reads_the_prepared_result(tmp_path, monkeypatch):
    csv = _csv(tmp_path / "lines.csv", ROWS)
    cache = tmp_path / "cache"
    orders, ledger = prepared.prepare_file(csv, CleaningRules(), cache_dir=cache)
    prepared.wait_for_writers()
    assert (cache / "prepared").is_dir() and cache_path_for(csv, cache).exists()

    def no_cleaning(*args, **kwargs):
        raise AssertionError("cleaned again")

    monkeypatch.setattr(engine, "clean", no_cleaning)  # as a new process: only the cache
    again, ledger2 = prepared.prepare_file(csv, CleaningRules(), cache_dir=cache)
    pd.testing.assert_frame_equal(again, orders)
    pd.testing.assert_frame_equal(ledger2, ledger)
    # out: a duplicate, the postage line and the return of Z9 (never bought in the data)
    assert ledger2.attrs == ledger.attrs == {"rows_in": 6, "rows_out": 3}


def _no_cleaning(monkeypatch):
    """As a new process that may only read the cache: any cleaning fails."""

    def no_cleaning(*args, **kwargs):
        raise AssertionError("cleaned again")

    for name in ("clean", "clean_products"):
        monkeypatch.setattr(engine, name, no_cleaning)
    monkeypatch.setattr(local, "run", no_cleaning)
    monkeypatch.setattr(prepared, "load_transactions", no_cleaning)


def test_a_second_process_reads_the_prepared_product_lines(tmp_path, monkeypatch):
    csv = _csv(tmp_path / "lines.csv", ROWS)
    cache = tmp_path / "cache"
    lines = prepared.prepare_file_products(csv, CleaningRules(), cache_dir=cache)
    prepared.wait_for_writers()
    stored = list((cache / "prepared").glob(f"*-e{prepared.ENGINE_VERSION}-products.parquet"))
    assert len(stored) == 1 and not list((cache / "prepared").glob("*.tmp*"))
    # the mug order keeps 10 - 4 = 6 units' money, the return its 4 matched units; the
    # postage line and the unexplained return of Z9 are not products
    by = lines.set_index(["invoice", "stock_code"])
    assert by.loc[("100", "A1"), "units"] == 10 and by.loc[("100", "A1"), "revenue"] == 12.0
    assert by.loc[("C101", "A1"), "units"] == -4 and by.loc[("C101", "A1"), "revenue"] == 0
    assert len(lines) == 3 and "Z9" not in set(lines["stock_code"])

    _no_cleaning(monkeypatch)
    again = prepared.prepare_file_products(csv, CleaningRules(), cache_dir=cache)
    pd.testing.assert_frame_equal(again, lines, check_exact=True)  # categories kept
    with pytest.raises(AssertionError, match="cleaned again"):  # another rule set is not there
        prepared.prepare_file_products(csv, CleaningRules(drop_duplicates=False), cache_dir=cache)


def test_a_new_worker_gets_product_lines_from_the_cache_folder(tmp_path, monkeypatch):
    """The service's store: a new process (an empty store) reads the product lines and the
    invoice table from the cache folder without cleaning."""
    from dashapp import service
    from dashapp.config import Settings
    from dashapp.service import store

    csv = _csv(tmp_path / "shop.csv", ROWS, repeat=3)
    previous = service.settings()
    service.configure(Settings.from_env(env={}, data_path=csv, cache_dir=tmp_path / "cache"))
    monkeypatch.setattr(store, "_store", type(store._store)())
    try:
        rules = service.Filters.build(dataset="shop").rules
        lines = store.products("shop", rules)
        orders = store.cleaned("shop", rules).orders
        prepared.wait_for_writers()
        store._store.clear()  # a new worker
        _no_cleaning(monkeypatch)
        pd.testing.assert_frame_equal(store.products("shop", rules), lines, check_exact=True)
        pd.testing.assert_frame_equal(store.cleaned("shop", rules).orders, orders)
        assert lines["revenue"].sum() == pytest.approx(orders["revenue"].sum())
    finally:
        service.configure(previous)


def test_product_lines_are_prepared_in_the_background_once_the_invoice_table_loads(
    tmp_path, monkeypatch
):
    """Loading the invoice table starts the product lines' job; a page that asks meanwhile
    is told they are being prepared (after its wait, not the whole preparation); once done
    they are the lines a direct preparation gives, read from the cache folder."""
    import threading

    from dashapp import service
    from dashapp.config import Settings
    from dashapp.service import store

    csv = _csv(tmp_path / "shop.csv", ROWS, repeat=3)
    previous = service.settings()
    env = {"PRODUCTS_AT_LOAD": "1"}
    service.configure(Settings.from_env(env=env, data_path=csv, cache_dir=tmp_path / "cache"))
    monkeypatch.setattr(store, "_store", type(store._store)())
    release, real = threading.Event(), prepared.prepare_file_products
    started = []

    def slow(*args, **kwargs):
        started.append(True)
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(prepared, "prepare_file_products", slow)
    try:
        rules = service.Filters.build(dataset="shop").rules
        store.cleaned("shop", rules)  # no page has asked for product lines yet
        job = store._product_jobs[("shop", service.dataset_version("shop"), CleaningRules())]
        assert not job.done()
        with pytest.raises(store.DataPreparing, match="product lines of .* being prepared"):
            store.products("shop", rules, wait_s=0.05)
        assert started == [True] and "products" not in {k[0] for k in store._store}
        release.set()
        assert job.result(timeout=60) is None  # stored in the cache folder, not held by it
        _no_cleaning(monkeypatch)  # the page reads what the job stored: no second cleaning
        lines = store.products("shop", rules, wait_s=0.05)
    finally:
        release.set()
        service.configure(previous)
    monkeypatch.undo()
    direct = prepared.prepare_file_products(csv, CleaningRules(), cache_dir=tmp_path / "other")
    pd.testing.assert_frame_equal(lines, direct, check_exact=True)
    assert len(lines) > 0


def test_another_rule_set_is_cleaned_from_the_lines_parquet(tmp_path, monkeypatch):
    csv = _csv(tmp_path / "lines.csv", ROWS)
    cache = tmp_path / "cache"
    prepared.prepare_file(csv, CleaningRules(), cache_dir=cache)
    prepared.wait_for_writers()

    def no_loading(*args, **kwargs):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(prepared, "load_transactions", no_loading)
    gross, ledger = prepared.prepare_file(
        csv, CleaningRules(net_cancellations=False), cache_dir=cache
    )
    assert not gross["is_cancellation"].any()
    assert ledger.set_index("rule").loc["cancellations_dropped", "rows"] == 2


def test_an_unwritable_cache_folder_costs_only_the_cache(tmp_path):
    csv = _csv(tmp_path / "lines.csv", ROWS)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    orders, ledger = prepared.prepare_file(csv, CleaningRules(), cache_dir=blocker / "cache")
    prepared.wait_for_writers()
    assert len(orders) == 3 and ledger.attrs["rows_in"] == 6


def test_large_csv_block_by_block_equals_the_whole_file(tmp_path):
    csv = _csv(tmp_path / "big.csv", ROWS, repeat=400)  # 2,400 lines in ~30 blocks
    out = tmp_path / "lines.parquet"
    assert csv_to_parquet(csv, out, block_bytes=4096) == 2400
    whole = load_transactions(csv)
    got = engine.clean(out)
    want = engine.clean(whole)
    pd.testing.assert_frame_equal(got[0], want[0])
    pd.testing.assert_frame_equal(got[1], want[1])


def test_large_csv_errors_name_the_row_in_a_later_block(tmp_path):
    rows = [list(r) for _ in range(300) for r in ROWS]
    rows[1500][3] = "ten"  # spreadsheet row 1502 (header is row 1)
    csv = write_raw_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataLoadError) as whole:
        load_transactions(csv)
    with pytest.raises(DataLoadError) as streamed:
        csv_to_parquet(csv, tmp_path / "out.parquet", block_bytes=4096)
    assert "1502" in str(whole.value) and str(streamed.value) == str(whole.value)
    assert not (tmp_path / "out.parquet").exists()
    assert not list(tmp_path.glob(".out-*"))  # nothing half-written is left


def test_spark_missing_gives_a_clear_message(monkeypatch):
    from dashapp.ingest import spark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    monkeypatch.setattr(spark, "_sessions", {})
    source = spark.SparkSource("local[2]", path="/lake/lines.parquet")
    with pytest.raises(
        DataLoadError, match=r"Spark is not installed.*pip install 'dashapp\[spark\]'"
    ):
        source.clean()


def test_spark_files_are_versioned_without_starting_spark(tmp_path, monkeypatch):
    from dashapp.ingest import spark

    def no_spark(master):
        raise AssertionError("Spark was started")

    monkeypatch.setattr(spark, "spark_session", no_spark)
    data = tmp_path / "lines"
    data.mkdir()
    (data / "part-0.parquet").write_bytes(b"one")
    source = spark.SparkSource("local[2]", path=str(data))
    first = source.version()
    assert source.version() == first
    (data / "part-1.parquet").write_bytes(b"two")
    assert source.version() != first


def test_a_large_csv_without_a_cache_folder_still_streams(tmp_path, monkeypatch):
    csv = _csv(tmp_path / "big.csv", ROWS, repeat=50)
    monkeypatch.setattr(prepared, "STREAM_BYTES", 1000)  # "large" for this test
    monkeypatch.setattr(prepared.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))

    def whole_file(*args, **kwargs):
        raise AssertionError("the whole file was loaded into memory")

    monkeypatch.setattr(prepared, "load_transactions", whole_file)
    orders, ledger = prepared.prepare_file(csv, CleaningRules(), cache_dir=None)
    assert ledger.attrs["rows_in"] == 300 and len(orders) > 0
    assert list((tmp_path / "tmp" / "dashapp-lines").glob("*.parquet"))


def test_integer_sums_reach_pandas_as_int64_from_any_engine():
    """DuckDB sums BIGINT to HUGEINT, which the embedded engine casts back to BIGINT in the
    statement (Arrow decimal128 cost 16 bytes a value); a wider type (Arrow decimal128, as
    another engine may give) and PostgreSQL's numeric (Python Decimals) become int64,
    exactly, and a sum beyond int64 is refused, not rounded."""
    import decimal

    import pyarrow as pa

    from dashapp.ingest import parts as results
    from dashapp.ingest.engine.pipeline import invoice_parts
    from tests.factories import make_lines

    lines = make_lines([tuple(r[:2]) + (int(r[3]), r[4], float(r[5]), r[6]) for r in ROWS])
    rules = CleaningRules()
    parts = local.run(invoice_parts(engine.lines_table(), rules), engine.to_arrow(lines))
    assert all(pa.types.is_int64(parts.schema.field(c).type) for c in results._PART_INTEGERS)
    parts = pa.table(
        {
            name: column.cast(pa.decimal128(38, 0)) if name in results._PART_INTEGERS else column
            for name, column in zip(parts.column_names, parts.columns, strict=True)
        }
    )
    frame = results._as_frame(parts)
    assert all(frame[c].dtype == "int64" for c in results._PART_INTEGERS)
    as_database = parts.to_pandas()  # object columns of Decimals, as a database driver gives
    assert isinstance(as_database["kept_money_milli"].iloc[0], decimal.Decimal)
    want_orders, want_ledger = results.split_parts(parts, rules)
    got_orders, got_ledger = results.split_parts(as_database, rules)
    pd.testing.assert_frame_equal(got_orders, want_orders, check_exact=True)
    pd.testing.assert_frame_equal(got_ledger, want_ledger, check_exact=True)
    too_big = pa.table({"lines": pa.array([decimal.Decimal(2**64)], pa.decimal128(38, 0))})
    with pytest.raises(pa.ArrowInvalid):
        results._integers(too_big, ["lines"])


def test_product_lines_wait_for_a_page_unless_asked_for_at_load(tmp_path, monkeypatch):
    """By default loading the invoice table starts nothing else (a worker's memory stays at
    the invoice table's: PRODUCTS_AT_LOAD is the operator's choice); the first page that asks
    starts the job and is told the lines are being prepared."""
    import threading

    from dashapp import service
    from dashapp.config import Settings
    from dashapp.service import store

    csv = _csv(tmp_path / "shop.csv", ROWS, repeat=3)
    previous = service.settings()
    service.configure(Settings.from_env(env={}, data_path=csv, cache_dir=tmp_path / "cache"))
    monkeypatch.setattr(store, "_store", type(store._store)())
    monkeypatch.setattr(store, "_product_jobs", {})
    release, real = threading.Event(), prepared.prepare_file_products

    def slow(*args, **kwargs):
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(prepared, "prepare_file_products", slow)
    try:
        rules = service.Filters.build(dataset="shop").rules
        store.cleaned("shop", rules)
        assert store._product_jobs == {}  # nothing started by the load
        with pytest.raises(store.DataPreparing, match="product lines of .* being prepared"):
            store.products("shop", rules, wait_s=0.05)
        assert len(store._product_jobs) == 1  # the page's request started it
        release.set()
        lines = store.products("shop", rules, wait_s=60)
    finally:
        release.set()
        service.configure(previous)
    assert len(lines) > 0


def test_a_duckdb_sum_beyond_64_bits_is_refused_not_wrapped():
    """The embedded engine's cast of 128-bit sums to 64 bits is checked."""
    import duckdb
    import pyarrow as pa

    lines = pa.table({"quantity": pa.array([2**62, 2**62, 2**62], pa.int64())})
    sql = f"SELECT sum(quantity) AS units FROM {local.LINES_TABLE}"
    with pytest.raises(duckdb.Error, match="(?i)out of range|overflow|convert"):
        local.run_sql(sql, lines)
    fits = local.run_sql(sql, lines.slice(0, 1))
    assert fits.schema.field("units").type == pa.int64()
    assert fits.column("units").to_pylist() == [2**62]


def test_the_invoice_tests_run_on_each_line_not_through_a_join_of_every_invoice():
    """At 100M lines a hash table of the distinct invoices per place the statement flags
    lines (four) exceeded DuckDB's default 1 GB (docs/benchmarks.md, "Data engine"): the
    statement flags invoices on each line and joins only the distinct stock codes."""
    from dashapp.ingest.engine.pipeline import invoice_parts

    sql = engine.statement(invoice_parts, CleaningRules())
    assert "SELECT DISTINCT" in sql  # the stock codes' table is still joined
    assert '"flag_code"' in sql
    assert "flag_invoice" not in sql
    assert sql.count("STARTS_WITH(UPPER(TRIM(") >= 4  # each place that flags lines
