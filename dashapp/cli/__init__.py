"""The command line's scheduled-job commands: ``export`` (the customer table, or a CRM
layout, to CSV or parquet) and ``report`` (a self-contained HTML summary). Both take the
data source, date range, countries and model settings as options or from a small TOML file
(``--config``; options given on the command line win), and end with a non-zero exit and a
one-line reason on any error."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMANDS = ("export", "report")
#: Exit codes: 0 done, 1 the job failed (data, parameters, writing), 2 bad command line.
EXIT_FAILED = 1
EXIT_USAGE = 2


class JobError(Exception):
    """A reason the job cannot run, shown as one line."""


def _settings_options(p: argparse.ArgumentParser) -> None:
    from dashapp.service import params

    p.add_argument("--config", help="TOML file with any of these options (names as below, "
                   "with underscores: cluster_method, ...); options on the command line win")  # fmt: skip
    p.add_argument("--dataset", help="dataset id: sql, spark, demo, or a data file's name "
                   "without suffix (default: the app's default, the SQL table when "
                   "DATA_SQL_URL is set)")  # fmt: skip
    p.add_argument("--data", help="a data file (.xlsx, .csv, .zip, .parquet) to use as the "
                   "file dataset (default: $DATA_PATH, else data/online_retail_II.*)")  # fmt: skip
    p.add_argument("--start", help="first day analysed, YYYY-MM-DD (default: the first invoice)")
    p.add_argument("--end", help="last day analysed, YYYY-MM-DD (default: the last invoice)")
    p.add_argument("--countries", action="append",
                   help="countries, comma-separated or repeated (default: all)")  # fmt: skip
    for name, param in (
        ("--model", params.CLV_MODEL),
        ("--horizon", params.CLV_HORIZON),
        ("--margin", params.CLV_MARGIN),
        ("--discount", params.CLV_DISCOUNT),
        ("--cluster-method", params.CLUSTER_METHOD),
        ("--k", params.CLUSTER_K),
        ("--churn", params.CLV_CHURN),
    ):
        p.add_argument(
            name,
            help=f"{param.help} {param.expectation()[0].upper()}{param.expectation()[1:]}; "
            f"default {param.default}.",
        )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")


def add_commands(sub) -> None:
    """Add ``export`` and ``report`` to the ``python -m dashapp`` subcommands."""
    from dashapp.service import crm

    export = sub.add_parser(
        "export",
        help="write the customer table (or a CRM import file) to CSV or parquet",
        description="Write one row per customer: segment, RFM scores, cluster, P(alive), "
        "churn probability over the churn horizon, predicted CLV with its interval, "
        "recommended action, value at stake and every other column of the "
        "Action list, most value at stake first. The file is replaced atomically; CSV cells "
        "a spreadsheet would run as formulas are neutralised. Exit 0 done, 1 failed (one "
        "line on stderr says why), 2 bad command line.",
    )
    export.add_argument("-o", "--output", help="file to write (required, here or in --config)")
    export.add_argument("--format", choices=("csv", "parquet"),
                        help="file format (default: from the output's suffix, else csv)")  # fmt: skip
    export.add_argument("--layout", choices=("table", *crm.LAYOUTS),
                        help="table (default: every column) or a CRM import layout: "
                        "generic (segment tag), klaviyo, mailchimp, hubspot (CSV)")  # fmt: skip
    export.add_argument("--contacts", help="CSV or parquet file: customer_id, email, and "
                        "first_name/last_name or name, joined to the customers")  # fmt: skip
    export.add_argument("--intervals", choices=("90", "80", "none"),
                        help="central probability of the CLV, expected purchases and P(alive) "
                        "intervals (clv_lo, clv_hi, ...) from the parameters' uncertainty, or "
                        "none to leave them out (a few seconds less at full scale); default 90")  # fmt: skip
    _settings_options(export)
    report = sub.add_parser(
        "report",
        help="write a self-contained HTML summary (opens offline) for e-mailing",
        description="Write one HTML file with the Overview KPIs and the key charts of each "
        "page (static pictures drawn by the embedded plotly.js; no network needed to open "
        "it). Exit 0 done, 1 failed (one line on stderr says why), 2 bad command line.",
    )
    report.add_argument("-o", "--output", help="HTML file to write (required, here or in --config)")
    _settings_options(report)


@dataclass(frozen=True)
class Job:
    """A command's options after the config file was merged in."""

    values: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value


_CONFIG_KEYS = {
    "dataset", "data", "start", "end", "countries", "model", "horizon", "margin", "discount",
    "cluster_method", "k", "churn", "intervals", "output", "format", "layout", "contacts",
}  # fmt: skip


def merge_config(args: argparse.Namespace) -> Job:
    """The options: the config file's values, overridden by those on the command line."""
    values: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        try:
            loaded = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise JobError(f"The config file {path} does not exist.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise JobError(f"The config file {path} cannot be read: {exc}.") from None
        except tomllib.TOMLDecodeError as exc:
            raise JobError(f"The config file {path} is not valid TOML: {exc}.") from None
        unknown = sorted(set(loaded) - _CONFIG_KEYS)
        if unknown:
            raise JobError(
                f"The config file {path} has an unknown key {unknown[0]!r}; "
                f"known: {', '.join(sorted(_CONFIG_KEYS))}."
            )
        values.update(loaded)
    for key, value in vars(args).items():
        if value is not None and key in _CONFIG_KEYS:
            values[key] = value
    return Job(values)


def countries_of(raw: Any) -> tuple[str, ...]:
    """Countries from repeated options, comma-separated text or a TOML list."""
    items = [raw] if isinstance(raw, str) else list(raw or ())
    out: list[str] = []
    for item in items:
        out += [c.strip() for c in str(item).split(",") if c.strip()]
    return tuple(out)


def run(args: argparse.Namespace) -> int:
    """Run ``export`` or ``report``: 0 when done, 1 with one line on stderr when not."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    started = time.perf_counter()
    try:
        job = merge_config(args)
        if args.command == "export":
            from dashapp.cli.export import export

            done = export(job)
        else:
            from dashapp.cli.report import report

            done = report(job)
    except SystemExit as exc:  # a setting in the environment is invalid (config.Settings)
        if isinstance(exc.code, int | None):
            raise
        return _fail(args.command, str(exc.code))
    except Exception as exc:  # noqa: BLE001 (every failure becomes one line and exit 1)
        return _fail(args.command, _reason(exc))
    print(f"{done} ({time.perf_counter() - started:.1f} s)")
    return 0


def _reason(exc: Exception) -> str:
    from dashapp.ingest.loading import DataLoadError
    from dashapp.service import ParamError

    if isinstance(exc, JobError | DataLoadError | ParamError | ValueError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot write{where}: {exc.strerror or exc}"
    logging.getLogger(__name__).debug("job failed", exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


def _fail(command: str, reason: str) -> int:
    line = " ".join(str(reason).split())  # one line, whatever the message held
    print(f"{command}: error: {line}", file=sys.stderr)
    return EXIT_FAILED
