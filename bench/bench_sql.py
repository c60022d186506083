"""Every page's aggregates from PostgreSQL (SqlSource) versus the in-memory path, at 10M rows.

Usage (from the project root)::

    .venv/bin/python bench/bench_sql.py [--runs 3] [--rows 10000000] [--url URL]

1. Generates ``/tmp/or2_10x.csv`` with ``../shared/tools/gen_online_retail.py --rows 10000000
   --customers 60000 --seed 42`` (about 90 s; skipped when the file exists).
2. Loads it into PostgreSQL table ``bench_online_retail_10x`` with ``COPY ... FROM STDIN``
   (psycopg), in the raw CSV layout (``Customer ID`` as double precision) plus an identity
   column ``line_no`` (file order, mapped to ``line_number``); skipped when the table already
   has the CSV's row count.
3. Measures, each in a fresh subprocess, the time per page and the peak resident memory
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) of the app process:

   * ``sql``: ``SqlSource.bounds()`` (date range and countries), then ``SqlSource.pages()``
     (Overview KPIs + monthly + ledger, RFM customer table, CLV calibration summary with
     holdout, cohort cells: one statement; the cohort tables are built from the cells in the
     app, ``cohorts.tables_from_cells``, inside the same step) for all data and for a filtered
     selection (one year, three countries); RFM scores are computed in the app from the
     customer table;
   * ``memory``: ``load_transactions`` (CSV, no parquet cache) + ``clean`` + ``invoice_table``,
     then the same results with the in-memory functions (``service.overview`` itself,
     ``rfm.customer_rfm``, ``clv_models.calibration_summary``, ``cohorts.cohort_tables``).

   Medians over ``--runs`` runs. Prints a table; ``--json PATH`` also writes the numbers.
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
CSV = Path("/tmp/or2_10x.csv")
TABLE = "bench_online_retail_10x"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CAL_END, OBS_END = "2011-06-30", "2011-12-09"
FILTERED = {
    "start": "2010-06-01",
    "end": "2011-05-31",
    "countries": ("United Kingdom", "Germany", "France"),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------------------------
# Preparation (parent process)
# --------------------------------------------------------------------------------------------
def ensure_csv(rows: int, customers: int) -> None:
    if CSV.exists() and CSV.stat().st_size > 0:
        print(f"{CSV} exists ({CSV.stat().st_size / 1e9:.2f} GB), not regenerated")
        return
    t0 = time.perf_counter()
    generate_csv(CSV, rows, customers)
    print(f"  {time.perf_counter() - t0:.0f} s")


def csv_rows() -> int:
    with open(CSV, "rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b"")) - 1


def ensure_table(url: str) -> int:
    import sqlalchemy as sa

    n_csv = csv_rows()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if inspector.has_table(TABLE):
                n_db = conn.execute(sa.text(f'SELECT count(*) FROM "{TABLE}"')).scalar_one()
                has_line_no = "line_no" in {c["name"] for c in inspector.get_columns(TABLE)}
                if n_db == n_csv and has_line_no:
                    print(f"table {TABLE} holds {n_db:,} rows, not reloaded")
                    return n_db
                print(f"table {TABLE} holds {n_db:,} rows, the CSV {n_csv:,}: reloading")
        # the CSV's columns as they are, plus the line number in file order (an identity
        # column filled by COPY), mapped to the source's optional ``line_number``
        table = sa.Table(
            TABLE,
            sa.MetaData(),
            sa.Column("Invoice", sa.Text),
            sa.Column("StockCode", sa.Text),
            sa.Column("Description", sa.Text),
            sa.Column("Quantity", sa.Integer),
            sa.Column("InvoiceDate", sa.DateTime),
            sa.Column("Price", sa.Double),
            sa.Column("Customer ID", sa.Double),
            sa.Column("Country", sa.Text),
            sa.Column("line_no", sa.BigInteger, sa.Identity()),
        )
        csv_columns = ", ".join(f'"{c.name}"' for c in table.columns if c.name != "line_no")
        table.drop(engine, checkfirst=True)
        table.create(engine)
        print(f"COPY {CSV} -> {TABLE} ...", flush=True)
        t0 = time.perf_counter()
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                with (
                    cur.copy(
                        f'COPY "{TABLE}" ({csv_columns}) FROM STDIN WITH (FORMAT csv, HEADER true)'
                    ) as cp,
                    open(CSV, "rb") as fh,
                ):
                    while block := fh.read(1 << 23):
                        cp.write(block)
                raw.commit()
                cur.execute(f'ANALYZE "{TABLE}"')
                raw.commit()
        finally:
            raw.close()
        print(f"  {time.perf_counter() - t0:.0f} s")
        return n_csv
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# Children: one fresh process per measurement
# --------------------------------------------------------------------------------------------
def _timer(steps: dict[str, float]):
    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        steps[name] = time.perf_counter() - t
        return out

    return step


def child_sql(url: str) -> dict:
    from dashapp.analytics import cohorts, rfm
    from dashapp.ingest.sql import SqlSource

    steps: dict[str, float] = {}
    step = _timer(steps)
    t0 = time.perf_counter()
    src = step(
        "connect+reflect",
        lambda: SqlSource(url, TABLE, column_map={"line_number": "line_no"}, timeout_s=1800),
    )
    step("bounds", src.bounds)
    calibration = {"calibration_end": CAL_END, "observation_end": OBS_END, "time_unit_days": 7.0}

    def pages(**f):
        out = src.pages(**calibration, **f)
        out["cohorts"] = cohorts.tables_from_cells(**out["cohorts"].as_arguments())
        return out

    result = step("pages (all data)", pages)
    step("rfm scores", lambda: rfm.rfm_scores(result["rfm"]))
    step("pages (filtered)", lambda: pages(**FILTERED))
    ov = result["overview"]
    return {
        "steps": steps,
        "total": time.perf_counter() - t0,
        "rss_mb": peak_rss_mb(),
        "check": {
            "customers": len(result["rfm"]),
            "rows_in": ov["rows_in"],
            "rows_out": ov["rows_out"],
            "net_revenue": round(ov["kpis"]["net_revenue"], 2),
        },
    }


def child_memory() -> dict:
    from dashapp import service
    from dashapp.analytics import clv as clv_models
    from dashapp.analytics import cohorts, rfm
    from dashapp.ingest import cleaning
    from dashapp.ingest.loading import load_transactions

    steps: dict[str, float] = {}
    step = _timer(steps)
    t0 = time.perf_counter()
    lines = step("load csv", lambda: load_transactions(CSV))
    clean, ledger = step("clean", lambda: cleaning.clean(lines))
    all_orders = step("invoice_table", lambda: cleaning.invoice_table(clean))
    data = service.CleanData(lines=clean, ledger=ledger, orders=all_orders)
    from dashapp.service import registry
    from dashapp.service.views import overview as overview_view

    overview_view.cleaned = lambda dataset, rules: data  # the service's own overview code
    registry.dataset_version = lambda dataset: "bench"

    def bounds():
        by_country = all_orders.groupby("country", observed=True)["revenue"].sum()
        return all_orders["invoice_date"].min(), by_country.sort_values(ascending=False)

    def pages(f):
        orders = cleaning.filter_transactions(
            all_orders, f.get("start"), f.get("end"), f.get("countries")
        )
        ov = service.overview.uncached(service.Filters.build(dataset="bench", **f))
        customers = rfm.customer_rfm(orders)
        purchases = orders[~orders["is_cancellation"]]
        clv = clv_models.calibration_summary(
            purchases,
            customer_col="customer_id",
            date_col="invoice_date",
            amount_col="revenue",
            calibration_end=CAL_END,
            observation_end=OBS_END,
        )
        return {
            "overview": ov,
            "rfm": customers,
            "calibration": clv,
            "cohorts": cohorts.cohort_tables(orders),
        }

    step("bounds", bounds)
    result = step("pages (all data)", lambda: pages({}))
    step("rfm scores", lambda: rfm.rfm_scores(result["rfm"]))
    step("pages (filtered)", lambda: pages(FILTERED))
    ov = result["overview"]
    return {
        "steps": steps,
        "total": time.perf_counter() - t0,
        "rss_mb": peak_rss_mb(),
        "check": {
            "customers": len(result["rfm"]),
            "rows_in": ov.rows_in,
            "rows_out": ov.rows_out,
            "net_revenue": round(ov.kpis.net_revenue, 2),
        },
    }


def run_child(mode: str, url: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=60_000)
    ap.add_argument("--url", default=os.environ.get("BENCH_PG_URL", DEFAULT_URL))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", choices=["sql", "memory"])
    args = ap.parse_args()
    if args.child:
        result = child_sql(args.url) if args.child == "sql" else child_memory()
        print(json.dumps(result))
        return

    ensure_csv(args.rows, args.customers)
    n = ensure_table(args.url)
    results: dict[str, list[dict]] = {"sql": [], "memory": []}
    for i in range(args.runs):
        for mode in ("sql", "memory"):
            r = run_child(mode, args.url)
            results[mode].append(r)
            print(
                f"run {i + 1} {mode:6s}: {r['total']:7.1f} s, peak RSS {r['rss_mb']:7.0f} MB "
                f"{r['check']}",
                flush=True,
            )
    checks = {m: rs[0]["check"] for m, rs in results.items()}

    def med(mode, key=None):
        rs = results[mode]
        return statistics.median(r["steps"][key] if key else r["total"] for r in rs)

    steps = list(dict.fromkeys([*results["memory"][0]["steps"], *results["sql"][0]["steps"]]))
    print(
        f"\n{n:,} rows, PostgreSQL table {TABLE}; medians of {args.runs} fresh processes "
        f"(seconds)\n"
    )
    print(f"| {'step':18s} | {'SQL (PostgreSQL)':>16s} | {'in-memory':>10s} |")
    print(f"| {'-' * 18} | {'-' * 15}: | {'-' * 9}: |")
    for s in steps:
        a = f"{med('sql', s):.2f}" if s in results["sql"][0]["steps"] else "-"
        b = f"{med('memory', s):.2f}" if s in results["memory"][0]["steps"] else "-"
        print(f"| {s:18s} | {a:>16s} | {b:>10s} |")
    print(f"| {'total':18s} | {med('sql'):16.1f} | {med('memory'):10.1f} |")
    rss = {m: statistics.median(r["rss_mb"] for r in rs) for m, rs in results.items()}
    print(f"| {'peak RSS (MB)':18s} | {rss['sql']:16.0f} | {rss['memory']:10.0f} |")
    print(f"\nsame results: {checks['sql'] == checks['memory']} {checks}")
    if args.json:
        args.json.write_text(json.dumps({"rows": n, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
