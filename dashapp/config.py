"""Configuration, read only from environment variables (and the command line of ``python -m
dashapp``). Every variable is listed in the README's configuration table.

Invalid values stop the app at start-up with a message naming the variable (``SystemExit``):
a typo in ``AUTH_MODE`` must never start an unprotected app.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
#: A source checkout keeps its data in the project's data/ folder; an installed package
#: (pip install .) in data/ below the working directory.
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "assets").is_dir()
DEFAULT_DATA_DIR = (PROJECT_ROOT if IN_CHECKOUT else Path.cwd()) / "data"
DATASET_STEM = "online_retail_II"
DATASET_SUFFIXES = (".xlsx", ".csv", ".zip", ".parquet")


def _env_int(env, name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"Environment variable {name} must be an integer, got {raw!r}.") from exc


#: Default seconds Redis may take to accept a connection or to answer one command before the
#: results cache counts it as down (a same-region Redis answers in about a millisecond).
REDIS_TIMEOUT_S = 0.25

AUTH_MODES = ("none", "basic", "header")
DEFAULT_AUTH_HEADER = "X-Forwarded-User"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CACHE_TYPES = ("FileSystemCache", "RedisCache", "SimpleCache", "NullCache")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")
# A CSP source expression allowed in frame-ancestors: 'self' / 'none', a scheme (https:) or a
# host source (https://portal.example.com, *.example.com:8443, http://10.0.0.5/path).
_FRAME_SOURCE = re.compile(
    r"^(?:'self'|'none'|\*|[a-z][a-z0-9+.-]*:|"
    r"(?:[a-z][a-z0-9+.-]*://)?(?:\*\.)?[A-Za-z0-9.-]+(?::(?:[0-9]{1,5}|\*))?(?:/[A-Za-z0-9._~/%-]*)?)$"
)


def parse_frame_ancestors(raw: str | None) -> tuple[str, ...]:
    """``FRAME_ANCESTORS`` (sources separated by spaces or commas) -> CSP source tuple.

    ``self`` and ``none`` may be written without quotes; blank means ``'self'`` (same origin
    only). Anything that is not a CSP source expression stops the app (no header injection).
    """
    tokens = [t for t in re.split(r"[\s,]+", (raw or "").strip()) if t]
    if not tokens:
        return ("'self'",)
    out = []
    for token in tokens:
        if token.lower() in ("self", "'self'", "none", "'none'"):
            token = "'" + token.strip("'").lower() + "'"
        if not _FRAME_SOURCE.match(token):
            raise SystemExit(
                f"FRAME_ANCESTORS: {token!r} is not a CSP source (use 'self', "
                "'none' or origins such as https://portal.example.com)."
            )
        out.append(token)
    if "'none'" in out and len(out) > 1:
        raise SystemExit("FRAME_ANCESTORS: 'none' cannot be combined with other sources.")
    return tuple(dict.fromkeys(out))


def _auth_settings(env) -> dict:
    mode = (env.get("AUTH_MODE") or "none").strip().lower()
    if mode not in AUTH_MODES:
        raise SystemExit(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, got {mode!r}.")
    user = env.get("BASIC_AUTH_USERNAME") or None
    password = env.get("BASIC_AUTH_PASSWORD") or None
    if mode == "basic" and not (user and password):
        raise SystemExit("AUTH_MODE=basic needs BASIC_AUTH_USERNAME and BASIC_AUTH_PASSWORD.")
    if user and ":" in user:
        raise SystemExit("BASIC_AUTH_USERNAME cannot contain ':'.")
    header = (env.get("AUTH_HEADER") or DEFAULT_AUTH_HEADER).strip()
    if not _HEADER_NAME.match(header):
        raise SystemExit(f"AUTH_HEADER must be an HTTP header name, got {header!r}.")
    return dict(
        auth_mode=mode,
        basic_auth_username=user,
        basic_auth_password=password,
        auth_header=header,
        auth_header_value=env.get("AUTH_HEADER_VALUE") or None,
    )


@dataclass(frozen=True)
class SqlSettings:
    """A database or warehouse table of order lines (``DATA_SQL_*``), validated at start-up.
    The URL holds credentials: it is never part of a repr, a message or a log line."""

    url: str = field(repr=False)
    table: str
    columns: dict[str, str] = field(default_factory=dict)
    schema: str | None = None
    timeout_s: float = 30.0
    connect_args: dict[str, Any] = field(default_factory=dict, repr=False)


def _json_object(env, name: str, example: str) -> dict:
    raw = (env.get(name) or "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise SystemExit(f"{name} is not valid JSON: {err}.") from None
    if not isinstance(value, dict):
        raise SystemExit(f"{name} must be a JSON object such as {example}.")
    return value


def _sql_settings(env) -> SqlSettings | None:
    """``DATA_SQL_URL`` and its companions; None when no SQL source is configured."""
    url = (env.get("DATA_SQL_URL") or "").strip()
    others = [n for n in SQL_VARIABLES[1:] if (env.get(n) or "").strip()]
    if not url:
        if others:
            raise SystemExit(f"{others[0]} is set but DATA_SQL_URL is not.")
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except ArgumentError:  # the message would echo the URL, credentials included
        raise SystemExit(
            "DATA_SQL_URL is not a database URL (expected dialect+driver://user:password@host"
            "/database, e.g. postgresql+psycopg://analyst@db.example.com/shop)."
        ) from None
    table = (env.get("DATA_SQL_TABLE") or "").strip()
    if not table:
        raise SystemExit("DATA_SQL_URL is set but DATA_SQL_TABLE (table or view) is not.")
    columns = _json_object(env, "DATA_SQL_COLUMNS", '{"customer_id": "CustomerNo"}')
    bad = [k for k, v in columns.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise SystemExit(f"DATA_SQL_COLUMNS: the column for {bad[0]!r} must be a column name.")
    raw_timeout = (env.get("DATA_SQL_TIMEOUT") or "").strip()
    try:
        timeout_s = float(raw_timeout) if raw_timeout else 30.0
    except ValueError:
        timeout_s = float("nan")
    if not 0 < timeout_s <= 24 * 3600:
        raise SystemExit(
            f"DATA_SQL_TIMEOUT must be a number of seconds from 0 to 86400, got {raw_timeout!r}."
        )
    return SqlSettings(
        url=url,
        table=table,
        columns=columns,
        schema=(env.get("DATA_SQL_SCHEMA") or "").strip() or None,
        timeout_s=timeout_s,
        connect_args=_json_object(env, "DATA_SQL_CONNECT_ARGS", '{"sslmode": "require"}'),
    )


@dataclass(frozen=True)
class SparkSettings:
    """Order lines in Spark (``DATA_SPARK_*``): a catalog table or parquet / CSV files, read
    through a session on ``master`` (``local[2]`` runs Spark inside the app's machine)."""

    master: str
    table: str | None = None
    path: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


SPARK_VARIABLES = ("DATA_SPARK_MASTER", "DATA_SPARK_TABLE", "DATA_SPARK_PATH", "DATA_SPARK_COLUMNS")


def _spark_settings(env) -> SparkSettings | None:
    """``DATA_SPARK_MASTER`` and its companions; None when no Spark source is configured."""
    master = (env.get("DATA_SPARK_MASTER") or "").strip()
    others = [n for n in SPARK_VARIABLES[1:] if (env.get(n) or "").strip()]
    if not master:
        if others:
            raise SystemExit(f"{others[0]} is set but DATA_SPARK_MASTER is not.")
        return None
    table = (env.get("DATA_SPARK_TABLE") or "").strip() or None
    path = (env.get("DATA_SPARK_PATH") or "").strip() or None
    if bool(table) == bool(path):
        raise SystemExit(
            "DATA_SPARK_MASTER needs exactly one of DATA_SPARK_TABLE (a table in Spark's "
            "catalog) and DATA_SPARK_PATH (parquet or CSV files)."
        )
    columns = _json_object(env, "DATA_SPARK_COLUMNS", '{"customer_id": "CustomerNo"}')
    return SparkSettings(master=master, table=table, path=path, columns=columns)


def _duckdb_settings(env) -> tuple[int, str]:
    """``DUCKDB_THREADS`` (1-64, default 2) and ``DUCKDB_MEMORY_LIMIT`` (e.g. ``1GB``)."""
    threads = _env_int(env, "DUCKDB_THREADS", 2)
    if not 1 <= threads <= 64:
        raise SystemExit(f"DUCKDB_THREADS must be between 1 and 64, got {threads}.")
    limit = (env.get("DUCKDB_MEMORY_LIMIT") or "1GB").strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)", limit, re.I):
        raise SystemExit(f"DUCKDB_MEMORY_LIMIT must be a size such as 512MB or 2GB, got {limit!r}.")
    return threads, limit


