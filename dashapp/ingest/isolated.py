"""A file's one-time preparation in a short-lived child process.

The first load of a large file (at least :data:`CHILD_BYTES`) reads its lines, converts them
and cleans them with DuckDB in a child process (``python -m dashapp.ingest.isolated``) that
imports only the loaders, pyarrow, DuckDB and :mod:`dashapp.ingest.parts`, not ibis, Dash or
the app. The worker compiles the cleaning statement and hands the child a :class:`Job`; the
child runs it, splits its rows (one per invoice and fate) into the invoice table and the
ledger itself (:func:`dashapp.ingest.parts.prepared_table`; the product lines likewise) and
sends that as an Arrow stream (~48,000 rows for 1M lines; at 100M lines ~0.2 GB instead of
the statement's ~0.8 GB of rows): the raw lines (~220 MB in pandas for 1M lines), DuckDB's
working memory and the statement's rows live and die in the child, so the worker stays near
its warm size plus one invoice table. The child answers first, then writes the lines parquet
(atomically) and exits; :func:`wait_for_children` waits for that.

Every outcome reaches the worker as a result or a :class:`DataLoadError`: the loaders' own
messages (file, column, rows) unchanged; DuckDB running out of memory; a child that is
killed (e.g. by the kernel's out-of-memory killer) or exits without answering names the file
and the signal. Nothing is stored by a child that fails: the lines parquet is written through
a temporary file and renamed, and the worker stores the prepared result only once it has it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dashapp.ingest import duck, parts, schema
from dashapp.ingest.cleaning import CleaningRules
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading import CSV_EXTENSIONS, cache_path_for, load_transactions
from dashapp.ingest.loading.cache import (
    _CACHE_META_KEY,
    LOADER_VERSION,
    _stat_key,
    cache_table,
    write_parquet_atomically,
)
from dashapp.ingest.loading.stream import csv_to_parquet

log = logging.getLogger(__name__)

#: Files at least this large are prepared in a child process. Below it the child's fixed
#: cost (~0.7 s of CPU for its imports, ~150 MB while it runs) exceeds what it saves the
#: worker (a 30 MB CSV holds ~330,000 lines: ~70 MB in pandas).
CHILD_BYTES = 32 << 20

#: The command that runs a child (tests replace it to simulate a child that dies).
CHILD_COMMAND = [sys.executable, "-m", "dashapp.ingest.isolated"]

#: The first byte of a child's answer: an Arrow stream (the result) or a pickle (an error).
_ARROW, _PICKLE = b"A", b"P"
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


@dataclass(frozen=True)
class Job:
    """What a child prepares: the statement ``sql`` (reading the table
    :data:`dashapp.ingest.duck.LINES_TABLE`) on the lines of ``path``, its rows split for
    ``kind`` (:data:`~dashapp.ingest.parts.ORDERS` or :data:`~dashapp.ingest.parts.PRODUCTS`)
    and ``rules`` (the ledger's switches). ``lines_file``: the lines parquet to read when
    valid, else to write (None without a cache folder: a large CSV is then converted to
    ``scratch_dir``). ``what``: the result's name in messages."""

    path: str
    sql: str
    lines_file: str | None
    column_map: dict[str, str] | None
    stream_bytes: int
    scratch_dir: str
    settings: duck.EngineSettings
    rules: CleaningRules
    kind: str = parts.ORDERS
    what: str = "the invoice table"


def lines_cache_valid(path: Path) -> bool:
    """Whether ``path`` is a lines parquet written by this loader version."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return meta.get(_CACHE_META_KEY) == LOADER_VERSION.encode()


def streamed(p: Path, lines_file: Path, column_map) -> Path:
    """A large CSV converted block by block to its lines parquet (in the cache folder, or in
    the system's temporary folder when the cache folder cannot be written)."""
    if lines_cache_valid(lines_file):
        return lines_file
    log.info("converting %s block by block to %s", p.name, lines_file.name)
    try:
        csv_to_parquet(p, lines_file, column_map)
        return lines_file
    except OSError as exc:
        log.warning("could not write %s (%s); converting to a temporary file", lines_file, exc)
    fallback = Path(tempfile.gettempdir()) / "dashapp-lines" / lines_file.name
    if not lines_cache_valid(fallback):
        csv_to_parquet(p, fallback, column_map)
    return fallback


def is_large_csv(p: Path, stream_bytes: int) -> bool:
    return p.suffix.lower() in CSV_EXTENSIONS and p.stat().st_size > stream_bytes


def _lines(job: Job) -> tuple[pa.Table | Path, pa.Table | None]:
    """The lines the statement reads (a parquet path or an Arrow table) and the table of the
    lines parquet still to write (None when there is nothing to write)."""
    p = Path(job.path)
    if job.lines_file is None:
        if is_large_csv(p, job.stream_bytes):
            return streamed(p, cache_path_for(p, job.scratch_dir), job.column_map), None
        lines = load_transactions(p, column_map=job.column_map)
        return pa.Table.from_pandas(lines[list(schema.SOURCE_COLUMNS)], preserve_index=False), None
    lines_file = Path(job.lines_file)
    if lines_cache_valid(lines_file):
        return lines_file, None
    if is_large_csv(p, job.stream_bytes):
        return streamed(p, lines_file, job.column_map), None
    before = _stat_key(p)
    lines = load_transactions(p, column_map=job.column_map)
    if list(lines.columns) == list(schema.CANONICAL_COLUMNS) and _stat_key(p) == before:
        table = cache_table(lines)  # the parquet copy, written after the answer
        del lines  # the Arrow table is all the cleaning and the copy need
        return table.select(list(schema.SOURCE_COLUMNS)), table
    return pa.Table.from_pandas(lines[list(schema.SOURCE_COLUMNS)], preserve_index=False), None


def _out_of_memory(job: Job) -> DataLoadError:
    return DataLoadError(
        f"Preparing {job.what} of {Path(job.path).name} needs more memory than the embedded "
        "engine may use (DUCKDB_MEMORY_LIMIT, 1GB unless set): raise it to see data this large.",
        path=Path(job.path).name,
    )


def _serve() -> int:
    """The child: read a job on stdin, answer on stdout, then write the lines parquet."""
    import duckdb

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    reply_to = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints of a library go to stderr, not into the answer
    job: Job = pickle.load(sys.stdin.buffer)
    duck.configure(job.settings)
    pending, result = None, None
    try:
        lines, pending = _lines(job)
        rows = duck.run_sql(job.sql, lines)
        del lines
        duck.release()  # DuckDB's memory back before the split
        result = parts.prepared_table(rows, job.kind, job.rules)
        del rows
    except DataLoadError as exc:
        reply = ("error", exc)
    except duckdb.OutOfMemoryException:
        reply = ("error", _out_of_memory(job))
    except Exception as exc:  # noqa: BLE001 - reported to the worker, named by file
        traceback.print_exc()
        reply = ("failed", f"{type(exc).__name__}: {exc}")
    if result is not None:  # the result as an Arrow stream, read by the worker as it comes
        reply_to.write(_ARROW)
        with pa.ipc.new_stream(reply_to, result.schema) as writer:
            writer.write_table(result)
    else:
        try:
            data = pickle.dumps(reply)
        except Exception as exc:  # noqa: BLE001 - an error that cannot be pickled
            data = pickle.dumps(("failed", f"{type(reply[1]).__name__}: {exc}"))
        reply_to.write(_PICKLE + data)
    reply_to.close()
    if pending is not None and result is not None:
        del result
        duck.release()
        try:
            write_parquet_atomically(pending, Path(job.lines_file))
        except OSError as exc:
            log.warning("could not cache %s: %s", Path(job.lines_file).name, exc)
    return 0


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])  # the folder holding ``dashapp``
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _stopped(job: Job, code: int | None) -> DataLoadError:
    name = Path(job.path).name
    if code is not None and code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = f"signal {-code}"
        why = f"its process was stopped by {sig}"
        if -code == signal.SIGKILL:
            why += " (the server may have run out of memory)"
    else:
        why = f"its process exited with code {code} without an answer (see the server log)"
    return DataLoadError(
        f"Preparing {job.what} of {name} stopped before it finished: {why}. Nothing was "
        "stored; open the page again to retry.",
        path=name,
    )


