"""Benchmark of the Clustering page's callbacks at full Online Retail II scale (5,942
customers) and at 10x (60,000 customers, --scale10).

Measures the page callbacks as the browser triggers them (POST /_dash-update-component
through Flask's test client, JSON serialisation included) for each method:

* ``update_clustering`` (the clustering, scatter, treemap, profiles, metrics, agreement),
* ``update_cluster_diagnostics`` (the method's curve: elbow, k-distance, dendrogram, BIC),

uncached (results cache cleared before each run -- the RFM table is recomputed too; the
dataset itself stays loaded, as in a running worker) and cached; all callbacks of a method
change as the browser sends them (main and diagnostics concurrently, then the grid, which
is chained after the main callback), uncached; choosing another cluster for the grid
(``serve_cl_grid``: display only, reads the memoized clustering, fits nothing); and
the process's peak memory. Medians of 5 runs (wall time; the CPU time of the process is
printed beside the uncached calls, as the machine is often shared).

    .venv/bin/python bench/bench_cluster_app.py [--scale10] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

from common import app_client, machine, median_ms, median_wall_cpu, peak_rss_mb, report

METHODS = ("kmeans", "dbscan", "hierarchical", "gmm")


def run(scale: str, runs: int = 5) -> list[tuple]:
    from dashapp import service
    from dashapp.ingest import cleaning
    from dashapp.service import params
    from tests.callback_client import state_key

    app, client, csv = app_client(scale)
    dataset = csv.stem
    full = scale == "full"
    filters = service.Filters.build(dataset=dataset)
    rows = []

    t0 = time.perf_counter()
    service.cleaned(dataset, cleaning.CleaningRules().flags())
    rows.append(
        (
            f"[{scale}] load + clean + invoice table, once per process",
            (time.perf_counter() - t0) * 1000,
            None,
            "ms",
        )
    )

    def values(method, cluster=None, names=None):
        # what the browser sends: every control at its declared starting value
        v = {state_key(p.key): p.initial(None) for p in params.CLUSTER_PARAMS}
        v[state_key("cl_features")] = list(v[state_key("cl_features")])
        v.update({
            state_key("dataset"): dataset,
            state_key("cl_method"): method,
            "cl-names.data": names or ["High Value"],
        })  # fmt: skip
        if cluster:
            v[state_key("cl_cluster")] = cluster
        return v

    def call(name, vals):
        resp = client.call(name, vals)
        assert resp.status_code == 200, resp.data[:500]
        return resp

    def page_change(vals):
        """What the browser does when the method changes: the main and the diagnostics
        callbacks at once (two requests in flight), then the grid with the stored names."""
        with ThreadPoolExecutor(2) as pool:
            main = pool.submit(call, "update_clustering", vals)
            diag = pool.submit(call, "update_cluster_diagnostics", vals)
            names = json.loads(main.result().data)["response"]["cl-names"]["data"]
            diag.result()
        call("serve_cl_grid", {**vals, "cl-names.data": names})

    for method in METHODS:
        vals = values(method)
        # the main callback: K-Means, DBSCAN, hierarchical <= 150 ms at full scale
        target_u = (150 if method != "gmm" else None) if full else 1500
        for cb in ("update_clustering", "update_cluster_diagnostics"):
            ms, cpu = median_wall_cpu(
                lambda cb=cb, vals=vals: call(cb, vals), runs, setup=service.cache.clear
            )
            rows.append(
                (
                    f"[{scale}] {method:<12} {cb} uncached",
                    ms,
                    target_u if cb == "update_clustering" else (None if full else 1500),
                    "ms",
                )
            )
            rows.append((f"[{scale}] {method:<12} {cb} uncached, CPU time", cpu, None, "ms"))
            call(cb, vals)
            ms, cpu = median_wall_cpu(lambda cb=cb, vals=vals: call(cb, vals), runs)
            rows.append(
                (
                    f"[{scale}] {method:<12} {cb} cached",
                    ms,
                    30 if full and cb == "update_clustering" else None,
                    "ms",
                )
            )
        # the clustering alone uncached: the RFM table (shared with the RFM page) cached
        ms, cpu = median_wall_cpu(
            lambda vals=vals: call("update_clustering", vals),
            runs,
            setup=lambda: (service.cache.clear(), service.rfm_table(filters)),
        )
        rows.append((f"[{scale}] {method:<12} update_clustering, RFM table cached", ms, None, "ms"))
        ms, _ = median_ms(lambda vals=vals: page_change(vals), runs=runs, setup=service.cache.clear)
        rows.append(
            (
                f"[{scale}] {method:<12} all callbacks of a change, uncached",
                ms,
                None if full else 1500,
                "ms",
            )
        )
        # display only: another cluster in the grid (clustering read from the cache)
        resp = call("update_clustering", vals)
        names = json.loads(resp.data)["response"]["cl-names"]["data"]
        picks = iter(names * runs)
        ms, _ = median_ms(
            lambda m=method, p=picks, n=names: call("serve_cl_grid", values(m, next(p), n)),
            runs=runs,
        )
        rows.append(
            (f"[{scale}] {method:<12} grid: select another cluster", ms, 30 if full else None, "ms")
        )
        size = len(resp.data) / 1024
        rows.append((f"[{scale}] {method:<12} update_clustering response size", size, None, "kB"))
    rows.append((f"[{scale}] peak resident memory of the process", peak_rss_mb(), 3072, "MB"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale10", action="store_true", help="10M rows / 60,000 customers")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    report(run("10x" if args.scale10 else "full", args.runs))
