"""The per-process store: each dataset is read and cleaned once per worker process and kept
(its ledger and invoice table; the raw lines are released), in a small LRU of datasets."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashapp.ingest import cleaning
from dashapp.ingest.loading import load_transactions
from dashapp.service import registry
from dashapp.service.filters import Filters

log = logging.getLogger(__name__)

#: Most datasets whose frames one process keeps in memory (least recently used dropped).
MAX_DATASETS_IN_MEMORY = 3


@dataclass(frozen=True)
class CleanData:
    """What stays in memory per dataset and rule set: the ledger and the invoice table.
    ``lines`` (the cleaned lines) is None in the store."""

    lines: pd.DataFrame | None
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


def release_memory() -> None:
    """Return freed memory to the operating system after a large load (pyarrow's pool and,
    on glibc, malloc's arenas keep it otherwise: ~100 MB per worker at full scale)."""
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _load(dataset_id: str, version: str) -> pd.DataFrame:
    info = registry.dataset_info(dataset_id)
    log.info("loading dataset %s (%s)", dataset_id, version)
    return load_transactions(
        registry.source_path(info),
        cache_dir=registry.cache_dir_for(info),  # None when unusable: no parquet copy
        column_map=dict(info.column_map) or None,
    )


def transactions(dataset_id: str) -> pd.DataFrame:
    """Canonical raw lines of a dataset (loaded once per process and kept)."""
    version = registry.dataset_version(dataset_id)
    return _held(("lines", dataset_id, version), lambda: _load(dataset_id, version))


def cleaned(dataset_id: str, rules: str) -> CleanData:
    """Cleaned lines, ledger and invoice table for a dataset and rule flags (once per process)."""
    version = registry.dataset_version(dataset_id)

    def build() -> CleanData:
        key = ("lines", dataset_id, version)
        with _store_lock:
            raw = _store.get(key)
        if raw is None:  # read without holding the raw lines: pages only need the results
            raw = _load(dataset_id, version)
        lines, ledger = cleaning.clean(raw, cleaning.CleaningRules.from_flags(rules))
        del raw
        # Only the invoice table and the ledger stay in memory (~50k rows at full scale);
        # the 1M cleaned lines are dropped and their memory handed back to the system.
        data = CleanData(lines=None, ledger=ledger, orders=cleaning.invoice_table(lines))
        del lines
        release_memory()
        return data

    return _held(("clean", dataset_id, version, rules), build)


def filtered_orders(filters: Filters) -> pd.DataFrame:
    """Invoice table of the dataset, filtered (in-process; cheap: ~50k rows at full scale)."""
    orders = cleaned(filters.dataset, filters.rules).orders
    return cleaning.filter_transactions(orders, filters.start, filters.end, filters.countries)
