"""The results cache: memoized view functions, Redis that may fail, single flight.

Results are memoized with Flask-Caching under keys made of simple values only: dataset id,
dataset version (content fingerprint), filter values, rule flags and parameters, plus a hash
of the package's code. DataFrames are results, never keys. With a file-system or Redis cache
the results are shared by every worker; a new dataset version or a new deployment gets new
keys, so neither is ever served stale results.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from flask_caching import Cache
from flask_caching.backends.rediscache import RedisCache
from redis.exceptions import RedisError

from dashapp.service import registry
from dashapp.service.filters import Filters

log = logging.getLogger(__name__)

cache = Cache()
T = TypeVar("T")


#: Seconds between background probes of a Redis that failed (the breaker stays open meanwhile).
REDIS_PROBE_INTERVAL_S = 5.0


class ResilientRedisCache(RedisCache):
    """A RedisCache for which a failing Redis is a cache miss, not an error, and costs a
    request at most one short timeout (``REDIS_TIMEOUT``, 0.25 s), not one per request.

    Circuit breaker: the first command that fails (refused, reset, or no answer within
    ``REDIS_TIMEOUT``, as from a frozen or overloaded Redis) *opens* the breaker; while it is
    open every cache operation is answered as a miss at once without touching the network,
    and one background thread of this process pings Redis every ``REDIS_PROBE_INTERVAL_S``
    seconds. The first ping that answers closes the breaker and the cache is used again.
    Failures are logged at most once a minute; the recovery is logged too.
    ``Settings.cache_config`` selects this class for ``CACHE_TYPE=RedisCache``."""

    _last_warning = 0.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._open = False
        self._breaker_lock = threading.Lock()
        self.probe_interval = REDIS_PROBE_INTERVAL_S

    @property
    def breaker_open(self) -> bool:
        """True while Redis is skipped (after a failure, until a probe answers)."""
        return self._open

    @classmethod
    def _warn(cls, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - cls._last_warning > 60:
            cls._last_warning = now
            log.warning(
                "results cache unavailable (%s: %s); computing without it and probing Redis "
                "every %.0f s",
                operation,
                exc,
                REDIS_PROBE_INTERVAL_S,
            )

    def _trip(self, operation: str, exc: Exception) -> None:
        self._warn(operation, exc)
        with self._breaker_lock:
            if self._open:
                return
            self._open = True
        threading.Thread(target=self._probe, name="redis-probe", daemon=True).start()

    def _probe(self) -> None:
        """Ping Redis until it answers, then close the breaker (runs in its own thread)."""
        while True:
            time.sleep(self.probe_interval)
            try:
                self._read_client.ping()
                if self._write_client is not self._read_client:
                    self._write_client.ping()
            except RedisError:
                continue
            except Exception:  # noqa: BLE001 (a probe must never kill the breaker for good)
                log.exception("Redis probe failed unexpectedly")
                continue
            with self._breaker_lock:
                self._open = False
            log.warning("results cache available again (Redis answers)")
            return

    def _guarded(self, operation: str, default, call, *args):
        if self._open:
            return default
        try:
            return call(*args)
        except RedisError as exc:  # ConnectionError, TimeoutError, ...
            self._trip(operation, exc)
            return default

    def get(self, key):
        return self._guarded("get", None, super().get, key)

    def get_many(self, *keys):
        return self._guarded("get_many", [None] * len(keys), super().get_many, *keys)

    def has(self, key):
        return self._guarded("has", False, super().has, key)

    def set(self, key, value, timeout=None):
        return self._guarded("set", False, super().set, key, value, timeout)

    def add(self, key, value, timeout=None):
        return self._guarded("add", False, super().add, key, value, timeout)

    def set_many(self, mapping, timeout=None):
        return self._guarded("set_many", [], super().set_many, mapping, timeout)

    def delete(self, key):
        return self._guarded("delete", False, super().delete, key)

    def delete_many(self, *keys):
        return self._guarded("delete_many", [], super().delete_many, *keys)


#: Results kept per process when the file-system cache's folder is unusable.
FALLBACK_THRESHOLD = 64


def init_cache(server: Flask | None = None, config: dict | None = None) -> Cache:
    """Bind the results cache to a Flask server (a private one when none is given). A
    file-system cache whose folder is read-only, missing and not creatable, or full becomes
    a small in-process cache (logged): the app starts and serves, computing more."""
    server = server or Flask(__name__)
    config = dict(config or registry.settings().cache_config())
    if config.get("CACHE_TYPE") == "FileSystemCache" and config.get("CACHE_DIR"):
        from dashapp.ingest.storage import writable_folder

        if writable_folder(config["CACHE_DIR"], "results cache") is None:
            config = {
                "CACHE_TYPE": "SimpleCache",
                "CACHE_DEFAULT_TIMEOUT": config.get("CACHE_DEFAULT_TIMEOUT", 300),
                "CACHE_THRESHOLD": FALLBACK_THRESHOLD,
            }
    cache.init_app(server, config=config)
    return cache


_init_lock = threading.Lock()


def ensure_cache() -> None:
    """An in-process cache when no app bound one (scripts, tests, benchmarks); threads that
    ask at once get the same one."""
    if getattr(cache, "app", None) is None:  # flask-caching sets .app only in init_app
        with _init_lock:
            if getattr(cache, "app", None) is None:
                init_cache(config={"CACHE_TYPE": "SimpleCache"})


def _code_version() -> str:
    """Hash of the package's Python sources: part of every cache key, so a deployment of new
    code never serves results that old code cached (file-system and Redis caches outlive a
    restart)."""
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


CODE_VERSION = _code_version()


def versioned_name(name: str) -> str:
    return f"{name}@{CODE_VERSION}"


def memoize_plain(fn: Callable[..., T]) -> Callable[..., T]:
    """Memoize a function of simple arguments (ids, versions, dates, numbers, tuples);
    computed once however many threads ask at the same time (:func:`single_flight`)."""
    cached = cache.memoize(make_name=versioned_name)(fn)
    name = fn.__module__ + "." + fn.__qualname__

    @functools.wraps(fn)
    def call(*args: Any) -> T:
        ensure_cache()
        with single_flight((name, *args)):
            return cached(*args)

    return call


def memoized(fn: Callable[..., T]) -> Callable[..., T]:
    """Memoize ``fn(dataset, version, start, end, countries, rules, *params)`` and expose it
    as ``fn(filters, *params)``. The dataset version is looked up at call time, so a changed
    file gets new cache keys. The undecorated function stays reachable as ``.uncached``
    (benchmarks use it).

    Single flight: the callbacks of a page arrive together and ask for the same results (the
    CLV page's callbacks all need the same fitted model); the first thread computes a result,
    the others wait for it and read the cache, instead of fitting the same model concurrently
    on the same two cores."""
    cached = cache.memoize(make_name=versioned_name)(fn)
    name = fn.__module__ + "." + fn.__qualname__

    @functools.wraps(fn)
    def call(filters: Filters, *params: Any) -> T:
        ensure_cache()
        key = _key(filters)
        with single_flight((name, *key, *params)):
            return cached(*key, *params)

    def uncached(filters: Filters, *params: Any) -> T:
        return fn(*_key(filters), *params)

    call.uncached = uncached  # type: ignore[attr-defined]
    return call


def _key(filters: Filters) -> tuple:
    return (
        filters.dataset,
        registry.dataset_version(filters.dataset),
        filters.start,
        filters.end,
        filters.countries,
        filters.rules,
    )


_flights: dict[tuple, threading.Lock] = {}
_flights_lock = threading.Lock()
#: One heavy computation (clustering, its diagnostics) at a time per process. The engine runs
#: BLAS / OpenMP on one thread through threadpoolctl, whose limits are process-wide or
#: per-thread depending on the library: two computations overlapping in one process
#: (gunicorn gthread workers, or the page's callbacks arriving together) undo each other's
#: limits and oversubscribe the two cores, which was measured at 3-15x slower than running
#: them one after the other.
COMPUTE_LOCK = threading.Lock()


def single_flight(key: tuple) -> threading.Lock | contextlib.nullcontext:
    """One lock per result: the page's callbacks fire together and ask for the same
    result; the first computes it, the others wait and read the cache instead of computing
    it again on the same two cores. (A key that cannot be hashed gets no lock.)"""
    try:
        hash(key)
    except TypeError:
        return contextlib.nullcontext()
    with _flights_lock:
        if len(_flights) > 512:  # forget idle locks now and then (a holder keeps its own)
            _flights.clear()
        return _flights.setdefault(key, threading.Lock())
