"""Transactions in a SQL database or warehouse: the cleaning runs where the data is.

A :class:`SqlSource` points at one table (or view) of order lines through a SQLAlchemy URL and
a column mapping. Its lines are described to ibis (:meth:`SqlSource.lines`, the loader's text
normalisation as expressions) and the cleaning of :mod:`dashapp.ingest.engine.pipeline` is
compiled to the database's dialect and run as **one statement** per data version
(:meth:`SqlSource.clean`): the database reads the table once and returns about one row per
invoice, which the service caches (``<cache_dir>/prepared``) and reads for every page. No page
sends a statement of its own, so a 10M-line table costs one cleaning, not one per page.

Supported: any dialect ibis compiles for (PostgreSQL, DuckDB, MySQL/MariaDB, SQL Server,
Oracle, Snowflake, BigQuery, Trino, Databricks); SQLite is refused (no regular expressions).

Safety: table and column names are reflected and always quoted, never put into SQL text by
hand; the PostgreSQL session is read-only (``SET SESSION CHARACTERISTICS AS TRANSACTION READ
ONLY``) and has a ``statement_timeout``; elsewhere a watchdog thread cancels the statement after
``timeout_s`` when the driver can. Credentials never appear in messages, logs or ``repr``. See
``docs/sql.md``.

Modules: :mod:`~dashapp.ingest.sql.source` (:class:`SqlSource`, URL parsing and redaction) and
:mod:`~dashapp.ingest.sql.guards` (session guards, timeouts, :class:`SqlSourceError`).
"""

from dashapp.ingest.sql.guards import PG_SESSION_SETTINGS, SqlSourceError
from dashapp.ingest.sql.source import IBIS_DIALECTS, MAPPABLE_COLUMNS, SqlSource

__all__ = [
    "IBIS_DIALECTS",
    "MAPPABLE_COLUMNS",
    "PG_SESSION_SETTINGS",
    "SqlSource",
    "SqlSourceError",
]
