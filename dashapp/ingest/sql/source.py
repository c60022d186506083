"""The SQL source: :class:`SqlSource` (one table or view of order lines through a SQLAlchemy
URL: construction from arguments or the ``DATA_SQL_*`` environment, reflection and column
checks, execution under the session guards, and the public results) and URL parsing and
redaction. See the package docstring for what each result equals in the in-memory path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dashapp.ingest import cleaning, schema
from dashapp.ingest.sql.expressions import _split, _stack
from dashapp.ingest.sql.frames import (
    CohortCells,
    _calibration_frame,
    _cohort_cells,
    _overview_result,
    _rfm_frame,
)
from dashapp.ingest.sql.guards import (
    SqlSourceError,
    _cancel,
    _install_session_guards,
    _is_timeout,
    _looks_like_connect_failure,
)
from dashapp.ingest.sql.statements import (
    LINE_NUMBER,
    _calibration_parts,
    _CalibrationWindow,
    _cohort_parts,
    _overview_parts,
    _Query,
    _rfm_parts,
)

log = logging.getLogger("dashapp.ingest.sql")  # the package's logger (one name for the source)


#: Canonical columns that may be mapped (``line_total`` is derived).
MAPPABLE_COLUMNS: tuple[str, ...] = (*schema.SOURCE_COLUMNS, LINE_NUMBER)
_NUMBER = (sa.Integer, sa.Numeric, sa.Float)  # Float is not a Numeric in SQLAlchemy 2.1
#: The page results :meth:`SqlSource.pages` can compute in one statement.
PAGES = ("overview", "rfm", "calibration", "cohorts")


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
        :mod:`dashapp.ingest.schema` (``Customer ID``, ``InvoiceDate``, ...).
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
        time_unit_days: float = 7.0,
        start=None,
        end=None,
        countries=None,
        rules=None,
    ) -> pd.DataFrame:
        """BG/NBD calibration summary of the filtered purchase orders.

        Equal to ``clv_models.calibration_summary(purchases, customer_col="customer_id",
        date_col="invoice_date", amount_col="revenue", calibration_end=...,
        observation_end=..., time_unit=...)`` where ``purchases`` are the filtered orders that
        are not cancellations (the index holds the ids as str, named ``customer_id``) and
        ``time_unit_days`` is the unit's length in days (``clv_models.TIME_UNIT_DAYS[unit]``,
        7.0 for weeks; a positive number). Only ``attrs["time_unit"]`` (the unit's name) is
        missing: the caller adds it.
        """
        return self.pages(
            start,
            end,
            countries,
            rules,
            want=("calibration",),
            calibration_end=calibration_end,
            observation_end=observation_end,
            time_unit_days=time_unit_days,
        )["calibration"]

    def cohort_cells(self, start=None, end=None, countries=None, rules=None) -> CohortCells:
        """The cells of ``cohorts.cohort_tables`` of the cleaned, filtered orders (see
        :class:`~dashapp.ingest.sql.frames.CohortCells` for turning them into the tables)."""
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
        time_unit_days: float = 7.0,
    ) -> dict:
        """Several pages' results for one filter set in **one** statement, so the cleaning
        pass over the table (the expensive part) runs once.

        ``want`` is a subset of :data:`PAGES`: ``"overview"`` (dict of ``service.overview``),
        ``"rfm"`` (``customer_rfm`` frame, reference date ``as_of``), ``"calibration"``
        (calibration summary; needs ``calibration_end``, durations in units of
        ``time_unit_days`` days) and ``"cohorts"`` (:class:`CohortCells`); by default all of
        them (without ``"calibration"`` when no ``calibration_end`` is given). Returns
        ``{name: result}`` in the order of ``want``.
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
            cal = _CalibrationWindow.build(calibration_end, observation_end, time_unit_days)
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
            out["cohorts"] = _cohort_cells(
                got["cohort_cell"], got["cohort_size"], got["cohort_range"].iloc[0]
            )
        return {name: out[name] for name in want}


def _rules(rules) -> cleaning.CleaningRules:
    if rules is None:
        return cleaning.CleaningRules()
    if isinstance(rules, str):
        return cleaning.CleaningRules.from_flags(rules)
    return rules
