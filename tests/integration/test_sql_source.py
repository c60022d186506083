"""SQL source: the cleaning runs in the database (parity with the file path is in
test_engines.py); here its safety (names, credentials, timeouts, read-only, configuration),
failing databases, and the SQL source as a dataset of the app next to the same data as a file.

PostgreSQL (127.0.0.1:5432, database ``test``; override with ``TEST_PG_URL``) unreachable: the
tests skip, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from dashapp.ingest.sql import SqlSource, SqlSourceError
from tests import engines as corpus
from tests.conftest import PG_URL, SAMPLE_XLSX, postgres_problem, require, require_file

SECRET = "S3cr3t-pw-4711"
RUN = uuid.uuid4().hex[:8]
_PG_CREATED: list[str] = []  # tables and views to drop at the end of the session


@pytest.fixture(scope="module")
def pg_admin():
    """A writable engine on the test database (the app's sources are read-only)."""
    require(postgres_problem(PG_URL))
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 5})
    yield engine
    with engine.begin() as conn:
        prep = engine.dialect.identifier_preparer
        views = set(sa.inspect(conn).get_view_names())
        for name in reversed(_PG_CREATED):
            kind = "VIEW" if name in views else "TABLE"
            conn.execute(sa.text(f"DROP {kind} IF EXISTS {prep.quote(name)} CASCADE"))
    engine.dispose()


def _table(pg_admin, suffix: str, frame: pd.DataFrame, types=None) -> str:
    name = f"t_sql_{RUN}_{suffix}"
    _PG_CREATED.append(name)
    corpus.store(pg_admin, name, frame, types)
    return name


@pytest.fixture(scope="module")
def pg_edge(pg_admin) -> SqlSource:
    return SqlSource(PG_URL, _table(pg_admin, "edge", corpus.edge_frame()))


@pytest.fixture(scope="module")
def pg_extract(pg_admin) -> str:
    return _table(pg_admin, "extract", corpus.raw_extract(), {"Price": sa.Numeric(12, 3)})


# --------------------------------------------------------------------------------------------
# Safety
# --------------------------------------------------------------------------------------------
def _secret_url(url: str = PG_URL) -> str:
    return sa.engine.make_url(url).set(password=SECRET).render_as_string(hide_password=False)


@pytest.fixture
def canary(pg_admin):
    name = f"t_sql_{RUN}_canary"
    _PG_CREATED.append(name)
    with pg_admin.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{name}" (x int)'))
    return name


def _exists(engine, name: str) -> bool:
    return sa.inspect(engine).has_table(name)


def test_malicious_names_are_rejected_or_quoted(pg_admin, canary):
    evil = f'x; DROP TABLE "{canary}"; --'
    with pytest.raises(SqlSourceError) as err:
        SqlSource(PG_URL, evil)
    assert evil in str(err.value) and "was not found" in str(err.value)
    assert _exists(pg_admin, canary)

    # a real table whose name and columns would break naive SQL text: quoted, works
    frame = corpus.edge_frame().rename(columns={"Customer ID": 'Customer"; DROP TABLE x; --'})
    name = f'odd"; DROP TABLE "{canary}"; -- {RUN}'
    _PG_CREATED.append(name)
    corpus.store(pg_admin, name, frame)
    src = SqlSource(PG_URL, name, column_map={"customer_id": 'Customer"; DROP TABLE x; --'})
    orders, _ = src.clean()
    assert set(orders["customer_id"].dropna()) == {"1", "2", "3", "4", "5", "16446"}
    assert _exists(pg_admin, canary)

    with pytest.raises(SqlSourceError) as err:
        SqlSource(PG_URL, name, column_map={"customer_id": "nope; DROP TABLE y"})
    assert "'nope; DROP TABLE y'" in str(err.value) and "customer_id" in str(err.value)
    with pytest.raises(SqlSourceError, match="unknown column"):
        SqlSource(PG_URL, name, column_map={"customer; --": "Invoice"})
    assert _exists(pg_admin, canary)


def test_credentials_never_shown(pg_admin, pg_edge, caplog):
    url = _secret_url()  # trust auth ignores the password
    src = SqlSource(url, pg_edge.table_name)
    caplog.set_level(logging.DEBUG, logger="dashapp")
    src.clean()
    texts = [repr(src), str(src.url), src.label, caplog.text]
    with pytest.raises(SqlSourceError) as missing:
        SqlSource(url, "no_such_table")
    bad = sa.engine.make_url(url).set(port=1).render_as_string(hide_password=False)
    with pytest.raises(SqlSourceError) as down:
        SqlSource(bad, "t")
    texts += [str(missing.value), str(down.value)]
    assert "no_such_table" in str(missing.value) and "***" in str(missing.value)
    assert "Cannot connect" in str(down.value)
    for text in texts:
        assert SECRET not in text
    assert missing.value.__cause__ is None and missing.value.__suppress_context__


