"""Server CPU of every page callback at full Online Retail II scale (the generated
1,067,371-row CSV), uncached and cached, in one process (issue 14: <= 100 ms CPU uncached,
<= 20 ms cached).

Each callback is posted as the browser posts it (Flask's test client, JSON serialisation
included) with every control at its declared starting value and no filter: cached (the same
request again) and uncached (the results cache cleared before each run; the cleaned dataset,
its product lines and the default view's kept model stay in the process, as in a running
worker). Medians of ``--runs`` runs, wall and CPU time of this process, with the load
average. ``--code DIR`` runs another source tree (e.g. ``git archive`` of main) with this
script, so the two trees are measured the same way; a callback a tree lacks is skipped.

    .venv/bin/python bench/bench_page_callbacks.py [--code DIR] [--runs 5] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

#: (callback, extra inputs beyond the controls and the dataset): the page callbacks a click
#: or a page load runs, in page order. Triggers of on-demand panels are a counter.
GRID_BLOCK = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
CALLBACKS: list[tuple[str, dict]] = [
    ("update_overview", {}),
    ("update_rfm", {}),
    ("serve_rfm_grid", {"rfm-grid.getRowsRequest": GRID_BLOCK}),
    ("update_cohorts", {}),
    ("serve_co_grid", {"co-grid.getRowsRequest": GRID_BLOCK}),
    ("update_clv_model", {}),
    ("update_clv_values", {}),
    ("serve_clv_grid", {"clv-grid.getRowsRequest": GRID_BLOCK}),
    ("update_clv_validation", {"clv-holdout-request.data": 1}),
    ("update_clv_intervals", {"clv-intervals-request.data": 1}),
    ("update_clv_comparison", {"clv-compare-request.data": 1}),
    ("update_clustering", {}),
    ("update_cluster_diagnostics", {"cl-diag-request.data": 1}),
    ("serve_cl_grid", {"cl-grid.getRowsRequest": GRID_BLOCK}),
    ("update_migration", {}),
    (
        "serve_mig_flow_grid",
        {
            "mig-flow.data": ["Loyal Customers", "Loyal Customers"],
            "mig-flow-grid.getRowsRequest": GRID_BLOCK,
        },
    ),
    ("update_customer", {}),
    ("update_customer_explanation", {}),
    ("update_countries", {}),
    ("update_products", {}),
    ("serve_prod_grid", {"prod-grid.getRowsRequest": GRID_BLOCK}),
    ("update_lift", {}),
    ("update_types", {}),
    ("update_actions", {}),
    ("serve_actions_grid", {"actions-grid.getRowsRequest": GRID_BLOCK}),
    ("update_plan", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--code", type=Path, default=None, help="source tree to run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="callback names (default: all)")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    parser.add_argument("--csv", type=Path, help="another file (default: the generated one)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="start from this cache folder (e.g. "
        "bench_engine.py --keep-cache's: a large file is not prepared again)",
    )
    parser.add_argument(
        "--no-product-lines",
        action="store_true",
        help="do not prepare the "
        "product lines first (at 100M lines they alone exceed the memory "
        "targets); the callbacks that read them are then not measured",
    )
    args = parser.parse_args()
    if args.code:  # before common's import: it puts this checkout on the path
        sys.path.insert(0, str(args.code.resolve()))
    here = str(Path(__file__).resolve().parent)
    sys.path.insert(1 if args.code else 0, here)
    from common import (
        app_client,
        controls_at_start,
        machine,
        median_wall_cpu,
        peak_rss_mb,
        wait_for_background_work,
    )

    if args.code:  # common put this checkout first: the tree asked for goes before it
        sys.path.remove(str(args.code.resolve()))
        sys.path.insert(0, str(args.code.resolve()))
    from dashapp import service
    from dashapp.ingest import cleaning
    from tests.callback_client import state_key

    if args.csv:
        import common

        common.SCALES["full"] = (0, 0, args.csv)
    app, client, csv = app_client("full", args.cache_dir)
    import dashapp

    print(f"code: {Path(dashapp.__file__).parent.parent}; {machine()}; {csv.name}", flush=True)
    dataset = csv.stem
    service.cleaned(dataset, cleaning.CleaningRules().flags())
    filters = service.Filters.build(dataset=dataset)
    if not args.no_product_lines:
        wait_for_background_work(service, filters)
    top = service.rfm_table(filters).sort_values("frequency", ascending=False).index[0]
    base = {**controls_at_start(dataset), state_key("id"): str(top)}

    def post(name, values):
        resp = client.call(name, values)
        assert resp.status_code == 200, resp.data[:300]
        assert b"param-error" not in resp.data, resp.data[:300]
        return resp

    results = {}
    print(f"{'callback':<30}{'uncached CPU':>14}{'(wall)':>9}{'cached CPU':>12}{'(wall)':>9}"
          f"{'kB':>8}  load")  # fmt: skip
    for name, extra in CALLBACKS:
        if args.only and name not in args.only:
            continue
        if name not in client.by_name:
            print(f"{name:<30} not in this tree")
            continue
        values = {**base, **extra}
        size = len(post(name, values).data) / 1024
        u_wall, u_cpu = median_wall_cpu(
            lambda n=name, v=values: post(n, v), args.runs, setup=service.cache.clear
        )
        post(name, values)
        c_wall, c_cpu = median_wall_cpu(lambda n=name, v=values: post(n, v), args.runs)
        load = os.getloadavg()[0]
        flag = " *" if u_cpu > 100 or c_cpu > 20 else ""
        print(f"{name:<30}{u_cpu:>14.0f}{u_wall:>9.0f}{c_cpu:>12.1f}{c_wall:>9.0f}{size:>8.0f}"
              f"  {load:.1f}{flag}", flush=True)  # fmt: skip
        results[name] = {"uncached_cpu": u_cpu, "uncached_wall": u_wall, "cached_cpu": c_cpu,
                         "cached_wall": c_wall, "kB": size, "load": load}  # fmt: skip
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; * = above 100 ms uncached "
          f"or 20 ms cached (CPU); peak RSS of this process {peak_rss_mb():,.0f} MB")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
