"""Receiving uploads: one at a time per worker, within the disk bounds of the settings.

* **Memory**: an upload's request body is read, decoded, stored and parsed (the check load
  that follows) inside :func:`upload_slot`, one upload per process at a time: the web layer
  takes the slot before it reads a large callback body (the waiting bodies stay in the
  client's socket, not in the worker), and the upload page takes it again (re-entrant) for
  the mapping step. A second upload waits up to ``SLOT_WAIT_S`` seconds, then is told the
  server is busy. bench/bench_uploads.py measures the worker's peak with six at once.
* **Disk**: before an upload is stored, uploads older than ``UPLOAD_RETENTION_HOURS`` are
  deleted, then the owner's oldest while their uploads would exceed ``UPLOAD_QUOTA_MB``, then
  the oldest of anyone while all would exceed ``UPLOAD_TOTAL_MB``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from dashapp.ingest import uploads
from dashapp.ingest.uploads import StoredUpload, UploadError
from dashapp.service import registry

#: One upload at a time per worker process (read, decode, store and parse); re-entrant, so
#: the request hook and the page callback of one request can both hold it.
UPLOAD_SLOT = threading.RLock()
#: Seconds an upload waits for the slot before the user is told to retry.
SLOT_WAIT_S = 20.0


BUSY = "The server is busy reading other uploads; try again in a minute."


def acquire_upload_slot() -> bool:
    """Take this process's upload slot, waiting up to ``SLOT_WAIT_S``; False when busy."""
    return UPLOAD_SLOT.acquire(timeout=SLOT_WAIT_S)


def release_upload_slot() -> None:
    UPLOAD_SLOT.release()


@contextlib.contextmanager
def upload_slot() -> Iterator[None]:
    """Hold this process's upload slot (see the module docstring)."""
    if not acquire_upload_slot():
        raise UploadError(BUSY)
    try:
        yield
    finally:
        release_upload_slot()


def prune_uploads(incoming_bytes: int = 0) -> list[str]:
    """Apply retention, the current owner's quota and the total bound (ids deleted)."""
    s = registry.settings()
    owner = registry.current_owner()
    with contextlib.suppress(OSError):
        return uploads.prune_uploads(
            registry.upload_dir(),
            max_age_s=s.upload_retention_hours * 3600,
            max_total_bytes=s.upload_total_mb * 1024**2,
            owner=owner or None,
            owner_quota_bytes=s.upload_quota_mb * 1024**2,
            incoming_bytes=incoming_bytes,
        )
    return []


def receive_upload(contents: str, filename: str, currency: str | None) -> StoredUpload:
    """Decode and store an upload for the current owner, within the disk bounds. Call it
    inside :func:`upload_slot`."""
    s = registry.settings()
    raw = uploads.decode_contents(contents, filename, s.max_upload_mb * 1024**2)
    prune_uploads(len(raw))
    return uploads.store_upload(
        raw, filename, registry.upload_dir(), registry.current_owner() or "", currency
    )


def remap_upload(upload_id: str, column_map: dict, currency: str | None) -> StoredUpload:
    """Remember the current owner's column mapping and currency for their upload."""
    return uploads.set_column_map(
        registry.upload_dir(), upload_id, registry.current_owner() or "", column_map, currency
    )


def choose_date_order(upload_id: str, order: str, currency: str | None) -> StoredUpload:
    """Remember the current owner's date order (day or month first) for their upload."""
    return uploads.set_date_order(
        registry.upload_dir(), upload_id, registry.current_owner() or "", order, currency
    )