def test_slow_query_times_out_with_a_clear_message(pg_admin, pg_edge):
    view = f"t_sql_{RUN}_slow"
    _PG_CREATED.append(view)
    prep = pg_admin.dialect.identifier_preparer
    with pg_admin.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE VIEW {prep.quote(view)} AS SELECT t.* FROM "
                f"{prep.quote(pg_edge.table_name)} t "
                f"CROSS JOIN (SELECT pg_sleep(3)) s"
            )
        )
    src = SqlSource(PG_URL, view, timeout_s=0.5)
    with pytest.raises(SqlSourceError, match=r"did not answer within 0.5 s") as err:
        src.clean()
    assert view in str(err.value) and "DATA_SQL_TIMEOUT" in str(err.value)


def test_connections_are_read_only(pg_edge):
    table = sa.Table(pg_edge.table_name, sa.MetaData(), autoload_with=pg_edge.engine)
    with pg_edge.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        conn.execute(table.insert().values(Invoice="X1"))
    with pg_edge.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        conn.execute(sa.text("CREATE TABLE should_not_exist (x int)"))


def test_configuration_errors_are_clear(pg_admin, tmp_path):
    frame = corpus.edge_frame()
    text_dates = frame.assign(InvoiceDate=frame["InvoiceDate"].astype(str))
    name = _table(pg_admin, "text_dates", text_dates)  # InvoiceDate stored as text
    with pytest.raises(SqlSourceError, match="'InvoiceDate'.*date/time column is needed"):
        SqlSource(PG_URL, name)
    name = _table(pg_admin, "no_price", frame.drop(columns="Price"))
    with pytest.raises(SqlSourceError, match="has no column for price"):
        SqlSource(PG_URL, name)
    with pytest.raises(SqlSourceError, match="dialect"):
        SqlSource("nosuchdialect://h/db", "t")
    with pytest.raises(SqlSourceError, match="cannot be parsed"):
        SqlSource("not a url", "t")
    sqlite = tmp_path / "lines.db"
    corpus.store(sa.create_engine(f"sqlite:///{sqlite}"), "lines", frame)
    with pytest.raises(SqlSourceError, match="cannot be compiled for sqlite.*file"):
        SqlSource(f"sqlite:///{sqlite}", "lines")
    with pytest.raises(SqlSourceError, match="unknown column.*line_number"):
        SqlSource(PG_URL, name, column_map={"line_number": "line_no"})
    assert SqlSource.from_env({}) is None
    with pytest.raises(SqlSourceError, match="DATA_SQL_TABLE"):
        SqlSource.from_env({"DATA_SQL_URL": PG_URL})
    with pytest.raises(SqlSourceError, match="JSON"):
        SqlSource.from_env({"DATA_SQL_URL": PG_URL, "DATA_SQL_TABLE": "t", "DATA_SQL_COLUMNS": "{"})


def test_from_env(pg_edge):
    src = SqlSource.from_env(
        {
            "DATA_SQL_URL": PG_URL,
            "DATA_SQL_TABLE": pg_edge.table_name,
            "DATA_SQL_COLUMNS": '{"customer_id": "Customer ID"}',
            "DATA_SQL_TIMEOUT": "12",
        }
    )
    assert src.timeout_s == 12 and src.columns["customer_id"].name == "Customer ID"
    assert src.version() == pg_edge.version()


def test_a_database_that_goes_away_gets_a_clear_message(pg_admin):
    """The table disappears, then the server cannot be reached: each time a message naming
    the source, never a stack trace."""
    name = _table(pg_admin, "vanishing", corpus.edge_frame())
    src = SqlSource(PG_URL, name)
    assert len(src.clean()[0]) > 0
    with pg_admin.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE "{name}"'))
    with pytest.raises(SqlSourceError) as err:
        src.clean()
    assert name in str(err.value) and "failed while computing the cleaned invoices" in str(
        err.value
    )
    src.engine.dispose()  # then the server goes away (nothing listens on port 1)
    src.engine = sa.create_engine(src.engine.url.set(port=1), connect_args={"connect_timeout": 2})
    with pytest.raises(SqlSourceError, match="Cannot connect to the database") as err:
        src.clean()
    assert "Traceback" not in str(err.value)


