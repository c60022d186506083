"""A frozen Redis (SIGSTOP: it accepts connections and never answers) costs the app one short
timeout, not one per request: the results cache opens its circuit breaker on the first
failure, answers every later operation as a miss without touching the network, probes Redis
in the background and uses it again once it answers.

Each test starts its own ``redis-server`` on a free port (it is frozen and thawed here, so it
cannot be the shared one on 6379).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
from flask import Flask

from tests.callback_client import state_key
from tests.conftest import require
from tests.integration.test_production import in_process_app
from tests.servers import flat_text, free_port


@pytest.fixture
def own_redis(tmp_path):
    """A private redis-server (no persistence) on a free port: yields (process, url)."""
    binary = shutil.which("redis-server")
    require(None if binary else "redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    for _ in range(100):
        with contextlib.suppress(redis.RedisError):
            if client.ping():
                break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the test's redis-server did not start")
    try:
        yield proc, url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


class PoolSpy:
    """Counts the Redis connections the cache takes from its pool, per thread."""

    def __init__(self, cache_backend):
        self.calls: list[str] = []
        pool = cache_backend._read_client.connection_pool
        original = pool.get_connection

        def counting(*args, **kwargs):
            self.calls.append(threading.current_thread().name)
            return original(*args, **kwargs)

        pool.get_connection = counting

    def from_thread(self, name: str) -> int:
        return sum(1 for c in self.calls if c == name)


def redis_backend(url: str):
    """The results cache's backend as the app configures it for REDIS_URL."""
    from flask_caching import Cache

    from dashapp.config import Settings

    config = Settings.from_env(env={"REDIS_URL": url}).cache_config()
    server = Flask("redis-outage")
    cache = Cache()
    cache.init_app(server, config=config)
    return cache.cache


def test_a_frozen_redis_costs_one_short_timeout_then_is_skipped_until_it_answers(own_redis):
    proc, url = own_redis
    backend = redis_backend(url)
    assert type(backend).__name__ == "ResilientRedisCache"
    backend.probe_interval = 0.2
    assert backend.set("k", "v") and backend.get("k") == "v"

    os.kill(proc.pid, signal.SIGSTOP)
    t0 = time.perf_counter()
    assert backend.get("k") is None  # a miss, not an error
    first = time.perf_counter() - t0
    assert first < 1.0, f"the first operation on a frozen Redis waited {first:.2f} s"
    assert backend.breaker_open

    spy = PoolSpy(backend)
    me = threading.current_thread().name
    t0 = time.perf_counter()
    for i in range(50):
        assert backend.get(f"k{i}") is None
        assert backend.set(f"k{i}", i) is False
        assert backend.get_many("a", "b") == [None, None]
    later = time.perf_counter() - t0
    assert spy.from_thread(me) == 0, "requests must not touch Redis while the breaker is open"
    assert later < 1.0, f"150 operations with the breaker open took {later:.2f} s"
    time.sleep(0.6)
    assert spy.from_thread("redis-probe") >= 1, "the breaker probes Redis in the background"
    assert backend.breaker_open, "a frozen Redis never answers the probe"

    os.kill(proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while backend.breaker_open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not backend.breaker_open, "the breaker closes once Redis answers again"
    assert backend.set("back", "yes") and backend.get("back") == "yes"
    assert spy.from_thread(me) >= 2


def test_pages_keep_answering_while_redis_is_frozen(tmp_path, own_redis):
    """Through the app: the Overview callback answers with its numbers before, during and
    after the freeze, and only the first callback of the freeze reaches the frozen Redis."""
    from tests.badinput.make_corpus import build
    from tests.callback_client import CallbackClient

    proc, url = own_redis
    ((_case, dataset),) = build(tmp_path / "data", names={"hostile_text.csv"})
    env = {"CACHE_TYPE": "", "REDIS_URL": url, "DATA_PATH": str(dataset)}
    with in_process_app(tmp_path, env) as app:
        backend = next(iter(app.server.extensions["cache"].values()))
        backend.probe_interval = 3600  # no probe during the test: only requests count
        client = CallbackClient(app)

        def overview() -> str:
            reply = client.call("update_overview", {state_key("dataset"): "hostile_text"})
            assert reply.status_code == 200
            text = flat_text(reply.get_json())
            assert "Net revenue" in text
            return text

        before = overview()
        spy = PoolSpy(backend)
        me = threading.current_thread().name
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            during = [overview() for _ in range(4)]
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert all(text == before for text in during)
        assert spy.from_thread(me) == 1, spy.calls
        assert backend.breaker_open
