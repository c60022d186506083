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


def prepare_table_now(dataset_id: str, rules: CleaningRules, timeout_s: float = PREPARE_TIMEOUT_S):
    """Clean a SQL or Spark dataset for ``rules`` and store the result in the cache folder,
    waiting as long as it takes (``python -m dashapp prepare``; the background job)."""
    version = registry.dataset_version(dataset_id)
    cache_dir = registry.cache_dir()
    src = registry.table_source(dataset_id)
    return prepared_results.prepared(
        version, rules, cache_dir, lambda: registry.table_call(src.clean, rules, timeout_s)
    )


def _run_preparation(dataset_id: str, version: str, rules: CleaningRules) -> tuple:
    cache_dir = registry.cache_dir()
    started = time.monotonic()
    try:
        while not prepared_results.claim(version, rules, cache_dir, PREPARE_TIMEOUT_S):
            hit = prepared_results.cached(version, rules, cache_dir)  # another worker prepares
            if hit is not None:
                return hit
            if time.monotonic() - started > PREPARE_TIMEOUT_S:
                raise DataLoadError("The data is still being prepared by another worker.")
            time.sleep(2.0)
        try:
            return prepare_table_now(dataset_id, rules)
        finally:
            prepared_results.release_claim(version, rules, cache_dir)
    finally:
        log.info(
            "prepared dataset %s (%s) in %.1f s", dataset_id, version, time.monotonic() - started
        )


def _prepare_table(dataset_id: str, version: str, rules: CleaningRules) -> tuple:
    """A table's invoice table and ledger: from the cache folder, else cleaned by its engine in
    a background job (one per data version and rule set, and one per host through a claim in
    the cache folder). A page waits up to :data:`PAGE_WAIT_S` for it, then says that the data
    is being prepared; the job goes on and the next request gets its result."""
    hit = prepared_results.cached(version, rules, registry.cache_dir())
    if hit is not None:
        return hit
    key = (dataset_id, version, rules)
    with _jobs_lock:
        if key not in _jobs:
            job = _preparer.submit(_run_preparation, dataset_id, version, rules)
            _jobs[key] = (job, time.monotonic())
        job, started = _jobs[key]
    try:
        return job.result(timeout=PAGE_WAIT_S)
    except FutureTimeout:
        waited = time.monotonic() - started
        label = registry.dataset_info(dataset_id).label
        raise DataLoadError(
            f"{label} is being prepared: its engine is cleaning the whole table, once per "
            f"version of the data (running for {waited:.0f} s). Reload this page in a minute. "
            "To have it ready before anyone opens the app, run `python -m dashapp prepare` "
            "after each load of the table."
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
        orders, ledger = _prepare(dataset_id, version, CleaningRules.from_flags(rules))
        return CleanData(ledger=ledger, orders=orders)

    return _held(("clean", dataset_id, version, rules), build)


def products(dataset_id: str, rules: str) -> pd.DataFrame:
    """The kept product lines of a file dataset (files, uploads, demo data), one row per
    (invoice, stock code), cleaned by the embedded engine with the same rules as the invoice
    table (:func:`dashapp.ingest.engine.clean_products`); once per process. A database or Spark
    table raises DataLoadError: its product lines are not prepared yet."""
    info = registry.dataset_info(dataset_id)
    if info.kind in registry.TABLE_KINDS:
        raise DataLoadError(
            f"{info.label} is a database or Spark table: product views read the product lines, "
            "which are prepared for files, uploads and the demo data only so far."
        )
    version = registry.dataset_version(dataset_id)

    def build() -> pd.DataFrame:
        from dashapp.ingest import engine
        from dashapp.ingest.engine import local

        try:
            return engine.clean_products(transactions(dataset_id), CleaningRules.from_flags(rules))
        finally:
            local.release()

    return _held(("products", dataset_id, version, rules), build)


def filtered_products(filters: Filters) -> pd.DataFrame:
    """Product lines of the dataset, filtered like :func:`filtered_orders`."""
    lines = products(filters.dataset, filters.rules)
    return cleaning.filter_transactions(lines, filters.start, filters.end, filters.countries)


def filtered_orders(filters: Filters) -> pd.DataFrame:
    """Invoice table of the dataset, filtered (in-process; cheap: ~50k rows at full scale)."""
    orders = cleaned(filters.dataset, filters.rules).orders
    return cleaning.filter_transactions(orders, filters.start, filters.end, filters.countries)
