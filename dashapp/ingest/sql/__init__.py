"""Transactions in a SQL database: the heavy aggregation runs in the database.

A :class:`SqlSource` points at one table (or view) of order lines through a SQLAlchemy URL and
a column mapping. Every result the pages need is computed by **one SELECT statement** built
with SQLAlchemy Core, so it runs on any dialect whose SQL has CTEs and window functions
(tested on PostgreSQL and SQLite); only small results come back (one row per customer or
fewer). The cleaning rules of :mod:`dashapp.cleaning` are applied in SQL with the same meaning
and the results are the same frames as the in-memory path (``tests/test_sql_source.py``
checks this to the penny and the day):

=====================================  ==========================================================
``SqlSource`` method                   in-memory equivalent (``lines`` = the whole table)
=====================================  ==========================================================
``ledger(rules)``                      ``cleaning.clean(lines, rules)[1]``
``customer_rfm(start, end, ...)``      ``rfm.customer_rfm(filter_transactions(orders, ...))``
``overview(start, end, ...)``          ``service.overview`` (kpis, monthly, ledger, rows_in/out)
``calibration_summary(...)``           ``clv_models.calibration_summary`` of the filtered purchase
                                       orders (``customer_id, invoice_date, revenue``)
``cohort_tables(start, end, ...)``     ``cohorts.cohort_tables(filtered orders)``
``bounds()``                           ``service.dataset_bounds``
``pages(start, end, ...)``             several of the above for one filter set, in one statement
=====================================  ==========================================================

where ``orders = cleaning.invoice_table(cleaning.clean(lines, rules)[0])``.

How the cleaning maps to SQL (see :class:`_Query`):

* Text columns are normalised like the loader does (trimmed; stock codes upper-cased; empty
  text and ``nan``/``null``/... customer ids are missing; numeric ids ``13085.0`` become
  ``'13085'``; a missing country is ``'Unknown'``).
* *Exact duplicates*: ``GROUP BY`` all eight columns; a group of ``n`` identical lines keeps one
  and counts ``n - 1`` in the ledger.
* Each remaining line gets a *fate* (the first enabled rule that removes it, in the order of
  :data:`cleaning.RULES`) with one ``CASE``; non-product codes use the configured list and a
  ``TRIM``-based translation of ``GIFT_\\d+_\\d+`` (no regular expressions).
* *Unmatched returns*: only the (customer, stock code) pairs with a kept return need it, so the
  table is split in two branches by those pairs. In the returns branch a window
  ``SUM(returned - bought) OVER (... ROWS UNBOUNDED PRECEDING)`` in time order (purchases before
  returns at equal timestamps) gives the running excess, a second window the maximum of the
  earlier rows; the increase of the floored running maximum on a return line is its unmatched
  quantity (a fully unmatched line leaves, a partly unmatched one keeps its matched units).
* *Orders*: ``GROUP BY`` invoice (via CTE ``parts``, which also carries the ledger's counts and
  money). An invoice's date, customer and country are the minimum over its lines that pass
  the removal rules (the in-memory path takes its first line's; they agree unless one invoice
  carries several, as in one invoice of the real extract whose lines span two consecutive
  minutes, where both give the earlier one).

Row order: a table has none, but the unmatched-returns rule needs one to split a customer's
returns of one product at the *same minute* between lines (the in-memory path uses file order).
Map the optional column ``line_number`` (e.g. an identity column filled in file order) to get
exactly the in-memory result; without it such ties are ordered by invoice, price and quantity.

Safety: table and column names are reflected and always quoted by SQLAlchemy, never put into SQL
text; the PostgreSQL session is read-only (``SET SESSION CHARACTERISTICS AS TRANSACTION READ
ONLY``) and has a ``statement_timeout``; SQLite connections get ``PRAGMA query_only``; elsewhere a watchdog thread
cancels the statement after ``timeout_s`` when the driver can. Credentials never appear in
messages, logs or ``repr``. See ``docs/sql.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.compiler import compiles

from dashapp.analytics import rfm
from dashapp.analytics.cohorts import CohortTables, cohort_tables, tables_from_cells
from dashapp.ingest import cleaning, schema

log = logging.getLogger(__name__)

__all__ = [
    "LINE_NUMBER",
    "PAGES",
    "PG_SESSION_SETTINGS",
    "SqlSource",
    "SqlSourceError",
    "rebase_as_of",
]

#: Optional extra canonical column: the source row order (used only to break ties, see module
#: docstring).
LINE_NUMBER = "line_number"
#: Canonical columns that may be mapped (``line_total`` is derived).
MAPPABLE_COLUMNS: tuple[str, ...] = (*schema.SOURCE_COLUMNS, LINE_NUMBER)

_NULL_TOKENS = ("nan", "none", "null", "na", "n/a", "#n/a", "-")
# Fates of a line (first enabled rule that removes it); 0 = kept.
_FATES = {
    "bad_debt": 1,
    "non_product": 2,
    "non_positive_price": 3,
    "write_offs": 4,
    "cancellations_dropped": 5,
}
_MONTH0 = 1970 * 12  # month key of 1970-01 (month keys are year * 12 + month - 1)
_NUMBER = (sa.Integer, sa.Numeric, sa.Float)  # Float is not a Numeric in SQLAlchemy 2.1
#: The page results :meth:`SqlSource.pages` can compute in one statement.
PAGES = ("overview", "rfm", "calibration", "cohorts")


class SqlSourceError(RuntimeError):
    """A SQL source cannot be used or a query failed. ``str(err)`` is a complete user-facing
    message; it never contains credentials."""


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
        quantity, invoice_date, price, customer_id, country`` and the optional
        ``line_number``. Unmapped columns are matched by the header aliases of
        :mod:`dashapp.schema` (``Customer ID``, ``InvoiceDate``, ...).
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
            LINE_NUMBER: _NUMBER,
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

    def _fetch(self, stmt, what: str) -> pd.DataFrame:
        """Run one SELECT and return its rows as a DataFrame (small by construction)."""
        fired = threading.Event()
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                timer = None
                if self.dialect != "postgresql":  # PostgreSQL: server-side statement_timeout
                    timer = threading.Timer(self.timeout_s, _cancel, (conn, fired))
                    timer.daemon = True
                    timer.start()
                try:
                    result = conn.execute(stmt)
                    # object columns: the NULL padding of _stack must not turn ids into floats
                    frame = pd.DataFrame(
                        result.fetchall(), columns=list(result.keys()), dtype=object
                    )
                finally:
                    if timer is not None:
                        timer.cancel()
        except sa_exc.DBAPIError as err:
            if fired.is_set() or _is_timeout(err):
                raise SqlSourceError(
                    f"The database did not answer within {self.timeout_s:g} s while computing "
                    f"{what} from {self._where()}. Each page reads the whole table: give the "
                    f"database more time (DATA_SQL_TIMEOUT) or more resources."
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

    def bounds(self) -> dict:
        """First and last invoice day and the countries by revenue (largest first), after the
        default cleaning: the same dict as ``service.dataset_bounds``."""
        q = _Query(self, cleaning.CleaningRules())
        o = q.orders
        parts = {
            "range": sa.select(
                sa.func.min(o.c.invoice_date).label("first"),
                sa.func.max(o.c.invoice_date).label("last"),
            ),
            "country": sa.select(o.c.country, sa.func.sum(o.c.revenue).label("revenue")).group_by(
                o.c.country
            ),
        }
        stmt, layout = _stack(parts)
        got = _split(self._fetch(stmt, "the date range and countries"), layout)
        first, last = got["range"]["first"].iloc[0], got["range"]["last"].iloc[0]
        if pd.isna(first):
            return {"start": None, "end": None, "countries": []}
        by_country = got["country"].set_index("country")["revenue"].astype(float)
        return {
            "start": pd.Timestamp(first).strftime("%Y-%m-%d"),
            "end": pd.Timestamp(last).strftime("%Y-%m-%d"),
            "countries": [str(c) for c in by_country.sort_values(ascending=False).index],
        }

    def ledger(self, rules=None) -> pd.DataFrame:
        """The cleaning ledger of the whole table: ``cleaning.clean(lines, rules)[1]``."""
        q = _Query(self, _rules(rules))
        stmt, layout = _stack(q.ledger_parts())
        return q.build_ledger(_split(self._fetch(stmt, "the cleaning ledger"), layout))

    def customer_rfm(
        self, start=None, end=None, countries=None, rules=None, as_of=None
    ) -> pd.DataFrame:
        """``rfm.customer_rfm`` of the cleaned, filtered orders (same columns, dtypes, index)."""
        return self.pages(start, end, countries, rules, want=("rfm",), as_of=as_of)["rfm"]

    def overview(self, start=None, end=None, countries=None, rules=None) -> dict:
        """KPIs, monthly revenue and the cleaning ledger: the dict of ``service.overview``."""
        return self.pages(start, end, countries, rules, want=("overview",))["overview"]

    def calibration_summary(
        self,
        calibration_end,
        observation_end=None,
        time_unit: str = "W",
        start=None,
        end=None,
        countries=None,
        rules=None,
    ) -> pd.DataFrame:
        """BG/NBD calibration summary of the filtered purchase orders.

        Equal to ``clv_models.calibration_summary(purchases, customer_col="customer_id",
        date_col="invoice_date", amount_col="revenue", calibration_end=...,
        observation_end=..., time_unit=...)`` where ``purchases`` are the filtered orders that
        are not cancellations (the index holds the ids as str, named ``customer_id``).
        """
        return self.pages(
            start,
            end,
            countries,
            rules,
            want=("calibration",),
            calibration_end=calibration_end,
            observation_end=observation_end,
            time_unit=time_unit,
        )["calibration"]

    def cohort_tables(self, start=None, end=None, countries=None, rules=None) -> CohortTables:
        """``cohorts.cohort_tables`` of the cleaned, filtered orders."""
        return self.pages(start, end, countries, rules, want=("cohorts",))["cohorts"]

    def pages(
        self,
        start=None,
        end=None,
        countries=None,
        rules=None,
        *,
        want: tuple[str, ...] | None = None,
        as_of=None,
        calibration_end=None,
        observation_end=None,
        time_unit: str = "W",
    ) -> dict:
        """Several pages' results for one filter set in **one** statement, so the cleaning
        pass over the table (the expensive part) runs once.

        ``want`` is a subset of :data:`PAGES`: ``"overview"`` (dict of ``service.overview``),
        ``"rfm"`` (``customer_rfm`` frame, reference date ``as_of``), ``"calibration"``
        (calibration summary; needs ``calibration_end``) and ``"cohorts"``
        (``CohortTables``); by default all of them (without ``"calibration"`` when no
        ``calibration_end`` is given). Returns ``{name: result}`` in the order of ``want``.
        """
        if want is None:
            want = tuple(p for p in PAGES if p != "calibration" or calibration_end is not None)
        unknown = set(want) - set(PAGES)
        if unknown:
            raise ValueError(f"Unknown page result(s) {sorted(unknown)}; choose from {PAGES}.")
        if "calibration" in want and calibration_end is None:
            raise ValueError("The calibration summary needs calibration_end.")
        q = _Query(self, _rules(rules))
        fo = q.filtered(start, end, countries)
        parts: dict[str, sa.Select] = {}
        cal = None
        if "overview" in want:
            parts.update(q.ledger_parts(), **_overview_parts(q, fo))
        if "rfm" in want:
            parts.update(_rfm_parts(fo))
        if "calibration" in want:
            cal = _CalibrationWindow.build(calibration_end, observation_end, time_unit)
            parts.update(_calibration_parts(fo, cal))
        if "cohorts" in want:
            parts.update(_cohort_parts(fo))
        stmt, layout = _stack(parts)
        got = _split(self._fetch(stmt, " + ".join(want)), layout)
        out: dict = {}
        if "overview" in want:
            out["overview"] = _overview_result(q.build_ledger(got), got, start, end)
        if "rfm" in want:
            out["rfm"] = _rfm_frame(got["rfm"], got["rfm_max"]["max_ts"].iloc[0], as_of)
        if "calibration" in want:
            out["calibration"] = _calibration_frame(got["calibration"], cal)
        if "cohorts" in want:
            out["cohorts"] = _cohort_frames(
                got["cohort_cell"], got["cohort_size"], got["cohort_range"].iloc[0]
            )
        return {name: out[name] for name in want}


# --------------------------------------------------------------------------------------------
# Page results: the small SELECTs over the filtered orders, and their frames
# --------------------------------------------------------------------------------------------
def _overview_parts(q: _Query, fo) -> dict[str, sa.Select]:
    month = _month_key(fo.c.invoice_date)
    purchase = fo.c.is_cancel == 0
    known = fo.c.customer_id.is_not(None)
    per_cust = (
        sa.select(fo.c.customer_id, sa.func.count().label("n"))
        .where(purchase, known)
        .group_by(fo.c.customer_id)
        .subquery("per_cust")
    )
    return {
        "month": sa.select(
            month.label("month"),
            sa.func.sum(fo.c.revenue).label("revenue"),
            sa.func.sum(sa.case((known, fo.c.revenue), else_=0.0)).label("customer_revenue"),
            sa.func.count(sa.case((purchase, 1))).label("orders"),
            sa.func.count(sa.distinct(sa.case((sa.and_(known, purchase), fo.c.customer_id)))).label(
                "customers"
            ),
            sa.func.sum(sa.case((purchase, fo.c.revenue), else_=0.0)).label("purchase_revenue"),
            sa.func.sum(sa.case((known, 0.0), else_=fo.c.revenue)).label("unknown_revenue"),
        ).group_by(month),
        "buyers": sa.select(
            sa.func.count().label("buyers"),
            sa.func.count(sa.case((per_cust.c.n >= 2, 1))).label("repeat"),
        ),
        "all": sa.select(
            sa.func.min(q.orders.c.invoice_date).label("first"),
            sa.func.max(q.orders.c.invoice_date).label("last"),
        ),
    }


def _overview_result(ledger: pd.DataFrame, got: Mapping[str, pd.DataFrame], start, end) -> dict:
    m = got["month"]
    n_orders = int(m["orders"].sum()) if len(m) else 0
    revenue = float(m["revenue"].astype(float).sum()) if len(m) else 0.0
    purchase_revenue = float(m["purchase_revenue"].astype(float).sum()) if len(m) else 0.0
    buyers = int(got["buyers"]["buyers"].iloc[0] or 0)
    repeat = int(got["buyers"]["repeat"].iloc[0] or 0)
    kpis = {
        "net_revenue": revenue,
        "cancellation_revenue": revenue - purchase_revenue,
        "customers": buyers,
        "orders": n_orders,
        "aov": purchase_revenue / n_orders if n_orders else float("nan"),
        "repeat_rate": repeat / buyers if buyers else float("nan"),
        "unknown_customer_revenue": float(m["unknown_revenue"].astype(float).sum())
        if len(m)
        else 0.0,
    }
    monthly = _monthly_frame(m, got["all"].iloc[0], start, end)
    return {
        "kpis": kpis,
        "monthly": monthly,
        "ledger": ledger,
        "rows_in": ledger.attrs.get("rows_in"),
        "rows_out": ledger.attrs.get("rows_out"),
    }


def _rfm_parts(fo) -> dict[str, sa.Select]:
    purchase = fo.c.is_cancel == 0
    return {
        "rfm": sa.select(
            fo.c.customer_id,
            sa.func.count(sa.case((purchase, 1))).label("frequency"),
            sa.func.sum(fo.c.revenue).label("monetary"),
            sa.func.min(sa.case((purchase, fo.c.invoice_date))).label("first"),
            sa.func.max(sa.case((purchase, fo.c.invoice_date))).label("last"),
        )
        .where(fo.c.customer_id.is_not(None))
        .group_by(fo.c.customer_id),
        "rfm_max": sa.select(sa.func.max(fo.c.invoice_date).label("max_ts")),
    }


@dataclass(frozen=True)
class _CalibrationWindow:
    cal: pd.Timestamp
    obs: pd.Timestamp | None
    time_unit: str
    unit: float

    @classmethod
    def build(cls, calibration_end, observation_end, time_unit: str) -> _CalibrationWindow:
        from dashapp.analytics.clv import TIME_UNIT_DAYS

        if time_unit not in TIME_UNIT_DAYS:
            raise ValueError(
                f"time_unit must be one of {sorted(TIME_UNIT_DAYS)}, got {time_unit!r}"
            )
        cal = pd.Timestamp(calibration_end).normalize()
        obs = None if observation_end is None else pd.Timestamp(observation_end).normalize()
        if obs is not None and obs < cal:
            raise ValueError("observation_end must not be before calibration_end")
        return cls(cal, obs, time_unit, TIME_UNIT_DAYS[time_unit])


def _calibration_parts(fo, w: _CalibrationWindow) -> dict[str, sa.Select]:
    last = w.cal if w.obs is None else w.obs
    day = _day_key(fo.c.invoice_date)
    days = (
        sa.select(fo.c.customer_id, day.label("day"), sa.func.sum(fo.c.revenue).label("total"))
        .where(
            fo.c.is_cancel == 0,
            fo.c.customer_id.is_not(None),
            fo.c.invoice_date < _py(last + pd.Timedelta(days=1)),
        )
        .group_by(fo.c.customer_id, day)
        .subquery("days")
    )
    cd = sa.select(
        days, sa.func.min(days.c.day).over(partition_by=days.c.customer_id).label("first_day")
    ).subquery("cd")
    in_cal = cd.c.day <= _day_int(w.cal)
    return {
        "calibration": sa.select(
            cd.c.customer_id,
            sa.func.count(sa.case((in_cal, 1))).label("n_days"),
            sa.func.min(cd.c.day).label("first"),
            sa.func.max(sa.case((in_cal, cd.c.day))).label("last"),
            sa.func.sum(
                sa.case((sa.and_(in_cal, cd.c.day != cd.c.first_day), cd.c.total), else_=0.0)
            ).label("repeat_total"),
            sa.func.count(sa.case((sa.not_(in_cal), 1))).label("h_days"),
            sa.func.sum(sa.case((sa.not_(in_cal), cd.c.total), else_=0.0)).label("h_revenue"),
        )
        .group_by(cd.c.customer_id)
        .having(sa.func.count(sa.case((in_cal, 1))) > 0)
    }


def _cohort_parts(fo) -> dict[str, sa.Select]:
    month = _month_key(fo.c.invoice_date)
    purchase = fo.c.is_cancel == 0
    first = (
        sa.select(fo.c.customer_id, sa.func.min(month).label("cohort"))
        .where(purchase, fo.c.customer_id.is_not(None))
        .group_by(fo.c.customer_id)
        .subquery("first")
    )
    k = month - first.c.cohort
    return {
        "cohort_cell": sa.select(
            first.c.cohort,
            k.label("k"),
            sa.func.count(sa.distinct(sa.case((purchase, fo.c.customer_id)))).label("active"),
            sa.func.sum(fo.c.revenue).label("revenue"),
        )
        .select_from(fo.join(first, fo.c.customer_id == first.c.customer_id))
        .where(month >= first.c.cohort)
        .group_by(first.c.cohort, k),
        "cohort_size": sa.select(first.c.cohort, sa.func.count().label("customers")).group_by(
            first.c.cohort
        ),
        "cohort_range": sa.select(
            sa.func.min(fo.c.invoice_date).label("first"),
            sa.func.max(fo.c.invoice_date).label("last"),
        ),
    }


# --------------------------------------------------------------------------------------------
# Session guards and timeouts
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# SQL building blocks (Core only; portable across dialects)
# --------------------------------------------------------------------------------------------
def _rules(rules) -> cleaning.CleaningRules:
    if rules is None:
        return cleaning.CleaningRules()
    if isinstance(rules, str):
        return cleaning.CleaningRules.from_flags(rules)
    return rules


def _py(ts: pd.Timestamp):
    return pd.Timestamp(ts).to_pydatetime()


class _StripDigits(sa.sql.functions.GenericFunction):
    """``expr`` without leading and trailing digits: ``TRIM(expr, '0123456789')``, spelled
    ``BTRIM`` where ``TRIM`` takes no character set (Databricks / Spark SQL)."""

    type = sa.String()
    name = "strip_digits"
    inherit_cache = True


@compiles(_StripDigits)
def _strip_digits_default(element, compiler, **kw):
    return f"TRIM({compiler.process(element.clauses, **kw)}, '0123456789')"


@compiles(_StripDigits, "databricks")
def _strip_digits_spark(element, compiler, **kw):  # pragma: no cover - not installed here
    return f"BTRIM({compiler.process(element.clauses, **kw)}, '0123456789')"


def _strip_digits(expr):
    return _StripDigits(expr)


def _text(
    col: sa.Column | None,
    *,
    upper: bool = False,
    float_suffix: bool = False,
    null_tokens: bool = False,
):
    """A source column as normalised text (None -> typed NULL), like the loader's labels."""
    if col is None:
        return sa.cast(sa.null(), sa.String)
    t = col.type
    if isinstance(t, sa.Integer):
        return sa.cast(col, sa.String)
    if isinstance(t, (sa.Numeric, sa.Float)):  # 13085.0 -> '13085'
        return sa.cast(sa.cast(col, sa.BigInteger), sa.String)
    expr = col if isinstance(t, sa.String) else sa.cast(col, sa.String)
    expr = sa.func.nullif(sa.func.trim(expr), "")
    if float_suffix:  # '13085.0' -> '13085'
        expr = sa.case(
            (
                sa.and_(expr.like("%.0"), _strip_digits(expr) == "."),
                sa.func.substr(expr, 1, sa.func.length(expr) - 2),
            ),
            else_=expr,
        )
    if null_tokens:
        expr = sa.case((sa.func.lower(expr).in_(_NULL_TOKENS), sa.null()), else_=expr)
    if upper:
        expr = sa.func.upper(expr)
    return sa.type_coerce(expr, sa.String)


