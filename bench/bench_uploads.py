"""Memory of one gunicorn worker while several users upload large files at once.

Starts gunicorn with the Procfile's command (1 worker, 4 threads), uploads one file to warm it
up, then sends ``--concurrent`` uploads of different ~45 MB CSV files at the same time (each
from its own browser session, through the upload callback as the browser sends it) and
samples the worker's resident memory every 50 ms. Prints the steady memory before the burst,
the peak during it, the ratio, each upload's answer and time, and the load average.

    python bench/bench_uploads.py                      # this checkout
    python bench/bench_uploads.py --code /tmp/main-src # another source tree (e.g. git archive)

The files are cut from the generated 1M-row CSV (bench/common.py) into a temporary folder
and deleted afterwards.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, generated_csv

sys.path.insert(0, str(ROOT))

from tests.servers import AppServer, ServerCallbacks, flat_text, start_servers  # noqa: E402


def cut_files(folder: Path, count: int, target_mb: int) -> list[Path]:
    """``count`` different CSV files of about ``target_mb`` MB (the same lines, each with one
    extra line of its own, so every upload is a different dataset)."""
    source = generated_csv("full")
    with open(source, "rb") as fh:
        head = fh.read(target_mb * 1024 * 1024)
    head = head[: head.rfind(b"\n") + 1]
    last = head.rstrip(b"\n").rsplit(b"\n", 1)[1].split(b",")
    paths = []
    for i in range(count + 1):
        extra = list(last)
        extra[0] = str(900000 + i).encode()  # another invoice number
        path = folder / f"shop_{i}.csv"
        path.write_bytes(head + b",".join(extra) + b"\n")
        paths.append(path)
    return paths


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def upload(server: AppServer, path: Path) -> tuple[float, str]:
    callbacks = ServerCallbacks(server)  # its own session
    contents = "data:text/csv;base64," + base64.b64encode(path.read_bytes()).decode()
    t0 = time.perf_counter()
    reply = callbacks.call(
        "upload-result",
        {
            "upload-file.contents": contents,
            "upload-file.filename": path.name,
            "upload-currency.value": "£",
        },
        changed="upload-file.contents",
        timeout=600,
    )
    seconds = time.perf_counter() - t0
    text = flat_text(reply.json()) if reply.status == 200 else f"HTTP {reply.status}"
    return seconds, text[:90]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrent", type=int, default=6)
    ap.add_argument("--mb", type=int, default=45)
    ap.add_argument("--code", type=Path, default=ROOT, help="source tree to run")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    try:
        (work / "files").mkdir()
        files = cut_files(work / "files", args.concurrent, args.mb)
        env = {
            "PYTHONPATH": str(args.code),
            "MAX_UPLOAD_MB": str(args.mb + 5),
            "LOG_LEVEL": "WARNING",
        }
        server = AppServer(work / "server", env, workers=1)
        start_servers(server)
        try:
            (pid,) = server.worker_pids()
            time.sleep(1)
            idle = rss_mb(pid)
            samples: list[float] = []
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    samples.append(rss_mb(pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            warm_s, warm = upload(server, files[0])
            time.sleep(1)
            single_peak = max(samples)
            steady = rss_mb(pid)
            samples.clear()
            results: list[tuple[float, str]] = [None] * args.concurrent  # type: ignore[list-item]

            def one(i: int) -> None:
                results[i] = upload(server, files[i + 1])

            threads = [threading.Thread(target=one, args=(i,)) for i in range(args.concurrent)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            done.set()
            sampler.join()
            after = rss_mb(pid)
        finally:
            server.stop()
        size = files[1].stat().st_size / 1024**2
        print(f"code: {args.code}")
        print(f"load average: {Path('/proc/loadavg').read_text().strip()}")
        print(f"file: {size:.1f} MB each; warm-up upload {warm_s:.1f} s: {warm}")
        print(f"worker RSS idle: {idle:.0f} MB; peak during one upload: {single_peak:.0f} MB")
        print(f"worker RSS steady after one upload: {steady:.0f} MB")
        print(
            f"peak during {args.concurrent} concurrent uploads: {max(samples):.0f} MB "
            f"({max(samples) / steady:.2f}x steady, +{max(samples) - steady:.0f} MB); "
            f"median {statistics.median(samples):.0f} MB; after: {after:.0f} MB; wall {wall:.1f} s"
        )
        for i, (seconds, text) in enumerate(results):
            print(f"  upload {i + 1}: {seconds:5.1f} s  {text}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
