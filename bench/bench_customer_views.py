"""Server time of the Segment migration, Customer, Countries and Products views at full Online Retail II
scale (the generated 1,067,371-row CSV).

Each callback is posted as the browser posts it (Flask's test client, JSON serialisation
included): cached (the same request again), uncached (results cache cleared before each run;
the cleaned dataset stays loaded, as in a running worker; a cleared cache also drops the CLV
fit and the monthly RFM tables the views share) and as a user moves on (another period,
another customer, with the shared pieces cached). Medians of 5 runs, wall and CPU time of this
process, with the load average.

    .venv/bin/python bench/bench_customer_views.py
"""

from __future__ import annotations

import os

from common import app_client, machine, median_wall_cpu, report, wait_for_background_work


def main() -> None:
    from dashapp import service
    from dashapp.ingest import cleaning
    from tests.callback_client import date_key, state_key

    app, client, csv = app_client("full")
    dataset = csv.stem
    service.cleaned(dataset, cleaning.CleaningRules().flags())
    filters = service.Filters.build(dataset=dataset)
    wait_for_background_work(service, filters)
    ids = list(service.rfm_table(filters).sort_values("frequency", ascending=False).index[:12])
    base = {state_key("dataset"): dataset}
    clv = {state_key(k): v for k, v in
           (("clv_model", "bgnbd"), ("clv_horizon", "12"), ("clv_margin", "30"),
            ("clv_discount", "10"))}  # fmt: skip
    mig = {**base, state_key("mig_period"): "quarter"}
    flow = {**mig, "mig-flow.data": ["Loyal Customers", "Loyal Customers"]}
    cust = {**base, **clv, state_key("id"): ids[0]}
    geo = {**base, **clv, state_key("geo_measure"): "revenue"}

    def post(name, values):
        resp = client.call(name, values)
        assert resp.status_code == 200, resp.data[:300]
        assert b"param-error" not in resp.data and b"empty-state" not in resp.data, resp.data[:300]

    rows = []

    def measure(label, name, values, moves=None):
        post(name, values)
        wall, cpu = median_wall_cpu(lambda: post(name, values))
        rows.append((f"{label}: cached (wall)", wall, 100, "ms"))
        rows.append((f"{label}: cached (CPU)", cpu, None, "ms"))
        wall, cpu = median_wall_cpu(lambda: post(name, values), setup=service.cache.clear)
        rows.append((f"{label}: uncached, cache cleared (wall)", wall, None, "ms"))
        rows.append((f"{label}: uncached, cache cleared (CPU)", cpu, None, "ms"))
        if moves:
            it = iter(moves)
            wall, cpu = median_wall_cpu(lambda: post(name, next(it)))
            rows.append((f"{label}: next request, shared parts cached (wall)", wall, 300, "ms"))
            rows.append((f"{label}: next request, shared parts cached (CPU)", cpu, None, "ms"))

    periods = [{**mig, date_key("mig_to"): d} for d in
               ("2011-06-15", "2011-03-15", "2010-12-15", "2010-09-15", "2010-06-15")]  # fmt: skip
    measure("update_migration (matrix, Sankey, net, sizes)", "update_migration", mig, periods)
    first_block = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    measure("serve_mig_flow_grid (a block of the clicked flow's customers)",
            "serve_mig_flow_grid", {**flow, "mig-flow-grid.getRowsRequest": first_block})  # fmt: skip
    customers = [{**cust, state_key("id"): i} for i in ids[1:6]]
    measure("update_customer", "update_customer", cust, customers)
    explain = {**base, state_key("id"): ids[0]}
    measure("update_customer_explanation (its own callback)", "update_customer_explanation",
            explain, [{**base, state_key("id"): i} for i in ids[1:6]])  # fmt: skip
    measure("update_countries (map + table)", "update_countries", geo)
    prod = {**base, **clv, state_key("prod_best"): "champions"}
    measure("update_products (summary, three charts)", "update_products", prod)
    block = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    measure("serve_prod_grid (a block of 100 rows)", "serve_prod_grid",
            {**prod, "prod-grid.getRowsRequest": block})  # fmt: skip
    lift = {**base, state_key("prod_segment"): "Champions", state_key("prod_min_buyers"): 10}
    segments = [{**lift, state_key("prod_segment"): s} for s in
                ("Loyal Customers", "At Risk", "Hibernating", "Promising", "Need Attention")]  # fmt: skip
    measure("update_lift (a segment's lift table)", "update_lift", lift, segments)
    measure("update_types (by product type: chart + table)", "update_types", base)
    load = os.getloadavg()
    print(f"{machine()}; {csv.name}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    report(rows)


if __name__ == "__main__":
    main()
