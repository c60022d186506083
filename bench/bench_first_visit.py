"""A fresh server's first visit to the Products page at full scale: when each of the page's
callbacks answers, and when the product grid's first rows arrive.

gunicorn is started as the Procfile runs it (``--src``: another checkout, e.g. ``git archive
<rev>``), on the generated 1M-row file, with a cache folder (``--cache``; by default a new
empty one, deleted after): the invoice table and the product lines are computed. Pass the
same folder again for a new process on warm caches (its ``results`` are removed first, the
prepared files kept). The page's first-round callbacks are posted at once, as the browser
posts them; a callback that says the data are being prepared is posted again every second
until it answers with data (the page's own retry does the same). ``--overview-first S``
opens the Overview first (its callback answered), then Products S seconds later. The server
gets this environment: ``PRODUCTS_AT_LOAD=1 python bench/bench_first_visit.py`` measures the
product lines prepared as soon as the invoice table is loaded (the "after" of the first table
in docs/benchmarks.md); without it they are prepared when the Products page first asks.

    python bench/bench_first_visit.py [--src DIR] [--cache DIR] [--overview-first S]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The cache folder of the app built here only to write the requests (deleted at the end).
SCRATCH = Path(tempfile.mkdtemp(prefix="first-visit-payloads-"))
PREPARING = b"being prepared"
#: What a callback answers while the product lines are being prepared (the message is above
#: the charts; the grid has no rows, the lift and types tables nothing).
EMPTY = {
    "update_products": PREPARING,
    "serve_prod_grid": b'"rowCount":0',
    "update_lift": b'"prod-lift":{"children":null}',
    "update_types": b'"prod-types":{"children":null}',
}


def _post(url: str, body: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=300) as resp:
        return resp.status, resp.read()


def _payloads(src: Path, csv: Path, dataset: str) -> dict[str, dict]:
    """The first-round requests of /products, built from the app of ``src``."""
    sys.path.insert(0, str(src))
    sys.path.insert(1, str(ROOT))
    from dashapp import create_app
    from dashapp.config import Settings
    from tests.callback_client import CallbackClient, state_key

    settings = Settings.from_env(env={}, data_path=csv, cache_dir=SCRATCH)
    client = CallbackClient(create_app(settings))
    base = {state_key("dataset"): dataset}
    clv = {state_key(k): v for k, v in
           (("clv_model", "bgnbd"), ("clv_horizon", "12"), ("clv_margin", "30"),
            ("clv_discount", "10"))}  # fmt: skip
    prod = {**base, **clv, state_key("prod_best"): "champions"}
    block = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    lift = {**base, state_key("prod_segment"): "Champions", state_key("prod_min_buyers"): 10}
    return {
        "update_overview": client.payload("update_overview", base),
        "update_products": client.payload("update_products", prod),
        "serve_prod_grid": client.payload(
            "serve_prod_grid", {**prod, "prod-grid.getRowsRequest": block}
        ),
        "update_lift": client.payload("update_lift", lift),
        "update_types": client.payload("update_types", base),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", type=Path, default=ROOT)
    parser.add_argument("--csv", type=Path, default=Path("/tmp/or2_full.csv"))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--port", type=int, default=8071)
    parser.add_argument(
        "--overview-first",
        type=float,
        default=None,
        metavar="S",
        help="open the Overview first (its callback answered), then Products S seconds later",
    )
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="first-visit-"))
    fresh = not (cache / "prepared").exists()
    shutil.rmtree(cache / "results", ignore_errors=True)  # a new process: no view cached
    env = {
        **os.environ,
        "DATA_PATH": str(args.csv),
        "CACHE_DIR": str(cache),
        "PORT": str(args.port),
        "PYTHONPATH": str(args.src),
    }
    procfile = (args.src / "Procfile").read_text().split(":", 1)[1].strip()
    command = procfile.replace("${PORT:-8050}", str(args.port)).replace(
        "${WEB_CONCURRENCY:-2}", "2"
    )
    payloads = _payloads(args.src, args.csv, args.csv.stem)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [gunicorn, *command.split()[1:]],
        cwd=args.src,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        load = os.getloadavg()
        url = f"{base}/_dash-update-component"
        overview = payloads.pop("update_overview")
        if args.overview_first is not None:
            t0 = time.perf_counter()
            _post(url, overview)
            print(f"Overview first: answered in {(time.perf_counter() - t0) * 1000:,.0f} ms")
            time.sleep(args.overview_first)
        t0 = time.perf_counter()
        urllib.request.urlopen(f"{base}/products", timeout=60).read()
        page_ms = (time.perf_counter() - t0) * 1000

        def run(name: str) -> tuple[str, float, float | None, int]:
            first = None
            tries = 0
            while True:
                tries += 1
                status, body = _post(url, payloads[name])
                now = (time.perf_counter() - t0) * 1000
                first = now if first is None else first
                assert status == 200, body[:300]
                if PREPARING not in body and EMPTY[name] not in body:
                    if os.environ.get("SHOW_BODY"):
                        print(name, body[:400])
                    return name, first, now, tries
                time.sleep(1.0)

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run, payloads))
        print(
            f"{'fresh' if fresh else 'warm'} cache {cache}; code {args.src}; load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
            f"{os.getloadavg()[0]:.2f} at the end"
        )
        print(f"GET /products: {page_ms:,.0f} ms")
        for name, first, done, tries in results:
            print(
                f"{name:<18} first answer {first:>8,.0f} ms   with data {done:>8,.0f} ms "
                f"({tries} request{'s' if tries > 1 else ''})"
            )
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(SCRATCH, ignore_errors=True)
        if args.cache is None:  # a fresh folder of this run: its prepared data go too
            shutil.rmtree(cache, ignore_errors=True)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"server CPU (gunicorn and its children, start to stop): {used.ru_utime + used.ru_stime:.1f} s"
    )


if __name__ == "__main__":
    main()
