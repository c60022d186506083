"""Order lines in Spark (a lakehouse table, or parquet / CSV files Spark reads): the cleaning
runs in Spark, compiled from the same ibis expression as for DuckDB and the databases.

:class:`SparkSource` reads a catalog table (``DATA_SPARK_TABLE``) or files
(``DATA_SPARK_PATH``: parquet, or CSV with a header) through a Spark session
(``DATA_SPARK_MASTER``: ``local[2]`` for an embedded Spark, or a cluster URL), maps the columns
like the SQL source does (``DATA_SPARK_COLUMNS``), and runs the cleaning as one Spark SQL query
per data version; only the invoice-level result (about one row per invoice) comes back.

pyspark is an optional dependency (``pip install 'dashapp[spark]'``, Java 17+): without it the
source reports that clearly instead of failing at import.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from dashapp.ingest import cleaning, schema
from dashapp.ingest.engine import product_lines, split_parts
from dashapp.ingest.engine.pipeline import STAGE_TABLE, invoice_parts, product_parts
from dashapp.ingest.engine.sources import canonical
from dashapp.ingest.errors import DataLoadError

log = logging.getLogger(__name__)

_VIEW = "dashapp_spark_lines"
_sessions: dict[str, object] = {}
_sessions_lock = threading.Lock()


class SparkSourceError(DataLoadError):
    """A Spark source problem, worded for the user (names the table or path, never a stack)."""


def spark_session(master: str):
    """The process's Spark session for ``master`` (started once; UTC, quiet, no UI)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkSourceError(
            "Spark is not installed: the Spark source needs pyspark and Java 17 or newer "
            "(pip install 'dashapp[spark]'). Unset DATA_SPARK_MASTER to use the other sources."
        ) from None
    with _sessions_lock:
        if master not in _sessions:
            try:
                session = (
                    SparkSession.builder.master(master)
                    .appName("dashapp")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.sql.session.timeZone", "UTC")
                    .config("spark.sql.shuffle.partitions", "8")
                    .config("spark.driver.memory", "1g")
                    .getOrCreate()
                )
            except Exception as exc:  # JVM missing, bad master URL: name the source
                raise SparkSourceError(
                    f"Spark could not start with master {master!r}: "
                    f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
                ) from None
            session.sparkContext.setLogLevel("ERROR")
            _sessions[master] = session
        return _sessions[master]


class _CompileOptions(ibis.config.Config):
    """The one option ibis's Spark SQL compiler reads (ibis sets it when its pyspark backend
    connects; importing that backend needs packages of ibis's ``[pyspark]`` extra, and the
    compiler alone needs none)."""

    treat_nan_as_null: bool = False


def _ibis_type(spark_type) -> dt.DataType:
    name = spark_type.typeName()
    if name in ("integer", "long", "short", "byte"):
        return dt.int64
    if name in ("double", "float"):
        return dt.float64
    if name == "decimal":
        return dt.Decimal(spark_type.precision, spark_type.scale)
    if name in ("timestamp", "timestamp_ntz"):
        return dt.timestamp
    if name == "date":
        return dt.date
    if name == "boolean":
        return dt.boolean
    return dt.string


