"""Production: the deployment files, gunicorn started from the Procfile's own command, a worker
that boots without reading data, /health, the results cache shared by two workers (Redis and
the file system) and never stale, mounting inside an existing Flask app under a prefix,
security headers and optional authentication.

Servers run as subprocesses on 127.0.0.1 (free ports), one per module and configuration. The
helpers here (``AppServer``, ``ServerCallbacks``, ``PORTAL_SOURCE``) are shared with
tests/test_bad_input.py and tests/browser/test_embedding.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.callback_client import date_key, state_key
from tests.conftest import ROOT as REPO
from tests.conftest import SHARED_DATA, redis_problem, require, require_file
from tests.servers import (
    PORTAL_PREFIX,
    AppServer,
    Reply,
    ServerCallbacks,
    flat_text,
    free_port,
    procfile_command,
    start_servers,
    stop_servers,
    write_portal,
)

FULL_CSV = Path("/tmp/or2_full.csv")
REDIS_DB = 14


def rfm_kpi_text(reply: Reply) -> str:
    assert reply.status == 200, reply.text[:300]
    return flat_text(reply.json()["response"]["rfm-kpis"])


# ------------------------------------------------------------------------------------------
# Deployment files
# ------------------------------------------------------------------------------------------
def test_procfile_runs_gunicorn_on_the_module_level_server():
    command = procfile_command()
    argv = shlex.split(command)
    assert argv[:2] == ["gunicorn", "dashapp.wsgi:server"]
    assert "--bind 0.0.0.0:${PORT" in command
    assert "--workers ${WEB_CONCURRENCY" in command
    for option in (
        "--worker-class gthread",
        "--threads",
        "--timeout",
        "--graceful-timeout",
        "--max-requests",
        "--no-control-socket",
    ):
        assert option in command, option
    # recycling bound chosen from the measured memory growth (docs/benchmarks.md, "Worker
    # recycling"): at 100 requests/s a bound of 2000 restarted each worker every ~40 s
    recycle = int(re.search(r"--max-requests (\d+)", command)[1])
    jitter = int(re.search(r"--max-requests-jitter (\d+)", command)[1])
    assert recycle >= 20000 and jitter == recycle // 10
    readme = (REPO / "README.md").read_text()
    assert f"| `--max-requests`, `--max-requests-jitter` | {recycle}, {jitter} |" in readme
    source = (REPO / "dashapp" / "wsgi.py").read_text()
    assert re.search(r"^server = ", source, re.M), "gunicorn needs a module-level `server`"


def test_render_blueprint_uses_the_same_command_and_a_health_check():
    text = (REPO / "render.yaml").read_text()
    start = re.search(r"^\s+startCommand:\s*(.+)$", text, re.M)
    assert start and start[1].strip().strip('"').strip("'") == procfile_command()
    assert re.search(r"^\s+healthCheckPath:\s*/health\s*$", text, re.M)
    assert re.search(r"^\s+runtime:\s*python\s*$", text, re.M)
    assert "REDIS_URL" in text and "keyvalue" in text


def test_python_version_file_matches_the_tested_interpreter():
    version = (REPO / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version), "major.minor form: both Heroku and Render read it"
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert not (REPO / "runtime.txt").exists(), "runtime.txt is deprecated on Heroku"


def test_every_environment_variable_is_in_the_readme_table():
    source = (REPO / "dashapp" / "config.py").read_text()
    names = set(re.findall(r'env\.get\("([A-Z_]+)"', source))
    names |= set(re.findall(r'_env_int\(env, "([A-Z_]+)"', source))
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", table))
    assert names, "no variables found in config.py"
    assert names <= documented, f"not in the README table: {sorted(names - documented)}"
    for name in ("WEB_CONCURRENCY", "PORT"):
        assert name in documented


def test_invalid_configuration_stops_at_start_up():
    from dashapp.config import Settings

    bad = [
        {"AUTH_MODE": "basci"},
        {"AUTH_MODE": "basic", "BASIC_AUTH_USERNAME": "ana"},
        {"AUTH_HEADER": "X-User: admin"},
        {"FRAME_ANCESTORS": "https://portal.example.com; script-src *"},
        {"FRAME_ANCESTORS": "'none' https://portal.example.com"},
        {"URL_PREFIX": "/analytics/../etc/"},
        {"CACHE_TYPE": "redis"},  # flask-caching 2.5 removed the lowercase names
        {"LOG_LEVEL": "LOUD"},
        {"MAX_UPLOAD_MB": "0"},
        {"MAX_UPLOAD_MB": "lots"},
    ]
    for env in bad:
        with pytest.raises(SystemExit) as info:
            Settings.from_env(env=env)
        assert next(iter(env)) in str(info.value) or "AUTH_MODE" in str(info.value), env
    ok = Settings.from_env(
        env={
            "FRAME_ANCESTORS": "self https://portal.example.com",
            "URL_PREFIX": "analytics/segments",
            "AUTH_MODE": "HEADER",
        }
    )
    assert ok.frame_ancestors == ("'self'", "https://portal.example.com")
    assert ok.url_prefix == "/analytics/segments/"
    assert ok.auth_mode == "header" and ok.auth_header == "X-Forwarded-User"
    assert "password" not in repr(
        Settings.from_env(
            env={
                "AUTH_MODE": "basic",
                "BASIC_AUTH_USERNAME": "u",
                "BASIC_AUTH_PASSWORD": "password",
            }
        )
    )


def test_cache_backend_follows_redis_url():
    from dashapp.config import Settings

    fs = Settings.from_env(env={"CACHE_DIR": "/srv/cache"}).cache_config()
    assert fs["CACHE_TYPE"] == "FileSystemCache" and fs["CACHE_DIR"] == "/srv/cache/results"
    redis_cfg = Settings.from_env(env={"REDIS_URL": "redis://cache:6379/2"}).cache_config()
    assert redis_cfg["CACHE_TYPE"] == "dashapp.service.caching.ResilientRedisCache"
    assert redis_cfg["CACHE_REDIS_URL"] == "redis://cache:6379/2"
    assert redis_cfg["CACHE_OPTIONS"]["socket_timeout"] > 0


# ------------------------------------------------------------------------------------------
# Boot and health
# ------------------------------------------------------------------------------------------
_BOOT_PROBE = """
import json, time
t0 = time.perf_counter()
import dashapp.wsgi as wsgi
imported = time.perf_counter() - t0
client = wsgi.server.test_client()
t1 = time.perf_counter()
reply = client.get("/health")
health = time.perf_counter() - t1
from dashapp.service import store
print(json.dumps({"import_s": imported, "health_s": health, "status": reply.status_code,
                  "body": reply.get_data(as_text=True), "held": len(store._store),
                  "server": type(wsgi.server).__name__}))
