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

import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from flask import Flask
from flask_caching import Cache

from . import cleaning, rfm
from .config import Settings
from .loading import DataLoadError, dataset_fingerprint, load_transactions

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
        path = settings.discovered_data_path()
        if path is not None:
            _registry[path.stem] = DatasetInfo(id=path.stem, label=path.name, kind="file",
                                               path=Path(path))
        _registry[DEMO_ID] = DatasetInfo(id=DEMO_ID, label="Demo data (generated)", kind="demo")


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
    from .uploads import find_upload

    found = find_upload(upload_dir(), dataset_id)
    return DatasetInfo(id=found.id, label=f"{found.label} (uploaded)", kind="upload",
                       path=found.path, currency=found.currency,
                       column_map=tuple(sorted((found.column_map or {}).items())))


def _source_path(info: DatasetInfo) -> Path:
    if info.kind == "demo":
        from .demo import demo_dataset_path

        return demo_dataset_path(_settings.cache_dir)
    assert info.path is not None
    return info.path


_version_memo: dict[tuple, str] = {}


def dataset_version(dataset_id: str) -> str:
    """Content fingerprint of the dataset's file (memoized per path, size and mtime)."""
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
            version += "-" + hashlib.blake2b(repr(info.column_map).encode(), digest_size=4).hexdigest()
        _version_memo[key] = version
    return _version_memo[key]


# --------------------------------------------------------------------------------------
# Per-process store of loaded frames
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CleanData:
    lines: pd.DataFrame
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


def transactions(dataset_id: str) -> pd.DataFrame:
    """Canonical raw lines of a dataset (loaded once per process)."""
    info = dataset_info(dataset_id)
    version = dataset_version(dataset_id)

    def build():
        log.info("loading dataset %s (%s)", dataset_id, version)
        return load_transactions(_source_path(info), cache_dir=_settings.cache_dir,
                                 column_map=dict(info.column_map) or None)

    return _held(("lines", dataset_id, version), build)


def cleaned(dataset_id: str, rules: str) -> CleanData:
    """Cleaned lines, ledger and invoice table for a dataset and rule flags (once per process)."""
    version = dataset_version(dataset_id)

    def build():
        lines, ledger = cleaning.clean(transactions(dataset_id), cleaning.CleaningRules.from_flags(rules))
        return CleanData(lines=lines, ledger=ledger, orders=cleaning.invoice_table(lines))

    return _held(("clean", dataset_id, version, rules), build)


# --------------------------------------------------------------------------------------
# Memoization
# --------------------------------------------------------------------------------------
def init_cache(server: Flask | None = None, config: dict | None = None) -> Cache:
    """Bind the results cache to a Flask server (a private one when none is given)."""
    server = server or Flask(__name__)
    cache.init_app(server, config=config or _settings.cache_config())
    return cache


def _ensure_cache() -> None:
    if cache.app is None:
        init_cache(config={"CACHE_TYPE": "SimpleCache"})


def memoized(fn):
    """Memoize ``fn(dataset, version, start, end, countries, rules, *params)`` and expose it
    as ``fn(filters, *params)``. The dataset version is looked up at call time, so a changed
    file gets new cache keys. The undecorated function stays reachable as ``.uncached``
    (benchmarks use it)."""
    cached = cache.memoize()(fn)

    @functools.wraps(fn)
    def call(filters: Filters, *params):
        _ensure_cache()
        return cached(filters.dataset, dataset_version(filters.dataset), filters.start,
                      filters.end, filters.countries, filters.rules, *params)

    def uncached(filters: Filters, *params):
        return fn(filters.dataset, dataset_version(filters.dataset), filters.start,
                  filters.end, filters.countries, filters.rules, *params)

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


