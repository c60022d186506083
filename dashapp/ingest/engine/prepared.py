"""The cleaned result of a data version, computed once and kept on disk.

:func:`prepared` returns the invoice table and the ledger of a source for a rule set. The
result is cached in ``<cache_dir>/prepared/`` as one parquet file per (data fingerprint, rule
set, engine version): the invoice table, with the ledger in the file's metadata, written
atomically, so a second process or a restart reads it (about 50,000 rows for 1M lines) and
never re-cleans. The product lines (:func:`prepared_products`; one row per invoice and stock
code, about 1M rows for 1M lines) are kept beside it under the same key with ``-products``,
computed when first asked for (the product and customer pages), not with every cleaning.

For files, :func:`prepare_file` also keeps the canonical lines as parquet (keyed by the
file's content hash, :func:`dashapp.ingest.loading.cache_path_for`): the first load converts
the file once and writes that parquet **in a background thread**, off the request path; a
later rule set is cleaned by DuckDB scanning that parquet, without reading the source again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dashapp.ingest import engine, schema
from dashapp.ingest.cleaning import DEFAULT_NON_PRODUCT_CODES, CleaningRules
from dashapp.ingest.engine import local
from dashapp.ingest.loading import CSV_EXTENSIONS, cache_path_for, load_transactions
from dashapp.ingest.loading.cache import (
    _CACHE_META_KEY,
    LOADER_VERSION,
    _stat_key,
    _write_cache,
    write_parquet_atomically,
)
from dashapp.ingest.loading.stream import csv_to_parquet

log = logging.getLogger(__name__)

#: Bumped whenever the cleaning's output for the same lines changes: older results are ignored.
ENGINE_VERSION = "3"
#: CSV files larger than this are converted block by block (bounded memory) instead of being
#: read whole.
STREAM_BYTES = 256 << 20

_META_KEY = b"dashapp.prepared"
_writers: dict[Path, threading.Thread] = {}
_writers_lock = threading.Lock()

Result = tuple[pd.DataFrame, pd.DataFrame]
#: What a prepared file holds: the invoice table and ledger, or the product lines.
ORDERS, PRODUCTS = "orders", "products"


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
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return None
    return (table, meta) if meta.get("engine") == ENGINE_VERSION else None


def _read_result(path: Path) -> Result | None:
    read = _read_prepared(path)
    if read is None:
        return None
    table, meta = read
    orders = table.replace_schema_metadata(None).to_pandas()
    ledger = pd.DataFrame(meta["ledger"])
    ledger.attrs.update(meta["attrs"])
    return orders, ledger


def _write_result(path: Path, orders: pd.DataFrame, ledger: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(orders, preserve_index=False)
    meta = {
        "engine": ENGINE_VERSION,
        "ledger": ledger.to_dict(orient="list"),
        "attrs": {k: int(v) for k, v in ledger.attrs.items()},
    }
    write_parquet_atomically(
        table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()}), path
    )


def _read_products(path: Path) -> pd.DataFrame | None:
    read = _read_prepared(path)
    return None if read is None else read[0].to_pandas()


def _write_products(path: Path, lines: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(lines, preserve_index=False)
    meta = {**(table.schema.metadata or {}), _META_KEY: json.dumps({"engine": ENGINE_VERSION})}
    write_parquet_atomically(table.replace_schema_metadata(meta), path)


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
        except OSError:
            return claim(key, rules, cache_dir, stale_after_s, kind)  # released meanwhile
        if age < stale_after_s:
            return False
        with contextlib.suppress(OSError):
            lock.unlink()  # a claim older than the longest cleaning: its process died
        return claim(key, rules, cache_dir, stale_after_s, kind)
    except OSError:
        return True
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()} {time.time():.0f}\n")
    return True


def release_claim(
    key: str, rules: CleaningRules, cache_dir: Path | None, kind: str = ORDERS
) -> None:
    if cache_dir is None:
        return
    with contextlib.suppress(OSError):
        _result_file(Path(cache_dir), key, rules, kind).with_suffix(".preparing").unlink()


def prepared(
    key: str | None, rules: CleaningRules, cache_dir: Path | None, compute: Callable[[], Result]
) -> Result:
    """``(invoice table, ledger)`` for the data version ``key`` and ``rules``: read from the
    cache when there, else ``compute()`` and store it (a read-only or full cache folder only
    costs the store, never the result)."""
    if cache_dir is None or key is None:
        return compute()
    path = _result_file(Path(cache_dir), key, rules)
    hit = _read_result(path)
    if hit is not None:
        return hit
    orders, ledger = compute()
    try:
        _write_result(path, orders, ledger)
    except OSError as exc:
        log.warning("could not store the cleaned result in %s: %s", path.parent, exc)
    return orders, ledger


def prepared_products(
    key: str | None,
    rules: CleaningRules,
    cache_dir: Path | None,
    compute: Callable[[], pd.DataFrame],
) -> pd.DataFrame:
    """The product lines for the data version ``key`` and ``rules``
    (:func:`dashapp.ingest.engine.clean_products`): read from the cache when there, else
    ``compute()`` and store them beside the invoice table, like :func:`prepared`."""
    if cache_dir is None or key is None:
        return compute()
    path = _result_file(Path(cache_dir), key, rules, PRODUCTS)
    hit = _read_products(path)
    if hit is not None:
        return hit
    lines = compute()
    try:
        _write_products(path, lines)
    except OSError as exc:
        log.warning("could not store the product lines in %s: %s", path.parent, exc)
    return lines


def _lines_cache_valid(path: Path) -> bool:
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return meta.get(_CACHE_META_KEY) == LOADER_VERSION.encode()


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


def _prepare_file(p: Path, rules: CleaningRules, cache_dir, column_map, kind: str):

    def run(lines):
        return (engine.clean if kind == ORDERS else engine.clean_products)(lines, rules)

    if cache_dir is None:  # no usable cache folder: nothing is kept, a large CSV still streams
        try:
            if p.suffix.lower() in CSV_EXTENSIONS and p.stat().st_size > STREAM_BYTES:
                scratch = cache_path_for(p, Path(tempfile.gettempdir()) / "dashapp-lines")
                return run(_streamed(p, scratch, column_map))
            return run(load_transactions(p, column_map=column_map))
        finally:
            local.release()
    lines_file = cache_path_for(p, cache_dir, column_map)

    def compute():
        computed.append(True)
        if _lines_cache_valid(lines_file):
            return run(lines_file)
        if p.suffix.lower() in CSV_EXTENSIONS and p.stat().st_size > STREAM_BYTES:
            return run(_streamed(p, lines_file, column_map))
        before = _stat_key(p)
        lines = load_transactions(p, column_map=column_map)
        if list(lines.columns) == list(schema.CANONICAL_COLUMNS) and _stat_key(p) == before:
            _write_lines_later(lines, lines_file)
        return run(lines)

    computed: list[bool] = []
    store = prepared if kind == ORDERS else prepared_products
    try:
        return store(lines_file.stem, rules, Path(cache_dir), compute)
    finally:
        if computed:
            local.release()


def _streamed(p: Path, lines_file: Path, column_map) -> Path:
    """A large CSV converted block by block to its lines parquet (in the cache folder, or in
    the system's temporary folder when the cache folder cannot be written)."""
    if _lines_cache_valid(lines_file):
        return lines_file
    log.info("converting %s block by block to %s", p.name, lines_file.name)
    try:
        csv_to_parquet(p, lines_file, column_map)
        return lines_file
    except OSError as exc:
        log.warning("could not write %s (%s); converting to a temporary file", lines_file, exc)
    fallback = Path(tempfile.gettempdir()) / "dashapp-lines" / lines_file.name
    if not _lines_cache_valid(fallback):
        csv_to_parquet(p, fallback, column_map)
    return fallback