def _reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait()
    finally:
        with _children_lock:
            _children.discard(proc)


def _answer(stream) -> tuple | None:
    """The child's answer: ``("ok", Arrow table)``, ``("error", DataLoadError)`` or
    ``("failed", text)``; None when it stopped before a complete answer."""
    tag = stream.read(1)
    if tag == _ARROW:
        try:
            return ("ok", pa.ipc.open_stream(stream).read_all())
        except (pa.ArrowException, OSError, EOFError):
            return None  # a truncated stream
    if tag != _PICKLE:
        return None
    try:
        reply = pickle.loads(stream.read())
    except Exception:  # noqa: BLE001 - a truncated answer: the child died while writing it
        return None
    if isinstance(reply, tuple) and len(reply) == 2 and reply[0] in ("error", "failed"):
        return reply
    return None


def run_in_child(job: Job) -> pa.Table:
    """The prepared result for ``job`` (:func:`dashapp.ingest.parts.prepared_table`: the
    invoice table with the ledger in its metadata, or the product lines), computed in a child
    process. Raises
    :class:`DataLoadError` for bad input (the loader's message), memory, or a child that stops
    without answering."""
    proc = subprocess.Popen(
        CHILD_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_env()
    )
    with _children_lock:
        _children.add(proc)
    try:
        try:
            proc.stdin.write(pickle.dumps(job))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the child already ended: its exit code says how
        reply = _answer(proc.stdout)
        proc.stdout.close()
    except BaseException:
        proc.kill()
        _reap(proc)
        raise
    if reply is None:
        try:
            code = proc.wait(5.0)  # it closed its answer: it ended or is ending
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        with _children_lock:
            _children.discard(proc)
        raise _stopped(job, code)
    threading.Thread(target=_reap, args=(proc,), name="reap child", daemon=True).start()
    kind, value = reply
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    name = Path(job.path).name
    raise DataLoadError(f"Preparing {job.what} of {name} failed: {value}", path=name)


def wait_for_children(timeout: float | None = None) -> None:
    """Wait for children still writing a lines parquet (tests, benchmarks, shutdown)."""
    with _children_lock:
        procs = list(_children)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)


def children() -> list[int]:
    """Process ids of the running children."""
    with _children_lock:
        return [p.pid for p in _children]


if __name__ == "__main__":
    sys.exit(_serve())