def _customer_key(col: sa.Column | None):
    """The customer id as the database can compare it fastest: a numeric column stays a number
    (``13085.0`` -> 13085; the app turns it into ``'13085'``), a text column is normalised
    like the loader does (trimmed, ``'13085.0'`` -> ``'13085'``, ``nan``/``null``/... missing).
    """
    if col is not None and isinstance(col.type, sa.Integer):
        return col
    if col is not None and isinstance(col.type, (sa.Numeric, sa.Float)):
        return sa.cast(col, sa.BigInteger)
    return _text(col, float_suffix=True, null_tokens=True)


def _gift_voucher(stock):
    """``GIFT_\\d+_\\d+`` (full match, stock already upper-cased) without regular expressions:
    after ``GIFT_``, trimming digits off both ends leaves exactly ``_``, which is neither the
    first nor the last character."""
    if cleaning.NON_PRODUCT_PATTERNS != (r"GIFT_\d+_\d+",):  # pragma: no cover - guard
        raise NotImplementedError(
            "sql_source translates cleaning.NON_PRODUCT_PATTERNS by hand; "
            "update _gift_voucher for the new patterns."
        )
    rest = sa.func.substr(stock, 6)
    return sa.and_(
        sa.func.substr(stock, 1, 5) == "GIFT_",
        _strip_digits(rest) == "_",
        sa.func.substr(rest, 1, 1) != "_",
        sa.func.substr(rest, sa.func.length(rest), 1) != "_",
    )


