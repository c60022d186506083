"""Session guards of the SQL source: read-only sessions and a server-side statement timeout
where the dialect has them, the watchdog that cancels a statement elsewhere, and the checks that
tell a timeout or a failed connection from other database errors. Also :class:`SqlSourceError`,
which these guards and :class:`~dashapp.ingest.sql.source.SqlSource` raise.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

log = logging.getLogger("dashapp.ingest.sql")  # the package's logger (one name for the source)


class SqlSourceError(RuntimeError):
    """A SQL source cannot be used or a query failed. ``str(err)`` is a complete user-facing
    message; it never contains credentials."""


#: PostgreSQL session settings for this analytic workload (overridable with ``pg_settings``):
#: the row estimates of the cleaning subqueries are poor, and a nested loop over them is
#: quadratic; the statements need hash joins, hash aggregates that fit in memory (``work_mem``
#: is per sort / hash node of the one running statement), and no JIT compilation (seconds per
#: statement, which here is planned afresh each time).
PG_SESSION_SETTINGS: dict[str, str] = {"enable_nestloop": "off", "work_mem": "256MB", "jit": "off"}
_SETTING_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_SETTING_VALUE_RE = re.compile(r"^[A-Za-z0-9_.]+$")


def _install_session_guards(
    engine: sa.engine.Engine, timeout_s: float, pg_settings: Mapping[str, str] | None = None
) -> None:
    """Read-only sessions and a server-side statement timeout where the dialect has them."""
    name = engine.dialect.name
    if name == "postgresql":
        settings = {**PG_SESSION_SETTINGS, **dict(pg_settings or {})}
        for key, value in settings.items():
            if not _SETTING_RE.match(str(key)) or not _SETTING_VALUE_RE.match(str(value)):
                raise SqlSourceError(f"Invalid PostgreSQL setting {key!r} = {value!r}.")
        statements = [
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            f"SET statement_timeout = {max(1, round(timeout_s * 1000)):d}",
            *(f"SET {key} = '{value}'" for key, value in settings.items()),
        ]

        @event.listens_for(engine, "connect")
        def _pg_session(dbapi_conn, _record):
            # SET inside a transaction that is rolled back would be undone: run in autocommit.
            autocommit = getattr(dbapi_conn, "autocommit", None)
            if autocommit is not None:
                dbapi_conn.autocommit = True
            cur = dbapi_conn.cursor()
            try:
                for sql in statements:
                    cur.execute(sql)
            finally:
                cur.close()
            if autocommit is not None:
                dbapi_conn.autocommit = autocommit
    elif name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_session(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA query_only = ON")


def _cancel(conn: sa.engine.Connection, fired: threading.Event) -> None:
    """Watchdog: ask the driver to abort the running statement (sqlite3 ``interrupt``,
    psycopg / DB-API extensions ``cancel``)."""
    fired.set()
    try:
        raw = conn.connection.dbapi_connection
    except Exception:  # noqa: BLE001 - best effort from another thread
        return
    for name in ("interrupt", "cancel"):
        fn = getattr(raw, name, None)
        if callable(fn):
            try:
                fn()
            except Exception:  # noqa: BLE001
                log.debug("cancel via %s failed", name, exc_info=True)
            return


def _is_timeout(err: sa_exc.DBAPIError) -> bool:
    orig = err.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code == "57014":  # PostgreSQL query_canceled (statement_timeout)
        return True
    text = str(orig).lower()
    return "statement timeout" in text or text.strip() == "interrupted"


def _looks_like_connect_failure(text: str) -> bool:
    t = text.lower()
    return any(
        s in t
        for s in (
            "connection",
            "could not connect",
            "unable to open",
            "timeout expired",
            "name or service",
            "password authentication",
        )
    )
