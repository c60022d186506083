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
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.callback_client import _outputs, date_key, state_key
from tests.plugin import IN_CI, SHARED_DATA, require_reference

REPO = Path(__file__).resolve().parents[1]
FULL_CSV = Path("/tmp/or2_full.csv")
PORTAL_PREFIX = "/analytics/segments/"
REDIS_DB = 14

#: A portal: an existing Flask application with its own routes that mounts the Dash app under a
#: prefix with ``create_app(server=..., prefix=...)``. ``/`` frames the app; ``/cross?origin=``
#: frames it from another origin (for frame-ancestors checks). Written to a temp folder and
#: served by gunicorn as ``portal_app:server``.
PORTAL_SOURCE = textwrap.dedent("""
    import html
    import os

    from flask import Flask, jsonify, request

    from dashapp import create_app

    PREFIX = os.environ.get("PORTAL_PREFIX", "/analytics/segments/")
    server = Flask("portal")


    def _page(src):
        return (
            "<!doctype html><html><head><title>Portal</title><link rel='icon' href='data:,'>"
            "</head><body>"
            "<h1 id='portal-title'>Portal</h1>"
            f"<iframe id='segments' src='{html.escape(src, quote=True)}' "
            "title='Customer segments' style='width:1360px;height:900px;border:0'></iframe>"
            "</body></html>"
        )


    @server.route("/")
    def home():
        return _page(PREFIX + request.args.get("page", ""))


    @server.route("/cross")
    def cross():
        origin = request.args.get("origin", "")
        if not origin.startswith(("http://127.0.0.1:", "http://localhost:")):
            return "loopback origins only", 400
        return _page(origin + PREFIX)


    @server.route("/api/ping")
    def ping():
        return jsonify(ok=True)


    dash_app = create_app(server=server, prefix=PREFIX)
""")


# ------------------------------------------------------------------------------------------
# Servers
# ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command() -> str:
    lines = [ln for ln in (REPO / "Procfile").read_text().splitlines() if ln.startswith("web:")]
    assert len(lines) == 1, "the Procfile needs exactly one web process"
    return lines[0][len("web:") :].strip()


def procfile_argv(
    port: int, workers: int, target: str | None = None, host: str = "127.0.0.1"
) -> list[str]:
    """The Procfile's command as argv: ``${PORT:-..}`` and ``${WEB_CONCURRENCY:-..}`` expanded
    as the shell would, bound to a loopback address instead of 0.0.0.0, run with this
    interpreter's gunicorn."""
    values = {"PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m[1], m[2]), procfile_command())
    argv = shlex.split(command)
    assert argv[0] == "gunicorn"
    argv = [sys.executable, "-m", "gunicorn", *argv[1:]]
    i = argv.index("--bind")
    argv[i + 1] = f"{host}:{port}"
    if target:
        argv[argv.index("dashapp.wsgi:server")] = target
    return argv


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class AppServer:
    """gunicorn (the Procfile's command) in a subprocess with a private working directory,
    HOME, TMPDIR, data and cache folders under ``root`` (so a test can see every file the
    server writes); stopped by its own process group id."""

    def __init__(
        self,
        root: Path,
        env: dict | None = None,
        *,
        workers: int = 2,
        prefix: str = "/",
        target: str | None = None,
        chdir: Path | None = None,
    ):
        self.root = Path(root)
        self.port = free_port()
        self.prefix = prefix
        self.workers = workers
        self.log_path = self.root / "server.log"
        self.proc: subprocess.Popen | None = None
        self.boot_seconds: float | None = None
        for sub in ("home", "tmp", "data", "cache", "cwd"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "home"),
            "TMPDIR": str(self.root / "tmp"),
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "DATA_DIR": str(self.root / "data"),
            "CACHE_DIR": str(self.root / "cache"),
            "LOG_LEVEL": "INFO",
        }
        self.env = {**base, **(env or {})}
        self.argv = procfile_argv(self.port, workers, target)
        if chdir is not None:
            self.argv += ["--chdir", str(chdir)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self._t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.root / "cwd",
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 90) -> AppServer:
        """Until ``<prefix>health`` answers and every worker has booted."""
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if (
                    self.get(self.prefix + "health", timeout=2).status == 200
                    and len(self.worker_pids()) >= self.workers
                ):
                    self.boot_seconds = time.perf_counter() - self._t0
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy in {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> set[int]:
        import psutil

        try:
            return {c.pid for c in psutil.Process(self.proc.pid).children()}
        except psutil.NoSuchProcess:
            return set()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict | None = None,
        timeout: float = 60,
        host: str = "127.0.0.1",
    ) -> Reply:
        conn = http.client.HTTPConnection(host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post_json(self, path: str, payload, headers: dict | None = None, **kwargs) -> Reply:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            **kwargs,
        )


