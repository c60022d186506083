"""Benchmark and checks of the second predictive round (issue 18): fit times of every
purchase model on the 1M-row file, the on-demand panels (model comparison, intervals), and
how often the intervals of the holdout total contain the actual total.

Usage::

    .venv/bin/python bench/bench_clv_predictive.py [--runs 5] [--replications 100]
    .venv/bin/python bench/bench_clv_predictive.py --only coverage   # or: fits, cdnow

* ``fits``: on the generated full-scale file (bench.common.generated_csv('full')), through
  the service as the app runs it (filtered invoice table -> calibration summary -> fit):
  median wall and CPU time of each purchase model's fit (cache cleared before each run),
  of the model comparison (three fits on the calibration period + the churn check) and of
  the intervals (100 parameter draws); then, on the default holdout split of that file,
  the comparison table and whether the actual holdout total falls in each model's 90 % /
  80 % prediction interval.
* ``ml``: the machine-learned model on the same file: features + training + scoring time,
  the global SHAP importance and one customer's explanation, and the comparison with it.
* ``features``: the ML model on the default split with the purchase-history features only,
  + returns rate and country, + product mix, on the real extract and the 1M-row file.
* ``scale``: every fit at ~60,000 customers (the 10M-row file, 0.9 GB in /tmp: delete it
  after), median wall and CPU time against the 5 s target.
* ``cdnow``: the comparison table on CDNOW (39 + 39 weeks, ../shared/data/cdnow) and the
  same interval check for each model.
* ``coverage``: ``--replications`` data sets of 1,500 customers drawn from each model's own
  story (tests/factories.simulate_histories, CDNOW-like parameters): the share of data
  sets whose actual holdout total lies in the 90 % prediction interval and in the
  parameter-only interval.

Every line printed carries the 1-minute load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import generated_csv, machine, median_wall_cpu  # noqa: E402

from dashapp.analytics import clv as cm  # noqa: E402
from dashapp.analytics.clv import compare, uncertainty  # noqa: E402

CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"
SAMPLE = ROOT.parent / "shared" / "data" / "online_retail_II_sample.xlsx"
PARAMS = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}


def say(text: str) -> None:
    print(f"{text}  [load {os.getloadavg()[0]:.2f}]", flush=True)


def show_table(table: pd.DataFrame) -> None:
    cols = [
        "label", "predicted_total", "actual_total", "total_error_pct", "mae", "rmse",
        "spearman", "top10_capture", "calibration_error", "fit_seconds",
    ]  # fmt: skip
    extra = [c for c in ("churn_predicted", "churn_actual", "churn_brier") if c in table]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table[cols + extra].round(4).to_string(), flush=True)


def interval_check(fit, summary: pd.DataFrame, label: str) -> None:
    for level in (0.9, 0.8):
        t0 = time.perf_counter()
        h = uncertainty.holdout_total_interval(fit, summary, level=level)
        say(
            f"  {label} {level:.0%}: actual {h['actual']:,.0f}, forecast {h['estimate']:,.0f}, "
            f"prediction interval {h['lo']:,.0f}-{h['hi']:,.0f} "
            f"({'inside' if h['inside'] else 'OUTSIDE'}), parameters only "
            f"{h['param_lo']:,.0f}-{h['param_hi']:,.0f} "
            f"({'inside' if h['inside_param'] else 'OUTSIDE'}) "
            f"[{time.perf_counter() - t0:.2f} s]"
        )


def fits(runs: int) -> None:
    from common import app_client

    from dashapp import service
    from dashapp.service.views import clv as clv_views

    app, _client, csv = app_client("full")
    filters = service.Filters.build(dataset=csv.stem)
    t0 = time.perf_counter()
    base = service.clv_fit(filters, "bgnbd")
    say(f"[full] load + clean + summary, once: {time.perf_counter() - t0:.1f} s; "
        f"{base.n_customers:,} customers, {base.n_repeat:,} repeat")  # fmt: skip
    for model in cm.MODELS:
        wall, cpu = median_wall_cpu(
            lambda m=model: service.clv_fit(filters, m), runs=runs, setup=service.cache.clear
        )
        fit = service.clv_fit(filters, model)
        say(f"[full] {cm.MODEL_LABELS[model]} summary + fit + Gamma-Gamma, uncached: "
            f"{wall:.0f} ms (cpu {cpu:.0f}); purchase fit alone {fit.fit_seconds * 1000:.0f} ms; "
            f"converged {fit.purchase.converged}")  # fmt: skip
    wall, cpu = median_wall_cpu(
        lambda: service.clv_comparison(filters), runs=runs, setup=service.cache.clear
    )
    say(f"[full] model comparison (3 fits on the calibration period + churn check), uncached: "
        f"{wall:.0f} ms (cpu {cpu:.0f})")  # fmt: skip
    for model in cm.MODELS:
        service.clv_fit(filters, model)  # fitted, as when the page shows the model

        def intervals(m=model):
            # the fit stays cached; only the intervals are recomputed
            return clv_views._clv_intervals.uncached(filters, m, 12, 30.0, 10.0, "90")

        wall, cpu = median_wall_cpu(intervals, runs=max(1, runs // 2))
        say(f"[full] {cm.MODEL_LABELS[model]} intervals (100 draws + holdout check), model "
            f"fitted: {wall:.0f} ms (cpu {cpu:.0f})")  # fmt: skip
    result = service.clv_comparison(filters)
    say(f"[full] comparison on the default split, fitted up to {result.calibration_end}, "
        f"holdout to {result.observation_end}; recommended: {result.winner}")  # fmt: skip
    print(result.recommendation)
    show_table(result.table)
    cal = result.calibration_end
    for model in cm.MODELS:
        fit = service.clv_fit(filters, model, cal)
        interval_check(fit.purchase, fit.summary, f"[full] {cm.MODEL_LABELS[model]}")


def ml_bench(runs: int) -> None:
    """The machine-learned model on the full-scale file: training + scoring time (the
    comparison's split and the whole range), global importance, one explanation, and the
    comparison table with it."""
    from common import app_client

    from dashapp import service
    from dashapp.analytics.clv import ml
    from dashapp.service.views import clv as clv_views

    _app, _client, csv = app_client("full")
    filters = service.Filters.build(dataset=csv.stem)
    cal, _ = service.clv_calibration_end(filters, None)
    for label, when in (("comparison split", cal), ("whole range", None)):
        service.clv_fit(filters, "bgnbd", when)  # the summary the model scores, cached
        wall, cpu = median_wall_cpu(
            lambda w=when: clv_views._clv_ml.uncached(filters, w), runs=runs
        )
        forecast = service.clv_ml(filters, when)
        say(f"[full] ML features + training + scoring, {label}: {wall:.0f} ms (cpu {cpu:.0f}); "
            f"training alone {forecast.fit_seconds * 1000:.0f} ms; {forecast.message}")  # fmt: skip
    forecast = service.clv_ml(filters)
    wall, cpu = median_wall_cpu(lambda: ml.importance(forecast), runs=runs)
    say(f"[full] global SHAP importance (200 customers): {wall:.0f} ms (cpu {cpu:.0f})")
    customer = forecast.features.index[0]
    wall, cpu = median_wall_cpu(lambda: service.customer_explanation(filters, customer), runs=runs)
    say(f"[full] one customer's explanation: {wall:.0f} ms (cpu {cpu:.0f})")
    print(ml.importance(forecast).round(4).to_string(), flush=True)
    result = service.clv_comparison(filters)
    say(f"[full] comparison with the ML model; recommended: {result.winner}")
    print(result.recommendation)
    show_table(result.table)


def _app_on(path: Path, env: dict | None = None, cache_dir: str | None = None):
    """A Dash app on one data file (in-process cache), and its filters."""
    import tempfile

    from dashapp import create_app, service
    from dashapp.config import Settings

    cache_dir = cache_dir or tempfile.mkdtemp(prefix="bench-cache-")
    settings = Settings.from_env(env=env or {}, data_path=path, cache_dir=cache_dir)
    app = create_app(type(settings)(**{**settings.__dict__, "cache_type": "SimpleCache"}))
    return app, service.Filters.build(dataset=path.stem)


def ml_features_bench() -> None:
    """Does the holdout comparison change with the returns rate, country and product mix?
    The ML model on the default split with the purchase-history features only (the first
    round), + returns rate and country, + product mix (all), on the real extract and the
    generated 1M-row file; the purchase models' rows for reference."""
    from dataclasses import replace

    from dashapp import service
    from dashapp.analytics.clv import ml
    from dashapp.service.views import clv as clv_views

    for name, path in (("real extract", SAMPLE), ("generated 1M", generated_csv("full"))):
        _app, filters = _app_on(path)
        result = service.clv_comparison(filters)
        cal = result.calibration_end
        rng = service.clv_range(filters)
        summary = service.clv_fit(filters, "bgnbd", cal).summary
        actual = summary["frequency_holdout"].to_numpy(dtype=float)
        say(f"[{name}] fitted up to {cal}, holdout to {result.observation_end}, "
            f"{len(summary):,} customers; recommended: {result.winner}")  # fmt: skip
        show_table(result.table)
        full = clv_views._ml_sources(filters)
        variants = {
            "history only (round 1)": replace(full, orders=None, lines=None),
            "+ returns, country": replace(full, lines=None),
            "+ returns, country, products": full,
        }
        for label, sources in variants.items():
            c0 = time.process_time()
            out = ml.ml_forecast(
                sources, summary, calibration_end=cal,
                holdout_days=(rng[1] - pd.Timestamp(cal)).days, data_start=rng[0],
            )  # fmt: skip
            cpu = time.process_time() - c0
            if not out.converged:
                say(f"[{name}] ML {label}: not fitted: {out.message}")
                continue
            m = compare._measures(out.predictions, actual)
            say(f"[{name}] ML {label}: total {m['predicted_total']:,.0f} / {m['actual_total']:,.0f} "
                f"({m['total_error_pct']:+.1%}), MAE {m['mae']:.3f}, RMSE {m['rmse']:.3f}, "
                f"rank corr. {m['spearman']:.3f}, top-10% capture {m['top10_capture']:.1%}, "
                f"calibration error {m['calibration_error']:.3f}; dropped {out.dropped}; "
                f"cpu {cpu:.2f} s")  # fmt: skip
            imp = ml.importance(out).head(5)
            print("   top |SHAP|: " + ", ".join(
                f"{f} {v:.3f}" for f, v in zip(imp["feature"], imp["mean_abs_shap"], strict=True)
            ), flush=True)  # fmt: skip


def scale(runs: int) -> None:
    """Every fit at ~60,000 customers (bench.common.generated_csv('10x'): 10M rows), on the
    summaries the app builds (whole range, and the comparison's calibration period): median
    wall and CPU time of each purchase model, Gamma-Gamma, and the ML model (features +
    training + scoring, then its global SHAP importance), without and with the product
    lines (DUCKDB_MEMORY_LIMIT 4GB here: at the default 1GB, preparing the product lines of
    10M rows runs out of memory and the ML model is fitted without the product mix). Target
    5 s each. ``BENCH_CACHE_DIR`` reuses a prepared copy of the file."""
    from dataclasses import replace

    from dashapp import service
    from dashapp.analytics.clv import ml
    from dashapp.service.views import clv as clv_views

    def row(what, wall, cpu, ok=True):
        say(f"[60k] {what}: median {wall / 1000:.2f} s wall, {cpu / 1000:.2f} s CPU "
            f"(target 5 s: {cpu / 5000:.2f}x){'' if ok else ' NOT CONVERGED'}")  # fmt: skip

    t0 = time.perf_counter()
    path = generated_csv("10x")
    _app, filters = _app_on(path, {"DUCKDB_MEMORY_LIMIT": "4GB"}, os.environ.get("BENCH_CACHE_DIR"))
    base = service.clv_fit(filters, "bgnbd")
    say(f"[60k] load + clean + summary, once: {time.perf_counter() - t0:.0f} s; "
        f"{base.n_customers:,} customers, {base.n_repeat:,} repeat")  # fmt: skip
    s = base.summary
    for model, fit_fn in cm.MODELS.items():
        wall, cpu = median_wall_cpu(
            lambda f=fit_fn: f(s["frequency"], s["recency"], s["T"], time_unit="W"), runs=runs
        )
        fit = fit_fn(s["frequency"], s["recency"], s["T"], time_unit="W")
        row(f"{cm.MODEL_LABELS[model]} fit", wall, cpu, fit.converged)
    wall, cpu = median_wall_cpu(
        lambda: cm.fit_gamma_gamma(s["frequency"], s["monetary_value"]), runs=runs
    )
    row("Gamma-Gamma fit", wall, cpu)
    cal, _ = service.clv_calibration_end(filters, None)
    rng = service.clv_range(filters)
    orders = clv_views._ml_sources.__globals__["filtered_orders"](filters)
    sources = ml.Sources(
        clv_views.holdout.purchase_log(orders), "customer_id", "invoice_date", "revenue",
        orders=orders,
    )  # fmt: skip
    summary = service.clv_fit(filters, "bgnbd", cal).summary

    def train_and_explain(src):
        forecast = ml.ml_forecast(
            src, summary, calibration_end=cal,
            holdout_days=(rng[1] - pd.Timestamp(cal)).days, data_start=rng[0],
        )  # fmt: skip
        ml.importance(forecast)
        return forecast

    wall, cpu = median_wall_cpu(lambda: train_and_explain(sources), runs=runs)
    row("ML without product lines: features + training + scoring + SHAP importance", wall, cpu)
    t0 = time.perf_counter()
    full = clv_views._ml_sources(filters)
    say(
        f"[60k] product lines prepared once: {time.perf_counter() - t0:.0f} s; "
        f"{'none: ' + full.lines_note if full.lines is None else f'{len(full.lines):,} lines'}"
    )
    if full.lines is not None:
        wall, cpu = median_wall_cpu(lambda: train_and_explain(replace(full)), runs=runs)
        row("ML with product lines: features + training + scoring + SHAP importance", wall, cpu)
    forecast = train_and_explain(full)
    who = forecast.features.index[0]
    wall, cpu = median_wall_cpu(lambda: ml.explain(forecast, who), runs=runs)
    row("ML one customer's explanation", wall, cpu)


def cdnow() -> None:
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["m", "customer", "date", "n", "v"])
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    summary = cm.calibration_summary(
        raw, customer_col="customer", date_col="date", amount_col="v",
        calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="W",
    )  # fmt: skip
    fitted = {}
    for model, fit_fn in cm.MODELS.items():
        t0 = time.perf_counter()
        fit = fit_fn(summary["frequency"], summary["recency"], summary["T"])
        fitted[model] = (fit, time.perf_counter() - t0)
    result = compare.compare_models(summary, fitted, cm.MODEL_LABELS)
    short = cm.calibration_summary(
        raw, customer_col="customer", date_col="date", amount_col="v",
        calibration_end="1997-09-30", observation_end="1997-12-29", time_unit="W",
    )  # fmt: skip
    churn = compare.churn_check(short, {k: f for k, (f, _) in fitted.items()}, 90 / 7)
    say(f"[CDNOW] 2,357 customers, 39 + 39 weeks; recommended: {result.winner}")
    print(result.reason)
    show_table(result.table.join(churn))
    for model, (fit, _) in fitted.items():
        interval_check(fit, summary, f"[CDNOW] {cm.MODEL_LABELS[model]}")


