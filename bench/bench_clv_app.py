"""Benchmark of the CLV and Cohorts pages' callbacks at full Online Retail II scale (and 10x
with --scale10).

Measures, as the browser triggers them (POST /_dash-update-component through Flask's test
client, JSON serialisation included), every CLV-page callback and the Cohorts callback:

* uncached: the results cache is cleared before each run (the dataset itself stays loaded, as
  in a running worker), so the model is refitted; runs cycle through filter variants;
* cached: the same request again;
* display change: only the horizon / margin changes (the fit is cached, the prediction is
  not), the common interaction on the page.

BG/NBD + Gamma-Gamma carries the targets (<= 150 ms uncached, <= 30 ms cached at full scale;
<= 1.5 s with 60,000 customers); Pareto/NBD is reported alongside. Medians of 5 runs of the
wall time; the label adds the median CPU time of this process (the work itself, whatever else
runs on the machine) and each line printed during the run the load average.

    .venv/bin/python bench/bench_clv_app.py [--scale10] [--runs 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

from common import app_client, machine, median_wall_cpu, peak_rss_mb, report

CLV_CALLBACKS = (
    "update_clv_model",
    "update_clv_values",
    "serve_clv_grid",
    "update_clv_validation",
)


def run(scale: str, runs: int) -> list[tuple]:
    from dashapp import service
    from dashapp.ingest import cleaning
    from tests.callback_client import date_key, state_key

    app, client, csv = app_client(scale)
    dataset = csv.stem
    full = scale == "full"

    class Rows(list):
        def append(self, row):  # print as we go: a full run takes minutes
            what, value, target, unit = row
            if isinstance(value, tuple):  # (wall, cpu): the CPU time goes into the label
                value, cpu = value
                what = f"{what} (cpu {cpu:.0f})"
            print(f"  {what}: {value:.1f} {unit}  [load {os.getloadavg()[0]:.1f}]", flush=True)
            super().append((what, value, target, unit))

    rows = Rows()

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
    n_customers = len(service.clv_fit(service.Filters.build(dataset=dataset)).summary)
    service.cache.clear()

    def inputs(model: str) -> dict:
        return {
            state_key("dataset"): dataset,
            state_key("clv_model"): model,
            state_key("clv_horizon"): 12,
            state_key("clv_margin"): 30,
            state_key("clv_discount"): 10,
            state_key("clv_lifespan"): 3,
            state_key("clv_churn"): 90,
            state_key("clv_track"): "weekly",
        }

    def variants(base: dict) -> list[dict]:
        return [
            dict(base),
            {**base, date_key("start"): "2010-03-01"},
            {**base, date_key("end"): "2011-09-30"},
            {**base, state_key("countries"): ["United Kingdom"]},
            {**base, date_key("start"): "2010-01-15"},
        ]

    def call(name: str, values: dict) -> None:
        resp = client.call(name, values)
        assert resp.status_code == 200, resp.data[:500]

    def uncached(name: str, base: dict) -> float:
        it = itertools.cycle(variants(base))
        return median_wall_cpu(lambda: call(name, next(it)), runs=runs, setup=service.cache.clear)

    def cached(name: str, base: dict) -> float:
        call(name, base)
        return median_wall_cpu(lambda: call(name, base), runs=runs)

    def display_change(name: str, base: dict) -> float:
        call("update_clv_model", base)  # the fit is cached
        horizons = itertools.count(13)
        return median_wall_cpu(
            lambda: call(name, {**base, state_key("clv_horizon"): next(horizons)}), runs=runs
        )

    label = f"[{scale}, {n_customers:,} customers]"
    t_unc, t_c = (150, 30) if full else (1500, None)
    for model, targets in (("bgnbd", True), ("pareto_nbd", False)):
        base = inputs(model)
        for name in CLV_CALLBACKS:
            rows.append(
                (
                    f"{label} {model} {name} uncached",
                    uncached(name, base),
                    t_unc if targets else None,
                    "ms",
                )
            )
            rows.append(
                (
                    f"{label} {model} {name} cached",
                    cached(name, base),
                    t_c if targets else None,
                    "ms",
                )
            )
        for name in ("update_clv_values", "serve_clv_grid"):
            rows.append(
                (
                    f"{label} {model} {name}, horizon changed (fit cached)",
                    display_change(name, base),
                    t_unc if targets else None,
                    "ms",
                )
            )
    base = inputs("bgnbd")
    rows.append((f"{label} update_cohorts uncached", uncached("update_cohorts", base), t_unc, "ms"))
    rows.append((f"{label} update_cohorts cached", cached("update_cohorts", base), t_c, "ms"))
    rows.append((f"[{scale}] peak resident memory of the process", peak_rss_mb(), None, "MB"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale10", action="store_true", help="10M rows / 60,000 customers")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine(), f"load average {os.getloadavg()[0]:.1f}")
    report(run("10x" if args.scale10 else "full", args.runs))
