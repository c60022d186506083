"""Load test: simulated users against gunicorn (the Procfile's command, 2 workers) on the
full-scale dataset, every page's callbacks with varied parameters.

    .venv/bin/python bench/load_test.py [--users 50] [--duration 60] [--workers 2]
                                        [--csv /tmp/or2_full.csv] [--redis URL] [--no-write]

What it does, reproducibly (``--seed``):

1. Generates ``/tmp/or2_full.csv`` (1,067,371 rows, 5,942 customers, seed 42) with
   ../shared/tools/gen_online_retail.py when it is missing.
2. Starts gunicorn with the Procfile's own command, bound to 127.0.0.1 on a free port, with
   fresh data and cache folders (the results cache starts empty: every first view computes;
   file-system cache, or Redis with ``--redis``).
3. Finds the callbacks from ``app.callback_map`` of an in-process app (CallbackClient): the
   Pages router (a page view renders its layout, filter bar included) and every callback that
   reads the shared filters, grouped by page; the controls of each page and their choices
   (options, numeric ranges, date ranges) come from the page layouts the server renders.
4. Runs N users, one thread and one keep-alive connection each, for D seconds. A user opens a
   page (router callback, then the page's callbacks that fire on load, as the browser sends
   them), then changes one control (a date range, countries, an as-of date, cut points, a
   model, k, ...) and, as the browser does since issue 14, only the callbacks whose inputs
   changed run (a paged grid asks for its first block when any of its inputs changed; a
   visual switch sends nothing); a panel computed on demand (clustering diagnostics, CLV
   holdout check) is opened on one page view in five and then follows the changes like the
   page's other callbacks; 3-10 s of think time (``--think``) between
   interactions, as a person reads the charts before the next change. Parameters
   are drawn so that views repeat across users the way real users share common views
   (defaults most often), which is what the shared results cache is for.
5. Reports requests/s, p50/p95/p99/max latency, errors (HTTP status other than 200/204,
   timeouts after 30 s (Heroku's router limit), connection errors, and callbacks that answered
   with the app's generic error message), per-callback latency, and the peak resident memory
   (VmHWM from /proc/<pid>/status) of every gunicorn worker. The table goes to stdout and,
   unless ``--no-write``, to the "Load test" section of docs/benchmarks.md.

Only loopback addresses; bounded in time (and ``--max-requests``); stops by itself and stops
the server it started.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCHMARKS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Load test"
GENERIC_ERROR = "Something went wrong"
REQUEST_TIMEOUT = 30.0
FILTER_IDS = (
    '{"key":"dataset","kind":"state"}',
    '{"key":"start","kind":"date"}',
    '{"key":"end","kind":"date"}',
    '{"key":"countries","kind":"state"}',
)
ROUTER = "_pages_content"


# ------------------------------------------------------------------------------------------
# Server
# ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_argv(port: int, workers: int, recycle: int | None = None) -> list[str]:
    """The Procfile's command on ``port``; ``recycle`` replaces its ``--max-requests`` (0:
    workers are never recycled) and sets the jitter to a tenth of it."""
    line = next(ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith("web:"))
    values = {"PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m[1], m[2]), line[4:])
    argv = shlex.split(command)
    argv = [sys.executable, "-m", "gunicorn", *argv[1:]]
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    if recycle is not None:
        argv[argv.index("--max-requests") + 1] = str(recycle)
        argv[argv.index("--max-requests-jitter") + 1] = str(recycle // 10)
    return argv


class Server:
    def __init__(self, csv: Path, workers: int, redis_url: str | None, recycle: int | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="dashapp-load-"))
        self.port = free_port()
        self.workers = workers
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.root),
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "DATA_PATH": str(csv),
            "DATA_DIR": str(self.root / "data"),
            "CACHE_DIR": str(self.root / "cache"),
            "LOG_LEVEL": "WARNING",
            "TMPDIR": str(self.root),
        }
        if redis_url:
            env.update(REDIS_URL=redis_url, CACHE_KEY_PREFIX=f"dashapp-load-{os.getpid()}:")
        self.redis_url, self.key_prefix = redis_url, env.get("CACHE_KEY_PREFIX")
        self.argv = procfile_argv(self.port, workers, recycle)
        self.log = open(self.root / "server.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started = time.perf_counter()

    def wait_ready(self, timeout: float = 90) -> float:
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{(self.root / 'server.log').read_text()}")
            with contextlib.suppress(OSError):
                status, _, _ = request(self.port, "GET", "/health", timeout=2)
                if status == 200 and len(self.worker_pids()) >= self.workers:
                    return time.perf_counter() - self.started
            time.sleep(0.1)
        self.stop()
        raise SystemExit("gunicorn did not become healthy")

    def worker_pids(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def causes(self) -> dict[str, int]:
        """Server-side causes of failed callbacks: the last exception line of each traceback
        the app's error handler logged, and Flask's unhandled exceptions."""
        try:
            log = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return {}
        counts: dict[str, int] = defaultdict(int)
        for block in log.split("callback failed")[1:]:
            block = re.split(r"^(?:\d{4}-\d\d-\d\d |\[\d{4}|127\.0\.0\.1 - )", block, flags=re.M)[0]
            last = re.findall(r"^((?:[\w.]+\.)?\w+(?:Error|Exception)): (.*)$", block, re.M)
            if last:
                counts[f"{last[-1][0]}: {last[-1][1][:120]}"] += 1
        for line in re.findall(r"Exception on (\S+ \[\w+\])", log):
            counts[f"unhandled exception on {line}"] += 1
        return dict(counts)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        if self.redis_url:
            with contextlib.suppress(Exception):
                import redis

                client = redis.Redis.from_url(self.redis_url)
                keys = list(client.scan_iter(match=self.key_prefix + "*", count=1000))
                if keys:
                    client.delete(*keys)
        shutil.rmtree(self.root, ignore_errors=True)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    conn: http.client.HTTPConnection | None = None,
    timeout: float = REQUEST_TIMEOUT,
):
    """(status, headers, body); reuses ``conn`` (keep-alive) when given."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        if own:
            conn.close()


