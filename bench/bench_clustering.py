"""Benchmark of dashapp.analytics.clustering at full scale (5,942 customers) and 10x (60,000).

Usage::

    .venv/bin/python bench/bench_clustering.py [--runs 5] [--sizes 5942 60000]

Customer tables come from generated Online-Retail-II-shaped CSVs
(``/work/shared/tools/gen_online_retail.py``; generated if missing, ~90 s for 10x), read with
pandas, rows without a customer id dropped, recency / frequency / monetary / tenure / aov
computed plainly, and cached as parquet next to the CSV. Each method is then timed in a fresh
worker process (so that its peak RSS is its own): one warm-up call, then the median of
``--runs`` calls of ``cluster_customers``. Also timed: ``elbow_curve`` (k = 2..10),
``k_distance`` and ``dendrogram_data``. Results are printed with their targets and written to
``bench/results/bench_clustering.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import generate_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "bench_clustering.json"
DATASETS = {  # customers: (csv path, generator rows)
    5942: (Path("/tmp/or2_full.csv"), 1_067_371),
    60000: (Path("/tmp/or2_10x.csv"), 10_000_000),
}
METHODS = ("kmeans", "dbscan", "hierarchical", "gmm")
# targets: seconds per cluster_customers call
TARGET_SECONDS = {
    5942: {"kmeans": 0.150, "dbscan": 0.150, "hierarchical": 0.150, "gmm": 1.5},
    60000: {m: 1.5 for m in METHODS},
}
TARGET_RSS_MB = 3 * 1024
ORIGINAL_TOOL_6K = {"dbscan": 1.19, "hierarchical": 1.79}  # seconds, the tool being replaced


def ensure_csv(customers: int) -> Path:
    path, rows = DATASETS[customers]
    return generate_csv(path, rows, customers)


def customer_table(csv: Path):
    """Plain pandas R/F/M per customer (returns netted into monetary)."""
    import pandas as pd

    df = pd.read_csv(
        csv,
        usecols=["Invoice", "InvoiceDate", "Quantity", "Price", "Customer ID"],
        dtype={"Invoice": str},
        engine="pyarrow",
    )
    df = df.dropna(subset=["Customer ID"])
    df = df[~df["Invoice"].str.startswith("A")]
    df["line_total"] = df["Quantity"] * df["Price"]
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    df["customer_id"] = df["Customer ID"].astype("int64").astype(str)
    as_of = df["InvoiceDate"].max().normalize() + pd.Timedelta(days=1)
    purchases = df[~df["Invoice"].str.startswith("C")]
    g = purchases.groupby("customer_id")
    out = pd.DataFrame(
        {
            "recency": (as_of - g["InvoiceDate"].max()).dt.days,
            "frequency": g["Invoice"].nunique(),
            "tenure": (as_of - g["InvoiceDate"].min()).dt.days,
        }
    )
    out["monetary"] = df.groupby("customer_id")["line_total"].sum().reindex(out.index)
    out["aov"] = out["monetary"] / out["frequency"]
    out.index.name = "customer_id"
    return out


def ensure_table(customers: int) -> Path:
    csv = ensure_csv(customers)
    cache = csv.with_suffix(".customers.parquet")
    if cache.exists() and cache.stat().st_mtime >= csv.stat().st_mtime:
        return cache
    t = time.perf_counter()
    table = customer_table(csv)
    part = cache.with_name(f"{cache.name}.part-{os.getpid()}")
    table.to_parquet(part)
    os.replace(part, cache)
    print(
        f"customer table {cache} ({len(table):,} customers) built in "
        f"{time.perf_counter() - t:.1f} s",
        flush=True,
    )
    return cache


def peak_rss_mb() -> float:
    """Peak resident set of this process in MiB.

    VmHWM (Linux) belongs to the process image, so it restarts at exec; ru_maxrss would
    report the parent's peak (the 10M-row CSV read) in a forked worker.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(table: Path, task: str, runs: int) -> dict:
    """Time one task in this (fresh) process; returns a JSON-able dict."""
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    from dashapp.analytics import clustering as cl

    customers = pd.read_parquet(table)
    rss_before = peak_rss_mb()
    out: dict = {"task": task, "n": len(customers)}
    if task in METHODS:

        def call():
            return cl.cluster_customers(customers, task)
    else:
        X, _ = cl.build_features(customers)
        if task == "elbow":

            def call():
                return cl.elbow_curve(X, range(2, 11))
        elif task == "k_distance":

            def call():
                return cl.k_distance(X, 6)
        elif task == "dendrogram":

            def call():
                return cl.dendrogram_data(X, "ward", k=4)
        else:
            raise SystemExit(f"unknown task {task}")
    res = call()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        res = call()
        times.append(time.perf_counter() - t)
    out.update(
        median_s=statistics.median(times),
        min_s=min(times),
        max_s=max(times),
        rss_before_mb=rss_before,
        peak_rss_mb=peak_rss_mb(),
    )
    if task in METHODS:
        out.update(
            approximate=res.approximate,
            n_fit=res.n_fit,
            n_clusters=res.n_clusters,
            names=list(res.names),
            silhouette=res.diagnostics["silhouette"],
            n_outliers=res.diagnostics["n_outliers"],
            params={k: v for k, v in res.params.items() if isinstance(v, (int, float, str, bool))},
            note=res.note,
        )
    elif task == "elbow":
        out["best_k_silhouette"] = int(res.loc[res["silhouette"].idxmax(), "k"])
        out["n_points"] = int(res["n_points"].iloc[0])
    elif task == "k_distance":
        out.update(eps=res.eps, n_points=res.n_points)
    return out