# ------------------------------------------------------------------------------------------
# The SQL source as a dataset of the app (service layer), next to the same data as a file
# ------------------------------------------------------------------------------------------
@pytest.fixture
def sql_and_file_datasets(pg_extract, monkeypatch, tmp_path):
    """The service configured with the extract both as the SQL dataset and as a file."""
    from dashapp import service
    from dashapp.config import Settings

    env = {"DATA_SQL_URL": PG_URL, "DATA_SQL_TABLE": pg_extract}
    previous = service.settings()
    service.configure(
        Settings.from_env(
            env=env,
            data_path=require_file(SAMPLE_XLSX),
            cache_dir=tmp_path / "cache",
            data_dir=tmp_path,
        )
    )
    if getattr(service.cache, "app", None) is None:
        service.init_cache(config={"CACHE_TYPE": "SimpleCache"})
    from dashapp.service import store

    # the pages wait for the background preparation (a shared CI machine may take more
    # than a page's 15 s; test_a_slow_first_cleaning_runs_in_the_background covers the wait)
    monkeypatch.setattr(store, "PAGE_WAIT_S", 600.0)
    from dashapp.service.views import products as product_views

    monkeypatch.setattr(product_views, "LINES_WAIT_S", 600.0)  # the Products page's 1 s
    yield service, service.SQL_ID, SAMPLE_XLSX.stem
    service.configure(previous)


def test_every_page_result_from_sql_equals_the_file_path(sql_and_file_datasets):
    from dashapp.service.views import customer as customer_views
    from dashapp.service.views import products as product_views

    service, sql_id, file_id = sql_and_file_datasets
    assert service.datasets()[0].id == sql_id and service.dataset_info(sql_id).kind == "sql"
    assert service.dataset_version(sql_id).startswith("sql-")
    assert service.dataset_bounds(sql_id) == service.dataset_bounds(file_id)
    with pytest.raises(service.DataLoadError, match="SQL table"):
        service.transactions(sql_id)
    # the cleaning ran once, in the database; every page read its cached result
    assert service.cleaned(sql_id, service.Filters.build(dataset=sql_id).rules).ledger.equals(
        service.cleaned(file_id, service.Filters.build(dataset=file_id).rules).ledger
    )
    for f in ({}, {"start": "2010-06-01", "end": "2011-03-31", "countries": ["France", "Spain"]}):
        sql = service.Filters.build(dataset=sql_id, **f)
        mem = service.Filters.build(dataset=file_id, **f)
        a, b = service.overview(sql), service.overview(mem)
        ka, kb = dataclasses.asdict(a.kpis), dataclasses.asdict(b.kpis)
        assert ka == pytest.approx(kb, nan_ok=True)
        pd.testing.assert_frame_equal(
            a.monthly.reset_index(drop=True),
            b.monthly.reset_index(drop=True),
            check_dtype=False,
        )
        ra, rb = service.rfm_table(sql), service.rfm_table(mem)
        pd.testing.assert_frame_equal(ra, rb, check_dtype=False)
        rc = service.rfm_table(sql, "2012-01-01")
        assert (rc["recency"] >= ra["recency"]).all()
        ca, cb = service.cohorts_view(sql), service.cohorts_view(mem)
        pd.testing.assert_frame_equal(ca.tables.retention, cb.tables.retention)
        fa, fb = service.clv_fit(sql, "bgnbd"), service.clv_fit(mem, "bgnbd")
        pd.testing.assert_frame_equal(fa.summary, fb.summary, check_dtype=False)
        assert fa.summary.attrs == fb.summary.attrs
        if fb.purchase is not None:
            assert fa.purchase.params == pytest.approx(fb.purchase.params, rel=1e-6)
        # the product lines come from the database too, by the same rules
        pa_, pb = product_views.product_view(sql), product_views.product_view(mem)
        assert pa_.reason is None and pb.reason is None
        pd.testing.assert_frame_equal(pa_.table, pb.table, check_exact=True)
        pd.testing.assert_frame_equal(pa_.lift, pb.lift, check_exact=True)
    top = customer_views.customer_view(service.Filters.build(dataset=sql_id), "12490").products
    assert top is not None and len(top) == 10
    # stored beside the invoice table: a new worker reads them without asking the database
    assert list((service.registry.cache_dir() / "prepared").glob("sql-*-products.parquet"))
    clusters = service.cluster_view(service.Filters.build(dataset=sql_id), "kmeans", 4)
    assert clusters.reason is None and len(clusters.customers) == len(
        service.rfm_table(service.Filters.build(dataset=file_id))
    )


