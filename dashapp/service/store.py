"""The per-process store: each dataset's invoice table and ledger, prepared once per data
version and rule set (:mod:`dashapp.ingest.engine.prepared`: a new process reads them from
the cache folder) and kept in a small LRU of datasets."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashapp.ingest import cleaning
from dashapp.ingest.cleaning import CleaningRules
from dashapp.ingest.engine import prepared as prepared_results
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading import cache_path_for, load_transactions
from dashapp.ingest.loading.cache import read_notes
from dashapp.service import registry
from dashapp.service.filters import Filters

log = logging.getLogger(__name__)


class DataPreparing(DataLoadError):
    """A table's result is still being computed in the background (the page says so; no
    view caches this answer)."""


#: Most datasets whose frames one process keeps in memory (least recently used dropped).
MAX_DATASETS_IN_MEMORY = 3


@dataclass(frozen=True)
class CleanData:
    """What stays in memory per dataset and rule set: the ledger and the invoice table."""

    ledger: pd.DataFrame
    orders: pd.DataFrame


_store: OrderedDict[tuple, Any] = OrderedDict()
_store_lock = threading.RLock()
_load_locks: dict[tuple, threading.Lock] = {}


def _held(key: tuple, build: Callable[[], Any]) -> Any:
    """Build ``key`` once per process (one thread builds, others wait) and keep it in a
    small LRU of whole datasets."""
    with _store_lock:
        if key in _store:
            _store.move_to_end(key)
            return _store[key]
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        with _store_lock:
            if key in _store:
                return _store[key]
        value = build()
        with _store_lock:
            _store[key] = value
            datasets_held = {k[1:3] for k in _store}
            while len(datasets_held) > MAX_DATASETS_IN_MEMORY:
                oldest = next(iter(_store))
                for k in [k for k in _store if k[1:3] == oldest[1:3]]:
                    del _store[k]
                datasets_held = {k[1:3] for k in _store}
        return value


def held(key: tuple, build: Callable[[], Any]) -> Any:
    """A per-process result of a dataset's version, built once (``key``: ``(kind, dataset,
    version, ...)``; dropped with the dataset from the LRU), e.g. a model trained in the
    background for the default view."""
    return _held(key, build)


def transactions(dataset_id: str) -> pd.DataFrame:
    """Canonical raw lines of a file dataset (read from the file; not kept: the pages only
    need the cleaned invoice table)."""
    info = registry.dataset_info(dataset_id)
    return load_transactions(
        registry.source_path(info),
        cache_dir=registry.cache_dir_for(info),  # None when unusable: no parquet copy
        column_map=dict(info.column_map) or None,
    )


def dataset_notes(dataset_id: str) -> list[str]:
    """The loader's statements about a file dataset once it has been read (e.g. the date
    order it assumed for dates that read both ways), from its parquet copy's footer; [] for
    a table, a file not read yet or without a cache folder."""
    info = registry.dataset_info(dataset_id)
    cache_dir = None if info.kind in registry.TABLE_KINDS else registry.cache_dir_for(info)
    if cache_dir is None:
        return []
    try:
        path = registry.source_path(info)
        return read_notes(cache_path_for(path, cache_dir, dict(info.column_map) or None))
    except (OSError, DataLoadError):
        return []


def _prepare(dataset_id: str, version: str, rules: CleaningRules) -> tuple:
    """``(invoice table, ledger)``: from the prepared cache, else cleaned by the engine that
    holds the lines (the database or Spark for a table, the embedded DuckDB for files)."""
    info = registry.dataset_info(dataset_id)
    cache_dir = registry.cache_dir_for(info)  # None when unusable: prepared without a copy
    log.info("loading dataset %s (%s, rules %s)", dataset_id, version, rules.flags())
    if info.kind in registry.TABLE_KINDS:
        return _prepare_table(dataset_id, version, rules)
    return prepared_results.prepare_file(
        registry.source_path(info),
        rules,
        cache_dir=cache_dir,
        column_map=dict(info.column_map) or None,
    )


#: How long a page waits for a table's first cleaning before it says the data is being
#: prepared (the platforms' routers give up on a request after 30 s).
PAGE_WAIT_S = 15.0
#: Longest a table's cleaning may run in the background (the statement's timeout then).
PREPARE_TIMEOUT_S = 3600.0

_jobs: dict[tuple, tuple[Future, float]] = {}  # (dataset, version, rules) -> (job, start)
_jobs_lock = threading.Lock()
_preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")


ORDERS, PRODUCTS = prepared_results.ORDERS, prepared_results.PRODUCTS


def prepare_table_now(
    dataset_id: str,
    rules: CleaningRules,
    timeout_s: float = PREPARE_TIMEOUT_S,
    kind: str = ORDERS,
):
    """Clean a SQL or Spark dataset for ``rules`` and store the result (``kind``: the invoice
    table and ledger, or the product lines) in the cache folder, waiting as long as it takes
    (``python -m dashapp prepare``; the background job)."""
    version = registry.dataset_version(dataset_id)
    cache_dir = registry.cache_dir()
    src = registry.table_source(dataset_id)
    if kind == PRODUCTS:
        return prepared_results.prepared_products(
            version, rules, cache_dir, lambda: registry.table_call(src.products, rules, timeout_s)
        )
    return prepared_results.prepared(
        version, rules, cache_dir, lambda: registry.table_call(src.clean, rules, timeout_s)
    )


def _run_preparation(dataset_id: str, version: str, rules: CleaningRules, kind: str):
    cache_dir = registry.cache_dir()
    started = time.monotonic()
    try:
        while not prepared_results.claim(version, rules, cache_dir, PREPARE_TIMEOUT_S, kind):
            hit = prepared_results.cached(version, rules, cache_dir, kind)  # another worker
            if hit is not None:
                return hit
            if time.monotonic() - started > PREPARE_TIMEOUT_S:
                raise DataLoadError("The data is still being prepared by another worker.")
            time.sleep(2.0)
        try:
            return prepare_table_now(dataset_id, rules, kind=kind)
        finally:
            prepared_results.release_claim(version, rules, cache_dir, kind)
    finally:
        log.info(
            "prepared %s of dataset %s (%s) in %.1f s",
            kind,
            dataset_id,
            version,
            time.monotonic() - started,
        )


_WHAT = {
    ORDERS: "its engine is cleaning the whole table",
    PRODUCTS: "its engine is computing the product lines of the whole table",
}


def _prepare_table(
    dataset_id: str,
    version: str,
    rules: CleaningRules,
    kind: str = ORDERS,
    wait_s: float | None = None,
):
    """A table's invoice table and ledger (or, with ``kind`` :data:`PRODUCTS`, its product
    lines): from the cache folder, else computed by its engine in a background job (one per
    data version, rule set and kind, and one per host through a claim in the cache folder). A
    page waits up to ``wait_s`` (:data:`PAGE_WAIT_S` by default) for it, then says that the
    data is being prepared; the job
    goes on and the next request gets its result."""
    hit = prepared_results.cached(version, rules, registry.cache_dir(), kind)
    if hit is not None:
        return hit
    key = (dataset_id, version, rules, kind)
    with _jobs_lock:
        if key not in _jobs:
            job = _preparer.submit(_run_preparation, dataset_id, version, rules, kind)
            _jobs[key] = (job, time.monotonic())
        job, started = _jobs[key]
    try:
        return job.result(timeout=PAGE_WAIT_S if wait_s is None else wait_s)
    except FutureTimeout:
        waited = time.monotonic() - started
        label = registry.dataset_info(dataset_id).label
        raise DataPreparing(
            f"{label} is being prepared: {_WHAT[kind]}, once per version of the data "
            f"(running for {waited:.0f} s). Reload this page in a minute. To have it ready "
            "before anyone opens the app, run `python -m dashapp prepare` after each load of "
            "the table."
        ) from None
    finally:
        if job.done():
            with _jobs_lock:
                if key in _jobs and _jobs[key][0] is job:
                    del _jobs[key]  # a failure is reported once; the next request tries again


def cleaned(dataset_id: str, rules: str) -> CleanData:
    """Ledger and invoice table of a dataset for a rule set (once per process)."""
    version = registry.dataset_version(dataset_id)

    def build() -> CleanData:
        flags = CleaningRules.from_flags(rules)
        orders, ledger = _prepare(dataset_id, version, flags)
        info = registry.dataset_info(dataset_id)
        if (
            registry.settings().products_at_load
            and info.kind not in registry.TABLE_KINDS
            and registry.cache_dir_for(info) is not None
        ):
            _file_products_job(dataset_id, version, flags)  # ready before a page asks
        return CleanData(ledger=ledger, orders=orders)

    return _held(("clean", dataset_id, version, rules), build)


_product_jobs: dict[tuple, Future] = {}  # (dataset, version, rules) -> job
_products_preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="products")


def _file_products_job(dataset_id: str, version: str, rules: CleaningRules) -> Future:
    """The background job preparing a file's product lines for ``rules``, started once per
    process, data version and rule set: by the first page that asks, or, with
    ``PRODUCTS_AT_LOAD``, when the invoice table is loaded (ready before a page asks, at the
    price of every worker's memory). It computes them
    (:func:`~dashapp.ingest.engine.prepared.prepare_file_products`: the same preparation,
    cache key and claim as on a request) and leaves them in the cache folder (result None);
    without a usable cache folder it returns them."""
    key = (dataset_id, version, rules)
    with _jobs_lock:
        job = _product_jobs.get(key)
        if job is not None and job.done():
            failed = job.exception() is not None
            if failed or (job.result() is None and not _file_products_stored(dataset_id, rules)):
                job = None  # failed, or its stored lines are gone: prepare again
        if job is None:
            job = _products_preparer.submit(_prepare_file_products, dataset_id, rules)
            _product_jobs[key] = job
            job.add_done_callback(lambda done: _products_ready(done, dataset_id, rules))
        return job


#: Called with ``(dataset, rules flags)`` once a file's product lines are prepared (in the
#: job's thread: a hook starts its own work elsewhere), e.g. training the default view's
#: machine-learned model in the background.
_when_products_ready: list[Callable[[str, str], None]] = []


def when_products_ready(hook: Callable[[str, str], None]) -> None:
    """Register ``hook(dataset, rules flags)``, called once a file's product lines are
    prepared by their background job."""
    if hook not in _when_products_ready:
        _when_products_ready.append(hook)


def _products_ready(job: Future, dataset_id: str, rules: CleaningRules) -> None:
    if job.cancelled() or job.exception() is not None:
        return
    for hook in list(_when_products_ready):
        try:
            hook(dataset_id, rules.flags())
        except Exception:  # a hook's failure never reaches the job or a page
            log.exception("after preparing the product lines of %s", dataset_id)


def _file_products_stored(dataset_id: str, rules: CleaningRules) -> bool:
    info = registry.dataset_info(dataset_id)
    return prepared_results.file_products_stored(
        registry.source_path(info),
        rules,
        cache_dir=registry.cache_dir_for(info),
        column_map=dict(info.column_map) or None,
    )


def _prepare_file_products(dataset_id: str, rules: CleaningRules) -> pd.DataFrame | None:
    if _file_products_stored(dataset_id, rules):
        return None
    info = registry.dataset_info(dataset_id)
    started = time.monotonic()
    lines = prepared_results.prepare_file_products(
        registry.source_path(info),
        rules,
        cache_dir=registry.cache_dir_for(info),
        column_map=dict(info.column_map) or None,
    )
    log.info("prepared the product lines of %s in %.1f s", dataset_id, time.monotonic() - started)
    if _file_products_stored(dataset_id, rules):
        return None  # read from the cache folder when asked: not held by the job
    return lines


def _await_file_products(dataset_id: str, version: str, rules: CleaningRules, wait_s: float):
    """The file's product lines job, done; DataPreparing once ``wait_s`` has passed."""
    job = _file_products_job(dataset_id, version, rules)
    try:
        lines = job.result(timeout=wait_s)
    except FutureTimeout:
        label = registry.dataset_info(dataset_id).label
        raise DataPreparing(
            f"The product lines of {label} are being prepared (once per version of the data, "
            "in the background). The Products page shows them when they are ready; on "
            "another page, reload it in a moment."
        ) from None
    if lines is not None:  # no cache folder: the job handed them over, it keeps nothing
        with _jobs_lock:
            if _product_jobs.get((dataset_id, version, rules)) is job:
                del _product_jobs[(dataset_id, version, rules)]
    return lines


def products(dataset_id: str, rules: str, wait_s: float | None = None) -> pd.DataFrame:
    """The kept product lines of a dataset, one row per (invoice, stock code), by the same
    rules as the invoice table (:func:`dashapp.ingest.engine.clean_products`), computed by the
    engine that holds the lines: the embedded DuckDB for files (from the lines parquet, in a
    background job: :func:`_file_products_job`), the database or Spark for a
    table (in the background job, like the invoice table). Prepared once per data version and
    rule set and stored beside the invoice table in the cache folder (a new process reads them
    without cleaning); held once per process. A page waits up to ``wait_s`` (default
    :data:`PAGE_WAIT_S`; the Products page, which asks again by itself, 1 s) for the job,
    then gets :class:`DataPreparing`."""
    info = registry.dataset_info(dataset_id)
    version = registry.dataset_version(dataset_id)
    flags = CleaningRules.from_flags(rules)
    key = ("products", dataset_id, version, rules)
    from_job = None
    if info.kind not in registry.TABLE_KINDS:
        with _store_lock:
            held = key in _store
        if not held:
            cleaned(dataset_id, rules)  # first: the lines parquet the job reads
            wait = PAGE_WAIT_S if wait_s is None else wait_s
            if _file_products_stored(dataset_id, flags):
                wait = max(wait, PAGE_WAIT_S)  # stored (by another worker): only a read
            from_job = _await_file_products(dataset_id, version, flags, wait)

    def build() -> pd.DataFrame:
        if info.kind in registry.TABLE_KINDS:
            return _prepare_table(dataset_id, version, flags, PRODUCTS, wait_s)
        if from_job is not None:
            return from_job
        return prepared_results.prepare_file_products(
            registry.source_path(info),
            flags,
            cache_dir=registry.cache_dir_for(info),
            column_map=dict(info.column_map) or None,
        )

    return _held(key, build)


def filtered_products(filters: Filters, wait_s: float | None = None) -> pd.DataFrame:
    """Product lines of the dataset, filtered like :func:`filtered_orders` (``wait_s``: see
    :func:`products`)."""
    lines = products(filters.dataset, filters.rules, wait_s)
    return cleaning.filter_transactions(lines, filters.start, filters.end, filters.countries)


def filtered_orders(filters: Filters) -> pd.DataFrame:
    """Invoice table of the dataset, filtered (in-process; cheap: ~50k rows at full scale)."""
    orders = cleaned(filters.dataset, filters.rules).orders
    return cleaning.filter_transactions(orders, filters.start, filters.end, filters.countries)
