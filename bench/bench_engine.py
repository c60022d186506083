"""Benchmark of the data engine: the first view of a dataset, in fresh processes.

    .venv/bin/python bench/bench_engine.py [--scale full|10x] [--csv PATH] [--runs 3]
                                           [--engine file|postgres|spark] [--code DIR]
                                           [--keep-cache DIR]

Each run is a new Python process that builds the app on the dataset and answers the Overview
page's first view (dataset bounds and the Overview callback, through Flask's test client as
the browser posts it). It prints the process's CPU time (all threads: DuckDB's included) and
wall time for that first view, and its peak resident memory (VmHWM, imports included). A
large file's first load runs in a child process (``dashapp.ingest.isolated``): its CPU time
(imports, reading, cleaning, writing the lines parquet after it answered) and peak RSS are
shown apart, and ``total`` is the worker's view + its background parquet write + the child.
``--code DIR`` runs another source tree (e.g. ``git archive`` of an older commit) the same way.
``--keep-cache DIR`` moves the last run's cache folder to DIR instead of deleting it (to time
or profile later views on it without preparing a large file again).

* ``file`` cold: an empty cache folder: the CSV is read, converted to canonical lines, cleaned
  by DuckDB and the result cached (the lines parquet is written in a background thread after
  the view; its time is shown apart).
* ``file`` warm: a new process on the caches of the cold run (a restart, a second worker).
* ``postgres``: the CSV loaded once into PostgreSQL (COPY, prices numeric(12,3)), the app on
  ``DATA_SQL_*`` with default settings; cold (no prepared result: the first view waits for the
  whole cleaning, which the app runs in the background and a page waits 15 s for) and warm (a
  new process), then later views in the same process (other filters).
* ``spark``: the CSV as parquet read by Spark in local mode (``local[2]``); cold only.

Medians over ``--runs`` runs; the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, generated_csv, machine

WORKER = r"""
import json, os, sys, time
t_start = time.process_time()
from dashapp import create_app, service
from dashapp.config import Settings
from dashapp.ingest.engine import prepared
from tests.callback_client import CallbackClient, date_key, state_key

args = json.loads(sys.argv[1])
env = args["env"]
if "page_wait" in args:  # time a table's whole first cleaning as the first view
    from dashapp.service import store
    store.PAGE_WAIT_S = args["page_wait"]
s = Settings.from_env(env=env, data_path=args.get("csv"), cache_dir=args["cache"])
app = create_app(type(s)(**{**s.__dict__, "cache_type": "SimpleCache"}))
client = CallbackClient(app)
dataset = service.default_dataset_id()
c0, w0 = time.process_time(), time.perf_counter()
bounds = service.dataset_bounds(dataset)
assert client.call("update_overview", {state_key("dataset"): dataset}).status_code == 200
first_cpu, first_wall = time.process_time() - c0, time.perf_counter() - w0
later = []
for start in args.get("later", []):
    c1, w1 = time.process_time(), time.perf_counter()
    resp = client.call("update_overview", {state_key("dataset"): dataset, date_key("start"): start})
    assert resp.status_code == 200
    later.append((time.process_time() - c1, time.perf_counter() - w1))