def coverage(replications: int) -> None:
    from tests.factories import simulate_histories

    for model, params in PARAMS.items():
        rng = np.random.default_rng(2026)
        inside = inside_param = done = 0
        t0 = time.perf_counter()
        for _ in range(replications):
            s = simulate_histories(model, params, 1500, rng)
            fit = cm.MODELS[model](s["frequency"], s["recency"], s["T"])
            if not fit.converged:
                continue
            h = uncertainty.holdout_total_interval(fit, s, level=0.9, seed=int(rng.integers(1e9)))
            inside += h["inside"]
            inside_param += h["inside_param"]
            done += 1
        say(f"[generated from {cm.MODEL_LABELS[model]}] {done} of {replications} data sets "
            f"fitted; actual holdout total inside the 90 % prediction interval in "
            f"{inside:.0f} ({inside / max(done, 1):.0%}), inside the parameter-only interval "
            f"in {inside_param:.0f} ({inside_param / max(done, 1):.0%}) "
            f"[{time.perf_counter() - t0:.0f} s]")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--only", choices=("fits", "ml", "features", "scale", "cdnow", "coverage"))
    args = parser.parse_args()
    say(f"machine: {machine()}")
    if args.only in (None, "fits"):
        generated_csv("full")
        fits(args.runs)
    if args.only in (None, "ml"):
        ml_bench(args.runs)
    if args.only in (None, "features"):
        ml_features_bench()
    if args.only in (None, "scale"):
        scale(args.runs)
    if args.only in (None, "cdnow"):
        cdnow()
    if args.only in (None, "coverage"):
        coverage(args.replications)


if __name__ == "__main__":
    main()
