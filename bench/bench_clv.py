"""Benchmark of the CLV models and cohort tables at full Online Retail II scale (and 10x).

Usage::

    python bench/bench_clv.py [--scale10] [--runs 5]

Builds the invoice-level orders from a generated Online-Retail-II-shaped CSV
(``/work/shared/tools/gen_online_retail.py``; generated if missing): read plainly with
pandas, rows without a customer id and ``C`` (cancellation) invoices dropped, aggregated to
one row per invoice. Reports the median of ``--runs`` runs of each step, with targets:

* BG/NBD + Gamma-Gamma fit + predict (``customer_clv``): <= 100 ms at full scale
  (5,942 customers), <= 1.5 s at 10x (60,000 customers).

Calibration: the whole data set (calibration_end = last invoice day), weekly time unit.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashapp.analytics import clv as cm  # noqa: E402
from dashapp.analytics.cohorts import cohort_tables  # noqa: E402

GENERATOR = ROOT.parent / "shared" / "tools" / "gen_online_retail.py"
SCALES = {
    "full": {
        "rows": 1_067_371,
        "customers": 5_942,
        "out": Path("/tmp/or2_full.csv"),
        "target_s": 0.100,
    },
    "10x": {
        "rows": 10_000_000,
        "customers": 60_000,
        "out": Path("/tmp/or2_10x.csv"),
        "target_s": 1.5,
    },
}


def ensure_csv(scale: dict) -> Path:
    out = scale["out"]
    if not out.exists():
        print(f"generating {out} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                "--rows",
                str(scale["rows"]),
                "--customers",
                str(scale["customers"]),
                "--seed",
                "42",
                "--out",
                str(out),
                "--quiet",
            ],
            check=True,
        )
    return out


def load_orders(path: Path) -> pd.DataFrame:
    """Invoice-level orders (purchases only) from the raw CSV."""
    raw = pd.read_csv(path, dtype={"Invoice": str, "StockCode": str}, encoding="utf-8")
    raw = raw[raw["Customer ID"].notna() & ~raw["Invoice"].str.startswith("C")]
    raw = raw.assign(
        line_total=raw["Quantity"] * raw["Price"],
        customer_id=raw["Customer ID"].astype("int64").astype(str),
        InvoiceDate=pd.to_datetime(raw["InvoiceDate"]),
    )
    orders = raw.groupby("Invoice", sort=False).agg(
        customer_id=("customer_id", "first"),
        invoice_date=("InvoiceDate", "min"),
        country=("Country", "first"),
        revenue=("line_total", "sum"),
        lines=("line_total", "size"),
    )
    orders = orders.reset_index().rename(columns={"Invoice": "invoice"})
    orders["customer_id"] = orders["customer_id"].astype("category")
    orders["country"] = orders["country"].astype("category")
    orders["is_cancellation"] = False
    return orders


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench(name: str, scale: dict, runs: int) -> None:
    path = ensure_csv(scale)
    t0 = time.perf_counter()
    orders = load_orders(path)
    print(
        f"\n== {name}: {path} -> {len(orders):,} orders, "
        f"{orders['customer_id'].nunique():,} customers (load {time.perf_counter() - t0:.1f} s)"
    )
    cal_end = orders["invoice_date"].max()

    def summary():
        return cm.calibration_summary(
            orders,
            customer_col="customer_id",
            date_col="invoice_date",
            amount_col="revenue",
            calibration_end=cal_end,
            time_unit="W",
        )

    t_sum, s = median_time(summary, runs)
    x, tx, T, mv = s["frequency"], s["recency"], s["T"], s["monetary_value"]
    t_bg, bg = median_time(lambda: cm.fit_bgnbd(x, tx, T), runs)
    t_pn, pn = median_time(lambda: cm.fit_pareto_nbd(x, tx, T), runs)
    t_gg, gg = median_time(lambda: cm.fit_gamma_gamma(x, mv), runs)
    t_clv, clv = median_time(lambda: cm.customer_clv(bg, gg, s), runs)

    def pipeline():
        b = cm.fit_bgnbd(x, tx, T)
        g = cm.fit_gamma_gamma(x, mv)
        return cm.customer_clv(b, g, s)

    t_pipe, _ = median_time(pipeline, runs)
    t_coh, coh = median_time(lambda: cohort_tables(orders), runs)

    print(f"customers in summary: {len(s):,}; repeat customers: {(s['frequency'] > 0).sum():,}")
    print(f"BG/NBD: {bg.message}; params {_fmt(bg.params)}")
    print(f"Pareto/NBD: {pn.message}; params {_fmt(pn.params)}")
    print(f"Gamma-Gamma: {gg.message}; params {_fmt(gg.params)}; excluded {gg.n_excluded}")
    print(f"CLV 12 months: total {clv['clv'].sum():,.0f}, median {clv['clv'].median():,.1f}")
    print(f"cohorts: {len(coh.sizes)} cohorts x {coh.retention.shape[1]} months")
    head = f"step (median of {runs})"
    print(f"\n{head:<42}{'seconds':>10}{'target':>10}{'ratio':>8}")
    target = scale["target_s"]
    rows = [
        ("calibration_summary", t_sum, None),
        ("fit_bgnbd", t_bg, None),
        ("fit_pareto_nbd", t_pn, None),
        ("fit_gamma_gamma", t_gg, None),
        ("customer_clv (BG/NBD + GG, 12 months)", t_clv, None),
        ("BG/NBD + GG fit + predict", t_pipe, target),
        ("cohort_tables", t_coh, 0.050 if name == "full" else None),
    ]
    for label, t, tgt in rows:
        if tgt is None:
            print(f"{label:<42}{t:>10.4f}{'':>10}{'':>8}")
        else:
            flag = "ok" if t <= tgt else "MISSED"
            print(f"{label:<42}{t:>10.4f}{tgt:>10.3f}{t / tgt:>7.2f}x {flag}")


def _fmt(params: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in params.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale10", action="store_true", help="also run at 10x (60k customers)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    bench("full", SCALES["full"], args.runs)
    if args.scale10:
        bench("10x", SCALES["10x"], args.runs)


if __name__ == "__main__":
    main()
