"""The SQL source: :class:`SqlSource` (one table or view of order lines through a SQLAlchemy
URL: construction from arguments or the ``DATA_SQL_*`` environment, reflection and column
checks, execution under the session guards, the version fingerprint and the cleaning as one
statement) and URL parsing and redaction. See the package docstring.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping

import ibis
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dashapp.ingest import cleaning, schema
from dashapp.ingest.engine import product_lines, split_parts
from dashapp.ingest.engine.pipeline import cleaning_sql, product_parts
from dashapp.ingest.engine.sources import canonical, sqlalchemy_type
from dashapp.ingest.sql.guards import (
    SqlSourceError,
    _cancel,
    _install_session_guards,
    _is_timeout,
    _looks_like_connect_failure,
)

log = logging.getLogger("dashapp.ingest.sql")  # the package's logger (one name for the source)


#: Canonical columns that may be mapped (``line_total`` is derived).
MAPPABLE_COLUMNS: tuple[str, ...] = schema.SOURCE_COLUMNS
_NUMBER = (sa.Integer, sa.Numeric, sa.Float)  # Float is not a Numeric in SQLAlchemy 2.1
#: ibis's name of the SQL dialect of each SQLAlchemy dialect the cleaning can be compiled for.
IBIS_DIALECTS: dict[str, str] = {
    "postgresql": "postgres",
    "duckdb": "duckdb",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "mssql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "trino": "trino",
    "databricks": "databricks",
    "redshift": "postgres",
}


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
def _redact(url: sa.engine.URL) -> str:
    return url.render_as_string(hide_password=True)


def _parse_url(url) -> sa.engine.URL:
    if isinstance(url, sa.engine.URL):
        return url
    try:
        return sa.engine.make_url(str(url))
    except sa_exc.ArgumentError:
        raise SqlSourceError(
            "The SQL source URL cannot be parsed; expected dialect+driver://user:password@host/"
            "database (e.g. postgresql+psycopg://app@db.example.com/shop)."
        ) from None


class SqlSource:
    """Order lines in a table (or view) of a SQL database.

    Parameters
    ----------
    url : str or sqlalchemy URL
        SQLAlchemy database URL, e.g. ``postgresql+psycopg://reader:pw@host:5432/shop``.
    table : str
        Table or view name; ``"schema.table"`` is split at the first dot when ``schema`` is not
        given. Matched exactly as stored (quoted by SQLAlchemy).
    column_map : mapping, optional
        ``{canonical name: database column}`` for ``invoice, stock_code, description,
        quantity, invoice_date, price, customer_id, country``. Unmapped columns are matched by
        the header aliases of :mod:`dashapp.ingest.schema` (``Customer ID``, ``InvoiceDate``,
        ...).
    schema : str, optional
        Database schema of the table.
    timeout_s : float, default 30
        Longest time one query may run; longer queries are cancelled with a
        :class:`SqlSourceError` ("The database did not answer within N s ...").
    engine_kwargs : mapping, optional
        Extra arguments for :func:`sqlalchemy.create_engine`.
    pg_settings : mapping, optional
        PostgreSQL session settings added to / overriding :data:`PG_SESSION_SETTINGS`.

    The table is reflected on construction: a missing table or column raises
    :class:`SqlSourceError` naming it.
    """

    def __init__(
        self,
        url,
        table: str,
        column_map: Mapping[str, str] | None = None,
        schema: str | None = None,
        timeout_s: float = 30,
        *,
        engine_kwargs: Mapping | None = None,
        pg_settings: Mapping[str, str] | None = None,
    ) -> None:
        self._url = _parse_url(url)
        if not table or not isinstance(table, str):
            raise SqlSourceError("A SQL source needs a table or view name.")
        if schema is None and "." in table:
            schema, table = table.split(".", 1)
        self.table_name = table
        self.schema = schema
        self.timeout_s = float(timeout_s)
        if not self.timeout_s > 0:
            raise SqlSourceError(f"timeout_s must be positive, got {timeout_s!r}.")
        self.url = _redact(self._url)
        try:
            self.engine = sa.create_engine(
                self._url, pool_pre_ping=True, **dict(engine_kwargs or {})
            )
        except sa_exc.NoSuchModuleError:
            raise SqlSourceError(
                f"No SQLAlchemy dialect is installed for '{self._url.drivername}' "
                f"({self.url}); install the dialect's package (see docs/sql.md)."
            ) from None
        except (sa_exc.ArgumentError, ImportError) as err:
            raise SqlSourceError(
                f"Cannot create a database engine for {self.url}: {self._scrub(str(err))}"
            ) from None
        self.dialect = self.engine.dialect.name
        if self.dialect not in IBIS_DIALECTS:
            raise SqlSourceError(
                f"The cleaning cannot be compiled for {self.dialect} ({self.url}): supported "
                f"databases are {', '.join(sorted(set(IBIS_DIALECTS)))}. Export the table to a "
                f"file (CSV or parquet) for anything else."
            )
        _install_session_guards(self.engine, self.timeout_s, pg_settings)
        self._table = self._reflect()
        self.columns = self._resolve_columns(column_map or {})

    # -- construction helpers ----------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SqlSource | None:
        """Build the source from ``DATA_SQL_URL``, ``DATA_SQL_TABLE``, ``DATA_SQL_COLUMNS``
        (JSON object canonical -> column), ``DATA_SQL_SCHEMA``, ``DATA_SQL_TIMEOUT`` (seconds)
        and ``DATA_SQL_CONNECT_ARGS`` (JSON object passed to the driver's ``connect``).
        Returns None when ``DATA_SQL_URL`` is not set."""
        env = os.environ if env is None else env
        url = (env.get("DATA_SQL_URL") or "").strip()
        if not url:
            return None
        table = (env.get("DATA_SQL_TABLE") or "").strip()
        if not table:
            raise SqlSourceError("DATA_SQL_URL is set but DATA_SQL_TABLE (table or view) is not.")
        raw_map = (env.get("DATA_SQL_COLUMNS") or "").strip()
        column_map = None
        if raw_map:
            try:
                column_map = json.loads(raw_map)
            except ValueError as err:
                raise SqlSourceError(f"DATA_SQL_COLUMNS is not valid JSON: {err}.") from None
            if not isinstance(column_map, dict):
                raise SqlSourceError(
                    'DATA_SQL_COLUMNS must be a JSON object such as {"customer_id": "CustomerNo"}.'
                )
        raw_args = (env.get("DATA_SQL_CONNECT_ARGS") or "").strip()
        engine_kwargs = None
        if raw_args:
            try:
                connect_args = json.loads(raw_args)
            except ValueError as err:
                raise SqlSourceError(f"DATA_SQL_CONNECT_ARGS is not valid JSON: {err}.") from None
            if not isinstance(connect_args, dict):
                raise SqlSourceError("DATA_SQL_CONNECT_ARGS must be a JSON object.")
            engine_kwargs = {"connect_args": connect_args}
        timeout = (env.get("DATA_SQL_TIMEOUT") or "").strip()
        try:
            timeout_s = float(timeout) if timeout else 30.0
        except ValueError:
            raise SqlSourceError(
                f"DATA_SQL_TIMEOUT must be a number of seconds, got {timeout!r}."
            ) from None
        return cls(
            url,
            table,
            column_map=column_map,
            schema=(env.get("DATA_SQL_SCHEMA") or "").strip() or None,
            timeout_s=timeout_s,
            engine_kwargs=engine_kwargs,
        )

    def __repr__(self) -> str:
        where = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        return f"SqlSource({self.url!r}, table={where!r}, timeout_s={self.timeout_s:g})"

    @property
    def label(self) -> str:
        """Short text for a dataset picker (no credentials)."""
        where = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        host = self._url.host or self._url.database or ""
        return f"{where} ({self.dialect}{' @ ' + host if host else ''})"

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()

    def _scrub(self, text: str) -> str:
        pw = self._url.password
        if pw:
            text = text.replace(str(pw), "***")
        return text

    def _where(self) -> str:
        shown = (
            repr(self.table_name)
            if not self.schema
            else f"{self.table_name!r} in schema {self.schema!r}"
        )
        return f"{shown} of {self.url}"

    def _reflect(self) -> sa.Table:
        try:
            return sa.Table(
                self.table_name, sa.MetaData(), schema=self.schema, autoload_with=self.engine
            )
        except sa_exc.NoSuchTableError:
            raise SqlSourceError(f"Table or view {self._where()} was not found.") from None
        except sa_exc.SQLAlchemyError as err:
            raise SqlSourceError(
                self._describe_failure(err, "reading the table definition")
            ) from None

    def _resolve_columns(self, column_map: Mapping[str, str]) -> dict[str, sa.Column]:
        db_cols = {c.name: c for c in self._table.columns}
        unknown = [k for k in column_map if k not in MAPPABLE_COLUMNS]
        if unknown:
            raise SqlSourceError(
                f"The column mapping names unknown column(s) {', '.join(map(repr, unknown))}; "
                f"expected some of: {', '.join(MAPPABLE_COLUMNS)}."
            )
        found: dict[str, sa.Column] = {}
        for canon, name in column_map.items():
            if name is None or name == "":
                continue
            if name not in db_cols:
                raise SqlSourceError(
                    f"Column {name!r} (mapped to {canon}) is not a column of {self._where()}. "
                    f"Columns: {', '.join(map(repr, db_cols))}."
                )
            found[canon] = db_cols[name]
        used = {c.name for c in found.values()}
        for name, col in db_cols.items():
            canon = schema.canonical_for(name)
            if (
                canon
                and canon != schema.LINE_TOTAL
                and canon not in found
                and canon not in column_map
                and name not in used
            ):
                found[canon] = col
                used.add(name)
        missing = [c for c in schema.REQUIRED_COLUMNS if c not in found]
        if missing:
            raise SqlSourceError(
                f"{self._where()} has no column for {', '.join(missing)}; map them with "
                f"DATA_SQL_COLUMNS / column_map. Columns: {', '.join(map(repr, db_cols))}."
            )
        kinds = {
            schema.INVOICE_DATE: (sa.DateTime, sa.Date),
            schema.QUANTITY: _NUMBER,
            schema.PRICE: _NUMBER,
        }
        for canon, types in kinds.items():
            col = found.get(canon)
            if col is not None and not isinstance(col.type, types):
                what = "a date/time" if canon == schema.INVOICE_DATE else "a numeric"
                raise SqlSourceError(
                    f"Column {col.name!r} ({canon}) of {self._where()} has type {col.type}; "
                    f"{what} column is needed (a view can cast it)."
                )
        return found

    # -- execution -----------------------------------------------------------------------------
    def _describe_failure(self, err: BaseException, what: str) -> str:
        orig = getattr(err, "orig", None) or err
        text = self._scrub(
            str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        )
        if isinstance(err, sa_exc.OperationalError) and _looks_like_connect_failure(text):
            return f"Cannot connect to the database {self.url}: {text}"
        return f"The database failed while {what} from {self._where()}: {text}"

    def _fetch(self, stmt, what: str, timeout_s: float | None = None) -> pd.DataFrame:
        """Run one SELECT and return its rows as a DataFrame (small by construction), within
        ``timeout_s`` (default: the source's)."""
        timeout_s = float(timeout_s or self.timeout_s)
        fired = threading.Event()
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                timer = None
                if self.dialect == "postgresql":  # server-side statement_timeout
                    if timeout_s != self.timeout_s:  # for this transaction only
                        conn.exec_driver_sql(
                            f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000)):d}"
                        )
                else:
                    timer = threading.Timer(timeout_s, _cancel, (conn, fired))
                    timer.daemon = True
                    timer.start()
                try:
                    if isinstance(stmt, str):  # SQL text compiled by ibis: no parameters
                        if self.engine.dialect.paramstyle in ("format", "pyformat"):
                            stmt = stmt.replace("%", "%%")
                        result = conn.exec_driver_sql(stmt)
                    else:
                        result = conn.execute(stmt)
                    # object columns: NULL ids must not turn the other ids into floats
                    frame = pd.DataFrame(
                        result.fetchall(), columns=list(result.keys()), dtype=object
                    )
                finally:
                    if timer is not None:
                        timer.cancel()
        except sa_exc.DBAPIError as err:
            if fired.is_set() or _is_timeout(err):
                raise SqlSourceError(
                    f"The database did not answer within {timeout_s:g} s while computing "
                    f"{what} from {self._where()}. The cleaning reads the whole table once per "
                    f"version of the data: give the database more time (DATA_SQL_TIMEOUT) or "
                    f"more resources."
                ) from None
            raise SqlSourceError(self._describe_failure(err, f"computing {what}")) from None
        except sa_exc.SQLAlchemyError as err:
            raise SqlSourceError(self._describe_failure(err, f"computing {what}")) from None
        log.info(
            "sql source %s: %s in %.2f s (%d rows)",
            self.url,
            what,
            time.perf_counter() - started,
            len(frame),
        )
        return frame

    # -- public results --------------------------------------------------------------------------
    def version(self) -> str:
        """A cheap content fingerprint for cache keys: row count, date range and sums of the
        raw quantity and price columns (one scan). Changes when rows are added, removed or
        edited in those columns."""
        c = self.columns
        stmt = sa.select(
            sa.func.count().label("n"),
            sa.func.min(c[schema.INVOICE_DATE]).label("first"),
            sa.func.max(c[schema.INVOICE_DATE]).label("last"),
            sa.func.sum(c[schema.QUANTITY]).label("q"),
            sa.func.sum(c[schema.PRICE]).label("p"),
        ).select_from(self._table)
        row = self._fetch(stmt, "the table fingerprint").iloc[0].tolist()
        ident = [
            self.url,
            self.schema,
            self.table_name,
            sorted((k, v.name) for k, v in self.columns.items()),
        ]
        return hashlib.blake2b(
            repr((ident, [str(v) for v in row])).encode(), digest_size=8
        ).hexdigest()

    def lines(self) -> ibis.Table:
        """The table's lines as canonical lines: an ibis expression over the source table
        (its mapped columns only), compiled for the database's dialect."""
        table = ibis.table(
            ibis.schema({c.name: sqlalchemy_type(c) for c in self.columns.values()}),
            name=self.table_name,
            database=self.schema,
        )
        return canonical(table, {k: v.name for k, v in self.columns.items()})

    def sql(self, expr: ibis.Expr) -> str:
        """``expr`` as SQL text in the database's dialect."""
        return ibis.to_sql(expr, dialect=IBIS_DIALECTS[self.dialect])

    def clean(
        self, rules=None, timeout_s: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(invoice table, ledger)`` of the whole table: the cleaning runs in the database as
        one statement (one scan of the table) and returns about one row per invoice.
        ``timeout_s`` overrides the source's timeout for this statement (a preparation in the
        background may take longer than a page may wait)."""
        rules = _rules(rules)
        statement = cleaning_sql(self.lines(), rules, IBIS_DIALECTS[self.dialect])
        return split_parts(self._fetch(statement, "the cleaned invoices", timeout_s), rules)

    def products(self, rules=None, timeout_s: float | None = None) -> pd.DataFrame:
        """The product lines of the whole table (one row per invoice and stock code,
        :func:`dashapp.ingest.engine.clean_products`), by the same rules in one statement."""
        rules = _rules(rules)
        dialect = IBIS_DIALECTS[self.dialect]
        statement = cleaning_sql(self.lines(), rules, dialect, then=product_parts)
        return product_lines(self._fetch(statement, "the product lines", timeout_s))


def _rules(rules) -> cleaning.CleaningRules:
    if rules is None:
        return cleaning.CleaningRules()
    if isinstance(rules, str):
        return cleaning.CleaningRules.from_flags(rules)
    return rules
