"""Benchmark of the app's interactions at full Online Retail II scale (and 10x with --scale10).

Measures, as the browser triggers them (POST /_dash-update-component through Flask's test
client, JSON serialisation included), the Overview and RFM callbacks uncached (results cache
cleared before each run; the dataset itself stays loaded, as in a running worker) and cached,
plus cleaning time and the process's peak memory. Medians of 5 runs.

    .venv/bin/python bench/bench_app.py [--scale10]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from common import generated_csv, machine, median_ms, peak_rss_mb, report


def run(scale: str) -> list[tuple]:
    from dashapp import cleaning, create_app, service
    from dashapp.config import Settings
    from tests.callback_client import CallbackClient, date_key, state_key

    csv = generated_csv(scale)
    cache_dir = tempfile.mkdtemp(prefix="bench-cache-")
    settings = Settings.from_env(env={}, data_path=csv, cache_dir=cache_dir)
    settings = type(settings)(**{**settings.__dict__, "cache_type": "SimpleCache"})
    app = create_app(settings)
    client = CallbackClient(app)
    dataset = csv.stem
    rows = []

    t0 = time.perf_counter()
    lines = service.transactions(dataset)
    rows.append((f"[{scale}] first load from CSV ({len(lines):,} rows)",
                 (time.perf_counter() - t0) * 1000, 1500 if scale == "full" else None, "ms"))
    ms, _ = median_ms(lambda: cleaning.clean(lines))
    rows.append((f"[{scale}] clean() all rules", ms, None, "ms"))
    t0 = time.perf_counter()
    service.cleaned(dataset, cleaning.CleaningRules().flags())
    rows.append((f"[{scale}] clean + invoice table, once per process",
                 (time.perf_counter() - t0) * 1000, None, "ms"))

    base = {state_key("dataset"): dataset}
    variants = [dict(base), {**base, date_key("start"): "2010-06-01"},
                {**base, state_key("countries"): "United Kingdom"},
                {**base, date_key("end"): "2011-06-30"}, {**base, date_key("start"): "2011-01-01"}]

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
    for cb, t_unc, t_c in (("update_overview", 150, 30), ("update_rfm", 150, 30),
                           ("update_rfm_grid", 150, 30)):
        rows.append(timed(cb, False, t_unc if full else 1500, None))
        rows.append(timed(cb, True, None, t_c if full else None))
    rows.append((f"[{scale}] peak resident memory of the process", peak_rss_mb(),
                 500 if full else None, "MB"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale10", action="store_true", help="10M rows / 60,000 customers")
    args = parser.parse_args()
    print(machine())
    report(run("10x" if args.scale10 else "full"))
