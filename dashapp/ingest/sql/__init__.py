"""Transactions in a SQL database: the heavy aggregation runs in the database.

A :class:`SqlSource` points at one table (or view) of order lines through a SQLAlchemy URL and
a column mapping. Every result the pages need is computed by **one SELECT statement** built
with SQLAlchemy Core, so it runs on any dialect whose SQL has CTEs and window functions
(tested on PostgreSQL and SQLite); only small results come back (one row per customer or
fewer). The cleaning rules of :mod:`dashapp.ingest.cleaning` are applied in SQL with the same meaning
and the results are the same frames as the in-memory path (``tests/integration/test_sql_source.py``
checks this to the penny and the day):

=====================================  ==========================================================
``SqlSource`` method                   in-memory equivalent (``lines`` = the whole table)
=====================================  ==========================================================
``ledger(rules)``                      ``cleaning.clean(lines, rules)[1]``
``customer_rfm(start, end, ...)``      ``rfm.customer_rfm(filter_transactions(orders, ...))``
``overview(start, end, ...)``          ``service.overview`` (kpis, monthly, ledger, rows_in/out)
``calibration_summary(...)``           ``clv_models.calibration_summary`` of the filtered purchase
                                       orders (``customer_id, invoice_date, revenue``); the unit
                                       in days, ``time_unit_days``; no ``attrs["time_unit"]``
``cohort_cells(start, end, ...)``      ``cohorts.cohort_tables(filtered orders)`` is
                                       ``cohorts.tables_from_cells(**asdict(cells))``
``bounds()``                           ``service.dataset_bounds``
``pages(start, end, ...)``             several of the above for one filter set, in one statement
=====================================  ==========================================================

where ``orders = cleaning.invoice_table(cleaning.clean(lines, rules)[0])``.

How the cleaning maps to SQL (see :class:`~dashapp.ingest.sql.statements._Query`):

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

Layering: this package is part of the ingest layer and imports no analytics. Results whose
in-memory type belongs to the analytics layer come back as plain data: the cohort cells
(:class:`CohortCells`, ``None`` dates when no order passes the filter, see its docstring) and
the calibration summary's time unit as a number of days.

Modules: :mod:`~dashapp.ingest.sql.source` (:class:`SqlSource`, URL parsing and redaction),
:mod:`~dashapp.ingest.sql.statements` (the cleaning pipeline and the per-page SELECTs),
:mod:`~dashapp.ingest.sql.expressions` (SQL building blocks, ``_stack`` / ``_split``),
:mod:`~dashapp.ingest.sql.frames` (result rows -> frames) and
:mod:`~dashapp.ingest.sql.guards` (session guards, timeouts, :class:`SqlSourceError`).
"""

from dashapp.ingest.sql.frames import CohortCells, rebase_as_of
from dashapp.ingest.sql.guards import PG_SESSION_SETTINGS, SqlSourceError
from dashapp.ingest.sql.source import MAPPABLE_COLUMNS, PAGES, SqlSource
from dashapp.ingest.sql.statements import LINE_NUMBER

__all__ = [
    "LINE_NUMBER",
    "MAPPABLE_COLUMNS",
    "PAGES",
    "PG_SESSION_SETTINGS",
    "CohortCells",
    "SqlSource",
    "SqlSourceError",
    "rebase_as_of",
]
