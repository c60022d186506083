"""Folders the app writes to (the cache folder, the data folder): is one usable, and what to
do when it is not.

A read-only, missing (and not creatable) or full folder must not stop the app: callers ask
:func:`writable_folder` and, on ``None``, go on without it (results computed instead of
cached, parquet copies not kept, the demo data generated into a temporary folder). The
warning naming the folder and the reason is logged once per folder and process.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: A folder with less free space than this counts as full (the parquet copy of the 1M-row
#: file is ~10 MB; a cached result a few MB).
MIN_FREE_BYTES = 32 * 1024 * 1024
#: Seconds a folder's verdict is reused before it is probed again (a full disk can recover).
RECHECK_S = 60.0

_verdicts: dict[tuple[str, str], tuple[float, bool]] = {}
_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()


def folder_problem(path: Path, min_free: int = MIN_FREE_BYTES) -> str | None:
    """Why files cannot be written under ``path`` (created when missing), or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
        free = shutil.disk_usage(path).free
    except OSError as exc:
        reason = {
            errno.EROFS: "read-only file system",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.ENOSPC: "no space left",
            errno.EDQUOT: "disk quota exceeded",
            errno.ENOENT: "missing and cannot be created",
            errno.ENOTDIR: "not a folder",
        }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        return reason
    if free < min_free:
        return f"full ({free / 1024**2:.0f} MB free)"
    return None


def writable_folder(path: str | os.PathLike, purpose: str) -> Path | None:
    """``path`` when the app can write there (created if missing), else ``None`` with a
    warning naming ``purpose`` (e.g. "results cache") logged once per folder and process.
    The verdict is reused for ``RECHECK_S`` seconds."""
    folder = Path(path)
    key = (str(folder), purpose)
    now = time.monotonic()
    with _lock:
        hit = _verdicts.get(key)
    if hit is not None and now - hit[0] < RECHECK_S:
        return folder if hit[1] else None
    problem = folder_problem(folder)
    with _lock:
        _verdicts[key] = (now, problem is None)
        first = key not in _warned
        if problem is None:
            _warned.discard(key)
        else:
            _warned.add(key)
    if problem is not None and first:
        log.warning(
            "%s folder %s is not usable (%s): the app runs without it (slower)",
            purpose,
            folder,
            problem,
        )
    return folder if problem is None else None


def private_temp_folder(name: str) -> Path | None:
    """A folder under the system's temporary folder, when the configured one is unusable."""
    return writable_folder(Path(tempfile.gettempdir()) / name, "temporary")


def forget() -> None:
    """Drop the remembered verdicts (tests)."""
    with _lock:
        _verdicts.clear()
        _warned.clear()