SQL_VARIABLES = (
    "DATA_SQL_URL",
    "DATA_SQL_TABLE",
    "DATA_SQL_COLUMNS",
    "DATA_SQL_SCHEMA",
    "DATA_SQL_TIMEOUT",
    "DATA_SQL_CONNECT_ARGS",
)


@dataclass(frozen=True)
class Settings:
    """Application settings. Build with :meth:`from_env`."""

    data_path: Path | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    cache_dir: Path = DEFAULT_DATA_DIR / ".cache"
    cache_type: str = "FileSystemCache"
    redis_url: str | None = None
    redis_timeout_s: float = REDIS_TIMEOUT_S
    cache_key_prefix: str = "dashapp:"
    cache_timeout: int = 24 * 3600
    url_prefix: str = "/"
    max_upload_mb: int = 50
    upload_retention_hours: int = 24
    upload_quota_mb: int = 150
    upload_total_mb: int = 500
    currency: str = "£"
    log_level: str = "INFO"
    frame_ancestors: tuple[str, ...] = ("'self'",)
    auth_mode: str = "none"
    basic_auth_username: str | None = field(default=None, repr=False)
    basic_auth_password: str | None = field(default=None, repr=False)
    auth_header: str = DEFAULT_AUTH_HEADER
    auth_header_value: str | None = field(default=None, repr=False)
    worker_pid_header: bool = False
    server_timing: bool = False
    products_at_load: bool = False
    sql: SqlSettings | None = None
    spark: SparkSettings | None = None
    duckdb_threads: int = 2
    duckdb_memory_limit: str = "1GB"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("DATA_DIR") or DEFAULT_DATA_DIR)
        data_path = env.get("DATA_PATH") or None
        redis_url = env.get("REDIS_URL") or None
        cache_type = env.get("CACHE_TYPE") or ("RedisCache" if redis_url else "FileSystemCache")
        if cache_type not in CACHE_TYPES:
            raise SystemExit(
                f"CACHE_TYPE must be one of {', '.join(CACHE_TYPES)}, got {cache_type!r}."
            )
        prefix = normalize_prefix(env.get("URL_PREFIX") or "/")
        log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
        if log_level not in LOG_LEVELS:
            raise SystemExit(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}."
            )
        max_upload_mb = _env_int(env, "MAX_UPLOAD_MB", 50)
        if not 1 <= max_upload_mb <= 1024:
            raise SystemExit(f"MAX_UPLOAD_MB must be between 1 and 1024, got {max_upload_mb}.")
        raw_timeout = (env.get("REDIS_TIMEOUT") or "").strip()
        try:
            redis_timeout_s = float(raw_timeout) if raw_timeout else REDIS_TIMEOUT_S
        except ValueError:
            redis_timeout_s = float("nan")
        if not 0.01 <= redis_timeout_s <= 30:
            raise SystemExit(
                f"REDIS_TIMEOUT must be a number of seconds from 0.01 to 30, got {raw_timeout!r}."
            )
        retention = _env_int(env, "UPLOAD_RETENTION_HOURS", 24)
        quota = _env_int(env, "UPLOAD_QUOTA_MB", max(150, max_upload_mb))
        total = _env_int(env, "UPLOAD_TOTAL_MB", max(500, quota))
        if not 1 <= retention <= 24 * 365:
            raise SystemExit(f"UPLOAD_RETENTION_HOURS must be between 1 and 8760, got {retention}.")
        if not max_upload_mb <= quota <= total:
            raise SystemExit(
                "Upload limits must satisfy MAX_UPLOAD_MB <= UPLOAD_QUOTA_MB <= UPLOAD_TOTAL_MB, "
                f"got {max_upload_mb} / {quota} / {total}."
            )
        values = dict(
            data_path=Path(data_path) if data_path else None,
            data_dir=data_dir,
            cache_dir=Path(env.get("CACHE_DIR") or data_dir / ".cache"),
            cache_type=cache_type,
            redis_url=redis_url,
            redis_timeout_s=redis_timeout_s,
            cache_key_prefix=env.get("CACHE_KEY_PREFIX") or "dashapp:",
            cache_timeout=_env_int(env, "CACHE_TIMEOUT", 24 * 3600),
            url_prefix=prefix,
            max_upload_mb=max_upload_mb,
            upload_retention_hours=retention,
            upload_quota_mb=quota,
            upload_total_mb=total,
            currency=env.get("CURRENCY_SYMBOL") or "£",
            log_level=log_level,
            frame_ancestors=parse_frame_ancestors(env.get("FRAME_ANCESTORS")),
            worker_pid_header=(env.get("WORKER_PID_HEADER") or "").strip().lower()
            in ("1", "true", "yes", "on"),
            server_timing=(env.get("SERVER_TIMING") or "").strip().lower()
            in ("1", "true", "yes", "on"),
            products_at_load=(env.get("PRODUCTS_AT_LOAD") or "").strip().lower()
            in ("1", "true", "yes", "on"),
            sql=_sql_settings(env),
            spark=_spark_settings(env),
            **_auth_settings(env),
        )
        values["duckdb_threads"], values["duckdb_memory_limit"] = _duckdb_settings(env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_path", "data_dir", "cache_dir"):
            if values[key] is not None:
                values[key] = Path(values[key])
        values["url_prefix"] = normalize_prefix(values["url_prefix"])
        return cls(**values)

    def replace(self, **changes) -> Settings:
        """A copy with some fields changed (settings are frozen)."""
        return dataclasses.replace(self, **changes)

    def discovered_data_path(self) -> Path | None:
        """The configured dataset, else ``data/online_retail_II.{xlsx,csv,zip,parquet}``."""
        if self.data_path is not None:
            return self.data_path
        for suffix in DATASET_SUFFIXES:
            candidate = self.data_dir / f"{DATASET_STEM}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def cache_config(self) -> dict:
        """Flask-Caching configuration (2.5 names: FileSystemCache, RedisCache, SimpleCache)."""
        config = {"CACHE_TYPE": self.cache_type, "CACHE_DEFAULT_TIMEOUT": self.cache_timeout}
        if self.cache_type == "FileSystemCache":
            config["CACHE_DIR"] = str(self.cache_dir / "results")
            config["CACHE_THRESHOLD"] = 2000
        elif self.cache_type == "RedisCache":
            # RedisCache that treats an unreachable Redis as a miss (see service.py)
            config["CACHE_TYPE"] = "dashapp.service.caching.ResilientRedisCache"
            config["CACHE_REDIS_URL"] = self.redis_url or "redis://127.0.0.1:6379/0"
            config["CACHE_KEY_PREFIX"] = self.cache_key_prefix
            # Fail fast instead of hanging a request when Redis is slow, frozen or
            # unreachable; the cache then skips Redis until a background probe answers.
            config["CACHE_OPTIONS"] = {
                "socket_timeout": self.redis_timeout_s,
                "socket_connect_timeout": self.redis_timeout_s,
            }
        return config


def assets_dir() -> Path:
    """The app's static files: ``assets/`` of the checkout, or ``dashapp/assets`` of an
    installed wheel (pyproject maps the top-level folder into the package)."""
    return PROJECT_ROOT / "assets" if IN_CHECKOUT else PACKAGE_DIR / "assets"


def normalize_prefix(prefix: str) -> str:
    """``analytics/segments`` -> ``/analytics/segments/``; refuses anything but a path."""
    prefix = "/" + str(prefix or "/").strip().strip("/") + "/"
    prefix = prefix.replace("//", "/")
    if not re.match(r"^/(?:[A-Za-z0-9._~-]+/)*$", prefix) or "/../" in prefix or "/./" in prefix:
        raise SystemExit(
            f"URL_PREFIX must be a URL path such as /analytics/segments/, got {prefix!r}."
        )
    return prefix