"""


def test_worker_boots_fast_and_health_reads_no_data(tmp_path):
    """Importing dashapp.wsgi with the full-scale dataset configured does no data work: the
    dataset loads on first use. Heroku kills a dyno that does not bind within 60 s."""
    data = (
        FULL_CSV
        if FULL_CSV.exists()
        else require_file(SHARED_DATA / "online_retail_II_sample.xlsx")
    )
    cache = tmp_path / "cache"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "DATA_PATH": str(data),
        "CACHE_DIR": str(cache),
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", _BOOT_PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["server"] == "Flask"
    assert probe["status"] == 200 and probe["body"] == "OK"
    assert probe["held"] == 0, "health must not load the dataset"
    assert not list(cache.rglob("*.parquet")), "nothing was read into the parquet cache"
    assert probe["import_s"] < 20, probe
    assert probe["health_s"] < 1, probe


# ------------------------------------------------------------------------------------------
# The results cache across workers
# ------------------------------------------------------------------------------------------
class RedisKeys:
    def __init__(self, url: str, prefix: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self.prefix = prefix

    def snapshot(self) -> dict[str, int]:
        """{key: remaining time to live in ms}: a key written again gets its full TTL back."""
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=1000))
        return {k.decode(): self.client.pttl(k) for k in keys}

    def rewritten(self, before: dict, after: dict) -> list[str]:
        return [k for k in before if k in after and after[k] > before[k]]

    def clear(self) -> None:
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=1000))
        if keys:
            self.client.delete(*keys)


class FileKeys:
    def __init__(self, folder: Path):
        self.folder = folder

    def snapshot(self) -> dict[str, int]:
        """{file: mtime in ns}: a result written again gets a new mtime."""
        return {
            p.name: p.stat().st_mtime_ns
            for p in self.folder.glob("*")
            if p.is_file() and not p.name.startswith("__")
        }

    def rewritten(self, before: dict, after: dict) -> list[str]:
        return [k for k in before if k in after and after[k] != before[k]]

    def clear(self) -> None:
        pass


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Every gunicorn this module uses, started at once (their boots overlap): two cache
    servers (2 workers on a copy of the real extract; results in Redis via REDIS_URL, or in
    the default file-system cache) and the portal (the app mounted in a Flask app under
    PORTAL_PREFIX, 1 worker, on the hostile-text corpus file)."""
    from tests.badinput.make_corpus import build

    made: dict[str, AppServer] = {}
    problems: dict[str, str] = {}
    sample = SHARED_DATA / "online_retail_II_sample.xlsx"
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    for backend in ("redis", "filesystem"):
        if not sample.exists():
            problems[backend] = f"reference data {sample} is absent"
            continue
        if backend == "redis" and (problem := redis_problem(redis_url)):
            problems[backend] = problem
            continue
        root = tmp_path_factory.mktemp(f"cache-{backend}")
        dataset = root / "data" / "retail.xlsx"
        dataset.parent.mkdir(parents=True)
        shutil.copyfile(sample, dataset)
        env = {"DATA_PATH": str(dataset), "WORKER_PID_HEADER": "1"}
        if backend == "redis":
            prefix = f"dashapp-test-{uuid.uuid4().hex[:12]}:"
            env.update(REDIS_URL=redis_url, CACHE_KEY_PREFIX=prefix)
            keys = RedisKeys(redis_url, prefix)
        else:
            keys = FileKeys(root / "cache" / "results")
        server = AppServer(root, env, workers=2)
        server.dataset, server.keys, server.backend = dataset, keys, backend
        made[backend] = server
    root = tmp_path_factory.mktemp("portal")
    ((_case, hostile),) = build(root / "data", names={"hostile_text.csv"})
    made["portal"] = AppServer(
        root,
        {"DATA_PATH": str(hostile)},
        workers=1,
        prefix=PORTAL_PREFIX,
        target="portal_app:server",
        chdir=write_portal(root / "portal"),
    )
    start_servers(*made.values())
    made["problems"] = problems
    yield made
    stop_servers(*(s for k, s in made.items() if k != "problems"))
    for backend in ("redis", "filesystem"):
        if backend in made:
            made[backend].keys.clear()