class SparkSource:
    """Order lines in Spark: a catalog ``table`` or files at ``path`` (exactly one)."""

    def __init__(
        self,
        master: str,
        *,
        table: str | None = None,
        path: str | None = None,
        column_map: Mapping[str, str] | None = None,
    ) -> None:
        if bool(table) == bool(path):
            raise SparkSourceError(
                "A Spark source needs exactly one of DATA_SPARK_TABLE (a table in Spark's "
                "catalog) and DATA_SPARK_PATH (parquet or CSV files)."
            )
        self.master = master
        self.table = table
        self.path = path
        self.column_map = dict(column_map or {})
        self._columns: dict[str, str] | None = None

    @property
    def where(self) -> str:
        return f"Spark table {self.table!r}" if self.table else f"Spark files {self.path!r}"

    @property
    def label(self) -> str:
        return f"{self.table or self.path} (Spark {self.master})"

    def _frame(self):
        spark = spark_session(self.master)
        try:
            if self.table:
                frame = spark.table(self.table)
            elif str(self.path).lower().endswith((".csv", ".csv.gz", ".txt")):
                frame = spark.read.csv(str(self.path), header=True, inferSchema=True)
            else:
                frame = spark.read.parquet(str(self.path))
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SparkSourceError(f"{self.where} cannot be read: {text}") from None
        frame.createOrReplaceTempView(_VIEW)
        return frame

    def _resolve(self, names: list[str]) -> dict[str, str]:
        unknown = [k for k in self.column_map if k not in schema.SOURCE_COLUMNS]
        if unknown:
            raise SparkSourceError(
                f"The column mapping names unknown column(s) {', '.join(map(repr, unknown))}; "
                f"expected some of: {', '.join(schema.SOURCE_COLUMNS)}."
            )
        found: dict[str, str] = {}
        for canon, name in self.column_map.items():
            if name and name not in names:
                raise SparkSourceError(
                    f"Column {name!r} (mapped to {canon}) is not a column of {self.where}. "
                    f"Columns: {', '.join(map(repr, names))}."
                )
            if name:
                found[canon] = name
        for name in names:
            canon = schema.canonical_for(name)
            taken = canon in found or canon in self.column_map or name in found.values()
            if canon and canon != schema.LINE_TOTAL and not taken:
                found[canon] = name
        missing = [c for c in schema.REQUIRED_COLUMNS if c not in found]
        if missing:
            raise SparkSourceError(
                f"{self.where} has no column for {', '.join(missing)}; map them with "
                f"DATA_SPARK_COLUMNS. Columns: {', '.join(map(repr, names))}."
            )
        return found

    def lines(self) -> tuple[object, ibis.Table]:
        """The Spark frame (registered as a temporary view) and the canonical lines over it."""
        frame = self._frame()
        fields = {f.name: _ibis_type(f.dataType) for f in frame.schema.fields}
        columns = self._resolve(list(fields))
        table = ibis.table(ibis.schema({c: fields[c] for c in columns.values()}), name=_VIEW)
        return frame, canonical(table, columns)

    def _sql(self, expr: ibis.Expr) -> str:
        if ibis.options.pyspark is None:  # set when an ibis pyspark backend connects
            ibis.options.pyspark = _CompileOptions()
        return ibis.to_sql(expr, dialect="pyspark")

    def _run(self, expr: ibis.Expr, what: str, stage: ibis.Table | None = None) -> pd.DataFrame:
        """Run ``expr``; ``stage``, when given, is computed first and cached under
        :data:`~dashapp.ingest.engine.pipeline.STAGE_TABLE` (Spark would recompute a common
        table expression at each use)."""
        spark = spark_session(self.master)
        started = time.perf_counter()
        cached = None
        try:
            if stage is not None:
                cached = spark.sql(self._sql(stage)).cache()
                cached.createOrReplaceTempView(STAGE_TABLE)
            got = spark.sql(self._sql(expr)).toPandas()
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SparkSourceError(
                f"Spark failed while computing {what} from {self.where}: {text}"
            ) from None
        finally:
            if cached is not None:
                cached.unpersist()
        log.info(
            "spark source: %s in %.2f s (%d rows)", what, time.perf_counter() - started, len(got)
        )
        return got

    def _local_files(self) -> list[Path] | None:
        """The files behind a local ``path`` (None for a table or a remote URL)."""
        if not self.path or "://" in str(self.path).replace("file://", ""):
            return None
        root = Path(str(self.path).removeprefix("file://"))
        if root.is_file():
            return [root]
        if root.is_dir():
            return sorted(p for p in root.rglob("*") if p.is_file())
        return None

    def version(self) -> str:
        """A fingerprint for cache keys. Local files: their names, sizes and modification
        times (no Spark job, so a restart reads the prepared result without starting a JVM).
        Otherwise one scan: row count, date range and sums of quantity and price."""
        ident = [self.master, self.table, self.path, sorted(self.column_map.items())]
        files = self._local_files()
        if files is not None:
            stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
            return hashlib.blake2b(repr((ident, stats)).encode(), digest_size=8).hexdigest()
        _, lines = self.lines()
        fingerprint = lines.aggregate(
            n=lines.count(),
            first=lines.invoice_date.min(),
            last=lines.invoice_date.max(),
            q=lines.quantity.sum(),
            p=(lines.price * 1000).round().cast("int64").sum(),
        )
        row = self._run(fingerprint, "the table fingerprint").iloc[0].tolist()
        return hashlib.blake2b(
            repr((ident, [str(v) for v in row])).encode(), digest_size=8
        ).hexdigest()

    def _staged(self, rules, then, what: str) -> tuple[pd.DataFrame, cleaning.CleaningRules]:
        if rules is None:
            rules = cleaning.CleaningRules()
        elif isinstance(rules, str):
            rules = cleaning.CleaningRules.from_flags(rules)
        _, lines = self.lines()
        second = then(ibis.table(lines.schema(), name=STAGE_TABLE), rules)
        return self._run(second, what, stage=lines), rules

    def clean(
        self, rules=None, timeout_s: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(invoice table, ledger)``: the cleaning as one Spark SQL query (``timeout_s`` is
        accepted for symmetry with the SQL source; Spark jobs are not cancelled)."""
        parts, rules = self._staged(rules, invoice_parts, "the cleaned invoices")
        return split_parts(parts, rules)

    def products(self, rules=None, timeout_s: float | None = None) -> pd.DataFrame:
        """The product lines (one row per invoice and stock code,
        :func:`dashapp.ingest.engine.clean_products`) by the same rules, in Spark."""
        return product_lines(self._staged(rules, product_parts, "the product lines")[0])