def _month_key(ts):
    """year * 12 + month - 1 (an integer per calendar month)."""
    return (
        sa.cast(sa.extract("year", ts), sa.Integer) * 12
        + sa.cast(sa.extract("month", ts), sa.Integer)
        - 1
    )


def _day_key(ts):
    """yyyymmdd as an integer (a calendar day)."""
    return (
        sa.cast(sa.extract("year", ts), sa.Integer) * 10000
        + sa.cast(sa.extract("month", ts), sa.Integer) * 100
        + sa.cast(sa.extract("day", ts), sa.Integer)
    )


def _day_int(ts: pd.Timestamp) -> int:
    return ts.year * 10000 + ts.month * 100 + ts.day


def _day_numbers(keys: pd.Series) -> np.ndarray:
    """yyyymmdd integers -> days since 1970-01-01."""
    k = keys.astype(np.int64).to_numpy()
    dates = pd.to_datetime(
        pd.DataFrame({"year": k // 10000, "month": k // 100 % 100, "day": k % 100})
    )
    return dates.to_numpy(dtype="datetime64[D]").astype(np.int64)


def _stack(parts: Mapping[str, sa.Select]) -> tuple[sa.Select | sa.CompoundSelect, dict]:
    """One statement from several small SELECTs, so that the shared CTEs (the cleaning pass)
    are computed once: ``UNION ALL`` with a ``part`` column. Columns of the same type share
    slots (``Integer_0``, ``DateTime_1`` ...) padded with typed NULLs. Returns the statement and
    the layout ``{part: [(slot, column name)]}`` for :func:`_split`."""
    subs = {name: sel.subquery(f"p_{name}") for name, sel in parts.items()}
    slots: dict[str, sa.types.TypeEngine] = {}
    layout: dict[str, list[tuple[str, str]]] = {}
    for name, sub in subs.items():
        seen: dict[str, int] = {}
        layout[name] = []
        for c in sub.c:
            family = type(c.type).__name__
            slot = f"{family}_{seen.get(family, 0)}"
            seen[family] = seen.get(family, 0) + 1
            slots.setdefault(slot, c.type)
            layout[name].append((slot, c.name))
    selects = []
    for i, (name, sub) in enumerate(subs.items()):
        mine = {slot: col for slot, col in layout[name]}
        cols = [sa.literal(i, sa.Integer).label("part")]
        for slot, typ in slots.items():
            if slot in mine:
                cols.append(sub.c[mine[slot]].label(slot))
            elif isinstance(typ, sa.types.NullType):
                cols.append(sa.null().label(slot))
            else:
                cols.append(sa.cast(sa.null(), typ).label(slot))
        selects.append(sa.select(*cols).select_from(sub))
    stmt = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return stmt, layout


def _split(
    frame: pd.DataFrame, layout: Mapping[str, list[tuple[str, str]]]
) -> dict[str, pd.DataFrame]:
    """The rows of each part of a :func:`_stack` statement, with the part's column names."""
    out = {}
    for i, (name, cols) in enumerate(layout.items()):
        rows = frame.loc[frame["part"] == i, [slot for slot, _ in cols]]
        out[name] = (
            rows.set_axis([col for _, col in cols], axis=1).reset_index(drop=True).infer_objects()
        )
    return out


class _Query:
    """The cleaning pipeline of one source and rule set, streaming over the table:

    ``src`` (normalised columns). With netted cancellations, the (customer, stock code) pairs
    that have a kept return line (CTE ``pairs``, from the return lines only) split the table:
    lines of other pairs need no running balance, lines of those pairs (a few %) go through the
    windows. Each branch: ``GROUP BY`` all columns (exact duplicates) -> fate of each line
    (first enabled rule that removes it) -> for the returns branch the running balance windows
    per customer and stock code. Both feed CTE ``parts`` (one row per invoice, fate and
    missing-customer flag, with everything the ledger needs) and CTE ``orders``
    (``cleaning.invoice_table``). Results are SELECTs over ``parts`` and ``orders``.
    """

    def __init__(self, src: SqlSource, rules: cleaning.CleaningRules) -> None:
        self.src = src
        self.rules = rules
        c = src.columns
        line_no = c.get(LINE_NUMBER)
        cols = [
            _customer_key(c.get(schema.CUSTOMER_ID)).label("customer_id"),
            _text(c.get(schema.STOCK_CODE), upper=True).label("stock_code"),
            c[schema.INVOICE_DATE].label("invoice_date"),
            _text(c.get(schema.INVOICE), float_suffix=True).label("invoice"),
            _int(c[schema.QUANTITY]).label("quantity"),
            _float(c[schema.PRICE]).label("price"),
            _text(c.get(schema.DESCRIPTION)).label("description"),
            (
                sa.func.coalesce(_text(c[schema.COUNTRY]), schema.SPECS[schema.COUNTRY].default)
                if schema.COUNTRY in c
                else sa.literal(schema.SPECS[schema.COUNTRY].default, sa.String)
            ).label("country"),
        ]
        if line_no is not None:
            cols.append(line_no.label("line_no"))
        norm = sa.select(*cols).select_from(src._table).subquery("src")
        self.has_line_no = line_no is not None
        if not rules.net_cancellations:
            lines = self._lines(norm, windows=False)
        else:
            # Only the (customer, stock code) pairs with a kept return need the running balance
            # windows (a few % of the lines): split the table in two branches by pair.
            pstock = sa.func.coalesce(norm.c.stock_code, "")
            pairs = (
                sa.select(norm.c.customer_id.label("cid"), pstock.label("sid"))
                .where(
                    norm.c.customer_id.is_not(None),
                    norm.c.quantity < 0,
                    self._is_cancel(norm),
                    self._fate(norm) == 0,
                )
                .distinct()
                .cte("pairs")
            )
            on = sa.and_(norm.c.customer_id == pairs.c.cid, pstock == pairs.c.sid)
            plain = (
                sa.select(norm)
                .select_from(norm.outerjoin(pairs, on))
                .where(pairs.c.cid.is_(None))
                .subquery("src_plain")
            )
            returned = sa.select(norm).select_from(norm.join(pairs, on)).subquery("src_ret")
            lines = sa.union_all(
                sa.select(self._lines(plain, windows=False)),
                sa.select(self._lines(returned, windows=True)),
            ).subquery("um")
        self.parts = self._parts(lines)
        self.orders = self._orders()

    @staticmethod
    def _is_cancel(t):
        return sa.func.upper(sa.func.substr(t.c.invoice, 1, 1)) == "C"

    def _fate(self, t):
        """The first enabled rule that removes the line (``_FATES``), 0 = kept."""
        rules = self.rules
        first = sa.func.upper(sa.func.substr(t.c.invoice, 1, 1))
        is_cancel = self._is_cancel(t)
        whens = []
        if rules.drop_bad_debt:
            whens.append((first == "A", _FATES["bad_debt"]))
        if rules.drop_non_product:
            wanted = sorted({code.strip().upper() for code in rules.non_product_codes})
            whens.append(
                (
                    sa.or_(t.c.stock_code.in_(wanted), _gift_voucher(t.c.stock_code)),
                    _FATES["non_product"],
                )
            )
        if rules.drop_non_positive_price:
            whens.append((t.c.price <= 0, _FATES["non_positive_price"]))
        if rules.drop_write_offs:
            whens.append((sa.and_(t.c.quantity < 0, sa.not_(is_cancel)), _FATES["write_offs"]))
        if not rules.net_cancellations:
            whens.append((is_cancel, _FATES["cancellations_dropped"]))
        return sa.case(*whens, else_=0) if whens else sa.literal(0, sa.Integer)

    def _lines(self, inp, *, windows: bool):
        """Deduplicated lines of ``inp`` with their fate, line total and unmatched units."""
        keys = [
            inp.c[n]
            for n in (
                "customer_id",
                "stock_code",
                "invoice_date",
                "invoice",
                "quantity",
                "price",
                "description",
                "country",
            )
        ]
        if self.rules.drop_duplicates:
            extra = [sa.func.min(inp.c.line_no).label("line_no")] if self.has_line_no else []
            copies = sa.cast(sa.func.count(), sa.Integer)  # sum(int) is cheaper than numeric
            base = sa.select(*keys, copies.label("copies"), *extra).group_by(*keys)
        else:
            extra = [inp.c.line_no] if self.has_line_no else []
            base = sa.select(*keys, sa.literal(1, sa.Integer).label("copies"), *extra)
        b = base.subquery()
        # narrow rows from here on (the description only matters for duplicates)
        fl = sa.select(
            *(col for col in b.c if col.name != "description"),
            (b.c.quantity * b.c.price).label("line_total"),
            sa.case((self._is_cancel(b), 1), else_=0).label("is_cancel"),
            self._fate(b).label("fate"),
        ).subquery()
        if not windows:
            return sa.select(fl, sa.literal(0, sa.Integer).label("unmatched")).subquery()
        return self._unmatched(fl, self.has_line_no)

    @staticmethod
    def _unmatched(fl, has_line_no: bool):
        """``cleaning._unmatched_return_units`` as windows: per (customer, stock code), in time
        order with purchases before returns at equal timestamps, the running excess of returned
        over bought units (window 1) and its maximum over the earlier lines (window 2); a return
        line's unmatched units are the increase of the running maximum floored at 0. Only kept
        lines of known customers count."""
        kept = sa.and_(fl.c.fate == 0, fl.c.customer_id.is_not(None))
        is_ret = sa.and_(kept, fl.c.is_cancel == 1, fl.c.quantity < 0)
        rel = sa.select(
            fl,
            sa.case((is_ret, 1), else_=0).label("is_ret"),
            sa.case(
                (is_ret, -fl.c.quantity),
                (sa.and_(kept, fl.c.quantity > 0), -fl.c.quantity),
                else_=0,
            ).label("bal"),
        ).subquery("rel")

        def window(t):
            ties = [t.c.line_no] if has_line_no else [t.c.invoice, t.c.price, t.c.quantity]
            return dict(
                partition_by=[t.c.customer_id, t.c.stock_code],
                order_by=[t.c.invoice_date, t.c.is_ret, *ties],
            )

        w1 = sa.select(
            rel, sa.func.sum(rel.c.bal).over(**window(rel), rows=(None, 0)).label("excess")
        ).subquery("w1")
        w2 = sa.select(
            w1, sa.func.max(w1.c.excess).over(**window(w1), rows=(None, -1)).label("pm")
        ).subquery("w2")
        # increase of the floored running maximum: max(0, excess - max(0, previous maximum))
        floor_pm = sa.case((w2.c.pm > 0, w2.c.pm), else_=0)
        unmatched = sa.case(
            (sa.and_(w2.c.is_ret == 1, w2.c.excess > floor_pm), w2.c.excess - floor_pm), else_=0
        )
        return sa.select(*(w2.c[c.name] for c in fl.c), unmatched.label("unmatched")).subquery()

    @staticmethod
    def _parts(li):
        """One row per (invoice, fate, missing customer) with the ledger's counts and money
        and the invoice's net revenue and line count after the unmatched-return rule."""
        touched = li.c.unmatched > 0
        full = sa.and_(touched, li.c.unmatched >= -li.c.quantity)
        nocust = sa.case((li.c.customer_id.is_(None), 1), else_=0)
        return (
            sa.select(
                li.c.invoice,
                li.c.fate,
                nocust.label("nocust"),
                sa.func.max(li.c.is_cancel).label("is_cancel"),
                sa.func.min(li.c.customer_id).label("customer_id"),
                sa.func.min(li.c.invoice_date).label("invoice_date"),
                sa.func.min(li.c.country).label("country"),
                sa.func.count().label("n"),
                sa.func.sum(li.c.copies).label("copies"),
                sa.func.sum(li.c.line_total).label("money"),
                sa.func.sum((li.c.copies - 1) * li.c.line_total).label("dup_money"),
                sa.func.sum(li.c.line_total + li.c.unmatched * li.c.price).label("revenue"),
                sa.func.count(sa.case((sa.not_(full), 1))).label("lines"),
                sa.func.count(sa.case((touched, 1))).label("touched"),
                sa.func.sum(-li.c.unmatched * li.c.price).label("unmatched_money"),
                sa.func.count(sa.case((full, 1))).label("full"),
            )
            .group_by(li.c.invoice, li.c.fate, nocust)
            .cte("parts")
        )

    def _orders(self):
        """``cleaning.invoice_table`` in SQL: the kept parts of each invoice."""
        p = self.parts
        return (
            sa.select(
                p.c.invoice,
                sa.func.min(p.c.customer_id).label("customer_id"),
                sa.func.min(p.c.invoice_date).label("invoice_date"),
                sa.func.min(p.c.country).label("country"),
                sa.func.max(p.c.is_cancel).label("is_cancel"),
                sa.func.sum(p.c.revenue).label("revenue"),
                sa.func.sum(p.c.lines).label("lines"),
            )
            .where(p.c.fate == 0)
            .group_by(p.c.invoice)
            .having(sa.func.sum(p.c.lines) > 0)
            .cte("orders")
        )

    def filtered(self, start=None, end=None, countries=None):
        """The orders within an inclusive day range and countries (``filter_transactions``)."""
        o = self.orders
        conds = []
        if start is not None and start != "":
            conds.append(o.c.invoice_date >= _py(pd.Timestamp(start).normalize()))
        if end is not None and end != "":
            conds.append(
                o.c.invoice_date < _py(pd.Timestamp(end).normalize() + pd.Timedelta(days=1))
            )
        if countries:
            conds.append(o.c.country.in_(sorted({str(c) for c in countries})))
        if not conds:
            return o
        return sa.select(o).where(*conds).cte("filtered")

    def ledger_parts(self) -> dict[str, sa.Select]:
        p = self.parts
        return {
            "fate": sa.select(
                p.c.fate,
                p.c.is_cancel.label("cancel"),
                p.c.nocust,
                *(
                    sa.func.sum(p.c[name]).label(name)
                    for name in (
                        "n",
                        "copies",
                        "money",
                        "dup_money",
                        "touched",
                        "unmatched_money",
                        "full",
                    )
                ),
            ).group_by(p.c.fate, p.c.is_cancel, p.c.nocust)
        }

    def build_ledger(self, got: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        r = self.rules
        f = got["fate"].copy()
        for col in ("n", "copies", "fate", "cancel", "nocust", "touched", "full"):
            f[col] = f[col].fillna(0).astype(np.int64)
        for col in ("money", "dup_money", "unmatched_money"):
            f[col] = f[col].fillna(0.0).astype(float)
        rows: list[dict] = []

        def record(rule, enabled, count=0, money=0.0):
            title, meaning, action = cleaning.RULE_INFO[rule]
            rows.append(
                {
                    "rule": rule,
                    "title": title,
                    "meaning": meaning,
                    "action": action,
                    "enabled": enabled,
                    "rows": int(count),
                    "money": round(float(money), 2),
                }
            )

        def by_fate(rule):
            sel = f[f["fate"] == _FATES[rule]]
            return sel["n"].sum(), sel["money"].sum()

        if r.drop_duplicates:
            record("duplicates", True, f["copies"].sum() - f["n"].sum(), f["dup_money"].sum())
        else:
            record("duplicates", False)
        for rule, on in (
            ("bad_debt", r.drop_bad_debt),
            ("non_product", r.drop_non_product),
            ("non_positive_price", r.drop_non_positive_price),
            ("write_offs", r.drop_write_offs),
        ):
            if on:
                record(rule, True, *by_fate(rule))
            else:
                record(rule, False)
        kept = f[f["fate"] == 0]
        if r.net_cancellations:
            kc = kept[kept["cancel"] == 1]
            record("cancellations", True, kc["n"].sum(), kc["money"].sum())
            record("unmatched_returns", True, kept["touched"].sum(), kept["unmatched_money"].sum())
            record("cancellations_dropped", False)
        else:
            record("cancellations", False)
            record("unmatched_returns", False)
            record("cancellations_dropped", True, *by_fate("cancellations_dropped"))
        nocust = kept[kept["nocust"] == 1]
        record("missing_customer", True, nocust["n"].sum(), nocust["money"].sum())
        ledger = pd.DataFrame(rows, columns=cleaning.LEDGER_COLUMNS)
        ledger.attrs["rows_in"] = int(f["copies"].sum())
        ledger.attrs["rows_out"] = int(kept["n"].sum() - kept["full"].sum())
        return ledger


def _int(col):
    return col if isinstance(col.type, sa.Integer) else sa.cast(col, sa.Integer)


def _float(col):
    return col if isinstance(col.type, sa.Float) else sa.cast(col, sa.Float)


# --------------------------------------------------------------------------------------------
# Results -> the in-memory frames
# --------------------------------------------------------------------------------------------
def _timestamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")


def _empty_orders(dates=()) -> pd.DataFrame:
    """An orders table (``cleaning.invoice_table`` columns) without customers: used to get the
    in-memory functions' own empty results."""
    n = len(dates)
    return pd.DataFrame(
        {
            "invoice": pd.Series([f"x{i}" for i in range(n)], dtype=object),
            "customer_id": pd.Series([None] * n, dtype=object),
            "invoice_date": pd.Series(list(dates), dtype="datetime64[ns]"),
            "country": pd.Series(["x"] * n, dtype=object),
            "revenue": np.zeros(n),
            "is_cancellation": np.zeros(n, dtype=bool),
            "lines": np.ones(n, dtype=np.int32),
        }
    )


def _rfm_frame(cust: pd.DataFrame, max_ts, as_of) -> pd.DataFrame:
    """``rfm.customer_rfm``'s frame from per-customer aggregates."""
    if as_of is not None and as_of != "":
        as_of = pd.Timestamp(as_of).normalize()
    elif max_ts is None or pd.isna(max_ts):
        as_of = pd.Timestamp.today().normalize()
    else:
        as_of = pd.Timestamp(max_ts).normalize() + pd.Timedelta(days=1)
    cust = cust[cust["frequency"].astype(np.int64) > 0]
    if cust.empty:
        return rfm.customer_rfm(_empty_orders(), as_of=as_of)
    ids = cust["customer_id"].astype(str).to_numpy(dtype=object)
    order = np.argsort(ids, kind="stable")
    cust = cust.iloc[order]
    first = _timestamps(cust["first"]).to_numpy().astype("datetime64[D]")
    last = _timestamps(cust["last"]).to_numpy().astype("datetime64[D]")
    as_of_day = np.datetime64(as_of.date(), "D").astype(np.int64)
    out = pd.DataFrame(
        {
            "recency": (as_of_day - last.astype(np.int64)).astype(np.int64),
            "frequency": cust["frequency"].to_numpy().astype(np.int64),
            "monetary": np.round(cust["monetary"].to_numpy().astype(np.float64), 2),
            "first_purchase": first.astype("datetime64[ns]"),
            "last_purchase": last.astype("datetime64[ns]"),
            "tenure": (as_of_day - first.astype(np.int64)).astype(np.int64),
        },
        index=pd.Index(ids[order], name="customer_id"),
    )
    out["aov"] = np.round(out["monetary"] / out["frequency"], 2)
    out.attrs["as_of"] = as_of
    return out


def rebase_as_of(customers: pd.DataFrame, as_of) -> pd.DataFrame:
    """A ``customer_rfm`` frame with another reference date, without a query: only
    ``recency`` and ``tenure`` depend on it. Equal to ``rfm.customer_rfm(orders, as_of)`` when
    ``customers`` is ``rfm.customer_rfm(orders)`` (or :meth:`SqlSource.customer_rfm`)."""
    as_of = pd.Timestamp(as_of).normalize()
    out = customers.copy()
    if len(out):
        day = np.datetime64(as_of.date(), "D").astype(np.int64)
        for col, src in (("recency", "last_purchase"), ("tenure", "first_purchase")):
            days = out[src].to_numpy().astype("datetime64[D]").astype(np.int64)
            out[col] = (day - days).astype(np.int64)
    out.attrs["as_of"] = as_of
    return out


def _monthly_frame(m: pd.DataFrame, bounds: pd.Series, start, end) -> pd.DataFrame:
    """The Overview's monthly table (``service._monthly``) from per-month aggregates."""
    cols = ["month", "revenue", "customer_revenue", "orders", "customers", "partial"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    m = m.sort_values("month").reset_index(drop=True)
    months = pd.Series(
        pd.PeriodIndex.from_ordinals(m["month"].to_numpy().astype(np.int64) - _MONTH0, freq="M")
    )
    starts = months.dt.start_time
    ends = months.dt.end_time.dt.normalize()
    first_day = max(
        pd.Timestamp(bounds["first"]).normalize(),
        pd.Timestamp(start) if start else pd.Timestamp.min,
    )
    last_day = min(
        pd.Timestamp(bounds["last"]).normalize(), pd.Timestamp(end) if end else pd.Timestamp.max
    )
    return pd.DataFrame(
        {
            "month": starts,
            "revenue": m["revenue"].astype(np.float64),
            "customer_revenue": m["customer_revenue"].astype(np.float64),
            "orders": m["orders"].astype(np.int64),
            "customers": m["customers"].astype(np.int64),
            "partial": (starts < first_day) | (ends > last_day),
        }
    )[cols]


def _calibration_frame(got: pd.DataFrame, w: _CalibrationWindow) -> pd.DataFrame:
    """``clv_models.calibration_summary``'s frame from per-customer day aggregates."""
    cal, obs, time_unit, unit = w.cal, w.obs, w.time_unit, w.unit
    got = got.iloc[np.argsort(got["customer_id"].astype(str).to_numpy(dtype=object), kind="stable")]
    cal_day = int(np.datetime64(cal.date(), "D").astype(np.int64))
    if len(got):
        first = _day_numbers(got["first"])
        last = _day_numbers(got["last"])
    else:
        first = last = np.zeros(0, dtype=np.int64)
    x = got["n_days"].to_numpy().astype(np.int64) - 1
    out = pd.DataFrame(
        {"frequency": x, "recency": (last - first) / unit, "T": (cal_day - first) / unit},
        index=pd.Index(
            got["customer_id"].astype(str).to_numpy(dtype=object), dtype="str", name="customer_id"
        ),
    )
    repeat_total = got["repeat_total"].to_numpy().astype(np.float64)
    out["monetary_value"] = np.divide(
        repeat_total, x, out=np.zeros(x.size, dtype=np.float64), where=x > 0
    )
    if obs is not None:
        out["frequency_holdout"] = got["h_days"].to_numpy().astype(np.int64)
        out["monetary_holdout"] = got["h_revenue"].to_numpy().astype(np.float64)
        out["duration_holdout"] = (obs - cal).days / unit
    out.attrs.update(time_unit=time_unit, calibration_end=cal, observation_end=obs)
    return out


def _cohort_frames(cell: pd.DataFrame, size: pd.DataFrame, bounds: pd.Series) -> CohortTables:
    """``cohorts.cohort_tables``' matrices from (cohort month, months since) aggregates."""
    if bounds["first"] is None or pd.isna(bounds["first"]):
        return cohort_tables(_empty_orders())
    data_start, data_end = pd.Timestamp(bounds["first"]), pd.Timestamp(bounds["last"])
    if size.empty:
        return cohort_tables(_empty_orders([data_start, data_end]))
    last_ord = pd.Period(data_end, freq="M").ordinal
    size = size.sort_values("cohort")
    cohort_months = size["cohort"].to_numpy().astype(np.int64) - _MONTH0
    sizes = size["customers"].to_numpy().astype(np.int64)
    n_coh = cohort_months.size
    n_k = last_ord - int(cohort_months[0]) + 1
    row_of = {int(m): i for i, m in enumerate(cohort_months)}
    active = np.zeros((n_coh, n_k))
    rev = np.zeros((n_coh, n_k))
    rows = np.array(
        [row_of[int(m) - _MONTH0] for m in cell["cohort"].astype(np.int64)], dtype=np.int64
    )
    ks = cell["k"].to_numpy().astype(np.int64)
    active[rows, ks] = cell["active"].to_numpy().astype(np.float64)
    rev[rows, ks] = cell["revenue"].to_numpy().astype(np.float64)

    return tables_from_cells(cohort_months, sizes, active, rev, data_start, data_end)
