"""Benchmark of the app's interactions at full Online Retail II scale (and 10x with --scale10).

Measures, as the browser triggers them (POST /_dash-update-component through Flask's test
client, JSON serialisation included), the Overview and RFM callbacks uncached (results cache
cleared before each run; the dataset itself stays loaded, as in a running worker) and cached,
plus cleaning time and the process's peak memory. Medians of 5 runs.

    .venv/bin/python bench/bench_app.py [--scale10]
"""

from __future__ import annotations

import argparse
import gc
import time

import psutil
from common import app_client, machine, median_ms, peak_rss_mb, report

WORKER = """
import sys, tempfile
from dashapp import create_app, service
from dashapp.config import Settings
from tests.callback_client import CallbackClient, state_key
csv = sys.argv[1]
s = Settings.from_env(env={}, data_path=csv, cache_dir=tempfile.mkdtemp())
app = create_app(type(s)(**{**s.__dict__, "cache_type": "SimpleCache"}))
client = CallbackClient(app)
for cb in ("update_overview", "update_rfm", "update_rfm_grid"):
    assert client.call(cb, {state_key("dataset"): service.default_dataset_id()}).status_code == 200
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(int(hwm) / 1024)
"""


def worker_peak_mb(csv) -> float:
    """Peak resident memory of a fresh process that serves the three callbacks (first load of
    the CSV included), as a gunicorn worker would."""
    import subprocess
    import sys

    from common import ROOT

    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(csv)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def run(scale: str) -> list[tuple]:
    from dashapp import service
    from dashapp.ingest import cleaning, engine
    from tests.callback_client import date_key, state_key

    app, client, csv = app_client(scale)
    dataset = csv.stem
    rows = []

    from dashapp.ingest.loading import load_transactions

    def first_load_and_clean():
        t0 = time.perf_counter()
        lines = load_transactions(csv)  # no parquet cache: the first load of a CSV
        rows.append(
            (
                f"[{scale}] first load from CSV ({len(lines):,} rows)",
                (time.perf_counter() - t0) * 1000,
                1500 if scale == "full" else None,
                "ms",
            )
        )
        ms, _ = median_ms(lambda: engine.clean(lines))
        rows.append((f"[{scale}] engine.clean() all rules (DuckDB)", ms, None, "ms"))

    first_load_and_clean()
    gc.collect()
    t0 = time.perf_counter()
    service.cleaned(dataset, cleaning.CleaningRules().flags())
    rows.append(
        (
            f"[{scale}] clean + invoice table, once per process",
            (time.perf_counter() - t0) * 1000,
            None,
            "ms",
        )
    )

    base = {state_key("dataset"): dataset}
    variants = [
        dict(base),
        {**base, date_key("start"): "2010-06-01"},
        {**base, state_key("countries"): "United Kingdom"},
        {**base, date_key("end"): "2011-06-30"},
        {**base, date_key("start"): "2011-01-01"},
    ]

    def timed(callback, cached: bool, target_uncached, target_cached):
        it = iter(variants * 2)

        def one():
            resp = client.call(callback, next(it))
            assert resp.status_code == 200, resp.data[:500]

        if cached:
            client.call(callback, base)
            ms, _ = median_ms(lambda: client.call(callback, base))
            return (f"[{scale}] {callback} cached", ms, target_cached, "ms")
        ms, _ = median_ms(one, setup=service.cache.clear)
        return (f"[{scale}] {callback} uncached", ms, target_uncached, "ms")

    full = scale == "full"
    for cb, t_unc, t_c in (
        ("update_overview", 150, 30),
        ("update_rfm", 150, 30),
        ("update_rfm_grid", 150, 30),
    ):
        rows.append(timed(cb, False, t_unc if full else 1500, None))
        rows.append(timed(cb, True, None, t_c if full else None))
    rows.append(
        (f"[{scale}] peak resident memory of this benchmark process", peak_rss_mb(), None, "MB")
    )
    rows.append(
        (
            f"[{scale}] peak resident memory of a fresh serving process",
            worker_peak_mb(csv),
            500 if full else None,
            "MB",
        )
    )
    gc.collect()
    rows.append(
        (
            f"[{scale}] resident memory after the callbacks (a serving worker)",
            psutil.Process().memory_info().rss / 1024**2,
            500 if full else None,
            "MB",
        )
    )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale10", action="store_true", help="10M rows / 60,000 customers")
    args = parser.parse_args()
    print(machine())
    report(run("10x" if args.scale10 else "full"))
