"""Shared helpers of the benchmarks: generated data, timing, memory."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "tools" / "gen_online_retail.py"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCALES = {
    # name: (rows, customers, path)
    "full": (1_067_371, 5_942, Path("/tmp/or2_full.csv")),
    "10x": (10_000_000, 60_000, Path("/tmp/or2_10x.csv")),
}


def generate_csv(path: Path, rows: int, customers: int) -> Path:
    """``path``, generated once (seed 42) with ../shared/tools/gen_online_retail.py when it
    does not exist yet: written under a temporary name, then renamed, so that a benchmark
    running beside this one never reads half a file."""
    if path.exists() and path.stat().st_size > 0:
        return path
    if not GENERATOR.exists():
        raise SystemExit(f"{GENERATOR} is missing: the benchmarks need ../shared/.")
    print(f"generating {path} ({rows:,} rows, {customers:,} customers) ...", flush=True)
    part = path.with_name(f"{path.name}.part-{os.getpid()}")
    args = ["--rows", str(rows), "--customers", str(customers), "--seed", "42"]
    subprocess.run(
        [sys.executable, str(GENERATOR), *args, "--out", str(part), "--no-stats", "--quiet"],
        check=True,
    )
    os.replace(part, path)
    return path


def generated_csv(scale: str = "full") -> Path:
    """Path of the generated Online Retail II CSV at a scale (:func:`generate_csv`)."""
    rows, customers, path = SCALES[scale]
    return generate_csv(path, rows, customers)


def median_ms(fn, runs: int = 5, setup=None) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` in milliseconds over ``runs`` runs (``setup()`` before
    each run, not timed)."""
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), times


def median_wall_cpu(fn, runs: int = 5, setup=None) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (ms) of ``fn()`` (``setup()``
    before each run, not timed). The CPU time shows the work itself when other processes
    compete for the two cores."""
    walls, cpus = [], []
    for _ in range(runs):
        if setup:
            setup()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def app_client(scale: str, cache_dir: Path | None = None):
    """A Dash app on the generated dataset of ``scale`` with an in-process results cache,
    and a client that posts callbacks as the browser does. Returns ``(app, client, csv)``.
    ``cache_dir``: a cache folder to start from (e.g. ``bench_engine.py --keep-cache``'s, so
    a large file is not prepared again); default a new, empty one."""
    import tempfile

    from dashapp import create_app
    from dashapp.config import Settings
    from tests.callback_client import CallbackClient

    csv = generated_csv(scale)
    cache = cache_dir or Path(tempfile.mkdtemp(prefix="bench-cache-"))
    settings = Settings.from_env(env={}, data_path=csv, cache_dir=cache)
    settings = type(settings)(**{**settings.__dict__, "cache_type": "SimpleCache"})
    app = create_app(settings)
    return app, CallbackClient(app), csv


def controls_at_start(dataset: str) -> dict:
    """Every declared control at its starting value, as a page sends it: this checkout's
    ``tests/callback_client.controls_at_start`` (loaded from its file, so that it serves a
    ``--code`` tree written before it too)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "callback_client_here", ROOT / "tests" / "callback_client.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.controls_at_start(dataset)


def wait_for_background_work(service, filters) -> None:
    """Wait for the background work a loaded dataset starts (the product lines, then the
    default view's machine-learned model, where the tree has them): its CPU time would
    otherwise count in the first measurements (this process's CPU time)."""
    from dashapp.service import store

    for _ in range(1200):
        try:
            store.products(filters.dataset, filters.rules)
            break
        except service.DataLoadError:  # still being prepared
            time.sleep(0.5)
    if hasattr(store, "when_products_ready"):
        key = ("ml", filters.dataset, service.dataset_version(filters.dataset), filters.rules)
        while key not in store._store:
            time.sleep(0.2)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(rows: list[tuple[str, float, float | None, str]]) -> None:
    """Print ``(what, measured, target, unit)`` rows with the measured/target ratio."""
    print(f"\n{'measurement':<58}{'median':>12}{'target':>10}{'ratio':>8}")
    for what, value, target, unit in rows:
        ratio = f"{value / target:.2f}" if target else ""
        tgt = f"{target:g} {unit}" if target else ""
        print(f"{what:<58}{value:>9.1f} {unit:<2}{tgt:>10}{ratio:>8}")
    print()


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