def test_a_slow_first_cleaning_runs_in_the_background(pg_admin, pg_edge, monkeypatch, tmp_path):
    """A page does not wait for a long cleaning: it says the data is being prepared, the job
    goes on in the background, and a later request gets the result."""
    import time

    from dashapp import service
    from dashapp.config import Settings
    from dashapp.service import store

    view = f"t_sql_{RUN}_slowish"
    _PG_CREATED.append(view)
    with pg_admin.begin() as conn:
        conn.execute(
            sa.text(
                f'CREATE VIEW "{view}" AS SELECT t.* FROM "{pg_edge.table_name}" t '
                f"CROSS JOIN (SELECT pg_sleep(2)) s"
            )
        )
    previous = service.settings()
    env = {"DATA_SQL_URL": PG_URL, "DATA_SQL_TABLE": view, "DATA_SQL_TIMEOUT": "5"}
    service.configure(Settings.from_env(env=env, cache_dir=tmp_path / "cache", data_dir=tmp_path))
    monkeypatch.setattr(store, "PAGE_WAIT_S", 0.2)
    try:
        rules = service.Filters.build(dataset=service.SQL_ID).rules
        with pytest.raises(service.DataLoadError, match="is being prepared.*dashapp prepare"):
            service.cleaned(service.SQL_ID, rules)
        deadline = time.monotonic() + 30
        while True:  # the statement needs 2 s, ten times what the page waits: it goes on
            try:
                data = service.cleaned(service.SQL_ID, rules)
                break
            except service.DataLoadError:
                assert time.monotonic() < deadline, "the background cleaning never finished"
                time.sleep(0.5)
        assert data.ledger.attrs["rows_in"] == len(corpus.EDGE_ROWS)
        assert list((tmp_path / "cache" / "prepared").glob("*.parquet"))
        assert not list((tmp_path / "cache" / "prepared").glob("*.preparing"))
    finally:
        service.configure(previous)


def test_the_prepare_command(pg_edge, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {
        "PATH": "/usr/bin:/bin",
        "DATA_SQL_URL": PG_URL,
        "DATA_SQL_TABLE": pg_edge.table_name,
        "CACHE_DIR": str(tmp_path / "cache"),
        "DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "dashapp", "prepare"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # two statements and a new interpreter, on a shared CI machine
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(corpus.EDGE_ROWS)} lines cleaned into" in done.stdout
    assert "product lines in" in done.stdout
    prepared = tmp_path / "cache" / "prepared"
    assert len(list(prepared.glob("*.parquet"))) == 2  # invoices and product lines
    assert len(list(prepared.glob("*-products.parquet"))) == 1
    nothing = subprocess.run(
        [sys.executable, "-m", "dashapp", "prepare"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert nothing.returncode == 2 and "No SQL or Spark source" in nothing.stdout


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_the_holdout_check_works_on_the_sql_source_as_on_the_file(sql_and_file_datasets, model):
    """The CLV page's holdout check was blank on a SQL source (it read raw lines a SQL source
    does not load); it now reads the invoice table, the same on every source."""
    service, sql_id, file_id = sql_and_file_datasets
    on_sql = service.clv_validation(service.Filters.build(dataset=sql_id), model)
    on_file = service.clv_validation(service.Filters.build(dataset=file_id), model)
    assert on_sql.reason is None and on_file.reason is None, (on_sql.reason, on_file.reason)
    assert on_sql.calibration_end == on_file.calibration_end
    assert on_sql.observation_end == on_file.observation_end
    assert on_sql.scorecard is not None and len(on_sql.scorecard) > 0
    pd.testing.assert_frame_equal(on_sql.scorecard, on_file.scorecard, check_exact=False, rtol=1e-6)
    assert on_sql.tracking is not None and len(on_sql.tracking) > 0
    pd.testing.assert_frame_equal(on_sql.tracking, on_file.tracking, check_exact=False, rtol=1e-6)
    # a chosen calibration end too
    chosen = service.clv_validation(service.Filters.build(dataset=sql_id), model, "2011-06-30")
    assert chosen.reason is None and chosen.calibration_end == "2011-06-30"
    assert chosen.tracking is not None and len(chosen.tracking) > 0


def test_the_ml_model_on_a_sql_source_has_the_product_mix_of_the_file(sql_and_file_datasets):
    """A SQL table's product lines come from the same engine expression as a file's: the
    machine-learned model has the same features and the same numbers on both. The
    comparison and the customer's explanation work on the table."""
    from dashapp.analytics.clv import ml_features

    service, sql_id, file_id = sql_and_file_datasets
    on_sql = service.clv_ml(service.Filters.build(dataset=sql_id))
    on_file = service.clv_ml(service.Filters.build(dataset=file_id))
    assert on_sql.converged and on_file.converged, (on_sql.message, on_file.message)
    assert list(on_file.features.columns) == list(ml_features.FEATURES)
    assert list(on_sql.features.columns) == list(ml_features.FEATURES)
    assert "Product mix left out" not in on_sql.message
    pd.testing.assert_frame_equal(on_sql.features, on_file.features, check_exact=False, rtol=1e-9)
    customer = on_sql.features.index[0]
    why = service.customer_explanation(service.Filters.build(dataset=sql_id), customer)
    assert set(why["feature"]) == set(on_sql.features.columns)
    comparison = service.clv_comparison(service.Filters.build(dataset=sql_id))
    assert comparison.reason is None and comparison.table.loc["ml", "converged"]
