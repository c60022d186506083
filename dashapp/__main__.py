"""Command line: ``python -m dashapp [--data PATH] [--host H] [--port P] [--debug]`` runs the
app; ``python -m dashapp download [--dest DIR]`` fetches the real dataset from UCI;
``python -m dashapp prepare`` cleans the configured SQL or Spark table ahead of time;
``python -m dashapp export`` writes the customer table (or a CRM import file) and
``python -m dashapp report`` a self-contained HTML summary, for scheduled jobs (``--help`` on
each)."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashapp", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="start the web app (the default)")
    for p in (parser, run):
        p.add_argument(
            "--data",
            help="dataset file (.xlsx, .csv, .zip, .parquet); "
            "default: $DATA_PATH, else data/online_retail_II.*, "
            "else the embedded demo data",
        )
        p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
        p.add_argument("--debug", action="store_true", help="Dash debug mode (reloader, dev tools)")
    dl = sub.add_parser("download", help="download online_retail_II.xlsx from UCI into data/")
    dl.add_argument("--dest", default=None, help="target folder (default: data/)")
    dl.add_argument("--url", default=None, help="alternative URL of the UCI zip")
    prep = sub.add_parser(
        "prepare",
        help="clean the configured SQL or Spark table now (once per version of its data) and "
        "keep the result in the cache folder, so the app's first view does not wait for it",
    )
    prep.add_argument(
        "--timeout", type=float, default=3600.0, help="longest the cleaning may run (seconds)"
    )
    from dashapp import cli

    cli.add_commands(sub)
    args = parser.parse_args(argv)

    if args.command in cli.COMMANDS:
        return cli.run(args)

    if args.command == "prepare":
        return _prepare(args.timeout)

    if args.command == "download":
        from dashapp.config import Settings
        from dashapp.ingest.download import UCI_URL, DownloadError, download_dataset

        dest = args.dest or Settings.from_env().data_dir
        try:
            path = download_dataset(dest, url=args.url or UCI_URL)
        except DownloadError as exc:
            print(f"Download failed: {exc}", file=sys.stderr)
            return 1
        print(f"Saved {path}. Start the app with: python -m dashapp")
        return 0

    from dashapp import create_app
    from dashapp.config import Settings

    settings = Settings.from_env(data_path=args.data)
    if settings.data_path is not None and not settings.data_path.is_file():
        print(f"Dataset file not found: {settings.data_path}", file=sys.stderr)
        return 2
    app = create_app(settings)
    if args.debug:
        app.run(host=args.host, port=args.port, debug=True)
        return 0
    return _serve(app, args.host, args.port)


def _serve(app, host: str, port: int) -> int:
    """The development server, announced in one line with the app's address (not Dash's and
    werkzeug's banners and warning); request lines are not logged."""
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app.server, threaded=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    prefix = app.config.requests_pathname_prefix or "/"
    print(
        f"Customer Segments & CLV is running on http://{shown}:{server.port}{prefix} "
        "(Ctrl+C to stop; for production use gunicorn, see the README)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _prepare(timeout_s: float) -> int:
    """Clean every SQL or Spark dataset with the default rules; one line per dataset."""
    import time

    from dashapp import service
    from dashapp.config import Settings
    from dashapp.ingest.cleaning import CleaningRules
    from dashapp.service import registry, store

    service.configure(Settings.from_env())
    tables = [d for d in registry.datasets() if d.kind in registry.TABLE_KINDS]
    if not tables:
        print("No SQL or Spark source is configured (DATA_SQL_URL, DATA_SPARK_MASTER).")
        return 2
    for info in tables:
        started = time.perf_counter()
        try:
            orders, ledger = store.prepare_table_now(info.id, CleaningRules(), timeout_s)
            lines = store.prepare_table_now(info.id, CleaningRules(), timeout_s, store.PRODUCTS)
        except service.DataLoadError as exc:
            print(f"{info.label}: {exc}", file=sys.stderr)
            return 1
        print(
            f"{info.label}: {ledger.attrs['rows_in']:,} lines cleaned into {len(orders):,} "
            f"invoices and {len(lines):,} product lines in "
            f"{time.perf_counter() - started:.1f} s; stored in "
            f"{registry.settings().cache_dir / 'prepared'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
