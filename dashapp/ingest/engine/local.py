"""The embedded engine: DuckDB in the process, for files, uploads and the demo data.

Expressions are compiled with ``ibis.to_sql(expr, dialect="duckdb")`` and run by
:mod:`dashapp.ingest.duck` on a DuckDB connection of the calling thread, with the lines
registered under the table name the expression reads (an Arrow table in memory or a parquet
file, scanned without loading it). A large file is prepared in a child process
(:mod:`dashapp.ingest.isolated`), which runs the compiled statement the same way.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa

from dashapp.ingest.duck import (
    LINES_TABLE,
    EngineSettings,
    configure,
    connection,
    release,
    run_sql,
    settings,
)

__all__ = [
    "LINES_TABLE",
    "EngineSettings",
    "configure",
    "connection",
    "release",
    "run",
    "run_sql",
    "settings",
    "to_sql",
]


def to_sql(expr: ibis.Table) -> str:
    """``expr`` as DuckDB SQL."""
    return ibis.to_sql(expr, dialect="duckdb")


def run(expr: ibis.Table, lines: pa.Table | str | Path) -> pa.Table:
    """Run ``expr`` (which reads the table :data:`LINES_TABLE`) on ``lines``: an Arrow table
    or a parquet file (:func:`dashapp.ingest.duck.run_sql`)."""
    return run_sql(to_sql(expr), lines)
