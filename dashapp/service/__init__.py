"""The service layer: the one module the pages call for data.

* It knows the datasets (the configured file, the embedded demo data, uploads) and loads each
  one **once per process** (raw lines, cleaned lines, ledger and invoice table are held in
  memory; a small LRU keeps at most :data:`MAX_DATASETS_IN_MEMORY`).
* Derived results are computed on demand and memoized with Flask-Caching under keys made of
  simple values only: dataset id, dataset version (content fingerprint), filter values, rule
  flags and parameters. DataFrames are results, never keys. With a file-system or Redis cache
  the results are shared by every worker; a new dataset version gets new keys, so it is never
  served stale results.

Pages pass a :class:`Filters` value (built from the URL state) and parameters; they never see
the cache or the raw frames.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from flask import Flask
from flask_caching import Cache
from flask_caching.backends.rediscache import RedisCache
from redis.exceptions import RedisError

from dashapp.analytics import rfm
from dashapp.config import Settings
from dashapp.ingest import cleaning
from dashapp.ingest.loading import DataLoadError, dataset_fingerprint, load_transactions

log = logging.getLogger(__name__)

cache = Cache()
MAX_DATASETS_IN_MEMORY = 3
DEMO_ID = "demo"


# --------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetInfo:
    """A dataset the user can pick. ``kind`` is ``"file"``, ``"demo"`` or ``"upload"``."""

    id: str
    label: str
    kind: str
    path: Path | None = None
    column_map: tuple[tuple[str, str], ...] = ()
    currency: str | None = None

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"


@dataclass(frozen=True)
class Filters:
    """The shared filter state: dataset, inclusive date range, countries, cleaning rules.

    ``start``/``end`` are ``YYYY-MM-DD`` strings or None (open end); ``countries`` is a sorted
    tuple (empty = all); ``rules`` is a :meth:`CleaningRules.flags` string.
    """

    dataset: str
    start: str | None = None
    end: str | None = None
    countries: tuple[str, ...] = ()
    rules: str = cleaning.CleaningRules().flags()

    @classmethod
    def build(cls, dataset=None, start=None, end=None, countries=None, rules=None) -> Filters:
        return cls(
            dataset=dataset or default_dataset_id(),
            start=_date_text(start),
            end=_date_text(end),
            countries=tuple(sorted(str(c) for c in (countries or ()))),
            rules=rules or cleaning.CleaningRules().flags(),
        )


def _date_text(value) -> str | None:
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError) as exc:
        raise DataLoadError(f"'{value}' is not a date (expected YYYY-MM-DD).") from exc


_settings: Settings = Settings.from_env()
_registry: dict[str, DatasetInfo] = {}
_registry_lock = threading.Lock()


def configure(settings: Settings) -> None:
    """Set the settings and (re)build the dataset registry. Called by the app factory."""
    global _settings
    with _registry_lock:
        _settings = settings
        _registry.clear()
        _sql_sources.clear()
        entries: list[DatasetInfo] = []
        if os.environ.get("DATA_SQL_URL", "").strip():  # the default; connects on first use
            table = os.environ.get("DATA_SQL_TABLE", "").strip() or "?"
            entries.append(DatasetInfo(id=SQL_ID, label=f"SQL: {table}", kind="sql"))
        path = settings.discovered_data_path()
        if path is not None:
            entries.append(DatasetInfo(id=path.stem, label=path.name, kind="file", path=Path(path)))
        entries.append(DatasetInfo(id=DEMO_ID, label="Demo data (generated)", kind="demo"))
        _registry.update((info.id, info) for info in entries)
        _sql_versions.clear()


SQL_ID = "sql"
SQL_VERSION_TTL_S = 60
_sql_sources: dict[str, object] = {}
_sql_versions: dict[str, tuple[float, str]] = {}


def sql_source(dataset_id: str):
    """The :class:`~dashapp.sql_source.SqlSource` behind a SQL dataset (built from the
    ``DATA_SQL_*`` environment variables on first use; errors name the table or column, never
    the credentials)."""
    from dashapp.ingest.sql import SqlSource, SqlSourceError

    with _registry_lock:
        if dataset_id not in _sql_sources:
            try:
                _sql_sources[dataset_id] = SqlSource.from_env()
            except SqlSourceError as exc:
                raise DataLoadError(str(exc)) from None
        return _sql_sources[dataset_id]


def is_sql(dataset_id: str) -> bool:
    """True for the configured SQL dataset (it is always in the registry)."""
    datasets()
    info = _registry.get(dataset_id)
    return info is not None and info.kind == "sql"


def _sql_call(fn, *args, **kwargs):
    """Run a SQL source query; its errors (timeouts, connection) become user messages."""
    from dashapp.ingest.sql import SqlSourceError

    try:
        return fn(*args, **kwargs)
    except SqlSourceError as exc:
        raise DataLoadError(str(exc)) from None


def settings() -> Settings:
    return _settings


def currency(dataset_id: str | None) -> str:
    """Currency symbol of a dataset (an upload's own, else the configured one)."""
    if dataset_id:
        try:
            return dataset_info(dataset_id).currency or _settings.currency
        except DataLoadError:
            pass
    return _settings.currency


def datasets() -> list[DatasetInfo]:
    """The datasets that can be selected, the default first."""
    if not _registry:
        configure(_settings)
    return list(_registry.values())


def default_dataset_id() -> str:
    return datasets()[0].id


def dataset_info(dataset_id: str) -> DatasetInfo:
    """The dataset with this id: a configured one, or an upload (resolved from its folder, so
    every worker process knows every upload)."""
    datasets()
    if dataset_id in _registry:
        return _registry[dataset_id]
    if str(dataset_id).startswith("upload-"):
        return _upload_info(dataset_id)
    raise DataLoadError(f"Unknown dataset '{dataset_id}'.")


def upload_dir() -> Path:
    """Folder of uploaded datasets (inside the data folder)."""
    return _settings.data_dir / "uploads"


def _upload_info(dataset_id: str) -> DatasetInfo:
    from dashapp.ingest.uploads import find_upload

    found = find_upload(upload_dir(), dataset_id)
    return DatasetInfo(
        id=found.id,
        label=f"{found.label} (uploaded)",
        kind="upload",
        path=found.path,
        currency=found.currency,
        column_map=tuple(sorted((found.column_map or {}).items())),
    )


def _source_path(info: DatasetInfo) -> Path:
    if info.kind == "sql":
        raise DataLoadError(
            "This dataset is a SQL table: the database aggregates it, and its "
            "raw lines are not loaded into the app."
        )
    if info.kind == "demo":
        from dashapp.ingest.demo import demo_dataset_path

        return demo_dataset_path(_settings.cache_dir)
    assert info.path is not None
    return info.path


_version_memo: dict[tuple, str] = {}


def dataset_version(dataset_id: str) -> str:
    """Content fingerprint of the dataset's file (memoized per path, size and mtime); for a
    SQL source, a fingerprint of the table's contents (one scan, reused for a minute)."""
    if is_sql(dataset_id):
        now = time.monotonic()
        hit = _sql_versions.get(dataset_id)
        if hit is None or now - hit[0] > SQL_VERSION_TTL_S:
            src = sql_source(dataset_id)
            hit = (now, "sql-" + _sql_call(src.version))
            _sql_versions[dataset_id] = hit
        return hit[1]
    path = _source_path(dataset_info(dataset_id))
    try:
        st = path.stat()
    except OSError as exc:
        raise DataLoadError(f"The data file {path} cannot be read: {exc.strerror}.") from exc
    info = dataset_info(dataset_id)
    key = (str(path), st.st_size, st.st_mtime_ns, info.column_map)
    if key not in _version_memo:
        version = dataset_fingerprint(path)[:16]
        if info.column_map:  # another mapping of the same file is another dataset version
            version += (
                "-" + hashlib.blake2b(repr(info.column_map).encode(), digest_size=4).hexdigest()
            )
        _version_memo[key] = version
    return _version_memo[key]


# --------------------------------------------------------------------------------------
# Per-process store of loaded frames
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CleanData:
    """What stays in memory per dataset and rule set: the ledger and the invoice table.
    ``lines`` (the cleaned lines) is None in the service's store."""

    lines: pd.DataFrame | None
    ledger: pd.DataFrame
    orders: pd.DataFrame


_store: OrderedDict[tuple, object] = OrderedDict()
_store_lock = threading.RLock()
_load_locks: dict[tuple, threading.Lock] = {}


def _held(key: tuple, build):
    """Build ``key`` once per process (one thread builds, others wait) and keep it in a
    small LRU of whole datasets."""
    with _store_lock:
        if key in _store:
            _store.move_to_end(key)
            return _store[key]
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        with _store_lock:
            if key in _store:
                return _store[key]
        value = build()
        with _store_lock:
            _store[key] = value
            datasets_held = {k[1:3] for k in _store}
            while len(datasets_held) > MAX_DATASETS_IN_MEMORY:
                oldest = next(iter(_store))
                for k in [k for k in _store if k[1:3] == oldest[1:3]]:
                    del _store[k]
                datasets_held = {k[1:3] for k in _store}
        return value


def release_memory() -> None:
    """Return freed memory to the operating system after a large load (pyarrow's pool and,
    on glibc, malloc's arenas keep it otherwise: ~100 MB per worker at full scale)."""
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _load(dataset_id: str, version: str) -> pd.DataFrame:
    info = dataset_info(dataset_id)
    log.info("loading dataset %s (%s)", dataset_id, version)
    return load_transactions(
        _source_path(info), cache_dir=_settings.cache_dir, column_map=dict(info.column_map) or None
    )


def transactions(dataset_id: str) -> pd.DataFrame:
    """Canonical raw lines of a dataset (loaded once per process and kept)."""
    version = dataset_version(dataset_id)
    return _held(("lines", dataset_id, version), lambda: _load(dataset_id, version))


def cleaned(dataset_id: str, rules: str) -> CleanData:
    """Cleaned lines, ledger and invoice table for a dataset and rule flags (once per process)."""
    version = dataset_version(dataset_id)

    def build():
        key = ("lines", dataset_id, version)
        with _store_lock:
            raw = _store.get(key)
        if raw is None:  # read without holding the raw lines: pages only need the results
            raw = _load(dataset_id, version)
        lines, ledger = cleaning.clean(raw, cleaning.CleaningRules.from_flags(rules))
        del raw
        # Only the invoice table and the ledger stay in memory (~50k rows at full scale);
        # the 1M cleaned lines are dropped and their memory handed back to the system.
        data = CleanData(lines=None, ledger=ledger, orders=cleaning.invoice_table(lines))
        del lines
        release_memory()
        return data

    return _held(("clean", dataset_id, version, rules), build)


# --------------------------------------------------------------------------------------
# Memoization
# --------------------------------------------------------------------------------------
class ResilientRedisCache(RedisCache):
    """A RedisCache for which an unreachable Redis is a cache miss (logged at most once a
    minute), not an error: during a Redis outage or restart every page keeps working,
    computing its results instead of reading them. ``Settings.cache_config`` selects it for
    ``CACHE_TYPE=RedisCache``."""

    _last_warning = 0.0

    @classmethod
    def _fallback(cls, operation: str, exc: Exception, default):
        now = time.monotonic()
        if now - cls._last_warning > 60:
            cls._last_warning = now
            log.warning("results cache unavailable (%s: %s); computing without it", operation, exc)
        return default

    def get(self, key):
        try:
            return super().get(key)
        except RedisError as exc:
            return self._fallback("get", exc, None)

    def get_many(self, *keys):
        try:
            return super().get_many(*keys)
        except RedisError as exc:
            return self._fallback("get_many", exc, [None] * len(keys))

    def has(self, key):
        try:
            return super().has(key)
        except RedisError as exc:
            return self._fallback("has", exc, False)

    def set(self, key, value, timeout=None):
        try:
            return super().set(key, value, timeout)
        except RedisError as exc:
            return self._fallback("set", exc, False)

    def add(self, key, value, timeout=None):
        try:
            return super().add(key, value, timeout)
        except RedisError as exc:
            return self._fallback("add", exc, False)

    def set_many(self, mapping, timeout=None):
        try:
            return super().set_many(mapping, timeout)
        except RedisError as exc:
            return self._fallback("set_many", exc, [])

    def delete(self, key):
        try:
            return super().delete(key)
        except RedisError as exc:
            return self._fallback("delete", exc, False)

    def delete_many(self, *keys):
        try:
            return super().delete_many(*keys)
        except RedisError as exc:
            return self._fallback("delete_many", exc, [])


def init_cache(server: Flask | None = None, config: dict | None = None) -> Cache:
    """Bind the results cache to a Flask server (a private one when none is given)."""
    server = server or Flask(__name__)
    cache.init_app(server, config=config or _settings.cache_config())
    return cache


def _ensure_cache() -> None:
    if getattr(cache, "app", None) is None:  # flask-caching sets .app only in init_app
        init_cache(config={"CACHE_TYPE": "SimpleCache"})


def _code_version() -> str:
    """Hash of the package's Python sources: part of every cache key, so a deployment of new
    code never serves results that old code cached (file-system and Redis caches outlive a
    restart)."""
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


CODE_VERSION = _code_version()


def _versioned_name(name: str) -> str:
    return f"{name}@{CODE_VERSION}"


def memoized(fn):
    """Memoize ``fn(dataset, version, start, end, countries, rules, *params)`` and expose it
    as ``fn(filters, *params)``. The dataset version is looked up at call time, so a changed
    file gets new cache keys. The undecorated function stays reachable as ``.uncached``
    (benchmarks use it)."""
    cached = cache.memoize(make_name=_versioned_name)(fn)

    @functools.wraps(fn)
    def call(filters: Filters, *params):
        _ensure_cache()
        return cached(
            filters.dataset,
            dataset_version(filters.dataset),
            filters.start,
            filters.end,
            filters.countries,
            filters.rules,
            *params,
        )

    def uncached(filters: Filters, *params):
        return fn(
            filters.dataset,
            dataset_version(filters.dataset),
            filters.start,
            filters.end,
            filters.countries,
            filters.rules,
            *params,
        )

    call.uncached = uncached
    return call


def filtered_orders(filters: Filters) -> pd.DataFrame:
    """Invoice table of the dataset, filtered (in-process; cheap: ~50k rows at full scale)."""
    orders = cleaned(filters.dataset, filters.rules).orders
    return cleaning.filter_transactions(orders, filters.start, filters.end, filters.countries)


def _filters(dataset, start, end, countries, rules) -> Filters:
    return Filters(dataset=dataset, start=start, end=end, countries=countries, rules=rules)


# --------------------------------------------------------------------------------------
# Results the pages use
# --------------------------------------------------------------------------------------
def dataset_bounds(dataset_id: str) -> dict:
    """First and last invoice day and the countries (by revenue, largest first)."""
    version = dataset_version(dataset_id)
    return _dataset_bounds(dataset_id, version)


@cache.memoize(make_name=_versioned_name)
def _dataset_bounds(dataset_id: str, version: str) -> dict:
    if is_sql(dataset_id):
        return _sql_call(sql_source(dataset_id).bounds)
    orders = cleaned(dataset_id, cleaning.CleaningRules().flags()).orders
    if orders.empty:
        return {"start": None, "end": None, "countries": []}
    by_country = (
        orders.groupby("country", observed=True)["revenue"].sum().sort_values(ascending=False)
    )
    return {
        "start": orders["invoice_date"].min().strftime("%Y-%m-%d"),
        "end": orders["invoice_date"].max().strftime("%Y-%m-%d"),
        "countries": [str(c) for c in by_country.index],
    }


@memoized
def sql_pages(dataset, version, start, end, countries, rules) -> dict:
    """Overview, customer RFM inputs and cohort tables of a SQL dataset, computed by the
    database in one statement (``SqlSource.pages``)."""
    src = sql_source(dataset)
    return _sql_call(src.pages, start, end, list(countries) or None, rules)


@memoized
def overview(dataset, version, start, end, countries, rules) -> dict:
    """KPIs, monthly revenue and the cleaning ledger for the Overview page.

    Returns a dict: ``kpis`` (net_revenue GBP, customers, orders, aov GBP per purchase
    invoice, repeat_rate 0..1, lines, cancellation_revenue), ``monthly`` (DataFrame: month,
    revenue, customer_revenue, orders, customers, partial), ``ledger`` (DataFrame),
    ``rows_in``/``rows_out``.
    """
    if is_sql(dataset):
        return sql_pages(_filters(dataset, start, end, countries, rules))["overview"]
    data = cleaned(dataset, rules)
    orders = cleaning.filter_transactions(data.orders, start, end, countries)
    purchase = ~orders["is_cancellation"].to_numpy()
    known = orders["customer_id"].notna().to_numpy()
    buyers = orders.loc[purchase & known, "customer_id"]
    per_customer = buyers.value_counts()
    per_customer = per_customer[per_customer > 0]
    n_orders = int(purchase.sum())
    purchase_revenue = float(orders.loc[purchase, "revenue"].sum())
    kpis = {
        "net_revenue": float(orders["revenue"].sum()),
        "cancellation_revenue": float(orders.loc[~purchase, "revenue"].sum()),
        "customers": int(len(per_customer)),
        "orders": n_orders,
        "aov": purchase_revenue / n_orders if n_orders else float("nan"),
        "repeat_rate": float((per_customer >= 2).mean()) if len(per_customer) else float("nan"),
        "unknown_customer_revenue": float(orders.loc[~known, "revenue"].sum()),
    }
    monthly = _monthly(orders, data.orders, start, end)
    return {
        "kpis": kpis,
        "monthly": monthly,
        "ledger": data.ledger,
        "rows_in": data.ledger.attrs.get("rows_in"),
        "rows_out": data.ledger.attrs.get("rows_out"),
    }


def _monthly(orders: pd.DataFrame, all_orders: pd.DataFrame, start, end) -> pd.DataFrame:
    cols = ["month", "revenue", "customer_revenue", "orders", "customers", "partial"]
    if orders.empty:
        return pd.DataFrame(columns=cols)
    month = orders["invoice_date"].dt.to_period("M")
    known = orders["customer_id"].notna()
    purchase = ~orders["is_cancellation"]
    g = (
        pd.DataFrame(
            {
                "month": month,
                "revenue": orders["revenue"],
                "customer_revenue": orders["revenue"].where(known, 0.0),
                "orders": purchase.astype(int),
                "customer_id": orders["customer_id"].astype(object).where(known & purchase),
            }
        )
        .groupby("month", sort=True)
        .agg(
            revenue=("revenue", "sum"),
            customer_revenue=("customer_revenue", "sum"),
            orders=("orders", "sum"),
            customers=("customer_id", "nunique"),
        )
    )
    g = g.reset_index()
    # A month is partial when the data (or the filter) covers only part of it.
    first_day = max(
        all_orders["invoice_date"].min().normalize(),
        pd.Timestamp(start) if start else pd.Timestamp.min,
    )
    last_day = min(
        all_orders["invoice_date"].max().normalize(), pd.Timestamp(end) if end else pd.Timestamp.max
    )
    starts = g["month"].dt.start_time
    ends = g["month"].dt.end_time.dt.normalize()
    g["partial"] = (starts < first_day) | (ends > last_day)
    g["month"] = starts
    return g[cols]


@memoized
def rfm_table(
    dataset, version, start, end, countries, rules, as_of=None, thresholds=None
) -> pd.DataFrame:
    """Scored customer table (``rfm.customer_rfm`` + ``rfm.rfm_scores``) for the filters.

    ``as_of`` is ``YYYY-MM-DD`` or None; ``thresholds`` a tuple of ``(metric, (e1, e2, e3,
    e4))`` pairs or None. ``attrs["as_of"]`` holds the reference date used.
    """
    filters = _filters(dataset, start, end, countries, rules)
    if is_sql(dataset):
        from dashapp.ingest.sql import rebase_as_of

        customers = sql_pages(filters)["rfm"]
        if as_of:
            customers = rebase_as_of(customers, as_of)
    else:
        customers = rfm.customer_rfm(filtered_orders(filters), as_of=as_of)
    scored = rfm.rfm_scores(customers, thresholds=dict(thresholds) if thresholds else None)
    scored.attrs["as_of"] = customers.attrs["as_of"]
    return scored


@memoized
def rfm_view(dataset, version, start, end, countries, rules, as_of=None, thresholds=None) -> dict:
    """Everything the RFM page shows, computed once per filter and parameter set.

    Returns a dict: ``scored`` (DataFrame, see :func:`rfm_table`), ``summary``
    (``rfm.segment_summary``), ``bins`` (``rfm.score_bins``), ``counts``/``revenue`` (5x5
    arrays of the R x F grid), ``records`` (the customer table as grid rows, dates as text),
    ``as_of`` (Timestamp).
    """
    filters = _filters(dataset, start, end, countries, rules)
    scored = rfm_table(filters, as_of, thresholds)
    counts, revenue = rfm.rf_grid_counts(scored)
    table = scored.reset_index()
    for col in ("first_purchase", "last_purchase"):
        table[col] = table[col].dt.strftime("%Y-%m-%d")
    return {
        "scored": scored,
        "summary": rfm.segment_summary(scored),
        "bins": rfm.score_bins(scored),
        "counts": counts,
        "revenue": revenue,
        "records": records(table),
        "as_of": scored.attrs.get("as_of"),
    }


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (what dash-ag-grid's ``rowData`` takes); faster
    than ``DataFrame.to_dict("records")`` for wide tables."""
    columns = list(frame.columns)
    values = [frame[c].tolist() for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def empty_reason(n_customers: int, minimum: int = 1) -> str | None:
    """Plain-language reason a page cannot show results, or None."""
    if n_customers == 0:
        return "No customers match these filters. Widen the date range or clear the country filter."
    if n_customers < minimum:
        return (
            f"Only {n_customers} customer{'s' if n_customers != 1 else ''} match these "
            f"filters; at least {minimum} are needed here. Widen the date range or the "
            "countries."
        )
    return None


__all__ = [
    "CleanData",
    "DataLoadError",
    "currency",
    "DatasetInfo",
    "Filters",
    "cache",
    "cleaned",
    "configure",
    "dataset_bounds",
    "dataset_info",
    "dataset_version",
    "datasets",
    "default_dataset_id",
    "empty_reason",
    "filtered_orders",
    "init_cache",
    "memoized",
    "overview",
    "upload_dir",
    "records",
    "rfm_table",
    "rfm_view",
    "settings",
    "transactions",
]


# ======================================================================================
# CLV and cohorts
# ======================================================================================
# Predictive CLV (BG/NBD or Pareto/NBD for purchases, Gamma-Gamma for spend; pure models in
# dashapp.clv_models), basic CLV (dashapp.clv) and acquisition cohorts (dashapp.cohorts) for
# the /clv and /cohorts pages. The purchase log is the purchase invoices with a customer id
# of `filtered_orders` (amount = invoice revenue); the models' time unit is the week (7 days).
# The analysed range is the dataset's invoice span intersected with the date filter.
import numpy as np  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

from dashapp.analytics import clv as clv_models
from dashapp.analytics import cohorts
from dashapp.analytics.clv import basic as clv_basic

CLV_TIME_UNIT = "W"
#: Fewest customers with a repeat purchase (on another day) needed to fit the models.
CLV_MIN_REPEAT_CUSTOMERS = 20
#: Shortest holdout and calibration periods of the validation split (weeks).
CLV_MIN_HOLDOUT_WEEKS = 8
CLV_MIN_CALIBRATION_WEEKS = 8
#: Share of the range kept as holdout by default.
CLV_HOLDOUT_SHARE = 1 / 3
#: Limits of the page inputs (checked here too: the service is the contract).
CLV_LIMITS = {
    "horizon_months": (1, 120),
    "margin_pct": (0.0, 100.0),
    "annual_discount_pct": (0.0, 100.0),
    "lifespan_years": (0.0, 50.0),
}
CLV_TOP_N = 20
_CLV_CUSTOMER_COLUMNS = [
    "customer_id",
    "rank",
    "orders",
    "recency_days",
    "monetary",
    "ranking_index",
    "historic_clv",
    "repeat_days",
    "recency_weeks",
    "age_weeks",
    "p_alive",
    "expected_purchases",
    "expected_aov",
    "clv",
]
CLV_PARAM_MEANING = {
    ("bgnbd", "r"): "shape of the purchase rate λ ~ Gamma(r, α)",
    ("bgnbd", "alpha"): "scale of the purchase rate (weeks)",
    ("bgnbd", "a"): "dropout probability after a purchase p ~ Beta(a, b)",
    ("bgnbd", "b"): "dropout probability p ~ Beta(a, b)",
    ("pareto_nbd", "r"): "shape of the purchase rate λ ~ Gamma(r, α)",
    ("pareto_nbd", "alpha"): "scale of the purchase rate (weeks)",
    ("pareto_nbd", "s"): "shape of the dropout rate μ ~ Gamma(s, β)",
    ("pareto_nbd", "beta"): "scale of the dropout rate (weeks)",
    ("gamma_gamma", "p"): "shape of the spend per purchase",
    ("gamma_gamma", "q"): "shape of the customer's spend scale ν ~ Gamma(q, γ)",
    ("gamma_gamma", "gamma"): "scale of ν (currency)",
}
CLV_PARAM_SYMBOL = {"alpha": "α", "beta": "β", "gamma": "γ"}


def clv_range(filters: Filters) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last day analysed: the dataset's invoice span (all countries) intersected
    with the date filter; None when they do not overlap. A country filter does not shorten
    the range: a customer who did not buy in the last weeks was still observed then."""
    bounds = dataset_bounds(filters.dataset)
    if not bounds["start"]:
        return None
    lo = pd.Timestamp(bounds["start"])
    hi = pd.Timestamp(bounds["end"])
    if filters.start:
        lo = max(lo, pd.Timestamp(filters.start))
    if filters.end:
        hi = min(hi, pd.Timestamp(filters.end))
    return (lo, hi) if lo <= hi else None


def clv_calibration_end(filters: Filters, requested: str | None = None) -> tuple[str, bool]:
    """Calibration end (inclusive, ``YYYY-MM-DD``) of the holdout check and whether it is the
    default. The default keeps the last third of the range (at least
    :data:`CLV_MIN_HOLDOUT_WEEKS` weeks) as holdout. A requested date must leave at least
    :data:`CLV_MIN_CALIBRATION_WEEKS` weeks before it and :data:`CLV_MIN_HOLDOUT_WEEKS` after
    it; otherwise ValueError explains the allowed dates."""
    rng = clv_range(filters)
    if rng is None:
        raise ValueError("No data in this date range, so there is nothing to validate on.")
    lo, hi = rng
    days = (hi - lo).days
    need = 7 * (CLV_MIN_HOLDOUT_WEEKS + CLV_MIN_CALIBRATION_WEEKS)
    if days < need:
        raise ValueError(
            f"The range {lo:%Y-%m-%d} to {hi:%Y-%m-%d} covers {days / 7:.1f} weeks; a holdout "
            f"check needs at least {need // 7} ({CLV_MIN_CALIBRATION_WEEKS} weeks to fit and "
            f"{CLV_MIN_HOLDOUT_WEEKS} to compare with). Widen the date range."
        )
    earliest = lo + pd.Timedelta(days=7 * CLV_MIN_CALIBRATION_WEEKS)
    latest = hi - pd.Timedelta(days=7 * CLV_MIN_HOLDOUT_WEEKS)
    if requested in (None, ""):
        holdout = max(7 * CLV_MIN_HOLDOUT_WEEKS, round(days * CLV_HOLDOUT_SHARE))
        return max(earliest, hi - pd.Timedelta(days=holdout)).strftime("%Y-%m-%d"), True
    try:
        cal = pd.Timestamp(requested).normalize()
    except (ValueError, TypeError):
        raise ValueError(f"'{requested}' is not a date (expected YYYY-MM-DD).") from None
    if not earliest <= cal <= latest:
        raise ValueError(
            f"The calibration date {cal:%Y-%m-%d} must lie between {earliest:%Y-%m-%d} and "
            f"{latest:%Y-%m-%d}: at least {CLV_MIN_CALIBRATION_WEEKS} weeks of the range "
            f"({lo:%Y-%m-%d} to {hi:%Y-%m-%d}) to fit on and {CLV_MIN_HOLDOUT_WEEKS} weeks "
            "after it to compare the forecast with. Clear the date to use the default."
        )
    return cal.strftime("%Y-%m-%d"), False


def purchase_log(orders: pd.DataFrame) -> pd.DataFrame:
    """Purchase invoices with a customer id: ``customer_id``, ``invoice_date``, ``revenue``."""
    keep = (
        ~orders["is_cancellation"].to_numpy(dtype=bool) & orders["customer_id"].notna().to_numpy()
    )
    return orders.loc[keep, ["customer_id", "invoice_date", "revenue"]]


def _too_few_repeat(n_customers: int, n_repeat: int, model: str, before: str | None) -> str:
    when = f"up to the calibration date {before}" if before else "in this range"
    return (
        f"Only {n_repeat:,} of the {n_customers:,} customers bought again on another day "
        f"{when}; fitting {clv_models.MODEL_LABELS[model]} and Gamma-Gamma needs at least "
        f"{CLV_MIN_REPEAT_CUSTOMERS} repeat customers. Widen the date range or the "
        "countries."
    )


@memoized
def clv_fit(
    dataset, version, start, end, countries, rules, model="bgnbd", calibration_end=None
) -> dict:
    """Calibration summary and fitted purchase and spend models for the filters.

    ``model`` is a key of ``clv_models.MODELS`` ("bgnbd", "pareto_nbd"); ``calibration_end``
    (``YYYY-MM-DD``) splits the range for the holdout check (None = fit on the whole range,
    calibration end = the range's last day). Returns a dict: ``summary`` (DataFrame of
    ``clv_models.calibration_summary``, weeks; holdout columns with a split), ``purchase``
    and ``spend`` (fit objects, None when no fit was tried), ``reason`` (plain-language text
    when predictions cannot be shown: no customers, too few repeat customers, a fit that did
    not converge; else None), ``notes`` (warnings that do not block), ``n_customers``,
    ``n_repeat``, ``calibration_end`` and ``observation_end`` (Timestamps or None).
    """
    if model not in clv_models.MODELS:
        raise ValueError(
            f"Unknown model '{model}'; choose one of {', '.join(clv_models.MODEL_LABELS.values())}."
        )
    filters = _filters(dataset, start, end, countries, rules)
    out = {
        "model": model,
        "summary": None,
        "purchase": None,
        "spend": None,
        "reason": None,
        "notes": [],
        "n_customers": 0,
        "n_repeat": 0,
        "calibration_end": None,
        "observation_end": None,
    }
    rng = clv_range(filters)
    if rng is None:
        out["reason"] = empty_reason(0)
        return out
    cal_end = pd.Timestamp(calibration_end) if calibration_end else rng[1]
    obs_end = rng[1] if calibration_end else None
    if is_sql(filters.dataset):
        summary = _sql_call(
            sql_source(filters.dataset).calibration_summary,
            cal_end,
            obs_end,
            CLV_TIME_UNIT,
            filters.start,
            filters.end,
            list(filters.countries) or None,
            filters.rules,
        )
    else:
        log = purchase_log(filtered_orders(filters))
        summary = clv_models.calibration_summary(
            log,
            customer_col="customer_id",
            date_col="invoice_date",
            amount_col="revenue",
            calibration_end=cal_end,
            observation_end=obs_end,
            time_unit=CLV_TIME_UNIT,
        )
    summary.index = summary.index.astype(str)
    n_repeat = int((summary["frequency"] > 0).sum())
    out.update(
        summary=summary,
        n_customers=len(summary),
        n_repeat=n_repeat,
        calibration_end=cal_end,
        observation_end=obs_end,
    )
    if summary.empty:
        out["reason"] = empty_reason(0)
        return out
    if n_repeat < CLV_MIN_REPEAT_CUSTOMERS:
        out["reason"] = _too_few_repeat(
            len(summary), n_repeat, model, calibration_end and f"{cal_end:%Y-%m-%d}"
        )
        return out
    purchase = clv_models.MODELS[model](
        summary["frequency"], summary["recency"], summary["T"], time_unit=CLV_TIME_UNIT
    )
    spend = clv_models.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    out.update(purchase=purchase, spend=spend)
    for fit in (purchase, spend):
        if not fit.converged:
            out["reason"] = fit.message
            break
        # Converged, but with something the analyst should know: a penalty was needed, spend
        # rows were excluded, or q <= 1 (no population mean spend).
        if (
            fit.penalizer > 0
            or getattr(fit, "n_excluded", 0)
            or (fit is spend and fit.params["q"] <= 1)
        ):
            out["notes"].append(fit.message)
    return out


def _params_table(model: str, purchase, spend) -> pd.DataFrame:
    rows = []
    for key, fit in ((model, purchase), ("gamma_gamma", spend)):
        if fit is None:
            continue
        for name, value in fit.params.items():
            rows.append(
                {
                    "model": fit.model,
                    "parameter": CLV_PARAM_SYMBOL.get(name, name),
                    "estimate": value,
                    "std_error": fit.std_errors.get(name, float("nan")),
                    "meaning": CLV_PARAM_MEANING.get((key, name), ""),
                }
            )
    return pd.DataFrame(rows, columns=["model", "parameter", "estimate", "std_error", "meaning"])


def _fit_stats(purchase, spend) -> pd.DataFrame:
    rows = []
    for fit, unit in ((purchase, "weeks (7 days)"), (spend, "— (spend per purchase)")):
        if fit is None:
            continue
        rows.append(
            {
                "model": fit.model,
                "log_likelihood": fit.log_likelihood,
                "customers": fit.n,
                "time_unit": unit,
                "converged": bool(fit.converged),
                "iterations": fit.n_iter,
                "penalty": fit.penalizer,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "log_likelihood",
            "customers",
            "time_unit",
            "converged",
            "iterations",
            "penalty",
        ],
    )


def _derived(model: str, purchase) -> list[str]:
    """Readable consequences of the purchase-model parameters."""
    if purchase is None or not all(np.isfinite(v) for v in purchase.params.values()):
        return []
    p = purchase.params
    lines = [
        f"Mean purchase rate while alive r/α = {p['r'] / p['alpha']:.3f} repeat purchase "
        f"days per week ({52 * p['r'] / p['alpha']:.1f} a year)."
    ]
    if model == "bgnbd":
        lines.append(
            f"Mean chance of dropping out after each purchase a/(a+b) = "
            f"{p['a'] / (p['a'] + p['b']):.1%}."
        )
    else:
        lines.append(
            f"Mean dropout rate s/β = {p['s'] / p['beta']:.4f} per week (a customer "
            f"with the mean rate stays on average {p['beta'] / p['s']:.0f} weeks)."
        )
    return lines


@memoized
def clv_model(dataset, version, start, end, countries, rules, model="bgnbd") -> dict:
    """The fitted model on the whole range, as the CLV page shows it.

    Returns a dict: ``reason`` (see :func:`clv_fit`), ``notes``, ``messages`` (the fits'
    own messages), ``params`` (DataFrame: model, parameter, estimate, std_error, meaning),
    ``stats`` (DataFrame: model, log_likelihood, customers, time_unit, converged,
    iterations, penalty), ``derived`` (list of sentences), ``n_customers``, ``n_repeat``,
    ``calibration_end``, ``p_alive`` (DataFrame of ``clv_models.p_alive_matrix``: frequency
    x recency in weeks, for a customer observed over the whole range, ``attrs["T"]``) and
    ``independence`` (dict: ``pearson``, ``spearman``, ``n``, ``points`` DataFrame of at
    most 2,000 repeat customers' ``frequency`` and ``monetary_value``).
    """
    filters = _filters(dataset, start, end, countries, rules)
    fit = clv_fit(filters, model)
    purchase, spend, summary = fit["purchase"], fit["spend"], fit["summary"]
    out = {
        "reason": fit["reason"],
        "notes": fit["notes"],
        "messages": [f.message for f in (purchase, spend) if f is not None],
        "params": _params_table(model, purchase, spend),
        "stats": _fit_stats(purchase, spend),
        "derived": _derived(model, purchase),
        "n_customers": fit["n_customers"],
        "n_repeat": fit["n_repeat"],
        "calibration_end": fit["calibration_end"],
        "p_alive": None,
        "independence": None,
    }
    if purchase is not None and all(np.isfinite(v) for v in purchase.params.values()):
        x = summary["frequency"]
        t_max = float(summary["T"].max())
        max_f = int(min(x.max(), max(10, np.ceil(x.quantile(0.99)))))
        matrix = clv_models.p_alive_matrix(purchase, max_f, np.floor(t_max), t_max)
        matrix.attrs["T"] = t_max
        out["p_alive"] = matrix
    if summary is not None and not summary.empty:
        rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        spearman = (
            float(rep["frequency"].rank().corr(rep["monetary_value"].rank()))
            if len(rep) >= 3
            else float("nan")
        )
        points = rep[["frequency", "monetary_value"]]
        if len(points) > 2000:
            points = points.sample(2000, random_state=0)
        out["independence"] = {
            "pearson": clv_models.gamma_gamma_independence(summary),
            "spearman": spearman,
            "n": len(rep),
            "points": points.reset_index(drop=True),
        }
    return out


def _check_clv_inputs(horizon_months, margin_pct, annual_discount_pct, lifespan_years) -> None:
    values = {
        "horizon_months": horizon_months,
        "margin_pct": margin_pct,
        "annual_discount_pct": annual_discount_pct,
        "lifespan_years": lifespan_years,
    }
    names = {
        "horizon_months": "The horizon (months)",
        "margin_pct": "The margin (%)",
        "annual_discount_pct": "The annual discount rate (%)",
        "lifespan_years": "The expected lifespan (years)",
    }
    for key, value in values.items():
        lo, hi = CLV_LIMITS[key]
        try:
            ok = value is not None and lo <= float(value) <= hi
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{names[key]} must be a number from {lo:g} to {hi:g}, got {value!r}.")
    if float(horizon_months) != int(float(horizon_months)):
        raise ValueError(f"The horizon must be a whole number of months, got {horizon_months}.")


def _measure_stats(values: np.ndarray, clv_values: np.ndarray) -> dict:
    """Total, median, top-10% / top-20% shares (negative values count as 0 in the shares)
    and Spearman correlation with predicted CLV of one per-customer measure."""
    finite = np.isfinite(values)
    descending = np.sort(np.where(finite, values, 0.0))[::-1]
    positive = descending.clip(min=0)
    total_pos = positive.sum()

    def share(p: float) -> float:
        if positive.size == 0 or total_pos <= 0:
            return float("nan")
        return float(positive[: max(1, int(np.ceil(p * positive.size)))].sum() / total_pos)

    ok = finite & np.isfinite(clv_values)
    spearman = float("nan")
    if ok.sum() >= 3:
        a, b = rankdata(values[ok]), rankdata(clv_values[ok])
        if a.std() > 0 and b.std() > 0:
            spearman = float(np.corrcoef(a, b)[0, 1])
    return {
        "total": float(values[finite].sum()),
        "median": float(np.median(values[finite])) if finite.any() else float("nan"),
        "top10_share": share(0.10),
        "top20_share": share(0.20),
        "spearman_vs_predicted": spearman,
        "descending": descending,
    }


def _pareto(clv_desc: np.ndarray, revenue_desc: np.ndarray, points: int = 200) -> pd.DataFrame:
    """Cumulative share of predicted CLV and of historic revenue by share of customers (each
    sorted by its own measure, largest first; negative values count as 0), on at most
    ``points + 1`` points."""
    n = len(clv_desc)
    idx = np.unique(np.linspace(0, n, min(n, points) + 1).round().astype(int))
    frame = {"customer_share": idx / max(n, 1)}
    for values, name in ((clv_desc, "clv_share"), (revenue_desc, "revenue_share")):
        cum = np.r_[0.0, np.cumsum(values.clip(min=0))]
        frame[name] = cum[idx] / cum[-1] if cum[-1] > 0 else np.full(idx.size, np.nan)
    return pd.DataFrame(frame)


@memoized
def clv_view(
    dataset,
    version,
    start,
    end,
    countries,
    rules,
    model="bgnbd",
    horizon_months=12,
    margin_pct=30.0,
    annual_discount_pct=10.0,
    lifespan_years=3.0,
) -> dict:
    """Per-customer CLV (basic and predicted) and its summaries, for the whole range.

    The models are fitted on the whole filtered range (calibration end = its last day, see
    :func:`clv_fit`; a refit only when the filters or the model change) and predict the next
    ``horizon_months`` months of 30 days, discounted monthly at
    ``(1 + annual_discount_pct/100)^(1/12) - 1``, times ``margin_pct`` %.

    Returns a dict: ``reason`` (text or None; the other entries are None then), ``notes``,
    ``customers`` (DataFrame sorted by rank, columns :data:`_CLV_CUSTOMER_COLUMNS`:
    ``orders`` and ``recency_days`` and ``monetary`` from RFM (invoices, days, net revenue),
    ``ranking_index`` = orders x monetary (not money), ``historic_clv`` (currency, margin
    and lifespan applied), ``repeat_days``/``recency_weeks``/``age_weeks`` (the model's x,
    t_x, T), ``p_alive``, ``expected_purchases`` (repeat purchase days over the horizon),
    ``expected_aov`` (currency), ``clv`` (currency, discounted, margin applied), ``rank``),
    ``top`` (first :data:`CLV_TOP_N` rows), ``pareto`` (DataFrame: customer_share,
    clv_share, revenue_share), ``kpis`` (dict), ``basic`` (DataFrame comparing the ranking
    index, historic CLV over the lifespan and over the horizon, and predicted CLV: measure,
    unit, column, total, median, top10_share, spearman_vs_predicted),
    ``monthly_discount`` (rate per month).
    """
    _check_clv_inputs(horizon_months, margin_pct, annual_discount_pct, lifespan_years)
    filters = _filters(dataset, start, end, countries, rules)
    fit = clv_fit(filters, model)
    out = {
        "reason": fit["reason"],
        "notes": fit["notes"],
        "customers": None,
        "top": None,
        "pareto": None,
        "kpis": None,
        "basic": None,
        "monthly_discount": (1 + annual_discount_pct / 100) ** (1 / 12) - 1,
    }
    if fit["reason"]:
        return out
    summary = fit["summary"]
    margin = margin_pct / 100
    pred = clv_models.customer_clv(
        fit["purchase"],
        fit["spend"],
        summary,
        horizon_months=int(horizon_months),
        annual_discount_rate=annual_discount_pct / 100,
        margin=margin,
    )
    base = rfm_table(filters).reindex(summary.index)
    hist = clv_basic.historic_clv(base, margin=margin, lifespan_years=float(lifespan_years))
    same_horizon = clv_basic.historic_clv(
        base, margin=margin, lifespan_years=int(horizon_months) * clv_models.DAYS_PER_MONTH / 365
    )
    order = np.argsort(pred["rank"].to_numpy(), kind="stable")  # best first
    columns = {
        "customer_id": summary.index.to_numpy(),
        "rank": pred["rank"].to_numpy(),
        "orders": base["frequency"].to_numpy(),
        "recency_days": base["recency"].to_numpy(),
        "monetary": base["monetary"].to_numpy(dtype=float).round(2),
        "ranking_index": clv_basic.ranking_index(base).to_numpy().round(2),
        "historic_clv": hist["clv"].to_numpy().round(2),
        "repeat_days": summary["frequency"].to_numpy(),
        "recency_weeks": summary["recency"].to_numpy().round(2),
        "age_weeks": summary["T"].to_numpy().round(2),
        "p_alive": pred["p_alive"].to_numpy().round(4),
        "expected_purchases": pred["expected_purchases"].to_numpy().round(3),
        "expected_aov": pred["expected_aov"].to_numpy().round(2),
        "clv": pred["clv"].to_numpy().round(2),
    }
    customers = pd.DataFrame({c: columns[c][order] for c in _CLV_CUSTOMER_COLUMNS})
    clv_values = customers["clv"].to_numpy(dtype=float)
    measures = {
        "ranking_index": customers["ranking_index"].to_numpy(dtype=float),
        "historic_clv": customers["historic_clv"].to_numpy(dtype=float),
        "historic_same_horizon": same_horizon["clv"].to_numpy()[order],
        "clv": clv_values,
    }
    stats = {key: _measure_stats(values, clv_values) for key, values in measures.items()}
    kpis = {
        "customers": len(customers),
        "repeat_customers": fit["n_repeat"],
        "total_clv": stats["clv"]["total"],
        "median_clv": stats["clv"]["median"],
        "expected_purchases": float(customers["expected_purchases"].sum()),
        "mean_p_alive": float(customers["p_alive"].mean()),
        "historic_revenue": float(customers["monetary"].sum()),
        "top10_share": stats["clv"]["top10_share"],
        "top20_share": stats["clv"]["top20_share"],
        "calibration_end": fit["calibration_end"],
        "n_clv_missing": int(np.isnan(clv_values).sum()),
    }
    basic = pd.DataFrame(
        [
            {
                "measure": "Ranking index F × M",
                "unit": "orders × currency (not money)",
                "column": "ranking_index",
            },
            {
                "measure": "Historic CLV",
                "unit": f"currency, {margin_pct:g}% margin, {lifespan_years:g}-year lifespan",
                "column": "historic_clv",
            },
            {
                "measure": "Historic CLV, same horizon",
                "unit": f"currency, {margin_pct:g}% margin, {int(horizon_months)} months, "
                "no churn, undiscounted",
                "column": "historic_same_horizon",
            },
            {
                "measure": "Predicted CLV",
                "unit": f"currency, {margin_pct:g}% margin, "
                f"{int(horizon_months)} months, discounted",
                "column": "clv",
            },
        ]
    )
    for field in ("total", "median", "top10_share", "spearman_vs_predicted"):
        basic[field] = [stats[c][field] for c in basic["column"]]
    pareto = _pareto(
        stats["clv"]["descending"],
        np.sort(np.nan_to_num(customers["monetary"].to_numpy(dtype=float)))[::-1],
    )
    out.update(
        customers=customers, top=customers.head(CLV_TOP_N), pareto=pareto, kpis=kpis, basic=basic
    )
    return out


@memoized
def clv_validation(
    dataset, version, start, end, countries, rules, model="bgnbd", calibration_end=None
) -> dict:
    """Holdout check: fit up to ``calibration_end`` (``YYYY-MM-DD``; None = the default of
    :func:`clv_calibration_end`), forecast the rest of the range, compare.

    Returns a dict: ``reason`` (text when the check cannot run: invalid date, too few repeat
    customers before the date, a fit that did not converge; the other results are None
    then), ``calibration_end``/``observation_end`` (``YYYY-MM-DD``), ``is_default``,
    ``holdout_weeks``, ``n_customers`` (customers acquired up to the calibration date),
    ``scorecard`` (``clv_models.holdout_scorecard``: rows total_purchases, total_revenue,
    mae_purchases, spearman_purchases, spearman_revenue, top10_revenue_share, n_customers;
    columns model, baseline, actual), ``tracking`` (``clv_models.tracking_series``, weekly
    repeat purchases of the calibrated customers, ``holdout`` marks the weeks after the cut),
    ``params`` (fitted parameters of the calibration fit, as in :func:`clv_model`),
    ``notes`` (warnings about the calibration fit that do not block, see :func:`clv_fit`).
    """
    filters = _filters(dataset, start, end, countries, rules)
    out = {
        "reason": None,
        "calibration_end": None,
        "observation_end": None,
        "is_default": None,
        "holdout_weeks": None,
        "n_customers": 0,
        "scorecard": None,
        "tracking": None,
        "params": None,
        "notes": [],
    }
    try:
        cal, is_default = clv_calibration_end(filters, calibration_end)
    except ValueError as exc:
        out["reason"] = str(exc)
        return out
    fit = clv_fit(filters, model, cal)
    obs = fit["observation_end"]
    out.update(
        calibration_end=cal,
        is_default=is_default,
        n_customers=fit["n_customers"],
        observation_end=None if obs is None else f"{obs:%Y-%m-%d}",
        holdout_weeks=None if obs is None else (obs - pd.Timestamp(cal)).days / 7,
    )
    if fit["reason"]:
        out["reason"] = fit["reason"]
        return out
    out["notes"] = fit["notes"]
    out["params"] = _params_table(model, fit["purchase"], fit["spend"])
    out["scorecard"] = clv_models.holdout_scorecard(fit["summary"], fit["purchase"], fit["spend"])
    log = purchase_log(filtered_orders(filters))
    out["tracking"] = clv_models.tracking_series(
        log,
        customer_col="customer_id",
        date_col="invoice_date",
        fit=fit["purchase"],
        calibration_end=cal,
        observation_end=obs,
        freq="W",
    )
    return out


#: Fewest cohorts behind a point of the average cumulative-revenue curve (its tail rests
#: on the oldest cohorts only and would jump about).
COHORT_AVERAGE_MIN = 3


@memoized
def cohorts_view(dataset, version, start, end, countries, rules) -> dict:
    """Monthly acquisition cohorts of the filtered orders (``cohorts.cohort_tables``).

    The data's first and last day are those of :func:`clv_range` (not the first and last
    invoice of the filtered customers), so a country filter does not make the last month look
    partial or hide months in which the country's customers did not buy. Returns a dict:
    ``reason`` (text or None), ``tables`` (``cohorts.CohortTables``), ``average`` (DataFrame
    indexed by months_since: ``cumulative_revenue_per_customer`` averaged over cohorts
    weighted by size, leaving out the left-censored cohort and partial or unobserved cells,
    NaN where fewer than :data:`COHORT_AVERAGE_MIN` cohorts remain; and ``cohorts``, the
    number of cohorts behind each value).
    """
    filters = _filters(dataset, start, end, countries, rules)
    if is_sql(dataset):
        tables = sql_pages(filters)["cohorts"]
    else:
        orders = filtered_orders(filters)[
            ["customer_id", "invoice_date", "revenue", "is_cancellation"]
        ]
        rng = clv_range(filters)
        if rng is not None:  # rows without a customer only set the data's first and last day
            edges = pd.DataFrame(
                {
                    "customer_id": pd.Series([None, None], dtype=orders["customer_id"].dtype),
                    "invoice_date": [rng[0], rng[1]],
                    "revenue": [0.0, 0.0],
                    "is_cancellation": [False, False],
                }
            )
            orders = pd.concat([orders, edges], ignore_index=True)
        tables = cohorts.cohort_tables(orders)
    out = {"reason": None, "tables": tables, "average": None}
    if tables.sizes.empty:
        out["reason"] = empty_reason(0)
        return out
    cum = tables.cumulative_revenue_per_customer
    usable = cum.notna() & ~tables.partial_cells
    usable.loc[tables.left_censored.to_numpy()] = False
    w = usable.mul(tables.sizes, axis=0)
    weight = w.sum(axis=0)
    n_cohorts = usable.sum(axis=0).astype(int)
    average = (cum.where(usable, 0.0) * w).sum(axis=0) / weight.where(weight > 0)
    average = average.where(n_cohorts >= COHORT_AVERAGE_MIN)
    out["average"] = pd.DataFrame(
        {"cumulative_revenue_per_customer": average, "cohorts": n_cohorts}
    )
    return out


__all__ += [
    "CLV_MIN_REPEAT_CUSTOMERS",
    "CLV_TIME_UNIT",
    "clv_calibration_end",
    "clv_fit",
    "clv_model",
    "clv_range",
    "clv_validation",
    "clv_view",
    "cohorts_view",
    "purchase_log",
]
# ======================================================================================
# End of CLV and cohorts
# ======================================================================================


# ======================================================================================
# Clustering
# ======================================================================================
# Results of the Clustering page (engine: dashapp.clustering). Memo keys are simple values:
# method, k, eps, min_samples, linkage, covariance type, transform, scale and a tuple of
# feature names; results are plain data (frames, dicts, lists, floats). Parameters a method
# ignores are normalised away (``cluster_params``), so e.g. K-Means with any eps shares one
# cache entry. A ClusteringError (fewer customers than clusters, one customer, all identical,
# a bad parameter) becomes ``{"error": message}`` instead of an exception.
import numpy as _np  # noqa: E402  (this section is appended to the module)

from dashapp.analytics import clustering as _clustering

#: Customer-table columns the page can cluster on, in canonical (memo-key) order.
CLUSTER_FEATURES = ("recency", "frequency", "monetary", "tenure", "aov")
#: Most points the PCA scatter receives: a sample stratified by cluster, every Outlier kept.
SCATTER_MAX_POINTS = 5_000
SCATTER_MIN_PER_CLUSTER = 30
#: Points of the k-distance curve sent to the browser (the knee is always one of them).
KDIST_PLOT_POINTS = 800
#: Elbow / silhouette curve (K-Means) and BIC curve (mixture) over these k, on samples.
DIAG_KS = tuple(range(_clustering.MIN_K, _clustering.MAX_K + 1))
ELBOW_MAX_POINTS = 5_000
ELBOW_SILHOUETTE_SAMPLE = 1_000
BIC_MAX_POINTS = 3_000
_CLUSTER_TABLE_COLUMNS = ("recency", "frequency", "monetary", "tenure", "aov", "segment")


def cluster_params(
    method="kmeans",
    k=4,
    eps=None,
    min_samples=None,
    linkage="ward",
    covariance_type="full",
    transform="log1p",
    scale="standard",
    features=_clustering.DEFAULT_FEATURES,
) -> tuple:
    """Canonical ``(method, k, eps, min_samples, linkage, covariance_type, transform, scale,
    features)``: names lower-cased, features de-duplicated in :data:`CLUSTER_FEATURES` order
    (unknown names kept, after them, so the engine can name them in its message), and the
    parameters the method does not use set to None. Values are not validated here."""
    method = str(method or "kmeans").strip().lower()
    method = {"k-means": "kmeans", "agglomerative": "hierarchical", "gaussian mixture": "gmm"}.get(
        method, method
    )
    feats = [features] if isinstance(features, str) else list(features or ())
    known = [f for f in CLUSTER_FEATURES if f in feats]
    feats = tuple(known + [f for f in dict.fromkeys(feats) if f not in CLUSTER_FEATURES])
    eps = float(eps) if isinstance(eps, int | float) and not isinstance(eps, bool) else eps

    def low(v):
        return v.strip().lower() if isinstance(v, str) else v

    return (
        method,
        k if method != "dbscan" else None,
        eps if method == "dbscan" else None,
        min_samples if method == "dbscan" else None,
        low(linkage) if method == "hierarchical" else None,
        low(covariance_type) if method == "gmm" else None,
        low(transform),
        low(scale),
        feats,
    )


def cluster_view(
    filters: Filters,
    method="kmeans",
    k=4,
    eps=None,
    min_samples=None,
    linkage="ward",
    covariance_type="full",
    transform="log1p",
    scale="standard",
    features=_clustering.DEFAULT_FEATURES,
) -> dict:
    """Cluster the customers of ``filters`` (memoized per canonical parameters).

    Returns a dict of plain data: ``error`` (str or None; when set, only ``n_customers``,
    ``method`` and ``method_label`` accompany it), ``method``, ``method_label``, ``params``
    (parameters used, e.g. the eps chosen at the knee), ``names`` (cluster names in display
    order, "Outliers" last when present), ``n_clusters``, ``n_customers``, ``approximate``,
    ``n_fit``, ``note``, ``diagnostics`` (silhouette, davies_bouldin, calinski_harabasz,
    n_outliers, ari_vs_segments, bic...; floats, NaN where undefined), ``features``,
    ``explained_variance`` (2 floats), ``components`` (2 x n_features loadings),
    ``customers`` (DataFrame, one row per customer: customer_id, cluster (ordered
    categorical), segment, recency, frequency, monetary, tenure, aov, pc1, pc2),
    ``scatter`` (the same columns for at most :data:`SCATTER_MAX_POINTS` customers: a sample
    stratified by cluster that keeps every Outlier), ``scatter_sampled`` (bool),
    ``profiles`` (DataFrame: cluster, size, share, revenue, revenue_share, value_rank,
    <column>_median...), ``agreement`` (DataFrame of customers, index cluster names, columns
    RFM segments in grid order; or None), ``k_distance`` (DBSCAN: dict of the plotted curve)
    and ``as_of``.
    """
    params = cluster_params(
        method, k, eps, min_samples, linkage, covariance_type, transform, scale, features
    )
    with _single_flight(("cluster_view", filters, params)):
        return _cluster_view(filters, *params)


_flights: dict[tuple, threading.Lock] = {}
_flights_lock = threading.Lock()
#: One clustering computation at a time per process. The engine runs BLAS / OpenMP on one
#: thread through threadpoolctl, whose limits are process-wide or per-thread depending on the
#: library: two computations overlapping in one process (gunicorn gthread workers, or the
#: page's callbacks arriving together) undo each other's limits and oversubscribe the two
#: cores, which was measured at 3-15x slower than running them one after the other.
_COMPUTE_LOCK = threading.Lock()


def _single_flight(key: tuple) -> threading.Lock:
    """One lock per result: the page's callbacks fire together and ask for the same
    clustering (and RFM table); the first computes it, the others wait and read the cache
    instead of computing it again on the same two cores."""
    with _flights_lock:
        if len(_flights) > 512:  # forget idle locks now and then (a holder keeps its own)
            _flights.clear()
        return _flights.setdefault(key, threading.Lock())


def _cluster_customers_table(filters: Filters) -> pd.DataFrame:
    """``rfm_table(filters)`` computed once when callbacks ask for it at the same time."""
    with _single_flight(("rfm_table", filters)):
        return rfm_table(filters)


@memoized
def _cluster_view(
    dataset,
    version,
    start,
    end,
    countries,
    rules,
    method,
    k,
    eps,
    min_samples,
    linkage,
    covariance_type,
    transform,
    scale,
    features,
) -> dict:
    scored = _cluster_customers_table(_filters(dataset, start, end, countries, rules))
    n = len(scored)
    base = {
        "error": None,
        "n_customers": n,
        "method": method,
        "method_label": _clustering.METHOD_LABELS.get(method, str(method)),
    }
    if n == 0:
        return {**base, "error": empty_reason(0)}
    # the segment stays out of the engine: its crosstab of text labels costs 10-20 ms of the
    # 150 ms budget at 6,000 customers; the agreement is counted below on integer codes
    columns = list(
        dict.fromkeys(
            [
                *(f for f in features if f in scored.columns),
                *(c for c in _CLUSTER_TABLE_COLUMNS if c in scored.columns and c != "segment"),
            ]
        )
    )
    table = scored[columns]
    kwargs = {
        "k": k,
        "eps": eps,
        "min_samples": min_samples,
        "linkage": linkage,
        "covariance_type": covariance_type,
    }
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    try:
        with _COMPUTE_LOCK:
            res = _clustering.cluster_customers(
                table, method, transform=transform, scale=scale, features=features, **kwargs
            )
    except _clustering.ClusteringError as exc:
        return {**base, "error": str(exc)}

    names = list(res.names)
    customers = pd.DataFrame(
        {"customer_id": table.index.astype(str).to_numpy(), "cluster": res.labels.array}
    )
    for col in _CLUSTER_TABLE_COLUMNS:
        if col in scored.columns:
            customers[col] = scored[col].to_numpy()
    customers["pc1"] = res.coords[:, 0]
    customers["pc2"] = res.coords[:, 1]
    codes = customers["cluster"].cat.codes.to_numpy()
    outlier_code = (
        names.index(_clustering.OUTLIER_NAME) if _clustering.OUTLIER_NAME in names else None
    )
    rows = stratified_sample(codes, SCATTER_MAX_POINTS, keep=outlier_code)

    profiles = res.profiles.reset_index()
    profiles["cluster"] = profiles["cluster"].astype(str)
    profiles["value_rank"] = profiles["value_rank"].astype("float64")
    diagnostics = _plain(res.diagnostics)
    agreement = None
    if "segment" in scored.columns:
        agreement, diagnostics["ari_vs_segments"] = _segment_agreement(
            codes, names, scored["segment"]
        )

    return {
        **base,
        "params": _plain(res.params),
        "names": names,
        "n_clusters": int(res.n_clusters),
        "approximate": bool(res.approximate),
        "n_fit": int(res.n_fit),
        "note": res.note,
        "diagnostics": diagnostics,
        "features": list(res.feature_spec.features),
        "explained_variance": [float(v) for v in res.explained_variance_ratio],
        "components": res.pca_components.tolist(),
        "customers": customers,
        "scatter": customers.iloc[rows].reset_index(drop=True),
        "scatter_sampled": len(rows) < n,
        "profiles": profiles,
        "agreement": agreement,
        "k_distance": _kdist_plot(res.k_distance, res.params) if res.k_distance else None,
        "as_of": scored.attrs.get("as_of"),
    }


def _segment_agreement(
    codes: _np.ndarray, names: list[str], segments: pd.Series
) -> tuple[pd.DataFrame, float]:
    """Customers per (cluster, RFM segment) -- rows ``names`` in order, columns the segments
    in grid order (then any others) -- and the adjusted Rand index of the two groupings
    (customers without a segment left out)."""
    from sklearn.metrics import adjusted_rand_score

    seg_codes, seg_names = pd.factorize(segments.to_numpy(dtype=object), use_na_sentinel=True)
    order = [s for s in rfm.SEGMENT_ORDER if s in set(seg_names)]
    order += [s for s in seg_names if s not in order]
    counts = _np.zeros((len(names), len(seg_names)), dtype=_np.int64)
    ok = seg_codes >= 0
    _np.add.at(counts, (codes[ok], seg_codes[ok]), 1)
    table = pd.DataFrame(
        counts, index=pd.Index(names, name="cluster"), columns=[str(s) for s in seg_names]
    )[[str(s) for s in order]]
    table.columns.name = "segment"
    ari = float(adjusted_rand_score(seg_codes[ok], codes[ok])) if ok.sum() >= 2 else float("nan")
    return table, ari


def stratified_sample(
    codes: _np.ndarray,
    max_points: int,
    keep: int | None = None,
    min_per_group: int = SCATTER_MIN_PER_CLUSTER,
    random_state: int = 0,
) -> _np.ndarray:
    """Sorted positions of at most about ``max_points`` rows, sampled per group ``codes``
    proportionally to the group sizes (every group gets at least ``min_per_group`` rows or
    all of its rows). Every row of group ``keep`` (the Outliers) is kept, up to
    ``max_points`` of them. Deterministic; all rows when there are at most ``max_points``."""
    codes = _np.asarray(codes)
    n = len(codes)
    if n <= max_points:
        return _np.arange(n)
    rng = _np.random.default_rng(random_state)
    chosen = []
    budget = max_points
    groups = [g for g in _np.unique(codes) if g != keep]
    if keep is not None:
        kept = _np.flatnonzero(codes == keep)
        if len(kept) > max_points:
            kept = _np.sort(rng.choice(kept, max_points, replace=False))
        chosen.append(kept)
        budget = max(max_points - len(kept), min_per_group * len(groups))
    members = [_np.flatnonzero(codes == g) for g in groups]
    total = sum(len(m) for m in members)
    quotas = [min(len(m), max(min_per_group, int(budget * len(m) / total))) for m in members]
    excess = sum(quotas) - budget
    while excess > 0:  # take the surplus of the minimums from the largest groups
        j = int(_np.argmax(quotas))
        cut = min(excess, quotas[j] - min_per_group)
        if cut <= 0:
            break
        quotas[j] -= cut
        excess -= cut
    for m, q in zip(members, quotas, strict=True):
        chosen.append(m if q >= len(m) else rng.choice(m, q, replace=False))
    return _np.sort(_np.concatenate(chosen)) if chosen else _np.arange(0)


def _kdist_plot(kd, params: dict) -> dict:
    """The DBSCAN k-distance curve thinned to :data:`KDIST_PLOT_POINTS` points (knee kept)."""
    m = len(kd.distances)
    pos = _np.unique(
        _np.concatenate(
            [_np.linspace(0, m - 1, min(m, KDIST_PLOT_POINTS)).round().astype(int), [kd.knee_index]]
        )
    )
    return {
        "rank": pos,
        "distance": kd.distances[pos].astype(float),
        "knee_index": int(kd.knee_index),
        "knee_eps": float(kd.eps),
        "eps": float(params.get("eps", kd.eps)),
        "eps_auto": bool(params.get("eps_auto")),
        "k": int(kd.k),
        "n_points": int(kd.n_points),
        "n_total": int(kd.n_total),
    }


def _plain(mapping: dict) -> dict:
    """Numpy scalars -> Python numbers, tuples -> lists (for display and pickling)."""
    out = {}
    for key, value in mapping.items():
        if isinstance(value, _np.generic):
            value = value.item()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def cluster_diagnostics(
    filters: Filters,
    method="kmeans",
    k=4,
    eps=None,
    min_samples=None,
    linkage="ward",
    covariance_type="full",
    transform="log1p",
    scale="standard",
    features=_clustering.DEFAULT_FEATURES,
) -> dict:
    """The method's diagnostic curve, computed only for that method (each memoized on the
    parameters it depends on).

    Returns a dict with ``kind`` and either ``error`` (str) or:

    * ``"elbow"`` (K-Means): ``curve`` (DataFrame k, inertia, silhouette, n_points; K-Means
      with one init per k on at most :data:`ELBOW_MAX_POINTS` customers, silhouette on
      :data:`ELBOW_SILHOUETTE_SAMPLE`), ``k``, ``n_points``, ``n_total``.
    * ``"k_distance"`` (DBSCAN): the curve of the fit itself, see :func:`cluster_view`.
    * ``"dendrogram"`` (hierarchical): ``icoord``, ``dcoord``, ``color_list``,
      ``cut_height``, ``k``, ``linkage``, ``n_points``, ``n_total``.
    * ``"bic"`` (mixture): ``curve`` (DataFrame k, bic, aic on at most
      :data:`BIC_MAX_POINTS` customers), ``k``, ``covariance_type``, ``n_points``,
      ``n_total``.
    """
    (method, k, eps, min_samples, linkage, covariance_type, transform, scale, features) = (
        cluster_params(
            method, k, eps, min_samples, linkage, covariance_type, transform, scale, features
        )
    )
    # The page asks for the clustering and its diagnostics at the same moment: the clustering
    # (what the user waits for) comes first -- memoized, and computed once however many
    # callbacks ask (single flight) -- then the curve.
    view = cluster_view(
        filters, method, k, eps, min_samples, linkage, covariance_type, transform, scale, features
    )
    if method == "dbscan":
        if view["error"]:
            return {"kind": "k_distance", "error": view["error"]}
        return {"kind": "k_distance", **view["k_distance"]}
    if method == "kmeans":
        out = _elbow_view(filters, transform, scale, features)
    elif method == "hierarchical":
        out = _dendrogram_view(filters, transform, scale, features, linkage, k)
    elif method == "gmm":
        out = _bic_view(filters, transform, scale, features, covariance_type)
    else:
        return {
            "kind": None,
            "error": f"Unknown method {method!r}; choose one of {', '.join(_clustering.METHODS)}.",
        }
    return out if "error" in out else {**out, "k": k}


def _feature_matrix(dataset, start, end, countries, rules, transform, scale, features):
    """Feature matrix of the filtered customers (raises ClusteringError)."""
    scored = _cluster_customers_table(_filters(dataset, start, end, countries, rules))
    if len(scored) < 2:
        raise _clustering.ClusteringError(
            empty_reason(len(scored), 2) or "At least two customers are needed."
        )
    X, spec = _clustering.build_features(scored, features, transform, scale)
    if len(spec.constant) == len(spec.features):
        raise _clustering.ClusteringError(
            "All customers have identical values of "
            f"{', '.join(spec.features)}: there is nothing to cluster."
        )
    return X


@memoized
def _elbow_view(dataset, version, start, end, countries, rules, transform, scale, features) -> dict:
    try:
        X = _feature_matrix(dataset, start, end, countries, rules, transform, scale, features)
        with _COMPUTE_LOCK:
            curve = _clustering.elbow_curve(
                X, DIAG_KS, max_points=ELBOW_MAX_POINTS, silhouette_sample=ELBOW_SILHOUETTE_SAMPLE
            )
    except _clustering.ClusteringError as exc:
        return {"kind": "elbow", "error": str(exc)}
    return {
        "kind": "elbow",
        "curve": curve,
        "n_points": int(curve["n_points"].iloc[0]),
        "n_total": len(X),
    }


@memoized
def _dendrogram_view(
    dataset, version, start, end, countries, rules, transform, scale, features, linkage, k
) -> dict:
    try:
        X = _feature_matrix(dataset, start, end, countries, rules, transform, scale, features)
        with _COMPUTE_LOCK:
            d = _clustering.dendrogram_data(
                X, linkage or "ward", k=k if isinstance(k, int) and 2 <= k < len(X) else None
            )
    except _clustering.ClusteringError as exc:
        return {"kind": "dendrogram", "error": str(exc)}
    return {
        "kind": "dendrogram",
        "icoord": d["icoord"],
        "dcoord": d["dcoord"],
        "color_list": d["color_list"],
        "cut_height": d["cut_height"],
        "linkage": d["method"],
        "n_points": d["n_points"],
        "n_total": d["n_total"],
    }


@memoized
def _bic_view(
    dataset, version, start, end, countries, rules, transform, scale, features, covariance_type
) -> dict:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    try:
        X = _feature_matrix(dataset, start, end, countries, rules, transform, scale, features)
        if covariance_type not in _clustering.COVARIANCE_TYPES:
            raise _clustering.ClusteringError(
                f"Unknown covariance_type {covariance_type!r}; choose one of "
                f"{', '.join(_clustering.COVARIANCE_TYPES)}."
            )
    except _clustering.ClusteringError as exc:
        return {"kind": "bic", "error": str(exc)}
    n = len(X)
    if n > BIC_MAX_POINTS:
        rng = _np.random.default_rng(0)
        X = X[_np.sort(rng.choice(n, BIC_MAX_POINTS, replace=False))]
    rows = []
    with _COMPUTE_LOCK, _clustering._threads(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in DIAG_KS:
            if k > len(X):
                rows.append((k, _np.nan, _np.nan))
                continue
            gm = GaussianMixture(
                n_components=k, covariance_type=covariance_type, random_state=0
            ).fit(X)
            rows.append((k, float(gm.bic(X)), float(gm.aic(X))))
    return {
        "kind": "bic",
        "curve": pd.DataFrame(rows, columns=["k", "bic", "aic"]),
        "covariance_type": covariance_type,
        "n_points": len(X),
        "n_total": n,
    }


__all__ += [
    "CLUSTER_FEATURES",
    "SCATTER_MAX_POINTS",
    "cluster_diagnostics",
    "cluster_params",
    "cluster_view",
    "stratified_sample",
]
# ======================================================================================
# End of Clustering
# ======================================================================================


# ======================================================================================
# Action list
# ======================================================================================
ACTION_COLUMNS = [
    "customer_id",
    "segment",
    "cluster",
    "p_alive",
    "clv",
    "value_at_stake",
    "recommended_action",
    "recency",
    "frequency",
    "monetary",
]


def action_list(
    filters: Filters,
    model="bgnbd",
    horizon_months=12,
    margin_pct=30.0,
    annual_discount_pct=10.0,
    method="kmeans",
    k=4,
) -> dict:
    """One row per customer to act on: RFM segment, cluster label, P(alive), predicted CLV,
    the segment's recommended action and the value at stake, sorted by value at stake.

    ``value_at_stake = clv x (1 - p_alive)``: the predicted value (currency, margin applied,
    discounted over the horizon) weighted by the probability that the customer is already
    lost. A loyal customer who is surely alive has little at stake; a big spender whose
    purchases stopped has much. Returns ``{"reason": text or None, "table": DataFrame,
    "notes": [..]}``.
    """
    return _action_list(
        filters,
        model,
        int(horizon_months),
        float(margin_pct),
        float(annual_discount_pct),
        method,
        int(k),
    )


@memoized
def _action_list(
    dataset,
    version,
    start,
    end,
    countries,
    rules,
    model,
    horizon_months,
    margin_pct,
    annual_discount_pct,
    method,
    k,
) -> dict:
    filters = _filters(dataset, start, end, countries, rules)
    scored = rfm_table(filters)
    notes = []
    table = scored[["segment", "recency", "frequency", "monetary"]].copy()
    actions = dict(zip(rfm.SEGMENT_GRID["segment"], rfm.SEGMENT_GRID["action"], strict=True))
    table["recommended_action"] = table["segment"].map(actions)
    clv = clv_view(filters, model, horizon_months, margin_pct, annual_discount_pct)
    if clv["reason"]:
        return {"reason": clv["reason"], "table": None, "notes": notes}
    c = clv["customers"].set_index("customer_id")
    table["p_alive"] = c["p_alive"].reindex(table.index)
    table["clv"] = c["clv"].reindex(table.index)
    clusters = cluster_view(filters, method, k)
    if clusters.get("error"):
        notes.append(f"No cluster labels: {clusters['error']}")
        table["cluster"] = ""
    else:
        labels = clusters["customers"].set_index("customer_id")["cluster"].astype(str)
        table["cluster"] = labels.reindex(table.index).fillna("")
        if clusters.get("note"):
            notes.append(clusters["note"])
    table["value_at_stake"] = (table["clv"] * (1 - table["p_alive"])).round(2)
    table = table.reset_index().sort_values(
        ["value_at_stake", "customer_id"],
        ascending=[False, True],
        na_position="last",
        kind="stable",
    )
    return {"reason": None, "table": table[ACTION_COLUMNS].reset_index(drop=True), "notes": notes}


__all__ += ["ACTION_COLUMNS", "action_list"]
