"""Servers for the tests that need a real one: gunicorn started from the Procfile's own
command on a free port of 127.0.0.1, one subprocess per configuration, with helpers to call
its callbacks over HTTP the way the browser does and to read the text a user sees.

Used by tests/integration/test_production.py, test_bad_input.py and
tests/browser/test_embedding.py.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from tests.callback_client import _outputs
from tests.conftest import ROOT as REPO

PORTAL_PREFIX = "/analytics/segments/"


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
    ``"<id>.<prop>"`` (dict ids as sorted compact JSON: ``state_key``/``date_key``) to values.
    Like a browser, it keeps the session cookie the app sets (uploads belong to a session);
    ``cookies=False`` makes every request a stranger's."""

    def __init__(self, server: AppServer, headers: dict | None = None, cookies: bool = True):
        self.server = server
        self.headers = dict(headers or {})
        self.cookies = cookies
        reply = server.get(server.prefix + "_dash-dependencies", headers=self.headers)
        self.keep_cookie(reply)
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

    def keep_cookie(self, reply: Reply) -> None:
        cookie = reply.headers.get("set-cookie")
        if self.cookies and cookie:
            self.headers["Cookie"] = cookie.split(";", 1)[0]

    def call(
        self, output_id: str, values: dict | None = None, changed: str | None = None, **kwargs
    ) -> Reply:
        reply = self.server.post_json(
            self.server.prefix + "_dash-update-component",
            self.payload(output_id, values, changed),
            headers=self.headers,
            **kwargs,
        )
        self.keep_cookie(reply)
        return reply

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
            # a static block (dashapp.web.components.markup) is HTML: its text, each
            # element's text apart
            out.append(html.unescape(re.sub(r"<[^>]+>", " ", o)) if o.startswith("<") else o)
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