class ServerCallbacks:
    """Callback request bodies built from a running server's ``_dash-dependencies``, as the
    browser builds them (tests/callback_client.py does the same from an in-process app).
    Callbacks are addressed by the id of their first output; ``values`` maps
    ``"<id>.<prop>"`` (dict ids as sorted compact JSON: ``state_key``/``date_key``) to values."""

    def __init__(self, server: AppServer, headers: dict | None = None):
        self.server = server
        self.headers = headers or {}
        reply = server.get(server.prefix + "_dash-dependencies", headers=self.headers)
        assert reply.status == 200, reply.text[:300]
        self.by_output = {}
        for dep in reply.json():
            first = _outputs(dep["output"])[0]["id"]
            key = (
                first
                if isinstance(first, str)
                else json.dumps(first, sort_keys=True, separators=(",", ":"))
            )
            self.by_output.setdefault(key, dep)

    def payload(
        self, output_id: str, values: dict | None = None, changed: str | None = None
    ) -> dict:
        values = values or {}
        dep = self.by_output[output_id]

        def items(kind):
            out = []
            for d in dep.get(kind, []):
                key = f"{d['id']}.{d['property']}"
                if '["ALL"]' in d["id"]:  # pattern-matching: the browser sends a list
                    out.append(values.get(key, []))
                    continue
                out.append(
                    {
                        "id": json.loads(d["id"]) if d["id"].startswith("{") else d["id"],
                        "property": d["property"],
                        "value": values.get(key),
                    }
                )
            return out

        outputs = _outputs(dep["output"])
        first = dep["inputs"][0]
        return {
            "output": dep["output"],
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": items("inputs"),
            "state": items("state"),
            "changedPropIds": [changed or f"{first['id']}.{first['property']}"],
        }

    def call(
        self, output_id: str, values: dict | None = None, changed: str | None = None, **kwargs
    ) -> Reply:
        return self.server.post_json(
            self.server.prefix + "_dash-update-component",
            self.payload(output_id, values, changed),
            headers=self.headers,
            **kwargs,
        )

    def page(self, path: str, search: str = "") -> Reply:
        """What Dash Pages renders for ``path`` (the router callback the browser calls)."""
        return self.call(
            "_pages_content", {"_pages_location.pathname": path, "_pages_location.search": search}
        )


_NOT_TEXT = {
    "type",
    "namespace",
    "className",
    "class_name",
    "style",
    "id",
    "color",
    "href",
    "src",
    "config",
}


def flat_text(obj) -> str:
    """The text inside a JSON value (a Dash component tree, a callback response), joined by
    single spaces: component types, ids, classes and styles left out (for message checks)."""
    out: list[str] = []

    def walk(o):
        if isinstance(o, str):
            out.append(o)
        elif isinstance(o, dict):
            for k, v in o.items():
                if k not in _NOT_TEXT:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
        elif isinstance(o, int | float) and not isinstance(o, bool):
            out.append(str(o))

    walk(obj)
    return re.sub(r"\s+", " ", " ".join(out))


def start_servers(*servers: AppServer, timeout: float = 90) -> None:
    """Start several servers at once (their boots overlap), then wait for each."""
    for s in servers:
        s.start()
    try:
        for s in servers:
            s.wait_ready(timeout)
    except Exception:
        for s in servers:
            s.stop()
        raise


def stop_servers(*servers: AppServer) -> None:
    """Stop several servers at once (each graceful stop takes ~1.5 s)."""
    for s in servers:
        if s.proc is not None and s.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.proc.pid, signal.SIGTERM)
    for s in servers:
        s.stop()


def write_portal(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "portal_app.py").write_text(PORTAL_SOURCE)
    return folder


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
        else require_reference(SHARED_DATA / "online_retail_II_sample.xlsx")
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


def _redis_problem(url: str) -> str | None:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 (any failure means: no usable Redis here)
        return f"Redis is not reachable at {url}: {exc}"
    return None


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
        if backend == "redis" and (problem := _redis_problem(redis_url)):
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
        reason = servers["problems"][request.param]
        if IN_CI:
            pytest.fail(reason + "; CI must have it")
        pytest.skip(reason)
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
    state is restored afterwards so other tests see their own configuration."""
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


def test_auth_is_off_by_default(tmp_path):
    with in_process_app(tmp_path) as app:
        client = app.server.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/_dash-layout").status_code == 200


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