@pytest.fixture(scope="module", params=["redis", "filesystem"])
def cache_server(request, servers):
    if request.param not in servers:
        require(servers["problems"][request.param])
    return servers[request.param]


def _spread(
    server: AppServer, payload: dict, want_pids: int = 2, rounds: int = 15, width: int = 6
) -> list[Reply]:
    """Send ``payload`` in concurrent bursts until ``want_pids`` workers have answered."""
    replies: list[Reply] = []
    with ThreadPoolExecutor(width) as pool:
        for _ in range(rounds):
            replies += pool.map(
                lambda _: server.post_json("/_dash-update-component", payload), range(width)
            )
            if len({r.headers.get("x-worker-pid") for r in replies}) >= want_pids:
                break
    return replies


def _loads_per_pid(server: AppServer, dataset_id: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for pid in re.findall(
        rf"\[(\d+)\] dashapp\.service\.store: loading dataset {dataset_id} ", server.log()
    ):
        counts[int(pid)] = counts.get(int(pid), 0) + 1
    return counts


def test_a_result_computed_by_one_worker_is_served_by_the_other(cache_server):
    server = cache_server
    assert server.boot_seconds < 30, f"boot took {server.boot_seconds:.1f}s"
    callbacks = ServerCallbacks(server)
    values = {
        state_key("dataset"): "retail",
        date_key("start"): "2010-01-01",
        date_key("end"): "2010-12-31",
    }
    payload = callbacks.payload("rfm-kpis", values)
    first = server.post_json("/_dash-update-component", payload)
    assert first.status == 200, first.text[:500]
    owner = int(first.headers["x-worker-pid"])
    assert "customers scored" in rfm_kpi_text(first)
    stored = server.keys.snapshot()
    assert stored, f"{server.backend}: nothing was cached"

    replies = _spread(server, payload)
    pids = {int(r.headers["x-worker-pid"]) for r in replies}
    assert pids == server.worker_pids(), f"only {pids} answered"
    others = [r for r in replies if int(r.headers["x-worker-pid"]) != owner]
    assert others and all(r.status == 200 for r in replies)
    assert all(r.json() == first.json() for r in replies)

    after = server.keys.snapshot()
    assert set(after) == set(stored), "the other worker computed and stored new results"
    assert server.keys.rewritten(stored, after) == [], "a result was computed again"
    # only the first worker ever loaded the dataset: the other one served cached results
    assert _loads_per_pid(server, "retail") == {owner: 1}


def test_a_new_dataset_version_is_never_served_stale(cache_server):
    from tests.badinput.make_corpus import HEADER, _rows, _xlsx

    server = cache_server
    callbacks = ServerCallbacks(server)
    payload = callbacks.payload("rfm-kpis", {state_key("dataset"): "retail"})
    old = _spread(server, payload)
    assert {rfm_kpi_text(r) for r in old} and all(r.status == 200 for r in old)
    old_text = rfm_kpi_text(old[0])
    assert all(rfm_kpi_text(r) == old_text for r in old)
    keys_before = server.keys.snapshot()

    # a new version of the file: 25 customers instead of thousands (written atomically)
    new = server.dataset.with_name("retail.new.xlsx")
    new.write_bytes(_xlsx({"Sheet1": [HEADER] + _rows(n_customers=25, seed=7)}))
    os.replace(new, server.dataset)

    fresh = _spread(server, payload)
    assert len({r.headers["x-worker-pid"] for r in fresh}) == 2
    for reply in fresh:
        text = rfm_kpi_text(reply)
        assert text.startswith("25 customers scored"), text
    assert old_text != rfm_kpi_text(fresh[0])
    assert len(server.keys.snapshot()) > len(keys_before), "the new version has its own keys"


# ------------------------------------------------------------------------------------------
# Mounted inside an existing Flask app, under a prefix
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def portal(servers):
    return servers["portal"]


def test_the_portal_keeps_its_own_routes_and_policies(portal):
    home = portal.get("/")
    assert home.status == 200 and f"src='{PORTAL_PREFIX}'" in home.text
    assert "content-security-policy" not in home.headers, "the portal's pages are not ours"
    assert "x-frame-options" not in home.headers
    ping = portal.get("/api/ping")
    assert ping.status == 200 and ping.json() == {"ok": True}
    assert portal.get("/nowhere").status == 404


def test_everything_of_the_app_is_served_under_the_prefix(portal):
    index = portal.get(PORTAL_PREFIX)
    assert index.status == 200
    assert "frame-ancestors 'self'" in index.headers["content-security-policy"]
    config = json.loads(
        re.search(
            r'<script id="_dash-config" type="application/json">(.*?)'
            r"</script>",
            index.text,
            re.S,
        )[1]
    )
    assert config["url_base_pathname"] == PORTAL_PREFIX
    assert config["requests_pathname_prefix"] == PORTAL_PREFIX
    # every script and style sheet the page loads exists (assets, component suites)
    urls = re.findall(r'(?:src|href)="([^"]+)"', index.text)
    local = [u for u in urls if u.startswith("/")]
    assert any("/assets/" in u for u in local) and any("_dash-component-suites" in u for u in local)
    for url in local:
        assert url.startswith(PORTAL_PREFIX), url
        reply = portal.get(url)
        assert reply.status == 200, (url, reply.status)
        assert reply.headers.get("x-content-type-options") == "nosniff"
    assert portal.get(PORTAL_PREFIX + "health").text == "OK"
    assert portal.get("/health").status == 404  # only under the prefix
    # page links carry the prefix; pages and callbacks answer under it
    layout = portal.get(PORTAL_PREFIX + "_dash-layout").json()
    hrefs = re.findall(r'"href": "([^"]*)"', json.dumps(layout))
    assert hrefs and all(h.startswith(PORTAL_PREFIX) for h in hrefs), hrefs
    callbacks = ServerCallbacks(portal)
    for path, title in (
        ("", "Overview"),
        ("rfm", "RFM segments"),
        ("upload", "Your data"),
        ("docs", "Contents"),
    ):
        page = callbacks.page(PORTAL_PREFIX + path)
        assert page.status == 200 and title in flat_text(page.json()), path
    kpis = callbacks.call("overview-kpis", {state_key("dataset"): "hostile_text"})
    assert kpis.status == 200 and "Net revenue" in flat_text(kpis.json())
    assert "customers scored" in rfm_kpi_text(callbacks.call("rfm-kpis"))


# ------------------------------------------------------------------------------------------
# Security headers and authentication (in-process apps)
# ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def in_process_app(tmp_path, env: dict | None = None):
    """create_app() with settings from ``env`` (plus private folders); the service's global
    state is restored afterwards so other tests see their own configuration. A test using it
    asks for ``extract_app`` first: the session's app must be the process's first (it takes
    Dash's global callbacks, tests/conftest.py), also when this file runs before the others."""
    from dashapp import create_app, service
    from dashapp.config import Settings

    saved = (service.settings(), getattr(service.cache, "app", None))
    settings = Settings.from_env(
        env={
            "DATA_DIR": str(tmp_path / "data"),
            "CACHE_DIR": str(tmp_path / "cache"),
            "CACHE_TYPE": "SimpleCache",
            **(env or {}),
        }
    )
    try:
        yield create_app(settings)
    finally:
        service.configure(saved[0])
        if saved[1] is not None:
            service.cache.app = saved[1]
        elif hasattr(service.cache, "app"):
            del service.cache.app


@pytest.mark.usefixtures("extract_app")
def test_security_headers_and_frame_ancestors_from_configuration(tmp_path):
    with in_process_app(tmp_path) as app:
        reply = app.server.test_client().get("/")
        csp = reply.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in csp
        assert reply.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        script_src = re.search(r"script-src ([^;]+)", csp)[1].split()
        assert "'unsafe-inline'" not in script_src
        assert any(s.startswith("'sha256-") for s in script_src)
        assert "object-src 'none'" in csp
    with in_process_app(tmp_path, {"FRAME_ANCESTORS": "https://portal.example.com"}) as app:
        reply = app.server.test_client().get("/")
        assert (
            "frame-ancestors https://portal.example.com" in reply.headers["Content-Security-Policy"]
        )
        assert "X-Frame-Options" not in reply.headers  # it cannot name another origin
    with in_process_app(tmp_path, {"FRAME_ANCESTORS": "none"}) as app:
        reply = app.server.test_client().get("/")
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
        assert reply.headers["X-Frame-Options"] == "DENY"


def _basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.usefixtures("extract_app")
def test_basic_auth_protects_every_route_but_health(tmp_path):
    password = "pässwörd ✓ with spaces"
    env = {"AUTH_MODE": "basic", "BASIC_AUTH_USERNAME": "analyst", "BASIC_AUTH_PASSWORD": password}
    with in_process_app(tmp_path, env) as app:
        client = app.server.test_client()
        good = _basic("analyst", password)
        html = client.get("/", headers=good).get_data(as_text=True)
        assets = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if u.startswith("/")]
        assert any("/assets/" in u for u in assets)
        assert any("_dash-component-suites" in u for u in assets)
        routes = [
            "/",
            "/rfm",
            "/_dash-layout",
            "/_dash-dependencies",
            "/_favicon.ico",
            "/_reload-hash",
            *assets,
        ]
        wrong = [
            {},
            _basic("analyst", "wrong"),
            _basic("Analyst", password),
            _basic("analyst", password + "x"),
            {"Authorization": "Basic !!!notbase64"},
            {"Authorization": "Bearer abc"},
            {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        ]
        for route in routes:
            for headers in wrong:
                reply = client.get(route, headers=headers)
                assert reply.status_code == 401, (route, headers, reply.status_code)
                assert reply.headers["WWW-Authenticate"].startswith("Basic realm=")
                assert reply.headers["X-Content-Type-Options"] == "nosniff"
            assert client.get(route, headers=good).status_code == 200, route
        callback = client.post("/_dash-update-component", json={"output": "x"})
        assert callback.status_code == 401
        assert (
            client.post("/_dash-update-component", json={"output": "x"}, headers=good).status_code
            == 400
        )
        health = client.get("/health")
        assert health.status_code == 200 and health.get_data(as_text=True) == "OK"


@pytest.mark.usefixtures("extract_app")
def test_trusted_proxy_header_auth(tmp_path):
    env = {"AUTH_MODE": "header", "AUTH_HEADER": "X-Portal-User"}
    with in_process_app(tmp_path, env) as app:
        client = app.server.test_client()
        assert client.get("/").status_code == 403
        assert client.get("/", headers={"X-Portal-User": "  "}).status_code == 403
        assert client.get("/_dash-layout", headers={"X-Forwarded-User": "ana"}).status_code == 403
        assert client.get("/", headers={"X-Portal-User": "ana"}).status_code == 200
        assert client.get("/_dash-layout", headers={"X-Portal-User": "ana"}).status_code == 200
        assert client.get("/health").status_code == 200
    env = {**env, "AUTH_HEADER_VALUE": "s3cret-from-the-proxy"}
    with in_process_app(tmp_path, env) as app:
        client = app.server.test_client()
        assert client.get("/", headers={"X-Portal-User": "ana"}).status_code == 403
        ok = client.get("/", headers={"X-Portal-User": "s3cret-from-the-proxy"})
        assert ok.status_code == 200


@pytest.mark.usefixtures("extract_app")
def test_auth_is_off_by_default(tmp_path):
    with in_process_app(tmp_path) as app:
        client = app.server.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/_dash-layout").status_code == 200


@pytest.mark.usefixtures("extract_app")
def test_an_unreachable_redis_slows_the_app_down_but_never_breaks_it(tmp_path):
    """REDIS_URL pointing at nothing (an outage, a restart): every callback still answers,
    computing instead of reading the cache; the outage is logged."""
    from tests.badinput.make_corpus import build
    from tests.callback_client import CallbackClient

    ((_case, dataset),) = build(tmp_path / "data", names={"hostile_text.csv"})
    env = {
        "CACHE_TYPE": "",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DATA_PATH": str(dataset),
    }
    with in_process_app(tmp_path, env) as app:
        assert (
            type(
                app.server.extensions["cache"][next(iter(app.server.extensions["cache"]))]
            ).__name__
            == "ResilientRedisCache"
        )
        client = CallbackClient(app)
        for _ in range(2):
            reply = client.call("update_overview", {state_key("dataset"): "hostile_text"})
            assert reply.status_code == 200
            assert "Net revenue" in flat_text(reply.get_json())


def test_payload_checks_match_what_the_browser_sends():
    from dashapp.web.security import payload_problem

    dataset = '{"key":"dataset","kind":"state"}'
    callback_map = {
        "..a.children..": {
            "inputs": [
                {"id": dataset, "property": "value"},
                {"id": '{"key":["ALL"],"kind":"date"}', "property": "date"},
            ],
            "state": [{"id": dataset, "property": "options"}],
        }
    }
    ds = {"key": "dataset", "kind": "state"}
    good = {
        "output": "..a.children..",
        "changedPropIds": [f"{dataset}.value"],
        "inputs": [
            {"id": ds, "property": "value", "value": "retail"},
            [{"id": {"key": "start", "kind": "date"}, "property": "date", "value": "2011-01-01"}],
        ],
        "state": [{"id": ds, "property": "options", "value": [{"label": "x", "value": "x"}]}],
    }
    assert payload_problem(good, callback_map) is None
    assert payload_problem(
        {**good, "inputs": [{**good["inputs"][0], "value": ["x"]}, good["inputs"][1]]}, callback_map
    )
    bad_date = [[{"id": {"key": "start", "kind": "date"}, "property": "date", "value": 5}]]
    assert "must be text" in payload_problem(
        {**good, "inputs": [good["inputs"][0], *bad_date]}, callback_map
    )
    assert payload_problem({**good, "inputs": [good["inputs"][0], []]}, callback_map) is None
    # the browser leaves "value" out when a control has none (an empty date picker)
    no_value = [[{"id": {"key": "start", "kind": "date"}, "property": "date"}]]
    assert payload_problem({**good, "inputs": [good["inputs"][0], *no_value]}, callback_map) is None


@pytest.mark.usefixtures("extract_app")
def test_server_timing_reports_each_callbacks_time_when_asked(tmp_path):
    """SERVER_TIMING=1: every callback response says its time in the worker and its CPU
    (the browser benchmark splits a click's time with it); off by default, and pages,
    assets and the health check never carry it."""
    from tests.callback_client import CallbackClient

    def overview(app):
        calls = CallbackClient(app)
        body = calls.payload("update_overview", {date_key("start"): "2010-12-01"})
        return calls.client.post("/_dash-update-component", json=body)

    with in_process_app(tmp_path, {"SERVER_TIMING": "1"}) as app:
        reply = overview(app)
        assert reply.status_code == 200
        timing = re.fullmatch(
            r"app;dur=([0-9.]+), cpu;dur=([0-9.]+)", reply.headers["Server-Timing"]
        )
        assert timing, reply.headers["Server-Timing"]
        wall, cpu = float(timing[1]), float(timing[2])
        assert wall > 0 and cpu >= 0
        client = app.server.test_client()
        for route in ("/", "/health", "/_dash-layout"):
            assert "Server-Timing" not in client.get(route).headers, route
        bad = client.post("/_dash-update-component", json={"output": "nope"})
        assert bad.status_code >= 400 and "Server-Timing" in bad.headers  # refused, timed
    with in_process_app(tmp_path) as app:
        reply = overview(app)
        assert reply.status_code == 200 and "Server-Timing" not in reply.headers