c2, w2 = time.process_time(), time.perf_counter()
prepared.wait_for_writers()
writer_cpu, writer_wall = time.process_time() - c2, time.perf_counter() - w2
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
import resource
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "cpu": first_cpu, "wall": first_wall, "writer_cpu": writer_cpu, "writer_wall": writer_wall,
    "child_cpu": children.ru_utime + children.ru_stime, "child_rss_mb": children.ru_maxrss / 1024,
    "import_cpu": c0 - t_start, "rss_mb": int(hwm) / 1024, "later": later,
    "bounds": [bounds.start, bounds.end],
}))
"""


CODE = ROOT
KEEP_CACHE: Path | None = None


def run_worker(args: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(args)],
        cwd=CODE,
        env={**os.environ, "PYTHONPATH": str(CODE)},
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit("the worker failed:\n" + "\n".join(out.stderr.splitlines()[-15:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def med(values) -> float:
    return statistics.median(values)


def show(label: str, runs: list[dict]) -> None:
    print(
        f"{label:<34} cpu {med([r['cpu'] for r in runs]):7.2f} s   "
        f"wall {med([r['wall'] for r in runs]):7.2f} s   "
        f"peak RSS {med([r['rss_mb'] for r in runs]):7.0f} MB   "
        f"(background parquet write: cpu {med([r['writer_cpu'] for r in runs]):.2f} s)"
    )
    if any(r["child_cpu"] for r in runs):
        print(
            f"{'  child process':<34} cpu {med([r['child_cpu'] for r in runs]):7.2f} s   "
            f"{'':18}peak RSS {med([r['child_rss_mb'] for r in runs]):7.0f} MB"
        )
    total = [r["cpu"] + r["writer_cpu"] + r["child_cpu"] for r in runs]
    print(
        f"{'  total (worker + writer + child)':<34} cpu {med(total):7.2f} s   runs: "
        + ", ".join(f"{t:.2f}" for t in total)
    )
    later = [x for r in runs for x in r["later"]]
    if later:
        print(
            f"{'  later views (same process)':<34} cpu {med([c for c, _ in later]):7.2f} s   "
            f"wall {med([w for _, w in later]):7.2f} s   ({len(later)} views)"
        )


LATER = ["2010-06-01", "2011-01-01", "2011-06-01"]


def cold_and_warm(args: dict, runs: int) -> tuple[list[dict], list[dict]]:
    """``runs`` pairs of fresh processes: one on an empty cache folder, then one on its
    caches (with later views)."""
    cold, warm = [], []
    for i in range(runs):
        cache = tempfile.mkdtemp(prefix="bench-engine-")
        try:
            cold.append(run_worker({**args, "cache": cache}))
            warm.append(run_worker({**args, "cache": cache, "later": LATER}))
            if KEEP_CACHE is not None and i == runs - 1:
                shutil.move(cache, KEEP_CACHE)
                print(f"cache folder of the last run kept in {KEEP_CACHE}")
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return cold, warm


def bench_file(csv: Path, runs: int) -> None:
    cold, warm = cold_and_warm({"env": {}, "csv": str(csv)}, runs)
    show("file, cold (empty cache)", cold)
    show("file, warm (new process, caches)", warm)


PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def load_postgres(csv: Path, table: str) -> None:
    """COPY the CSV into ``table`` once (prices numeric(12,3), as a CSV load would type it)."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        if sa.inspect(conn).has_table(table):
            return
        conn.execute(
            sa.text(
                f'CREATE TABLE "{table}" ("Invoice" text, "StockCode" text, "Description" text, '
                f'"Quantity" integer, "InvoiceDate" timestamp, "Price" numeric(12,3), '
                f'"Customer ID" text, "Country" text)'
            )
        )
    raw = engine.raw_connection()
    try:
        t0 = time.perf_counter()
        with (
            raw.cursor() as cur,
            cur.copy(f'COPY "{table}" FROM STDIN WITH (FORMAT csv, HEADER true)') as copy,
            open(csv, "rb") as fh,
        ):
            while block := fh.read(1 << 20):
                copy.write(block)
        raw.commit()
        with raw.cursor() as cur:
            cur.execute(f'ANALYZE "{table}"')
        raw.commit()
        print(f"loaded {csv.name} into {table} in {time.perf_counter() - t0:.0f} s")
    finally:
        raw.close()


def bench_postgres(csv: Path, runs: int) -> None:
    table = f"bench_{csv.stem}"
    load_postgres(csv, table)
    env = {"DATA_SQL_URL": PG_URL, "DATA_SQL_TABLE": table}
    cold, warm = cold_and_warm({"env": env, "page_wait": 3600.0}, runs)
    show("postgres, cold (no prepared result)", cold)
    show("postgres, warm (new process)", warm)


def bench_spark(csv: Path, runs: int) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    parquet = csv.with_suffix(".spark.parquet")
    if not parquet.exists():
        pq.write_table(pacsv.read_csv(csv), parquet, coerce_timestamps="us")
    env = {"DATA_SPARK_MASTER": "local[2]", "DATA_SPARK_PATH": str(parquet)}
    cold, warm = cold_and_warm({"env": env, "page_wait": 3600.0}, runs)
    show("spark local[2], cold (JVM start incl.)", cold)
    show("spark local[2], warm (new process)", warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="full", choices=["full", "10x"])
    parser.add_argument("--csv", type=Path, help="another CSV in the same layout (e.g. 100M)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engine", default="file", choices=["file", "postgres", "spark"])
    parser.add_argument("--code", type=Path, default=ROOT, help="source tree to run")
    parser.add_argument("--keep-cache", type=Path, help="keep the last run's cache folder here")
    args = parser.parse_args()
    global CODE, KEEP_CACHE
    CODE = args.code.resolve()
    KEEP_CACHE = args.keep_cache
    csv = args.csv or generated_csv(args.scale)
    print(f"{machine()}; {csv} ({csv.stat().st_size / 1e6:.0f} MB); {args.runs} runs; code {CODE}")
    {"file": bench_file, "postgres": bench_postgres, "spark": bench_spark}[args.engine](
        csv, args.runs
    )
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
