"""The cleaned result of a data version, computed once and kept on disk.

:func:`prepared` returns the invoice table and the ledger of a source for a rule set. The
result is cached in ``<cache_dir>/prepared/`` as one parquet file per (data fingerprint, rule
set, engine version): the invoice table, with the ledger in the file's metadata, written
atomically, so a second process or a restart reads it (about 50,000 rows for 1M lines) and
never re-cleans. The product lines (:func:`prepared_products`; one row per invoice and stock
code, about 1M rows for 1M lines) are kept beside it under the same key with ``-products``,
computed apart from the invoice table (for a file, the service starts that in a background job
once the invoice table is loaded: :mod:`dashapp.service.store`).

For files, :func:`prepare_file` also keeps the canonical lines as parquet (keyed by the
file's content hash, :func:`dashapp.ingest.loading.cache_path_for`): the first load converts
the file once and writes that parquet **off the request path** (in a background thread, or
in the child process after it answered); a later rule set is cleaned by DuckDB scanning that
parquet, without reading the source again. A file of at least
:data:`~dashapp.ingest.isolated.CHILD_BYTES` is read and cleaned in a short-lived child
process (:mod:`dashapp.ingest.isolated`), so the worker never holds its raw lines nor the
statement's rows: the child sends the invoice table with the ledger in its metadata (or the
product lines), which is stored as it came. The processes sharing a cache folder prepare a
file version once per rule set: the first claims it (:func:`claim`), the others wait for its
result.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dashapp.ingest import engine, isolated, schema
from dashapp.ingest.cleaning import DEFAULT_NON_PRODUCT_CODES, CleaningRules
from dashapp.ingest.engine import local
from dashapp.ingest.engine.pipeline import invoice_parts, product_parts
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.isolated import is_large_csv, lines_cache_valid, streamed
from dashapp.ingest.loading import cache_path_for, load_transactions
from dashapp.ingest.loading.cache import (
    _atomic_write_bytes,
    _stat_key,
    _write_cache,
    write_parquet_atomically,
)
from dashapp.ingest.parts import (
    ORDERS,
    PRODUCTS,
    RESULT_META_KEY,
    result_meta,
    result_of,
    result_table,
)

log = logging.getLogger(__name__)

#: Bumped whenever the cleaning's output for the same lines changes: older results are ignored.
ENGINE_VERSION = "3"
#: CSV files larger than this are converted block by block (bounded memory) instead of being
#: read whole.
STREAM_BYTES = 256 << 20
#: A claim on a file's preparation older than this is taken over (its process is gone; a
#: claim of a dead process on this host is taken over at once).
FILE_CLAIM_STALE_S = 3600.0

_writers: dict[Path, threading.Thread] = {}
_writers_lock = threading.Lock()

Result = tuple[pd.DataFrame, pd.DataFrame]


def rules_token(rules: CleaningRules) -> str:
    """Short text naming a rule set in a file name."""
    token = f"r{rules.flags()}"
    if tuple(rules.non_product_codes) != DEFAULT_NON_PRODUCT_CODES:
        codes = repr(sorted(rules.non_product_codes)).encode()
        token += "-c" + hashlib.blake2b(codes, digest_size=4).hexdigest()
    return token


def _result_file(cache_dir: Path, key: str, rules: CleaningRules, kind: str = ORDERS) -> Path:
    suffix = "" if kind == ORDERS else f"-{kind}"
    return cache_dir / "prepared" / f"{key}-{rules_token(rules)}-e{ENGINE_VERSION}{suffix}.parquet"


def _read_prepared(path: Path) -> tuple[pa.Table, dict] | None:
    """A prepared file and its metadata; None when it is missing, unreadable or written by
    another engine version (then it is prepared again)."""
    try:
        table = pq.read_table(path)
        meta = result_meta(table)
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return None
    return (table, meta) if meta.get("engine") == ENGINE_VERSION else None


def _read_result(path: Path) -> Result | None:
    read = _read_prepared(path)
    return None if read is None else result_of(read[0])


def _write_result(path: Path, result: Result | pa.Table) -> None:
    """Store the invoice table and ledger: a :func:`~dashapp.ingest.parts.result_table` (as
    a child process sends it) or the pair."""
    if isinstance(result, pa.Table):
        meta = {"engine": ENGINE_VERSION, **result_meta(result)}
        table = result.replace_schema_metadata({RESULT_META_KEY: json.dumps(meta).encode()})
    else:
        table = result_table(*result, engine=ENGINE_VERSION)
    write_parquet_atomically(table, path)


def _read_products(path: Path) -> pd.DataFrame | None:
    read = _read_prepared(path)
    return None if read is None else read[0].to_pandas()


def _write_products(path: Path, lines: pd.DataFrame | pa.Table) -> None:
    if isinstance(lines, pd.DataFrame):
        lines = pa.Table.from_pandas(lines, preserve_index=False)
    meta = {
        **(lines.schema.metadata or {}),
        RESULT_META_KEY: json.dumps({"engine": ENGINE_VERSION}),
    }
    write_parquet_atomically(lines.replace_schema_metadata(meta), path)


def _as_result(result: Result | pa.Table) -> Result:
    return result_of(result) if isinstance(result, pa.Table) else result


def _as_products(lines: pd.DataFrame | pa.Table) -> pd.DataFrame:
    return lines.to_pandas() if isinstance(lines, pa.Table) else lines


_READ = {ORDERS: _read_result, PRODUCTS: _read_products}


def cached(key: str, rules: CleaningRules, cache_dir: Path | None, kind: str = ORDERS):
    """The stored result (``kind``: the invoice table and ledger, or the product lines) for
    ``key`` and ``rules``, or None (also without a cache folder)."""
    if cache_dir is None:
        return None
    return _READ[kind](_result_file(Path(cache_dir), key, rules, kind))


def claim(
    key: str,
    rules: CleaningRules,
    cache_dir: Path | None,
    stale_after_s: float,
    kind: str = ORDERS,
) -> bool:
    """Claim the preparation of ``key``, ``rules`` and ``kind`` for this process (a lock file
    created exclusively next to the result, so the workers of a host, or hosts sharing the
    folder, run one cleaning, not one each). False when another process holds a claim younger
    than ``stale_after_s``. No folder, or one that cannot be written: True (this process
    prepares alone)."""
    if cache_dir is None:
        return True
    lock = _result_file(Path(cache_dir), key, rules, kind).with_suffix(".preparing")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            age = time.time() - lock.stat().st_mtime
            holder = lock.read_text()
        except OSError:
            return claim(key, rules, cache_dir, stale_after_s, kind)  # released meanwhile
        if age < stale_after_s and not _dead_holder(holder):
            return False
        with contextlib.suppress(OSError):
            lock.unlink()  # a claim older than the longest cleaning: its process died
        return claim(key, rules, cache_dir, stale_after_s, kind)
    except OSError:
        return True
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()} {time.time():.0f} {socket.gethostname()}\n")
    return True


def _dead_holder(holder: str) -> bool:
    """Whether a claim's text (``pid time host``) names a process of this host that is gone."""
    parts = holder.split()
    if len(parts) < 3 or parts[2] != socket.gethostname() or not parts[0].isdigit():
        return False  # another host's (or an older) claim: only its age can tell
    try:
        os.kill(int(parts[0]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def release_claim(
    key: str, rules: CleaningRules, cache_dir: Path | None, kind: str = ORDERS
) -> None:
    if cache_dir is None:
        return
    with contextlib.suppress(OSError):
        _result_file(Path(cache_dir), key, rules, kind).with_suffix(".preparing").unlink()


def prepared(
    key: str | None,
    rules: CleaningRules,
    cache_dir: Path | None,
    compute: Callable[[], Result | pa.Table],
) -> Result:
    """``(invoice table, ledger)`` for the data version ``key`` and ``rules``: read from the
    cache when there, else ``compute()`` (the pair, or a child's
    :func:`~dashapp.ingest.parts.result_table`, stored as it came) and store it (a read-only
    or full cache folder only costs the store, never the result)."""
    if cache_dir is None or key is None:
        return _as_result(compute())
    path = _result_file(Path(cache_dir), key, rules)
    hit = _read_result(path)
    if hit is not None:
        return hit
    result = compute()
    try:
        _write_result(path, result)
    except OSError as exc:
        log.warning("could not store the cleaned result in %s: %s", path.parent, exc)
    return _as_result(result)


def prepared_products(
    key: str | None,
    rules: CleaningRules,
    cache_dir: Path | None,
    compute: Callable[[], pd.DataFrame | pa.Table],
) -> pd.DataFrame:
    """The product lines for the data version ``key`` and ``rules``
    (:func:`dashapp.ingest.engine.clean_products`): read from the cache when there, else
    ``compute()`` (a frame, or the Arrow table a child sends) and store them beside the
    invoice table, like :func:`prepared`."""
    if cache_dir is None or key is None:
        return _as_products(compute())
    path = _result_file(Path(cache_dir), key, rules, PRODUCTS)
    hit = _read_products(path)
    if hit is not None:
        return hit
    lines = compute()
    try:
        _write_products(path, lines)
    except OSError as exc:
        log.warning("could not store the product lines in %s: %s", path.parent, exc)
    return _as_products(lines)


def _write_lines_later(lines: pd.DataFrame, target: Path) -> None:
    """Write the canonical lines parquet in a background thread (one writer per file)."""

    def write() -> None:
        try:
            _write_cache(lines, target)
        except OSError as exc:
            log.warning("could not cache %s: %s", target.name, exc)
        finally:
            with _writers_lock:
                _writers.pop(target, None)

    with _writers_lock:
        if target in _writers:
            return
        thread = threading.Thread(target=write, name=f"cache {target.name}", daemon=False)
        _writers[target] = thread
    thread.start()


def wait_for_writers(timeout: float | None = None) -> None:
    """Wait for background cache writes (tests, benchmarks, shutdown)."""
    with _writers_lock:
        threads = list(_writers.values())
    for thread in threads:
        thread.join(timeout)
    isolated.wait_for_children(timeout)


def prepare_file(
    path: str | os.PathLike,
    rules: CleaningRules,
    *,
    cache_dir: str | os.PathLike | None,
    column_map: dict[str, str] | None = None,
) -> Result:
    """``(invoice table, ledger)`` of a transactions file, cleaned by the embedded DuckDB.

    Raises DataLoadError for any problem with the file (see ``load_transactions``)."""
    return _prepare_file(Path(path), rules, cache_dir, column_map, ORDERS)


def prepare_file_products(
    path: str | os.PathLike,
    rules: CleaningRules,
    *,
    cache_dir: str | os.PathLike | None,
    column_map: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The product lines of a transactions file (:func:`engine.clean_products`), prepared
    like :func:`prepare_file`: once per file version and rule set, from the lines parquet
    when there; a later call or another process reads them from the cache folder."""
    return _prepare_file(Path(path), rules, cache_dir, column_map, PRODUCTS)


def file_products_stored(
    path: str | os.PathLike,
    rules: CleaningRules,
    *,
    cache_dir: str | os.PathLike | None,
    column_map: dict[str, str] | None = None,
) -> bool:
    """Whether the product lines of a file's current version and ``rules`` are in the cache
    folder (a file check, nothing read: :func:`prepare_file_products` then reads them)."""
    if cache_dir is None:
        return False
    try:
        key = cache_path_for(Path(path), cache_dir, column_map).stem
    except (OSError, DataLoadError):
        return False
    return _result_file(Path(cache_dir), key, rules, PRODUCTS).is_file()


_WHAT = {ORDERS: "the invoice table", PRODUCTS: "the product lines"}
_statements: dict[tuple, str] = {}


@functools.cache
def _code_token() -> str:
    """What the compiled statement depends on besides the rule set: the code that builds it
    and the versions of ibis and sqlglot."""
    import ibis
    import sqlglot

    from dashapp.ingest import cleaning
    from dashapp.ingest.engine import pipeline, product_type

    h = hashlib.blake2b(digest_size=8)
    for module in (pipeline, product_type, cleaning, local):
        h.update(Path(module.__file__).read_bytes())
    h.update(f"{ibis.__version__} {sqlglot.__version__} {ENGINE_VERSION}".encode())
    return h.hexdigest()


def statement(kind: str, rules: CleaningRules, cache_dir=None) -> str:
    """The DuckDB SQL of the cleaning (``kind``: the invoice table or the product lines) for
    ``rules``: compiling the ibis expression costs 0.4-1 s of CPU, so it is kept per process
    and in the cache folder (keyed by the rule set and :func:`_code_token`: a changed rule,
    expression or ibis version compiles anew)."""
    key = (kind, rules)
    sql = _statements.get(key)
    if sql is not None:
        return sql
    path = None
    if cache_dir is not None:
        token = f"{kind}-{rules_token(rules)}-{_code_token()}"
        path = Path(cache_dir) / "prepared" / f"statement-{token}.sql"
        with contextlib.suppress(OSError, UnicodeDecodeError):
            sql = path.read_text(encoding="utf-8") or None
    if sql is None:
        sql = engine.statement(invoice_parts if kind == ORDERS else product_parts, rules)
        if path is not None:
            with contextlib.suppress(OSError):
                _atomic_write_bytes(path, sql.encode("utf-8"))
    _statements[key] = sql
    return sql


def _prepare_file(p: Path, rules: CleaningRules, cache_dir, column_map, kind: str):

    def run(lines):
        sql = statement(kind, rules, cache_dir)
        return (engine.clean if kind == ORDERS else engine.clean_products)(lines, rules, sql)

    def in_child(lines_file: Path | None):
        job = isolated.Job(
            path=str(p),
            sql=statement(kind, rules, cache_dir),
            lines_file=None if lines_file is None else str(lines_file),
            column_map=column_map,
            stream_bytes=STREAM_BYTES,
            scratch_dir=str(Path(tempfile.gettempdir()) / "dashapp-lines"),
            settings=local.settings(),
            rules=rules,
            kind=kind,
            what=_WHAT[kind],
        )
        # the child splits the statement's rows itself and sends the invoice table with the
        # ledger in its metadata, or the product lines (stored as they come)
        return isolated.run_in_child(job)

    def in_a_child() -> bool:
        try:
            return p.stat().st_size >= isolated.CHILD_BYTES
        except OSError:
            return False  # the loader names the missing file

    if cache_dir is None:  # no usable cache folder: nothing is kept, a large CSV still streams
        if in_a_child():
            return (_as_result if kind == ORDERS else _as_products)(in_child(None))
        try:
            if is_large_csv(p, STREAM_BYTES):
                scratch = cache_path_for(p, Path(tempfile.gettempdir()) / "dashapp-lines")
                return run(streamed(p, scratch, column_map))
            return run(load_transactions(p, column_map=column_map))
        finally:
            local.release()
    lines_file = cache_path_for(p, cache_dir, column_map)

    def compute():
        computed.append(True)
        if in_a_child():  # from the lines parquet too: DuckDB's memory stays in the child
            return in_child(lines_file)
        if lines_cache_valid(lines_file):
            return run(lines_file)
        if is_large_csv(p, STREAM_BYTES):
            return run(streamed(p, lines_file, column_map))
        before = _stat_key(p)
        lines = load_transactions(p, column_map=column_map)
        if list(lines.columns) == list(schema.CANONICAL_COLUMNS) and _stat_key(p) == before:
            _write_lines_later(lines, lines_file)
        return run(lines)

    computed: list[bool] = []
    store = prepared if kind == ORDERS else prepared_products
    key, folder = lines_file.stem, Path(cache_dir)
    try:
        return _one_at_a_time(key, rules, folder, kind, lambda: store(key, rules, folder, compute))
    finally:
        if computed:
            local.release()


def _one_at_a_time(key: str, rules: CleaningRules, cache_dir: Path, kind: str, build):
    """``build()`` under this host's (or cache folder's) claim on ``key``, ``rules`` and
    ``kind``: while another process or thread prepares it, wait for its result."""
    hit = cached(key, rules, cache_dir, kind)
    if hit is not None:
        return hit
    started = time.monotonic()
    while not claim(key, rules, cache_dir, FILE_CLAIM_STALE_S, kind):
        hit = cached(key, rules, cache_dir, kind)
        if hit is not None:
            return hit
        if time.monotonic() - started > FILE_CLAIM_STALE_S:
            return build()  # the claim is older than any preparation: prepare unclaimed
        time.sleep(0.2)
    try:
        return build()
    finally:
        release_claim(key, rules, cache_dir, kind)