def vm_hwm_mb(pid: int) -> float | None:
    """Peak resident set size of a process (VmHWM), in MB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
    return int(m[1]) / 1024 if m else None


def vm_rss_mb(pid: int) -> float | None:
    """Current resident set size of a process (VmRSS), in MB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m[1]) / 1024 if m else None


def _ms(sorted_latencies: list[float], quantile: float) -> str:
    if not sorted_latencies:
        return "-"
    i = min(len(sorted_latencies) - 1, int(quantile * len(sorted_latencies)))
    return f"{sorted_latencies[i] * 1000:.0f} ms"


def timeline(results, samples, started: float, bucket: float) -> str:
    """Per ``bucket`` seconds: requests, p50/p95/max latency, worker restarts (new worker
    pids) and the workers' resident memory (``samples``: (time, {pid: MB}))."""
    lines = [
        "| from s | requests | p50 | p95 | max | workers started | worker RSS (MB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    seen: set[int] = set(samples[0][1]) if samples else set()
    end = max((r[3] for r in results), default=started)
    t = started
    while t < end:
        inside = sorted(r[1] for r in results if t <= r[3] < t + bucket)
        snap = [m for ts, m in samples if t <= ts < t + bucket]
        new = {pid for m in snap for pid in m} - seen
        seen |= new
        rss = snap[-1] if snap else {}
        lines.append(
            f"| {t - started:.0f} | {len(inside)} | {_ms(inside, 0.5)} | {_ms(inside, 0.95)} | "
            f"{(inside[-1] * 1000 if inside else 0):.0f} ms | {len(new)} | "
            + ", ".join(f"{v:.0f}" for v in rss.values())
            + " |"
        )
        t += bucket
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# The app's callbacks and controls
# ------------------------------------------------------------------------------------------
class Catalog:
    """Callbacks by page, with the controls they read and the choices each control offers."""

    def __init__(self, port: int, csv: Path):
        from dashapp import create_app
        from dashapp.config import Settings
        from tests.callback_client import CallbackClient

        self.port = port
        scratch = Path(tempfile.mkdtemp(prefix="dashapp-load-catalog-"))
        settings = Settings.from_env(
            env={
                "DATA_PATH": str(csv),
                "CACHE_TYPE": "NullCache",
                "DATA_DIR": str(scratch),
                "CACHE_DIR": str(scratch),
            }
        )
        app = create_app(settings)  # the same code as the server: only for callback_map
        self.client = CallbackClient(app)
        shutil.rmtree(scratch, ignore_errors=True)
        self.dataset = csv.stem
        layout = json.loads(request(port, "GET", "/_dash-layout")[2])
        self.paths = sorted(set(re.findall(r'"href": "(/[^"?#]*)', json.dumps(layout))) | {"/"})
        self.controls: dict[str, dict] = {}  # "<id>.<prop>" -> {"default", "choices"}
        self.page_callbacks: dict[str, list[str]] = {}
        outputs_on_page: dict[str, set[str]] = {}
        for path in self.paths:
            page = self.page_payload(path, "")
            status, _, body = request(
                port, "POST", "/_dash-update-component", json.dumps(page).encode()
            )
            if status != 200:
                raise SystemExit(f"page {path}: HTTP {status}")
            ids: set[str] = set()
            self._walk(json.loads(body), ids)
            outputs_on_page[path] = ids
        for name, (output, entry) in self.client.by_name.items():
            deps = entry.get("inputs", []) + entry.get("state", [])
            if not any(d["id"] in FILTER_IDS for d in deps):
                continue
            first = output.strip(".").split("...")[0].rsplit(".", 1)[0]
            for path, ids in outputs_on_page.items():
                if first in ids:
                    self.page_callbacks.setdefault(path, []).append(name)
        self.pages = [p for p in self.paths if p in self.page_callbacks or p == "/docs"]

    def _walk(self, node, ids: set[str]) -> None:
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and "id" in props:
                ident = props["id"]
                key = (
                    ident
                    if isinstance(ident, str)
                    else json.dumps(ident, sort_keys=True, separators=(",", ":"))
                )
                ids.add(key)
                if isinstance(ident, dict) and ident.get("kind") in ("state", "date"):
                    self._control(key, node["type"], props)
            for value in node.values():
                self._walk(value, ids)
        elif isinstance(node, list):
            for value in node:
                self._walk(value, ids)

    def _control(self, key: str, kind: str, props: dict) -> None:
        prop = "date" if '"kind":"date"' in key else "value"
        choices: list = []
        if isinstance(props.get("options"), list):
            for o in props["options"]:
                choices.append(o.get("value") if isinstance(o, dict) else o)
        elif kind == "Input" and props.get("type") == "number":
            lo, hi = props.get("min"), props.get("max")
            default = props.get("value")
            if isinstance(lo, int | float) and isinstance(hi, int | float) and hi > lo:
                step = props.get("step")
                if not isinstance(step, int | float) or step <= 0:
                    step = max((hi - lo) / 10, 1)
                n = min(int((hi - lo) / step) + 1, 12)
                choices = sorted(
                    {round(lo + i * step, 6) for i in range(n)}
                    | ({default} if isinstance(default, int | float) else set())
                )
        elif kind in ("DatePickerSingle", "DatePickerRange"):
            lo, hi = props.get("min_date_allowed"), props.get("max_date_allowed")
            if lo and hi:
                choices = ["date-range", lo, hi]
        elif kind == "Slider":
            lo, hi = props.get("min"), props.get("max")
            if isinstance(lo, int | float) and isinstance(hi, int | float):
                step = props.get("step") if isinstance(props.get("step"), int | float) else 1
                choices = list(range(int(lo), int(hi) + 1, max(int(step), 1)))[:12]
        self.controls.setdefault(
            f"{key}.{prop}", {"default": props.get(prop), "choices": choices, "type": kind}
        )

    def page_payload(self, path: str, search: str) -> dict:
        return self.client.payload(
            "update", {"_pages_location.pathname": path, "_pages_location.search": search}
        )


# ------------------------------------------------------------------------------------------
# Simulated users
# ------------------------------------------------------------------------------------------
CUTS = {  # plausible custom RFM cut points (the text inputs have no choices in the layout)
    "r_cuts": ["14,30,90,180", "30,60,120,240", ""],
    "f_cuts": ["2,3,5,10", "1,2,4,8", ""],
    "m_cuts": ["250,500,1000,3000", "100,300,900,2700", ""],
}
PAGE_WEIGHTS = {"/": 3, "/rfm": 3, "/clv": 2, "/cohorts": 2, "/clustering": 2, "/docs": 1}
#: The first block a paged grid (AG Grid's infinite row model) asks for.
FIRST_BLOCK = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
#: Share of page views where the user opens a panel computed on demand.
PANEL_SHARE = 0.2


def _keys(deps: list[dict]) -> set[str]:
    return {f"{d['id']}.{d['property']}" for d in deps}


def triggers(entry: dict) -> tuple[str, set[str]]:
    """How the browser fires a callback: ``("grid", keys)`` (a paged grid's rows: asked for
    on load and again when one of ``keys`` changes), ``("panel", keys)`` (behind a request
    store that a panel's gate fills while it is open: its states), ``("click", set())``
    (a button) or ``("input", keys)`` (its inputs)."""
    inputs, states = entry.get("inputs", []), entry.get("state", [])
    if any(d["property"] == "getRowsRequest" for d in inputs):
        return "grid", _keys(states)
    if any(d["property"] == "n_clicks" for d in inputs):
        return "click", set()
    if any(str(d["id"]).endswith("-request") for d in inputs):
        return "panel", _keys(states)
    return "input", _keys(inputs)


class User(threading.Thread):
    def __init__(
        self,
        n: int,
        catalog: Catalog,
        stop_at: float,
        seed: int,
        results: list,
        budget: threading.Semaphore,
        bounds: dict,
        think: tuple[float, float],
    ):
        super().__init__(daemon=True, name=f"user-{n}")
        self.catalog, self.stop_at, self.results = catalog, stop_at, results
        self.think = think
        self.rng = random.Random(seed * 1000 + n)
        self.budget, self.bounds = budget, bounds
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        time.sleep(self.rng.uniform(0, self.think[1]))  # users arrive over the first seconds
        while time.perf_counter() < self.stop_at:
            pages = [p for p in self.catalog.pages if p in PAGE_WEIGHTS]
            page = self.rng.choices(pages, [PAGE_WEIGHTS[p] for p in pages])[0]
            values = self.view()
            panel = self.rng.random() < PANEL_SHARE
            self.open_page(page, values, panel)
            for _ in range(self.rng.randint(1, 3)):
                if time.perf_counter() >= self.stop_at:
                    break
                time.sleep(self.rng.uniform(*self.think))
                new = self.change_one(values, page)
                changed = {k for k in new if new[k] != values.get(k)}
                values = new
                self.run_page(page, values, panel, changed)
            time.sleep(self.rng.uniform(*self.think))
        if self.conn is not None:
            self.conn.close()

    # -- parameters -----------------------------------------------------------------------
    def _month(self) -> dt.date:
        first, last = self.bounds["start"], self.bounds["end"]
        months = (last.year - first.year) * 12 + last.month - first.month
        k = self.rng.randrange(months + 1)
        return dt.date(first.year + (first.month - 1 + k) // 12, (first.month - 1 + k) % 12 + 1, 1)

    def dates(self) -> tuple[str | None, str | None]:
        r = self.rng.random()
        if r < 0.5:
            return None, None
        start = self._month()
        if r < 0.7:
            return start.isoformat(), None
        end = start + dt.timedelta(days=self.rng.choice([30, 91, 182, 365]))
        if r < 0.75:  # a single day
            return start.isoformat(), start.isoformat()
        return start.isoformat(), min(end, self.bounds["end"]).isoformat()

    def countries(self) -> list[str] | None:
        r = self.rng.random()
        top = self.bounds["countries"][:6]
        if r < 0.6 or not top:
            return None
        if r < 0.9:
            return [self.rng.choice(top)]
        return sorted(self.rng.sample(top, 2))

    def view(self) -> dict:
        from tests.callback_client import date_key, state_key

        start, end = self.dates()
        values = {
            state_key("dataset"): self.catalog.dataset,
            date_key("start"): start,
            date_key("end"): end,
            state_key("countries"): self.countries(),
        }
        for key, control in self.catalog.controls.items():
            if key.split(".")[0] in FILTER_IDS:
                continue
            values[key] = control["default"]
        return values

    def change_one(self, values: dict, page: str) -> dict:
        from tests.callback_client import date_key, state_key

        values = dict(values)
        names = self.catalog.page_callbacks.get(page, [])
        keys = {
            f"{d['id']}.{d['property']}"
            for n in names
            for d in self.catalog.client.by_name[n][1].get("inputs", [])
        }
        own = [k for k in keys if k in self.catalog.controls and k.split(".")[0] not in FILTER_IDS]
        r = self.rng.random()
        if r < 0.3 or not own:
            values[date_key("start")], values[date_key("end")] = self.dates()
        elif r < 0.45:
            values[state_key("countries")] = self.countries()
        else:
            key = self.rng.choice(own)
            control = self.catalog.controls[key]
            short = json.loads(key.rsplit(".", 1)[0]).get("key")
            if short in CUTS:
                values[key] = self.rng.choice(CUTS[short])
            elif control["choices"] and control["choices"][0] == "date-range":
                values[key] = self._month().isoformat() if self.rng.random() < 0.7 else None
            elif control["choices"]:
                values[key] = self.rng.choice(control["choices"])
        return values

    # -- requests ---------------------------------------------------------------------------
    def post(self, name: str, payload: dict) -> None:
        if not self.budget.acquire(blocking=False):
            self.stop_at = 0  # the request cap is reached
            return
        body = json.dumps(payload).encode()
        t0 = time.perf_counter()
        error = None
        try:
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.catalog.port, timeout=REQUEST_TIMEOUT
                )
            try:
                status, _, data = request(
                    self.catalog.port, "POST", "/_dash-update-component", body, conn=self.conn
                )
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                if not reused:
                    raise
                # the server closed this idle keep-alive connection (a worker recycled by
                # --max-requests, or the keep-alive timeout): like a browser, send the request
                # again once on a new connection
                self.conn.close()
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.catalog.port, timeout=REQUEST_TIMEOUT
                )
                status, _, data = request(
                    self.catalog.port, "POST", "/_dash-update-component", body, conn=self.conn
                )
            if status not in (200, 204):
                error = f"HTTP {status}"
            elif status == 200 and GENERIC_ERROR.encode() in data:
                error = "generic error message"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        self.results.append((name, time.perf_counter() - t0, error, t0))

    def open_page(self, page: str, values: dict, panel: bool = False) -> None:
        from urllib.parse import urlencode

        search = {
            k.split('"key":"')[1].split('"')[0]: v
            for k, v in values.items()
            if '"key":"' in k and v not in (None, "", [])
        }
        query = (
            "?"
            + urlencode({k: ",".join(v) if isinstance(v, list) else v for k, v in search.items()})
            if search
            else ""
        )
        self.post("page view (router)", self.catalog.page_payload(page, query))
        self.run_page(page, values, panel)

    def run_page(
        self, page: str, values: dict, panel: bool = False, changed: set[str] | None = None
    ) -> None:
        """The requests the browser sends for a page's callbacks: on load (``changed`` None)
        or after the controls ``changed`` changed."""
        for name in self.catalog.page_callbacks.get(page, []):
            entry = self.catalog.client.by_name[name][1]
            kind, keys = triggers(entry)
            if kind == "panel" and not panel:
                continue
            if kind == "input" and changed is None and entry.get("prevent_initial_call"):
                continue
            if kind != "click" and changed is not None and not keys & changed:
                continue
            if kind == "grid":
                grid = {f"{d['id']}.{d['property']}": FIRST_BLOCK for d in entry["inputs"]}
                self.post(name, self.catalog.client.payload(name, {**values, **grid}))
                continue
            if kind == "click":
                if changed is not None:
                    continue
                if self.rng.random() > 0.1:  # one view in ten exports its table
                    continue
                clicks = {
                    f"{d['id']}.{d['property']}": 1
                    for d in self.catalog.client.by_name[name][1]["inputs"]
                    if d["property"] == "n_clicks"
                }
                self.post(name, self.catalog.client.payload(name, {**values, **clicks}))
                continue
            self.post(name, self.catalog.client.payload(name, values))


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def report(
    results, seconds: float, memory: dict[int, float], args, boot: float, machine: str
) -> str:
    latencies = [r[1] for r in results]
    errors = [r for r in results if r[2]]
    lines = [
        f"{args.users} users ({args.think[0]:g}-{args.think[1]:g} s think time) for "
        f"{seconds:.0f} s against gunicorn (Procfile command, "
        f"{args.workers} workers x 4 threads, {args.cache} results cache starting empty) on "
        f"`{args.csv.name}` ({args.rows}); {machine}; seed {args.seed}. Server ready "
        f"{boot:.1f} s after start. Command: `python bench/load_test.py --users {args.users} "
        f"--duration {args.duration:g} --workers {args.workers} "
        f"--think {args.think[0]:g}-{args.think[1]:g}"
        f"{' --redis ' + args.redis if args.redis else ''}`.",
        "",
        "| requests | requests/s | p50 | p95 | p99 | max | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {len(results):,} | {len(results) / seconds:.1f} | "
        f"{percentile(latencies, 0.50) * 1000:.0f} ms | {percentile(latencies, 0.95) * 1000:.0f} ms | "
        f"{percentile(latencies, 0.99) * 1000:.0f} ms | {max(latencies, default=0) * 1000:.0f} ms | "
        f"{len(errors)} |",
        "",
        "| callback | requests | p50 | p95 | max | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    by_name = defaultdict(list)
    for name, seconds_, error, _ in results:
        by_name[name].append((seconds_, error))
    for name in sorted(by_name, key=lambda n: -len(by_name[n])):
        times = [t for t, _ in by_name[name]]
        errs = sum(1 for _, e in by_name[name] if e)
        lines.append(
            f"| {name} | {len(times):,} | {percentile(times, 0.5) * 1000:.0f} ms | "
            f"{percentile(times, 0.95) * 1000:.0f} ms | {max(times) * 1000:.0f} ms | "
            f"{errs} |"
        )
    lines += ["", "| gunicorn worker (pid) | peak resident memory (VmHWM) |", "| --- | ---: |"]
    for pid, mb in sorted(memory.items()):
        lines.append(f"| {pid} | {mb:.0f} MB |")
    if errors:
        kinds = defaultdict(int)
        for name, _, error, _ in errors:
            kinds[f"{name}: {error}"] += 1
        lines += ["", "Errors: " + "; ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))]
    return "\n".join(lines)


def write_section(title: str, text: str, path: Path = BENCHMARKS) -> None:
    """Put this run under "### <title>" in the "Load test" section of docs/benchmarks.md,
    replacing an earlier run of the same title; other runs and other engineers' sections are
    left as they are."""
    intro = (
        "Simulated users against the production server (`bench/load_test.py`: user "
        "model, parameters and what counts as an error are in its docstring). Targets: "
        "0 errors, p95 <= 1 s. Each run starts gunicorn with the Procfile's command and "
        "an empty results cache."
    )
    run = f"### {title}\n\n{text}\n"
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    if SECTION not in current:
        current = current.rstrip("\n") + f"\n\n{SECTION}\n\n{intro}\n"
    start = current.index(SECTION)
    end = current.find("\n## ", start + len(SECTION))
    end = len(current) if end < 0 else end + 1
    section = current[start:end]
    heading = f"### {title}\n"
    if heading in section:
        a = section.index(heading)
        b = section.find("\n### ", a + len(heading))
        section = section[:a] + run + ("\n" + section[b + 1 :] if b >= 0 else "")
    else:
        section = section.rstrip("\n") + "\n\n" + run
    current = (
        current[:start]
        + section.rstrip("\n")
        + "\n"
        + ("\n" + current[end:] if end < len(current) else "")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(current)


def dataset_bounds(catalog: Catalog) -> dict:
    """First/last invoice day and countries (largest first), from the filter bar the server
    renders (its date pickers' limits and its country options)."""
    start = catalog.controls.get('{"key":"start","kind":"date"}.date', {}).get("choices") or []
    countries = catalog.controls.get('{"key":"countries","kind":"state"}.value', {})
    if len(start) != 3:
        raise SystemExit("the filter bar has no date limits: is the dataset loadable?")
    return {
        "start": dt.date.fromisoformat(start[1][:10]),
        "end": dt.date.fromisoformat(start[2][:10]),
        "countries": [c for c in countries.get("choices", []) if isinstance(c, str)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=Path("/tmp/or2_full.csv"))
    parser.add_argument("--redis", help="REDIS_URL for the results cache (loopback only)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--think",
        type=lambda t: tuple(float(x) for x in t.split("-")),
        default=(3.0, 10.0),
        metavar="MIN-MAX",
        help="seconds a user looks at a view before the next action (3-10)",
    )
    parser.add_argument("--max-requests", type=int, default=200_000, help="hard cap")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument(
        "--recycle",
        type=int,
        help="gunicorn --max-requests for this run (0: never recycle; jitter: a tenth)",
    )
    parser.add_argument(
        "--timeline", type=float, help="also print latency, restarts and memory per N seconds"
    )
    args = parser.parse_args(argv)
    if args.redis and not re.match(r"^rediss?://(127\.0\.0\.1|localhost)[:/]", args.redis):
        raise SystemExit("--redis must point at a loopback address")
    if not args.csv.exists():
        sys.path.insert(0, str(ROOT / "bench"))
        from common import generated_csv

        if args.csv != Path("/tmp/or2_full.csv"):
            raise SystemExit(f"{args.csv} does not exist")
        generated_csv("full")
    args.cache = "Redis" if args.redis else "file-system"
    with open(args.csv, "rb") as fh:
        rows = sum(1 for _ in fh) - 1
    args.rows = f"{rows:,} rows"

    load_before = os.getloadavg()[0]
    server = Server(args.csv, args.workers, args.redis, args.recycle)
    try:
        boot = server.wait_ready()
        print(
            f"gunicorn ready in {boot:.1f} s on 127.0.0.1:{server.port}; workers "
            f"{server.worker_pids()}",
            flush=True,
        )
        catalog = Catalog(server.port, args.csv)
        bounds = dataset_bounds(catalog)
        print(
            "pages and callbacks: "
            + "; ".join(f"{p}: {', '.join(n)}" for p, n in catalog.page_callbacks.items()),
            flush=True,
        )
        results: list = []
        budget = threading.Semaphore(args.max_requests)
        memory: dict[int, float] = {}
        started = time.perf_counter()
        stop_at = started + args.duration
        users = [
            User(i, catalog, stop_at, args.seed, results, budget, bounds, args.think)
            for i in range(args.users)
        ]
        for user in users:
            user.start()
        samples: list[tuple[float, dict[int, float]]] = []
        while any(u.is_alive() for u in users):
            rss = {}
            for pid in server.worker_pids():
                mb = vm_hwm_mb(pid)
                if mb is not None:
                    memory[pid] = max(memory.get(pid, 0.0), mb)
                now_mb = vm_rss_mb(pid)
                if now_mb is not None:
                    rss[pid] = now_mb
            samples.append((time.perf_counter(), rss))
            time.sleep(0.5)
            if time.perf_counter() > stop_at + REQUEST_TIMEOUT + 5:
                break  # a user stuck in a request: its socket times out on its own
        elapsed = min(time.perf_counter(), stop_at) - started
        for pid in server.worker_pids():
            mb = vm_hwm_mb(pid)
            if mb is not None:
                memory[pid] = max(memory.get(pid, 0.0), mb)
        measured = [r for r in results if r[3] < stop_at]
        import platform

        machine = (
            f"{os.cpu_count()} CPU cores (load average {load_before:.1f} before the "
            f"run, {os.getloadavg()[0]:.1f} at its end: other processes share them), "
            f"Python {platform.python_version()}, {dt.date.today().isoformat()}"
        )
        text = report(measured, elapsed, memory, args, boot, machine)
        if args.recycle is not None:
            text += f"\n\nWorkers recycled after --max-requests {args.recycle} (0: never)."
        if args.timeline:
            text += "\n\n" + timeline(measured, samples, started, args.timeline)
        causes = server.causes()
        if causes:
            text += "\n\nServer-side causes logged: " + "; ".join(
                f"{k} x{v}" for k, v in sorted(causes.items(), key=lambda kv: -kv[1])
            )
    finally:
        server.stop()
    print()
    print(text)
    if not args.no_write:
        title = (
            f"{args.users} users, {args.think[0]:g}-{args.think[1]:g} s think time, "
            f"{args.workers} workers, {args.cache} cache"
        )
        write_section(title, text)
        print(f"\nwritten to {BENCHMARKS.relative_to(ROOT)} ({SECTION} / {title})")
    latencies = [r[1] for r in measured]
    ok = not any(r[2] for r in measured) and percentile(latencies, 0.95) <= 1.0
    print("targets (0 errors, p95 <= 1 s):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
