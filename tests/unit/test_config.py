"""Settings from the environment: the SQL source (DATA_SQL_*) is validated with the others,
and an invalid value stops start-up with a message naming the variable, never the URL."""

from __future__ import annotations

import pytest

from dashapp.config import Settings

URL = "postgresql+psycopg://analyst:S3cret@db.example.com/shop"


def _sql(**env):
    return Settings.from_env(env={"DATA_SQL_URL": URL, "DATA_SQL_TABLE": "lines", **env}).sql


def test_no_sql_source_by_default():
    assert Settings.from_env(env={}).sql is None


def test_a_valid_sql_source():
    sql = _sql(
        DATA_SQL_COLUMNS='{"customer_id": "CustomerNo"}',
        DATA_SQL_SCHEMA="sales",
        DATA_SQL_TIMEOUT="45",
        DATA_SQL_CONNECT_ARGS='{"sslmode": "require"}',
    )
    assert (sql.table, sql.schema, sql.timeout_s) == ("lines", "sales", 45.0)
    assert sql.columns == {"customer_id": "CustomerNo"}
    assert sql.connect_args == {"sslmode": "require"}
    assert "S3cret" not in repr(sql) and "S3cret" not in repr(Settings.from_env(
        env={"DATA_SQL_URL": URL, "DATA_SQL_TABLE": "lines"}))  # fmt: skip
    assert _sql().timeout_s == 30.0


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DATA_SQL_TABLE": ""}, "DATA_SQL_URL is set but DATA_SQL_TABLE"),
        ({"DATA_SQL_TIMEOUT": "soon"}, "DATA_SQL_TIMEOUT must be a number of seconds"),
        ({"DATA_SQL_TIMEOUT": "0"}, "DATA_SQL_TIMEOUT must be a number of seconds"),
        ({"DATA_SQL_TIMEOUT": "-5"}, "DATA_SQL_TIMEOUT must be a number of seconds"),
        ({"DATA_SQL_COLUMNS": "{customer_id: x}"}, "DATA_SQL_COLUMNS is not valid JSON"),
        ({"DATA_SQL_COLUMNS": '["customer_id"]'}, "DATA_SQL_COLUMNS must be a JSON object"),
        ({"DATA_SQL_COLUMNS": '{"customer_id": 7}'}, "the column for 'customer_id'"),
        ({"DATA_SQL_CONNECT_ARGS": "[1]"}, "DATA_SQL_CONNECT_ARGS must be a JSON object"),
        ({"DATA_SQL_URL": "not a url S3cret"}, "DATA_SQL_URL is not a database URL"),
    ],
)
def test_an_invalid_sql_setting_stops_start_up(env, message):
    with pytest.raises(SystemExit) as caught:
        _sql(**env)
    assert message in str(caught.value)
    assert "S3cret" not in str(caught.value)


def test_sql_settings_without_a_url_are_a_mistake():
    with pytest.raises(SystemExit, match="DATA_SQL_TABLE is set but DATA_SQL_URL is not"):
        Settings.from_env(env={"DATA_SQL_TABLE": "lines"})


def test_redis_timeout_is_short_by_default_and_validated():
    config = Settings.from_env(env={"REDIS_URL": "redis://cache:6379/0"}).cache_config()
    assert config["CACHE_OPTIONS"] == {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}
    slower = Settings.from_env(env={"REDIS_URL": "redis://c:6379/0", "REDIS_TIMEOUT": "1.5"})
    assert slower.cache_config()["CACHE_OPTIONS"]["socket_timeout"] == 1.5
    for bad in ("0", "soon", "-1", "60"):
        with pytest.raises(SystemExit, match="REDIS_TIMEOUT must be a number of seconds"):
            Settings.from_env(env={"REDIS_TIMEOUT": bad})


def test_upload_bounds_have_defaults_for_a_small_dyno_and_are_validated():
    s = Settings.from_env(env={})
    assert (s.upload_retention_hours, s.upload_quota_mb, s.upload_total_mb) == (24, 150, 500)
    assert s.max_upload_mb <= s.upload_quota_mb <= s.upload_total_mb
    bad = [
        {"UPLOAD_QUOTA_MB": "10"},  # below MAX_UPLOAD_MB (50)
        {"UPLOAD_QUOTA_MB": "600", "UPLOAD_TOTAL_MB": "500"},
        {"UPLOAD_RETENTION_HOURS": "0"},
    ]
    for env in bad:
        with pytest.raises(SystemExit, match="UPLOAD_"):
            Settings.from_env(env=env)


def test_engine_settings_from_the_environment():
    default = Settings.from_env(env={})
    assert (default.duckdb_threads, default.duckdb_memory_limit) == (2, "1GB")
    assert default.spark is None
    s = Settings.from_env(env={"DUCKDB_THREADS": "4", "DUCKDB_MEMORY_LIMIT": "512MB"})
    assert (s.duckdb_threads, s.duckdb_memory_limit) == (4, "512MB")
    spark = Settings.from_env(
        env={
            "DATA_SPARK_MASTER": "local[2]",
            "DATA_SPARK_PATH": "/lake/lines/",
            "DATA_SPARK_COLUMNS": '{"customer_id": "CustomerNo"}',
        }
    ).spark
    assert (spark.master, spark.path, spark.table) == ("local[2]", "/lake/lines/", None)
    assert spark.columns == {"customer_id": "CustomerNo"}


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DUCKDB_THREADS": "0"}, "DUCKDB_THREADS must be between 1 and 64"),
        ({"DUCKDB_MEMORY_LIMIT": "lots"}, "DUCKDB_MEMORY_LIMIT must be a size"),
        ({"DATA_SPARK_TABLE": "t"}, "DATA_SPARK_TABLE is set but DATA_SPARK_MASTER is not"),
        ({"DATA_SPARK_MASTER": "local[2]"}, "exactly one of DATA_SPARK_TABLE"),
        (
            {"DATA_SPARK_MASTER": "local", "DATA_SPARK_TABLE": "t", "DATA_SPARK_PATH": "/x"},
            "exactly one of DATA_SPARK_TABLE",
        ),
    ],
)
def test_an_invalid_engine_setting_stops_start_up(env, message):
    with pytest.raises(SystemExit, match=message):
        Settings.from_env(env=env)
