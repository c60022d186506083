"""Benchmark of loading the full-scale Online Retail II CSV (1,067,371 rows, ~95 MB).

Run: ``.venv/bin/python bench/bench_load.py [--runs 5] [--csv /tmp/or2_full.csv]``

Generates the CSV with ``../shared/tools/gen_online_retail.py`` when it is missing (~10 s),
then runs every measurement in a fresh subprocess, so imports, caches and peak memory of one
run never contaminate another, and prints medians with their targets:

* first load from CSV, no cache (seconds)        target <= 1.5 s
* first load from CSV writing the parquet cache  (informative)
* load from the parquet cache (fingerprint + read) target <= 0.3 s
* peak resident memory of a process doing the first load (MB) target <= 500 MB
* demo data generation, 6,000 customers (seconds) target <= 3 s

Times cover the call only (``time.perf_counter`` around it), not interpreter start-up and
imports. Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the worker process, so
it includes the interpreter and the imported libraries.

The functions are importable (``ensure_full_csv``, ``measure``, ``run_benchmarks``,
``format_table``) so a shared benchmark can reuse them.
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
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
GENERATOR = REPO_ROOT.parent / "shared" / "tools" / "gen_online_retail.py"
DEFAULT_CSV = Path("/tmp/or2_full.csv")
FULL_ROWS = 1_067_371

TARGETS = {  # metric -> (target, unit)
    "csv_first_load": (1.5, "s"),
    "csv_first_load_write_cache": (None, "s"),
    "cached_load": (0.3, "s"),
    "peak_rss_first_load": (500.0, "MB"),
    "peak_rss_cached_load": (None, "MB"),
    "demo_generate_6000": (3.0, "s"),
}

_WORKER = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
mode, path, cache = sys.argv[1], sys.argv[2], sys.argv[3] or None
if mode == "demo":
    from dashapp.ingest.demo import generate_demo_transactions
    t0, c0 = time.perf_counter(), time.process_time()
    df = generate_demo_transactions(6000, 7)
else:
    from dashapp.ingest.loading import load_transactions
    t0, c0 = time.perf_counter(), time.process_time()
    df = load_transactions(path, cache_dir=cache)
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
print(json.dumps({{"seconds": dt, "cpu_seconds": cpu, "peak_rss_mb": rss, "rows": len(df)}}))
"""


def ensure_full_csv(path: Path = DEFAULT_CSV, rows: int = FULL_ROWS) -> Path:
    """Return ``path``, generating it with the shared generator (seed 42) when missing."""
    path = Path(path)
    if path.exists() and path.stat().st_size > 0:
        return path
    if not GENERATOR.exists():
        raise SystemExit(f"{path} is missing and the generator {GENERATOR} is not there")
    print(f"generating {path} ({rows:,} rows) ...", file=sys.stderr, flush=True)
    tmp = path.with_suffix(".tmp.csv")
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            "--rows",
            str(rows),
            "--customers",
            "5942",
            "--seed",
            "42",
            "--out",
            str(tmp),
            "--no-stats",
            "--quiet",
        ],
        check=True,
    )
    os.replace(tmp, path)
    return path


def measure(mode: str, path: Path | str = "", cache_dir: Path | str | None = None) -> dict:
    """One measurement in a fresh interpreter: {'seconds', 'cpu_seconds', 'peak_rss_mb', 'rows'}.

    ``mode``: 'load' (load_transactions(path, cache_dir=cache_dir)) or 'demo'.
    """
    code = _WORKER.format(root=str(REPO_ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code, mode, str(path), str(cache_dir or "")],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_benchmarks(csv_path: Path, runs: int = 5) -> tuple[dict[str, list[float]], dict]:
    """All metrics of TARGETS, each measured ``runs`` times (lists of raw values), and the
    CPU seconds of the timed metrics (same keys; less sensitive to a busy machine)."""
    results: dict[str, list[float]] = {k: [] for k in TARGETS}
    cpu: dict[str, list[float]] = {}

    def timed(metric: str, r: dict) -> dict:
        results[metric].append(r["seconds"])
        cpu.setdefault(metric, []).append(r["cpu_seconds"])
        return r

    measure("load", csv_path)  # warm the page cache
    for _ in range(runs):
        r = timed("csv_first_load", measure("load", csv_path))
        results["peak_rss_first_load"].append(r["peak_rss_mb"])
    keep = tempfile.mkdtemp(prefix="bench-cache-")
    try:
        for _ in range(runs):
            fresh = tempfile.mkdtemp(prefix="bench-cache-")
            try:
                timed("csv_first_load_write_cache", measure("load", csv_path, fresh))
            finally:
                shutil.rmtree(fresh, ignore_errors=True)
        measure("load", csv_path, keep)  # build the cache once
        for _ in range(runs):
            r = timed("cached_load", measure("load", csv_path, keep))
            results["peak_rss_cached_load"].append(r["peak_rss_mb"])
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    for _ in range(runs):
        timed("demo_generate_6000", measure("demo"))
    return results, cpu


def format_table(results: dict[str, list[float]], cpu: dict[str, list[float]] | None = None) -> str:
    """Markdown table: metric, median, min..max, CPU median, target, median / target."""
    cpu = cpu or {}
    lines = [
        "| metric | median | min .. max | cpu median | target | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for metric, values in results.items():
        if not values:
            continue
        target, unit = TARGETS.get(metric, (None, ""))
        med = statistics.median(values)
        fmt = "{:.0f}" if unit == "MB" else "{:.3f}"
        t = f"<= {fmt.format(target)} {unit}" if target else "-"
        ratio = f"{med / target:.2f}" if target else "-"
        c = f"{statistics.median(cpu[metric]):.3f} s" if metric in cpu else "-"
        lines.append(
            f"| {metric} | {fmt.format(med)} {unit} | {fmt.format(min(values))} .. "
            f"{fmt.format(max(values))} | {c} | {t} | {ratio} |"
        )
    return "\n".join(lines)


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    args = ap.parse_args(argv)
    csv_path = ensure_full_csv(args.csv)
    size_mb = csv_path.stat().st_size / 1e6
    print(
        f"# load benchmark: {csv_path} ({size_mb:.1f} MB), {args.runs} runs per metric, "
        f"one subprocess per run; load average before: {_loadavg()}\n"
    )
    results, cpu = run_benchmarks(csv_path, args.runs)
    print(format_table(results, cpu))
    print(
        f"\nload average after: {_loadavg()} on {os.cpu_count()} CPUs (wall times grow on a "
        f"busy machine; CPU seconds much less)"
    )
    if args.json:
        args.json.write_text(json.dumps({"wall": results, "cpu": cpu}, indent=1))
    over = [
        m
        for m, v in results.items()
        if TARGETS[m][0] is not None and statistics.median(v) > TARGETS[m][0]
    ]
    if over:
        print(f"\nover target: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
