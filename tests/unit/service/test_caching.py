"""The results cache: memoized views computed once however many threads ask at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from dashapp.service import Filters
from dashapp.service.caching import memoize_plain, memoized, single_flight

CALLS: list[tuple] = []
LOCK = threading.Lock()


@memoized
def _slow_view(dataset, version, start, end, countries, rules, k):
    with LOCK:
        CALLS.append((dataset, k))
    time.sleep(0.2)  # long enough for the other threads to arrive while it computes
    return {"dataset": dataset, "k": k, "id": len(CALLS)}


@memoize_plain
def _slow_plain(a, b):
    with LOCK:
        CALLS.append(("plain", a, b))
    time.sleep(0.2)
    return a + b


def test_concurrent_callers_of_one_result_share_one_computation(monkeypatch):
    monkeypatch.setattr("dashapp.service.registry.dataset_version", lambda dataset: "v1")
    CALLS.clear()
    filters = Filters.build(dataset="flight-test")
    with ThreadPoolExecutor(max_workers=6) as pool:
        same = list(pool.map(lambda _: _slow_view(filters, 3), range(6)))
    assert CALLS == [("flight-test", 3)]
    assert all(r == same[0] for r in same)
    # another parameter is another result: computed once too, in parallel with nothing else
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda k: _slow_view(filters, k), [4, 5, 4, 5]))
    assert sorted(CALLS[1:]) == [("flight-test", 4), ("flight-test", 5)]


def test_plain_memoized_functions_fly_single_too():
    CALLS.clear()
    with ThreadPoolExecutor(max_workers=4) as pool:
        out = list(pool.map(lambda _: _slow_plain(2, 3), range(4)))
    assert out == [5, 5, 5, 5] and CALLS == [("plain", 2, 3)]


def test_different_results_do_not_wait_for_each_other():
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda b: _slow_plain(100, b), [1, 2, 3]))
    assert time.perf_counter() - started < 0.5  # three 0.2 s computations side by side


def test_an_unhashable_key_gets_no_lock():
    with single_flight(("x", ["a list"])):
        pass