def run_worker(table: Path, task: str, runs: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", str(table), task, "--runs", str(runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=sorted(DATASETS))
    ap.add_argument("--worker", nargs=2, metavar=("TABLE", "TASK"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), args.worker[1], args.runs), default=float))
        return

    results = []
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {args.runs} "
        f"runs after one warm-up, each task in a fresh process; load average "
        f"{os.getloadavg()[0]:.2f} (other processes on the machine inflate the timings)"
    )
    for size in args.sizes:
        table = ensure_table(size)
        print(f"\n== {size:,} customers ==")
        print(
            f"{'task':<14}{'median':>10}{'min':>10}{'target':>10}{'ratio':>8}{'peak RSS':>11}  "
            f"{'fit on':>8}  clusters / detail"
        )
        for task in (*METHODS, "elbow", "k_distance", "dendrogram"):
            r = run_worker(table, task, args.runs)
            target = TARGET_SECONDS.get(size, {}).get(task)
            r["target_s"] = target
            r["ratio"] = r["median_s"] / target if target else None
            ok = "" if target is None else ("  ok" if r["median_s"] <= target else "  SLOW")
            tgt = f"{target * 1000:.0f} ms" if target else "-"
            ratio = f"{r['ratio']:.2f}" if target else "-"
            if task in METHODS:
                detail = (
                    f"{r['n_clusters']} + {r['n_outliers']} outliers"
                    if task == "dbscan"
                    else f"{r['n_clusters']}"
                )
                detail += f", silhouette {r['silhouette']:.3f}"
                if task == "dbscan":
                    detail += f", eps {r['params']['eps']:.3f}"
                fit_on = f"{r['n_fit']:,}"
            elif task == "elbow":
                fit_on, detail = (
                    f"{r['n_points']:,}",
                    f"k=2..10, best silhouette at k={r['best_k_silhouette']}",
                )
            elif task == "k_distance":
                fit_on, detail = f"{r['n_points']:,}", f"knee eps {r['eps']:.3f}"
            else:
                fit_on, detail = "500", "ward, scipy linkage + dendrogram(no_plot)"
            print(
                f"{task:<14}{r['median_s'] * 1000:>7.1f} ms{r['min_s'] * 1000:>7.1f} ms"
                f"{tgt:>10}{ratio:>8}"
                f"{r['peak_rss_mb']:>8.0f} MB  {fit_on:>8}  {detail}{ok}"
            )
            if size == 5942 and task in ORIGINAL_TOOL_6K:
                print(
                    f"{'':<14}original tool {ORIGINAL_TOOL_6K[task]:.2f} s -> "
                    f"{ORIGINAL_TOOL_6K[task] / r['median_s']:.0f}x faster"
                )
            r["size"] = size
            results.append(r)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    worst = max(r["peak_rss_mb"] for r in results)
    print(
        f"peak RSS of any worker: {worst:.0f} MB (target <= {TARGET_RSS_MB} MB: "
        f"{'ok' if worst <= TARGET_RSS_MB else 'OVER'})"
    )
    slow = [
        f"{r['task']}@{r['size']}"
        for r in results
        if r["target_s"] and r["median_s"] > r["target_s"]
    ]
    print("all time targets met" if not slow else f"over target: {', '.join(slow)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "runs": args.runs,
                "cpus": os.cpu_count(),
                "load_average_end": os.getloadavg()[0],
                "results": results,
            },
            indent=2,
            default=float,
        )
    )
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
