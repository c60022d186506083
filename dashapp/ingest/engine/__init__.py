"""One data engine: the cleaning rules written once (an ibis expression) and run by the engine
that holds the lines: an embedded DuckDB for files, the database for a SQL source, Spark.

* :mod:`.pipeline`: the cleaning as one expression (one row per invoice and fate);
* :mod:`.results`: its rows split into the invoice table and the ledger;
* :mod:`.local`: the embedded DuckDB (files, uploads, demo data);
* :mod:`.prepared`: the cleaned result cached per (data fingerprint, rule set).
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from dashapp.ingest.cleaning import CleaningRules
from dashapp.ingest.engine import local
from dashapp.ingest.engine.pipeline import (
    LINE_SCHEMA,
    SOURCE_COLUMNS,
    invoice_parts,
    product_parts,
)
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.parts import product_lines, split_parts


def lines_table(name: str = local.LINES_TABLE):
    """The unbound ibis table of canonical lines the cleaning reads."""
    import ibis

    return ibis.table(LINE_SCHEMA, name=name)


def to_arrow(lines: pd.DataFrame) -> pa.Table:
    """Canonical lines (pandas) as the Arrow table the engine reads (no copy of categories)."""
    return pa.Table.from_pandas(lines[list(SOURCE_COLUMNS)], preserve_index=False)


def statement(then, rules: CleaningRules) -> str:
    """The DuckDB SQL of ``then`` (:func:`invoice_parts` or :func:`product_parts`) on
    :func:`lines_table` for ``rules`` (compiling it costs 0.4-1 s of CPU: callers keep it,
    :func:`dashapp.ingest.engine.prepared.statement`)."""
    return local.to_sql(then(lines_table(), rules))


def clean(
    lines, rules: CleaningRules | None = None, sql: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(invoice table, ledger)`` of canonical lines (a DataFrame, an Arrow table or a parquet
    path) on the embedded DuckDB (``sql``: :func:`statement` of :func:`invoice_parts` for
    ``rules``, compiled when None)."""
    rules = rules or CleaningRules()
    if isinstance(lines, pd.DataFrame):
        lines = to_arrow(lines)
    parts = local.run_sql(sql or statement(invoice_parts, rules), lines)
    return split_parts(parts, rules)


def clean_products(
    lines, rules: CleaningRules | None = None, sql: str | None = None
) -> pd.DataFrame:
    """The kept product lines of canonical lines (a DataFrame, an Arrow table or a parquet
    path) on the embedded DuckDB, one row per (invoice, stock code)
    (:func:`~dashapp.ingest.engine.pipeline.product_parts`, typed by
    :func:`~dashapp.ingest.parts.product_lines`; a database and Spark run the same
    expression; ``sql`` as in :func:`clean`)."""
    rules = rules or CleaningRules()
    if isinstance(lines, pd.DataFrame):
        lines = to_arrow(lines)
    try:
        table = local.run_sql(sql or statement(product_parts, rules), lines)
    except duckdb.OutOfMemoryException as exc:
        raise DataLoadError(
            "preparing the product lines needs more memory than the embedded engine may use "
            "(DUCKDB_MEMORY_LIMIT, 1GB unless set): raise it to see the product views of "
            "data this large"
        ) from exc
    return product_lines(table)


__all__ = [
    "LINE_SCHEMA",
    "SOURCE_COLUMNS",
    "clean",
    "clean_products",
    "invoice_parts",
    "lines_table",
    "statement",
    "product_lines",
    "split_parts",
]
