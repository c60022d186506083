"""Browser benchmark: what a user waits for after each click, in headless Chromium
(Playwright) against gunicorn run as the Procfile runs it, on the generated 1M-row file.

Run (by hand; the machine should be otherwise idle)::

    python bench/bench_browser.py [--runs 5] [--src DIR] [--json out.json] [--only CLV ...]

``--src`` benchmarks another checkout of the app (e.g. ``git archive <commit> | tar -x -C
DIR`` for a before/after table); the default is this one. Needs Playwright's Python package
(requirements-dev.txt) and Debian's Chromium (``apt-get install chromium``); no browser is
downloaded.

For each interaction it measures, median of ``--runs``:

* **settled** (ms): from the input event (the click, the Enter key, the select's change) to
  the last callback response painted (two animation frames after it arrived) or, for changes
  made in the browser alone, to the view showing the change, whichever is later;
* **main-thread CPU** (ms): the CPU time of the page's main thread (Chrome's trace, the
  ``tdur`` of its top-level tasks) from the input event until settled, the figure least
  moved by other work on a shared machine (``--cpu``; tracing adds a few per cent);
* **requests**: callback requests (``/_dash-update-component``) the change sent, including
  the router's when the page is rendered again (``page re-renders``), and their **kB**.

``--json`` also keeps, per run, each request's start, response and paint after the input
(``timeline``) and its time in the worker and CPU there (``server``: the server is started with
``SERVER_TIMING=1`` and the page reads the ``Server-Timing`` header), which separate the
server's part of a click from the browser's.

*Uncached*: every run uses another date range (``end=``), so every result is computed, first
fit included. *Cached*: the same change repeated on the same range.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import generated_csv  # noqa: E402
from tests.conftest import CHROMIUM_FLAGS as BROWSER_FLAGS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = list(BROWSER_FLAGS)
LAST_DAY = dt.date(2011, 12, 9)  # the generated data end on this day

#: Records every callback request: output, start, response end, painted, bytes; the time of
#: the first input event after ``__arm()``; the time a "done" predicate first held.
RECORDER = r"""
(() => {
  window.__calls = []; window.__pending = 0; window.__t0 = null; window.__armed = false;
  const realFetch = window.fetch;
  window.fetch = function (url, options) {
    const promise = realFetch.apply(this, arguments);
    if (String(url).indexOf("_dash-update-component") < 0) return promise;
    let output = "";
    try { output = JSON.parse((options && options.body) || "{}").output; } catch (e) {}
    const call = {output: output, start: performance.now(), end: null, painted: null, bytes: 0,
                  server: null};
    window.__calls.push(call); window.__pending += 1;
    return promise.then((response) => {
      // the worker's wall and CPU ms (SERVER_TIMING=1): "app;dur=12.3, cpu;dur=8.1"
      const timing = response.headers.get("Server-Timing") || "";
      const dur = (key) => {
        const m = timing.match(new RegExp(key + ";dur=([0-9.]+)"));
        return m ? parseFloat(m[1]) : null;
      };
      call.server = [dur("app"), dur("cpu")];
      response.clone().text().then((text) => {
        call.bytes = text.length; call.end = performance.now(); window.__pending -= 1;
        requestAnimationFrame(() => requestAnimationFrame(() => {
          call.painted = performance.now();
        }));
      }, () => { window.__pending -= 1; });
      return response;
    }, (err) => { window.__pending -= 1; throw err; });
  };
  const mark = (ev) => {
    if (!window.__armed) return;
    if (ev.type === "keydown" && ev.key !== "Enter") return;
    window.__armed = false; window.__t0 = performance.now();
  };
  for (const type of ["mousedown", "keydown", "change"]) {
    window.addEventListener(type, mark, true);
  }
  window.__arm = (doneSource) => {
    window.__calls = []; window.__t0 = null; window.__done = null; window.__armed = true;
    const done = new Function("return (" + doneSource + ");");
    const poll = () => {
      let ok = false;
      try { ok = window.__t0 !== null && done(); } catch (e) {}
      if (ok) { window.__done = performance.now(); } else { requestAnimationFrame(poll); }
    };
    requestAnimationFrame(poll);
  };
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(src: Path, data: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn with the Procfile's options (2 gthread workers x 4 threads), a fresh
    file-system results cache."""
    port = _free_port()
    procfile = (src / "Procfile").read_text().split("web:", 1)[1].strip()
    args = procfile.replace("${PORT:-8050}", str(port)).replace("${WEB_CONCURRENCY:-2}", "2")
    args = args.replace("0.0.0.0", "127.0.0.1").replace("--access-logfile -", "").split()
    env = {
        **os.environ,
        "DATA_PATH": str(data),
        "DATA_DIR": str(tmp / "data"),
        "CACHE_DIR": str(tmp / "cache"),
        "LOG_LEVEL": "WARNING",
        "SERVER_TIMING": "1",  # each callback's worker time and CPU in its response
        "PYTHONPATH": str(src),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=src,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "gunicorn.log", "w"),  # noqa: SIM115 (lives as long as the server)
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start; see {tmp / 'gunicorn.log'}")


def _end(day_offset: int) -> str:
    return (LAST_DAY - dt.timedelta(days=day_offset)).isoformat()


def _settle(page, quiet: float = 0.8, timeout: float = 60) -> dict:
    """Wait until the change is shown, no request is pending and none started for
    ``quiet`` s; return settled time, requests and bytes."""
    end = time.time() + timeout
    seen, since = -1, time.time()
    while time.time() < end:
        state = page.evaluate(
            "[window.__calls.length, window.__pending, window.__done,"
            " window.__calls.every(c => c.end === null || c.painted !== null)]"
        )
        count, pending, done, painted = state
        if count != seen or pending or not painted:
            seen, since = count, time.time()
        elif done is not None and time.time() - since >= quiet:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the page did not settle")
    out = page.evaluate("({t0: window.__t0, done: window.__done, calls: window.__calls})")
    t0, calls = out["t0"], out["calls"]
    # a request that failed (network error, aborted) has no response or paint
    last = max([c["painted"] for c in calls if c["painted"] is not None] + [out["done"]])
    return {
        "settled_ms": last - t0,
        "requests": len(calls),
        "failed": sum(c["end"] is None for c in calls),
        "kb": sum(c["bytes"] for c in calls) / 1024,
        "rerenders": sum("_pages_content" in (c["output"] or "") for c in calls),
        "outputs": [c["output"] for c in calls],
        # where the time goes: each request's start, response and paint after the input,
        # and when the view showed the change (ms)
        "timeline": [
            [round(c[k] - t0) if c[k] is not None else None for k in ("start", "end", "painted")]
            for c in calls
        ],
        "done_ms": round(out["done"] - t0),
        # each request's time in the worker and its CPU (ms; None before SERVER_TIMING)
        "server": [c.get("server") for c in calls],
    }


def _load(page, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_function(ready, timeout=120_000)
    page.evaluate("window.__arm('true'); window.__armed = false; window.__t0 = 0;")
    _settle(page, quiet=1.0, timeout=120)


# --- interactions: (name, path, ready predicate, done predicate, action) ----------------------
def _date(page, key: str, value: str) -> None:
    box = page.locator(f'input[id=\'{{"key":"{key}","kind":"date"}}\']')
    box.fill(value)


def _enter(page, key: str, kind: str = "date") -> None:
    page.locator(f'input[id=\'{{"key":"{key}","kind":"{kind}"}}\']').press("Enter")


def _select(page, key: str, value: str) -> None:
    page.locator(f'select[id=\'{{"key":"{key}","kind":"state"}}\']').select_option(value)


def _label(page, text: str) -> None:
    page.locator(f"label:text-is('{text}')").first.click()


SIG = {
    "kpis": "document.querySelector('#kpi-revenue') && "
    "document.querySelector('#kpi-revenue').innerText",
    "heat": "(document.querySelector('#rfm-heatmap .js-plotly-plot') || {data: [{}]})"
    ".data[0].colorbar.title.text",
    "clv": "document.querySelector('#clv-params-table') && "
    "document.querySelector('#clv-params-table').innerText",
    "track": "(document.querySelector('#clv-tracking .js-plotly-plot') || {layout: {}})"
    ".layout.yaxis.title.text",
    "cl": "document.querySelector('#cl-summary-text') && "
    "document.querySelector('#cl-summary-text').innerText",
    "mig": "(document.querySelector('#mig-sankey .js-plotly-plot') || {data: []}).data.length"
    " && document.querySelector('#mig-summary').innerText",
    "flow": "(document.querySelector('#mig-matrix .js-plotly-plot') || {data: []}).data.length"
    " && document.querySelector('#mig-flow-title').innerText",
    "geo": "document.querySelector('#geo-table table') && "
    "document.querySelector('#geo-table').innerText",
    "lift": "document.querySelector('#prod-lift table') && "
    "document.querySelector('#prod-lift').innerText",
    "cust": "document.querySelector('#cust-message, #cust-cards') && "
    "(document.querySelector('#cust-cards').innerText"
    " + document.querySelector('#cust-message').innerText)",
}

#: Frequent buyers of the generated data (they bought before any end date the runs use).
CUSTOMERS = ("13704", "13833", "13816", "16691", "16749", "12349", "14620")


def _matrix_click(page, i: int) -> None:
    """A real click inside the migration matrix (a cell: the flow between two segments)."""
    box = page.locator("#mig-matrix .nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35)


def _country_click(page, i: int) -> None:
    """A click on a country of the map: Plotly's click event with the map's first located
    country, as the map emits it (a pixel of a choropleth's country is not known here); the
    click's time is taken just before."""
    page.evaluate(
        """() => {
        const gd = document.querySelector('#geo-map .js-plotly-plot');
        const trace = gd.data[0];
        window.__armed = false; window.__t0 = performance.now();
        gd.emit('plotly_click', {points: [{curveNumber: 0, pointNumber: 0, pointIndex: 0,
            location: trace.locations[0], customdata: trace.customdata[0], z: trace.z[0]}]});
        }"""
    )


def _ready(sig: str, extra: str = "true") -> str:
    return f"(() => {{ try {{ return !!({sig}) && ({extra}); }} catch (e) {{ return false; }} }})()"


INTERACTIONS = [
    # name, path, signature, setup (before arming), action (armed)
    (
        "Overview date range",
        "/",
        "kpis",
        lambda p, i: _date(p, "start", f"2010-{1 + i % 9:02d}-15"),
        lambda p, i: _enter(p, "start"),
    ),
    (
        "RFM heatmap colour option",
        "/rfm",
        "heat",
        None,
        lambda p, i: _label(p, "Colour by revenue"),
    ),
    ("CLV model switch", "/clv", "clv", None, lambda p, i: _label(p, "Pareto/NBD")),
    (
        "CLV holdout check shown",
        "/clv",
        "track",
        None,
        lambda p, i: p.locator("#clv-holdout-toggle").click(),
        "clv",  # the page is ready without the tracking plot: it is drawn when shown
    ),
    # a link carrying the check's settings opens its panel
    (
        "CLV tracking cumulative",
        "/clv?clv_track=weekly",
        "track",
        None,
        lambda p, i: _label(p, "Cumulative"),
    ),
    (
        "Clustering method to DBSCAN",
        "/clustering",
        "cl",
        None,
        lambda p, i: _select(p, "cl_method", "dbscan"),
    ),
    (
        "Clustering method to Hierarchical",
        "/clustering",
        "cl",
        None,
        lambda p, i: _select(p, "cl_method", "hierarchical"),
    ),
    (
        "Clustering k change",
        "/clustering",
        "cl",
        lambda p, i: p.locator('input[id=\'{"key":"cl_k","kind":"state"}\']').fill("6"),
        lambda p, i: _enter(p, "cl_k", "state"),
    ),
]
INTERACTIONS += [
    (
        "Migration month against month",
        "/migration",
        "mig",
        None,
        lambda p, i: _label(p, "Month against month"),
    ),
    ("Migration flow click (matrix cell)", "/migration", "flow", None, _matrix_click),
    ("Countries map click (filter)", "/countries", "geo", None, _country_click),
    (
        "Products segment change",
        "/products",
        "lift",
        None,
        lambda p, i: _select(p, "prod_segment", "At Risk"),
    ),
    (
        "Customer search (id + Enter)",
        "/customer",
        "cust",
        lambda p, i: p.locator('input[id=\'{"key":"id","kind":"state"}\']').fill(
            CUSTOMERS[i % len(CUSTOMERS)]
        ),
        lambda p, i: _enter(p, "id", "state"),
    ),
]
PAGE_LOADS = [
    ("Load Overview", "/", "kpis"),
    ("Load RFM", "/rfm", "heat"),
    ("Load CLV", "/clv", "clv"),
    ("Load Clustering", "/clustering", "cl"),
    ("Load Products", "/products", "lift"),
]


TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline"]


def _main_thread_cpu(trace: bytes) -> float:
    """CPU ms of the busiest renderer main thread in a Chrome trace (top-level tasks)."""
    data = json.loads(trace)
    events = data["traceEvents"] if isinstance(data, dict) else data
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    cpu: dict = {}
    for e in events:
        if e.get("name") == "RunTask" and e.get("ph") == "X" and (e["pid"], e["tid"]) in main:
            cpu[e["pid"]] = cpu.get(e["pid"], 0) + e.get("tdur", 0)
    return max(cpu.values(), default=0) / 1000


def _settle_traced(page, tracer, **kwargs) -> dict:
    out = _settle(page, **kwargs)
    if tracer is not None:
        out["cpu_ms"] = _main_thread_cpu(tracer.stop_tracing())
    return out


def measure_interaction(page, base: str, spec, offset: int, tracer=None) -> dict:
    name, path, sig, setup, action, *ready = spec  # ready: another signature of a ready page
    sep = "&" if "?" in path else "?"
    _load(
        page,
        f"{base}{path}{sep}end={_end(offset)}",
        _ready(SIG[ready[0] if ready else sig]),
    )
    if setup:
        setup(page, offset)
    before = page.evaluate(
        f"(() => {{ try {{ return {SIG[sig]}; }} catch (e) {{ return null; }} }})()"
    )
    done = f"(() => {{ try {{ const v = {SIG[sig]}; return !!v && v !== {json.dumps(before)}; }}"
    done += " catch (e) { return false; } })()"
    page.evaluate("(src) => window.__arm(src)", done)
    if tracer is not None:
        tracer.start_tracing(page=page, categories=TRACE_CATEGORIES)
    action(page, offset)
    return _settle_traced(page, tracer)


def measure_load(page, base: str, spec, offset: int, tracer=None) -> dict:
    name, path, sig = spec
    page.goto("about:blank")
    if tracer is not None:
        tracer.start_tracing(page=page, categories=TRACE_CATEGORIES)
    t_nav = time.perf_counter()
    page.goto(f"{base}{path}?end={_end(offset)}")
    page.wait_for_function(_ready(SIG[sig]), timeout=120_000)
    page.evaluate("window.__t0 = 0; window.__done = performance.now();")
    out = _settle_traced(page, tracer, quiet=1.0, timeout=120)
    out["wall_ms"] = (time.perf_counter() - t_nav) * 1000
    return out


def run(src: Path, runs: int, data: Path, only: list[str] | None = None, cpu: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp_name:
        tmp = Path(tmp_name)
        proc, base = start_server(src, data, tmp)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                context.add_init_script(RECORDER)
                page = context.new_page()
                page.set_default_timeout(120_000)
                tracer = browser if cpu else None
                # warm-up: both workers read the 1M-row file once (not measured)
                for _ in range(3):
                    _load(page, f"{base}/", _ready(SIG["kpis"]))
                for k, spec in enumerate(PAGE_LOADS):
                    if only and not any(o in spec[0] for o in only):
                        continue
                    first = 10 + k * 10
                    uncached = [
                        measure_load(page, base, spec, first + i, tracer) for i in range(runs)
                    ]
                    cached = [measure_load(page, base, spec, first, tracer) for _ in range(runs)]
                    results[spec[0]] = {"uncached": uncached, "cached": cached}
                    print(_line(spec[0], results[spec[0]]), flush=True)
                for k, spec in enumerate(INTERACTIONS):
                    if only and not any(o in spec[0] for o in only):
                        continue
                    first = 100 + k * 10
                    uncached = [
                        measure_interaction(page, base, spec, first + i, tracer)
                        for i in range(runs)
                    ]
                    cached = [
                        measure_interaction(page, base, spec, first, tracer) for _ in range(runs)
                    ]
                    results[spec[0]] = {"uncached": uncached, "cached": cached}
                    print(_line(spec[0], results[spec[0]]), flush=True)
                browser.close()
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
    return results


def _median(items: list[dict], key: str) -> float:
    return statistics.median(item[key] for item in items)


def _line(name: str, res: dict) -> str:
    u, c = res["uncached"], res["cached"]
    cpu = (
        f" {_median(u, 'cpu_ms'):,.0f} / {_median(c, 'cpu_ms'):,.0f} |" if "cpu_ms" in u[0] else ""
    )
    return (
        f"| {name} | {_median(u, 'settled_ms'):,.0f} | {_median(c, 'settled_ms'):,.0f} |{cpu} "
        f"{_median(u, 'requests'):.0f} / {_median(c, 'requests'):.0f} | "
        f"{_median(u, 'kb'):,.0f} / {_median(c, 'kb'):,.0f} | {_median(u, 'rerenders'):.0f} |"
    )


HEADER = (
    "| interaction | settled uncached (ms) | settled cached (ms) | requests unc. / cached | "
    "kB unc. / cached | page re-renders |\n| --- | --- | --- | --- | --- | --- |"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", type=Path, default=ROOT, help="checkout of the app to serve")
    parser.add_argument("--csv", type=Path, default=None, help="data (default: generated 1M rows)")
    parser.add_argument("--json", type=Path, default=None, help="write every measurement here")
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="measure only the rows whose name contains one",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="also the page's main-thread CPU (Chrome tracing)",
    )
    args = parser.parse_args()
    data = args.csv or generated_csv("full")
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    header = HEADER
    if args.cpu:
        header = header.replace(
            "settled cached (ms) |",
            "settled cached (ms) | main-thread CPU unc. / cached (ms) |",
        ).replace("| --- | --- | --- |", "| --- | --- | --- | --- |", 1)
    print(header, flush=True)
    results = run(args.src.resolve(), args.runs, data, args.only, args.cpu)
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
