"""The dataset registry: which datasets a user can pick, where each one's data comes from
and its current version.

Datasets are the configured SQL table (``DATA_SQL_*``), the Spark table (``DATA_SPARK_*``), the configured file (``DATA_PATH``
or ``data/online_retail_II.*``), the embedded demo data, and uploads (resolved from their
folder, so every worker process knows every upload). A dataset's *version* is a fingerprint
of its content: the cache keys carry it, so a changed file is never served stale results.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashapp.config import Settings, SqlSettings
from dashapp.ingest import schema
from dashapp.ingest.engine import local
from dashapp.ingest.loading import DataLoadError, dataset_fingerprint
from dashapp.ingest.spark import SparkSource
from dashapp.ingest.sql import SqlSource, SqlSourceError

DEMO_ID = "demo"
SQL_ID = "sql"
SPARK_ID = "spark"
#: Kinds of dataset whose lines live in another engine (a database, a warehouse, Spark).
TABLE_KINDS = ("sql", "spark")
#: Seconds a table's content fingerprint is reused before the table is scanned again.
SQL_VERSION_TTL_S = 60


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset the user can pick. ``kind`` is ``"sql"``, ``"spark"``, ``"file"``, ``"demo"``
    or ``"upload"``."""

    id: str
    label: str
    kind: str
    path: Path | None = None
    column_map: tuple[tuple[str, str], ...] = ()
    currency: str | None = None

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"


@dataclass
class _State:
    """Everything the registry holds for this process (one object, reset by ``configure``)."""

    settings: Settings = field(default_factory=Settings.from_env)
    entries: dict[str, DatasetInfo] = field(default_factory=dict)
    sources: dict[str, SqlSource | SparkSource] = field(default_factory=dict)
    table_versions: dict[str, tuple[float, str]] = field(default_factory=dict)
    file_versions: dict[tuple, str] = field(default_factory=dict)


_state = _State()
_lock = threading.Lock()
#: Who is asking: the browser session or user of the current web request (set by the web
#: layer before every request). Uploads are visible to their owner only. ``None`` outside a
#: request (scripts, benchmarks): no owner check.
_owner: ContextVar[str | None] = ContextVar("dataset_owner", default=None)


def set_owner(owner: str | None) -> None:
    """Set who is asking for datasets in this request (the web layer's request hook)."""
    _owner.set(owner)


def current_owner() -> str | None:
    """The owner set for the current request (``None`` outside requests)."""
    return _owner.get()


def configure(settings: Settings) -> None:
    """Set the settings and (re)build the dataset registry. Called by the app factory."""
    global _state
    entries: list[DatasetInfo] = []
    local.configure(
        local.EngineSettings(
            threads=settings.duckdb_threads, memory_limit=settings.duckdb_memory_limit
        )
    )
    if settings.sql is not None:  # the default; connects on first use
        entries.append(DatasetInfo(id=SQL_ID, label=f"SQL: {settings.sql.table}", kind="sql"))
    if settings.spark is not None:
        where = settings.spark.table or Path(settings.spark.path or "").name
        entries.append(DatasetInfo(id=SPARK_ID, label=f"Spark: {where}", kind="spark"))
    path = settings.discovered_data_path()
    if path is not None:
        entries.append(DatasetInfo(id=path.stem, label=path.name, kind="file", path=Path(path)))
    entries.append(DatasetInfo(id=DEMO_ID, label="Demo data (generated)", kind="demo"))
    with _lock:
        _state = _State(settings=settings, entries={info.id: info for info in entries})


def settings() -> Settings:
    return _state.settings


def datasets() -> list[DatasetInfo]:
    """The datasets that can be selected, the default first."""
    if not _state.entries:
        configure(_state.settings)
    return list(_state.entries.values())


def default_dataset_id() -> str:
    return datasets()[0].id


def dataset_info(dataset_id: str) -> DatasetInfo:
    """The dataset with this id: a configured one, or an upload (resolved from its folder, so
    every worker process knows every upload) when the current owner may use it. Every page,
    view and cache key goes through here (``dataset_version`` too): a stranger's request for
    an upload fails before any data or cached result is read."""
    datasets()
    if dataset_id in _state.entries:
        return _state.entries[dataset_id]
    if str(dataset_id).startswith("upload-"):
        return _upload_info(dataset_id)
    raise DataLoadError(f"Unknown dataset '{dataset_id}'.")


def currency(dataset_id: str | None) -> str:
    """Currency symbol of a dataset (an upload's own, else the configured one)."""
    if dataset_id:
        try:
            return dataset_info(dataset_id).currency or _state.settings.currency
        except DataLoadError:
            pass
    return _state.settings.currency


def cache_dir() -> Path | None:
    """The cache folder (parquet copies of loaded files, the demo data) when the app can
    write there; None (logged once) when it is read-only, missing and not creatable, or
    full: loading then works without copies."""
    from dashapp.ingest.storage import writable_folder

    return writable_folder(_state.settings.cache_dir, "cache")