@cache.memoize()
def _dataset_bounds(dataset_id: str, version: str) -> dict:
    orders = cleaned(dataset_id, cleaning.CleaningRules().flags()).orders
    if orders.empty:
        return {"start": None, "end": None, "countries": []}
    by_country = orders.groupby("country", observed=True)["revenue"].sum().sort_values(ascending=False)
    return {
        "start": orders["invoice_date"].min().strftime("%Y-%m-%d"),
        "end": orders["invoice_date"].max().strftime("%Y-%m-%d"),
        "countries": [str(c) for c in by_country.index],
    }


@memoized
def overview(dataset, version, start, end, countries, rules) -> dict:
    """KPIs, monthly revenue and the cleaning ledger for the Overview page.

    Returns a dict: ``kpis`` (net_revenue GBP, customers, orders, aov GBP per purchase
    invoice, repeat_rate 0..1, lines, cancellation_revenue), ``monthly`` (DataFrame: month,
    revenue, customer_revenue, orders, customers, partial), ``ledger`` (DataFrame),
    ``rows_in``/``rows_out``.
    """
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
    return {"kpis": kpis, "monthly": monthly, "ledger": data.ledger,
            "rows_in": data.ledger.attrs.get("rows_in"), "rows_out": data.ledger.attrs.get("rows_out")}


def _monthly(orders: pd.DataFrame, all_orders: pd.DataFrame, start, end) -> pd.DataFrame:
    cols = ["month", "revenue", "customer_revenue", "orders", "customers", "partial"]
    if orders.empty:
        return pd.DataFrame(columns=cols)
    month = orders["invoice_date"].dt.to_period("M")
    known = orders["customer_id"].notna()
    purchase = ~orders["is_cancellation"]
    g = pd.DataFrame({
        "month": month,
        "revenue": orders["revenue"],
        "customer_revenue": orders["revenue"].where(known, 0.0),
        "orders": purchase.astype(int),
        "customer_id": orders["customer_id"].astype(object).where(known & purchase),
    }).groupby("month", sort=True).agg(
        revenue=("revenue", "sum"), customer_revenue=("customer_revenue", "sum"),
        orders=("orders", "sum"), customers=("customer_id", "nunique"))
    g = g.reset_index()
    # A month is partial when the data (or the filter) covers only part of it.
    first_day = max(all_orders["invoice_date"].min().normalize(),
                    pd.Timestamp(start) if start else pd.Timestamp.min)
    last_day = min(all_orders["invoice_date"].max().normalize(),
                   pd.Timestamp(end) if end else pd.Timestamp.max)
    starts = g["month"].dt.start_time
    ends = g["month"].dt.end_time.dt.normalize()
    g["partial"] = (starts < first_day) | (ends > last_day)
    g["month"] = starts
    return g[cols]


@memoized
def rfm_table(dataset, version, start, end, countries, rules, as_of=None, thresholds=None) -> pd.DataFrame:
    """Scored customer table (``rfm.customer_rfm`` + ``rfm.rfm_scores``) for the filters.

    ``as_of`` is ``YYYY-MM-DD`` or None; ``thresholds`` a tuple of ``(metric, (e1, e2, e3,
    e4))`` pairs or None. ``attrs["as_of"]`` holds the reference date used.
    """
    orders = filtered_orders(_filters(dataset, start, end, countries, rules))
    customers = rfm.customer_rfm(orders, as_of=as_of)
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
        return ("No customers match these filters. Widen the date range or clear the country "
                "filter.")
    if n_customers < minimum:
        return (f"Only {n_customers} customer{'s' if n_customers != 1 else ''} match these "
                f"filters; at least {minimum} are needed here. Widen the date range or the "
                "countries.")
    return None


__all__ = [
    "CleanData", "DataLoadError", "currency", "DatasetInfo", "Filters", "cache", "cleaned", "configure",
    "dataset_bounds", "dataset_info", "dataset_version", "datasets", "default_dataset_id",
    "empty_reason", "filtered_orders", "init_cache", "memoized", "overview", "upload_dir",
    "records", "rfm_table", "rfm_view", "settings", "transactions",
]
