"""The embedded DuckDB: its settings, one connection per thread, and running a statement on
canonical lines (an Arrow table in memory or a parquet file, scanned without loading it).

Nothing here imports ibis: the child process that prepares a file
(:mod:`dashapp.ingest.isolated`) runs the statement the worker compiled
(:mod:`dashapp.ingest.engine.local` compiles ibis expressions and runs them here). DuckDB
spills to a temporary folder beyond its memory limit, so a file larger than memory is cleaned
out of core.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

#: Name under which the lines are visible to the cleaning statement.
LINES_TABLE = "lines"

#: Inputs with fewer lines than this are cleaned on one DuckDB thread: a second thread costs
#: more CPU than it saves wall time at this size (1M lines: 0.90 s CPU on one thread, 1.45 s on
#: two, for the same wall time; docs/benchmarks.md, "Data engine").
SINGLE_THREAD_LINES = 2_000_000


@dataclass(frozen=True)
class EngineSettings:
    """Resources of the embedded DuckDB (``DUCKDB_THREADS``, ``DUCKDB_MEMORY_LIMIT``, validated in
    :mod:`dashapp.config`)."""

    threads: int = 2
    memory_limit: str = "1GB"
    temp_directory: str | None = None


_settings = EngineSettings()
_local = threading.local()


def configure(settings: EngineSettings) -> None:
    """Use ``settings`` for connections opened from now on."""
    global _settings
    _settings = settings
    _local.__dict__.clear()


def settings() -> EngineSettings:
    return _settings


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection (in memory; one per thread, reused)."""
    con = getattr(_local, "con", None)
    if con is None:
        config = {
            "threads": _settings.threads,
            "memory_limit": _settings.memory_limit,
            # where DuckDB spills beyond its memory limit (its default is ./.tmp)
            "temp_directory": _settings.temp_directory
            or os.path.join(tempfile.gettempdir(), "dashapp-duckdb"),
            # results are sorted where the order matters (results.py); without it DuckDB's
            # operators need not keep rows in order (less memory when they spill)
            "preserve_insertion_order": False,
        }
        con = duckdb.connect(":memory:", config=config)
        _local.con = con
    return con


def release() -> None:
    """After a large cleaning: close this thread's connection (DuckDB hands its buffers back;
    the next query opens a new one), and return freed memory to the operating system
    (pyarrow's pool and, on glibc, malloc's arenas keep it otherwise: ~100 MB per worker at
    full scale). Not after reading a prepared result: the collection alone costs ~0.15 s."""
    con = getattr(_local, "con", None)
    if con is not None:
        con.close()
        _local.con = None
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def line_count(lines: pa.Table | str | Path) -> int:
    """How many lines ``lines`` holds (a parquet file's from its footer)."""
    if isinstance(lines, str | Path):
        return pq.ParquetFile(lines).metadata.num_rows
    return lines.num_rows


def threads_for(lines: pa.Table | str | Path) -> int:
    """DuckDB threads for cleaning ``lines``: one below :data:`SINGLE_THREAD_LINES`, else the
    configured number."""
    try:
        small = line_count(lines) < SINGLE_THREAD_LINES
    except (OSError, pa.ArrowException):
        small = False  # DuckDB reports an unreadable file itself
    return 1 if small else _settings.threads


def _bind_lines(con: duckdb.DuckDBPyConnection, lines: pa.Table | str | Path) -> None:
    if isinstance(lines, str | Path):
        quoted = "'" + str(lines).replace("'", "''") + "'"  # a view cannot take parameters
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {LINES_TABLE} AS SELECT * FROM read_parquet({quoted})"
        )
    else:
        con.register(LINES_TABLE, lines)


def _unbind_lines(con: duckdb.DuckDBPyConnection, lines) -> None:
    if isinstance(lines, str | Path):
        con.execute(f"DROP VIEW IF EXISTS {LINES_TABLE}")
    else:
        con.unregister(LINES_TABLE)


def _narrowed(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """``rel`` with its 128-bit integers (DuckDB's sums of 64-bit ones) cast to 64 bits, a
    checked cast (an overflow raises): they reached Arrow as decimal128, 16 bytes a value,
    ~1 GB of the 100M-line cleaning's result before the worker cast them."""
    types = [str(t) for t in rel.types]
    if "HUGEINT" not in types:
        return rel
    quoted = ['"' + c.replace('"', '""') + '"' for c in rel.columns]
    return rel.project(
        ", ".join(
            f"CAST({q} AS BIGINT) AS {q}" if t == "HUGEINT" else q
            for q, t in zip(quoted, types, strict=True)
        )
    )


def run_sql(sql: str, lines: pa.Table | str | Path) -> pa.Table:
    """Run ``sql`` (which reads the table :data:`LINES_TABLE`) on ``lines``: an Arrow table or
    a parquet file, scanned where the statement reads it (no copy is materialised), on
    :func:`threads_for` threads."""
    con = connection()
    _bind_lines(con, lines)
    # DuckDB estimates the few (customer, stock code) pairs with a return as many as the lines
    # and then builds the join's hash table on the millions of lines: 4.5 of 25 s of thread
    # time at 10M lines. The expression puts the small side on the right of every join, which
    # is the build side when DuckDB does not swap them.
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    con.execute(f"SET threads = {threads_for(lines)}")
    try:
        return _narrowed(con.sql(sql)).to_arrow_table()
    finally:
        con.execute(f"SET threads = {_settings.threads}")
        con.execute("RESET disabled_optimizers")
        _unbind_lines(con, lines)