def cache_dir_for(info: DatasetInfo) -> Path | None:
    """Where the parquet copy of a dataset's file goes: an upload's own folder (deleted with
    it, counted in its quota), else :func:`cache_dir`."""
    if info.kind == "upload" and info.path is not None:
        return info.path.parent
    return cache_dir()


def upload_dir() -> Path:
    """Folder of uploaded datasets (inside the data folder)."""
    return _state.settings.data_dir / "uploads"


def _upload_info(dataset_id: str) -> DatasetInfo:
    from dashapp.ingest.uploads import find_upload

    found = find_upload(upload_dir(), dataset_id, current_owner())
    # An upload whose dates read both day-first and month-first is refused until its owner
    # chooses (the upload page asks); a file given on the command line is read with the
    # assumed order, which is logged and shown (dataset_notes).
    mapping = {schema.DATE_ORDER_OPTION: schema.DATE_ORDER_ASK, **(found.column_map or {})}
    return DatasetInfo(
        id=found.id,
        label=f"{found.label} (uploaded)",
        kind="upload",
        path=found.path,
        currency=found.currency,
        column_map=tuple(sorted(mapping.items())),
    )


def is_table(dataset_id: str) -> bool:
    """True for a dataset whose lines live in another engine (SQL database, Spark)."""
    datasets()
    info = _state.entries.get(dataset_id)
    return info is not None and info.kind in TABLE_KINDS


def source_path(info: DatasetInfo) -> Path:
    """The file behind a file, demo or upload dataset (the demo data is generated once)."""
    if info.kind in TABLE_KINDS:
        raise DataLoadError(
            f"This dataset is a {info.kind.upper() if info.kind == 'sql' else 'Spark'} table: "
            "the cleaning runs where it is, and its raw lines are not loaded into the app."
        )
    if info.kind == "demo":
        from dashapp.ingest.demo import demo_dataset_path
        from dashapp.ingest.storage import private_temp_folder

        folder = cache_dir() or private_temp_folder("dashapp-demo")
        if folder is None:
            raise DataLoadError(
                "The demo data cannot be prepared: the server has no writable folder "
                "(its cache folder and temporary folder are read-only or full)."
            )
        return demo_dataset_path(folder)
    assert info.path is not None
    return info.path


def _build_sql_source(sql: SqlSettings) -> SqlSource:
    return SqlSource(
        sql.url,
        sql.table,
        column_map=sql.columns or None,
        schema=sql.schema,
        timeout_s=sql.timeout_s,
        engine_kwargs={"connect_args": sql.connect_args} if sql.connect_args else None,
    )


def _build_spark_source(settings: Settings) -> SparkSource:
    spark = settings.spark
    assert spark is not None
    return SparkSource(
        spark.master, table=spark.table, path=spark.path, column_map=spark.columns or None
    )


def table_source(dataset_id: str) -> SqlSource | SparkSource:
    """The source behind a SQL or Spark dataset (built from the validated ``DATA_SQL_*`` /
    ``DATA_SPARK_*`` settings on first use; errors name the table or column, never the
    credentials)."""
    info = dataset_info(dataset_id)
    with _lock:
        state = _state
        if dataset_id not in state.sources:
            try:
                if info.kind == "spark":
                    state.sources[dataset_id] = _build_spark_source(state.settings)
                elif state.settings.sql is not None:
                    state.sources[dataset_id] = _build_sql_source(state.settings.sql)
                else:
                    raise DataLoadError("No SQL source is configured (DATA_SQL_URL).")
            except SqlSourceError as exc:
                raise DataLoadError(str(exc)) from None
        return state.sources[dataset_id]


def table_call(fn, *args: Any, **kwargs: Any):
    """Run a query of a SQL or Spark source; its errors (timeouts, connection, Spark missing)
    become user messages naming the source."""
    try:
        return fn(*args, **kwargs)
    except SqlSourceError as exc:
        raise DataLoadError(str(exc)) from None


def dataset_version(dataset_id: str) -> str:
    """Content fingerprint of the dataset's file (memoized per path, size and mtime); for a
    SQL source, a fingerprint of the table's contents (one scan, reused for a minute)."""
    if is_table(dataset_id):
        now = time.monotonic()
        hit = _state.table_versions.get(dataset_id)
        if hit is None or now - hit[0] > SQL_VERSION_TTL_S:
            src = table_source(dataset_id)
            hit = (now, f"{dataset_info(dataset_id).kind}-" + table_call(src.version))
            _state.table_versions[dataset_id] = hit
        return hit[1]
    info = dataset_info(dataset_id)
    path = source_path(info)
    try:
        st = path.stat()
    except OSError as exc:
        raise DataLoadError(f"The data file {path} cannot be read: {exc.strerror}.") from exc
    key = (str(path), st.st_size, st.st_mtime_ns, info.column_map)
    if key not in _state.file_versions:
        # the memo in the cache folder spares a new process hashing the whole file again
        version = dataset_fingerprint(path, cache_dir())[:16]
        if info.column_map:  # another mapping of the same file is another dataset version
            mapping = repr(info.column_map).encode()
            version += "-" + hashlib.blake2b(mapping, digest_size=4).hexdigest()
        _state.file_versions[key] = version
    return _state.file_versions[key]
