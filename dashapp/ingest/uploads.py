"""Uploaded datasets (pure, Dash-free): store an upload safely, remember its column mapping,
and let only its owner use it.

An upload is stored as ``<upload_dir>/<id>/<safe file name>`` where the id is random (128
bits: it cannot be guessed from the file or from other ids), and any worker process can
resolve the id from the folder (no registry in memory). ``meta.json`` beside the file holds
the display name, the column mapping, the currency, a digest of the content and the *owner*
(a hash of the browser session or user that uploaded it). Every read and every change names
the owner asking; anyone else gets :class:`UploadNotAvailable`, the same answer as for an id
that does not exist. The same file uploaded twice by one owner is stored once; by two owners
it is two uploads, each with its own mapping and currency.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dashapp.ingest import schema
from dashapp.ingest.loading import DataLoadError

log = logging.getLogger(__name__)

UPLOAD_EXTENSIONS = (".csv", ".xlsx")
ID_PATTERN = re.compile(r"^upload-[0-9a-f]{32}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadError(ValueError):
    """An upload cannot be accepted; ``str(err)`` is a user-facing message."""


class UploadNotAvailable(DataLoadError):
    """The upload does not exist, was deleted, or belongs to someone else (one answer for
    all three: a stranger learns nothing about other people's uploads)."""

    def __init__(self, upload_id: str):
        super().__init__(
            f"The dataset '{upload_id}' is not available to you: an uploaded file can be used "
            "only in the browser session (or by the signed-in user) that uploaded it, and "
            "uploads are deleted after a while. Upload the file again to analyse it."
        )


def owner_key(owner: str) -> str:
    """What ``meta.json`` keeps of an owner: a hash, never the session token itself."""
    return hashlib.blake2b(str(owner).encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class StoredUpload:
    id: str
    path: Path
    label: str
    column_map: dict | None
    currency: str | None = None


def safe_file_name(name: str) -> str:
    """The file's base name with anything but letters, digits, ``._ -`` replaced; never a
    path (``../../etc/passwd`` -> ``passwd``)."""
    base = os.path.basename(str(name).replace("\\", "/")).strip()
    base = _SAFE_NAME.sub("_", base).strip(" .") or "upload"
    return base[:120]


def decode_contents(contents: str, filename: str, max_bytes: int) -> bytes:
    """Bytes of a ``dcc.Upload`` ``contents`` value (``data:<mime>;base64,<data>``).

    Raises UploadError for a missing file, a wrong extension, bad encoding or a file over
    ``max_bytes``.
    """
    if not contents or not filename:
        raise UploadError("No file was received.")
    suffix = Path(safe_file_name(filename)).suffix.lower()
    if suffix not in UPLOAD_EXTENSIONS:
        raise UploadError(
            f"{safe_file_name(filename)}: only CSV (.csv) and Excel (.xlsx) files "
            f"can be uploaded, not '{suffix or 'no extension'}'."
        )
    _, _, data = str(contents).partition(",")
    # base64 is 4/3 of the size: refuse before decoding anything huge
    if len(data) * 3 // 4 > max_bytes + 3:
        raise UploadError(
            f"{safe_file_name(filename)} is larger than the upload limit of "
            f"{max_bytes / 1024**2:.0f} MB."
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(
            f"{safe_file_name(filename)}: the upload is not valid base64 data."
        ) from None
    if not raw:
        raise UploadError(f"{safe_file_name(filename)} is empty.")
    if len(raw) > max_bytes:
        raise UploadError(
            f"{safe_file_name(filename)} is larger than the upload limit of "
            f"{max_bytes / 1024**2:.0f} MB."
        )
    return raw


def store_upload(
    raw: bytes, filename: str, upload_dir: Path, owner: str, currency: str | None = None
) -> StoredUpload:
    """Write the bytes under ``upload_dir/<random id>/`` atomically for ``owner``; the same
    content uploaded again by the same owner reuses that owner's copy."""
    if not owner:
        raise UploadError("Uploads need a browser session: enable cookies for this site.")
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
    key = owner_key(owner)
    name = safe_file_name(filename)
    for folder in _owner_folders(Path(upload_dir), key):
        meta = read_meta(folder) or {}
        if meta.get("sha") == digest and (folder / meta.get("file", "")).is_file():
            meta["currency"] = clean_currency(currency) or meta.get("currency")
            with contextlib.suppress(OSError):  # the earlier copy stays usable as it was
                write_meta(folder, meta)
            return find_upload(upload_dir, folder.name, owner)
    upload_id = f"upload-{secrets.token_hex(16)}"
    folder = Path(upload_dir) / upload_id
    try:
        _write_new_upload(folder, name, raw, key, digest, currency)
    except OSError as exc:
        _remove_folder(folder)
        log.warning("upload %s not stored in %s: %s", name, upload_dir, exc)
        raise UploadError(storage_message(exc, name)) from None
    return find_upload(upload_dir, upload_id, owner)


def storage_message(exc: OSError, name: str) -> str:
    """What a user is told when the server cannot store their file."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (
            f"{name} could not be stored: the server's disk is full. Try again later or with "
            "a smaller file; the operator has been told in the log."
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"{name} could not be stored: this server cannot keep uploaded files (its data "
            "folder is read-only). The operator has been told in the log."
        )
    return f"{name} could not be stored on the server ({exc.strerror or 'file system error'})."


def _write_new_upload(
    folder: Path, name: str, raw: bytes, key: str, digest: str, currency: str | None
) -> None:
    folder.mkdir(parents=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    meta = {"file": name, "label": name, "column_map": None, "owner": key, "sha": digest}
    meta["currency"] = clean_currency(currency)
    write_meta(folder, meta)


@dataclass(frozen=True)
class _Held:
    folder: Path
    owner: str | None
    size: int
    stamp: float  # when it was stored (meta.json's mtime)


def _held_uploads(upload_dir: Path) -> list[_Held]:
    """Every upload folder with its owner, bytes on disk and time, oldest first."""
    if not upload_dir.is_dir():
        return []
    held = []
    for folder in upload_dir.iterdir():
        if not ID_PATTERN.match(folder.name):
            continue
        try:
            size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
            stamp = (folder / "meta.json").stat().st_mtime
        except OSError:  # being written or deleted by another worker
            continue
        held.append(_Held(folder, (read_meta(folder) or {}).get("owner"), size, stamp))
    return sorted(held, key=lambda h: h.stamp)


def prune_uploads(
    upload_dir: Path,
    *,
    max_age_s: float,
    max_total_bytes: int,
    owner: str | None = None,
    owner_quota_bytes: int | None = None,
    incoming_bytes: int = 0,
    now: float | None = None,
) -> list[str]:
    """Delete uploads to keep the folder within its bounds; returns the ids deleted.

    In order: uploads older than ``max_age_s``; then ``owner``'s oldest uploads while theirs
    plus ``incoming_bytes`` exceed ``owner_quota_bytes``; then the oldest uploads of anyone
    while all of them plus ``incoming_bytes`` exceed ``max_total_bytes``. Temporary files
    left by a crashed write (``.part-*``) older than an hour go too.
    """
    import time

    now = time.time() if now is None else now
    held = _held_uploads(Path(upload_dir))
    gone: list[str] = []

    def drop(h: _Held) -> None:
        _remove_folder(h.folder)
        gone.append(h.folder.name)
        log.info("upload %s deleted (%d bytes)", h.folder.name, h.size)

    for h in [h for h in held if now - h.stamp > max_age_s]:
        drop(h)
    held = [h for h in held if h.folder.name not in gone]
    if owner is not None and owner_quota_bytes is not None:
        key = owner_key(owner)
        mine = [h for h in held if h.owner == key]
        while mine and sum(h.size for h in mine) + incoming_bytes > owner_quota_bytes:
            drop(mine.pop(0))
        held = [h for h in held if h.folder.name not in gone]
    while held and sum(h.size for h in held) + incoming_bytes > max_total_bytes:
        drop(held.pop(0))
    for folder in Path(upload_dir).glob("upload-*"):
        for part in folder.glob(".part-*"):
            with contextlib.suppress(OSError):
                if now - part.stat().st_mtime > 3600:
                    part.unlink()
    return gone


def _owner_folders(upload_dir: Path, key: str) -> list[Path]:
    """The upload folders of one owner (by their ``meta.json``)."""
    if not upload_dir.is_dir():
        return []
    found = []
    for folder in upload_dir.iterdir():
        if ID_PATTERN.match(folder.name) and (read_meta(folder) or {}).get("owner") == key:
            found.append(folder)
    return found


def _remove_folder(folder: Path) -> None:
    """Delete an upload folder and its files (best effort)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def clean_currency(symbol: str | None) -> str | None:
    """A short currency symbol (at most 4 printable characters) or None."""
    text = "".join(ch for ch in str(symbol or "").strip() if ch.isprintable())[:4]
    return text or None


def write_meta(folder: Path, meta: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".meta-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh)
        os.replace(tmp, folder / "meta.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def set_column_map(
    upload_dir: Path,
    upload_id: str,
    owner: str | None,
    column_map: dict | None,
    currency: str | None = None,
) -> StoredUpload:
    """Remember the column mapping (and currency symbol) ``owner`` chose for their upload."""
    found = find_upload(upload_dir, upload_id, owner)
    folder = found.path.parent
    meta = read_meta(folder) or {}
    clean = {k: v for k, v in (column_map or {}).items() if k in schema.SOURCE_COLUMNS and v}
    order = (column_map or {}).get(schema.DATE_ORDER_OPTION)
    if order in schema.DATE_ORDERS:  # the reading option travels with the mapping
        clean[schema.DATE_ORDER_OPTION] = order
    meta.update(column_map=clean or None, currency=clean_currency(currency) or found.currency)
    try:
        write_meta(folder, meta)
    except OSError as exc:
        log.warning("mapping of upload %s not stored: %s", upload_id, exc)
        raise UploadError(storage_message(exc, found.path.name)) from None
    return find_upload(upload_dir, upload_id, owner)


def set_date_order(
    upload_dir: Path, upload_id: str, owner: str | None, order: str, currency: str | None = None
) -> StoredUpload:
    """Remember the date order (``schema.DATE_ORDERS``) ``owner`` chose for their upload, whose
    dates read both ways; the column mapping is kept."""
    if order not in schema.DATE_ORDERS:
        raise UploadError(f"Choose the date order: {' or '.join(schema.DATE_ORDERS.values())}.")
    found = find_upload(upload_dir, upload_id, owner)
    mapping = {**(found.column_map or {}), schema.DATE_ORDER_OPTION: order}
    return set_column_map(upload_dir, upload_id, owner, mapping, currency)


def find_upload(upload_dir: Path, upload_id: str, owner: str | None) -> StoredUpload:
    """The stored upload with this id, when ``owner`` may use it (``None``: no owner check,
    for scripts and maintenance outside a web request). The id is checked against a strict
    pattern before it touches the file system (no path traversal)."""
    if not ID_PATTERN.match(str(upload_id)):
        raise DataLoadError(f"Unknown dataset '{upload_id}'.")
    folder = Path(upload_dir) / upload_id
    meta = read_meta(folder)
    if meta is None or not (folder / meta.get("file", "")).is_file():
        raise UploadNotAvailable(upload_id)
    if owner is not None and meta.get("owner") != owner_key(owner):
        raise UploadNotAvailable(upload_id)
    return StoredUpload(
        upload_id,
        folder / meta["file"],
        meta.get("label", meta["file"]),
        meta.get("column_map"),
        meta.get("currency"),
    )


def guess_column_map(headers: list[str]) -> dict[str, str | None]:
    """For each source column, the header that most likely holds it (or None).

    Exact alias matches first (ignoring case, spaces, underscores), then headers that contain
    a telling word ("date", "customer", "qty", ...).
    """
    norm = {h: schema.normalize_header(h) for h in headers}
    hints = {
        schema.INVOICE: ("invoice", "order", "receipt", "transaction"),
        schema.INVOICE_DATE: ("date", "time", "day"),
        schema.CUSTOMER_ID: ("customer", "client", "member", "buyer", "account"),
        schema.QUANTITY: ("qty", "quantity", "units", "count"),
        schema.PRICE: ("price", "amount", "value", "cost"),
        schema.COUNTRY: ("country", "nation", "region", "market"),
        schema.STOCK_CODE: ("stock", "sku", "product", "item"),
        schema.DESCRIPTION: ("description", "name", "title"),
    }
    used: set[str] = set()
    out: dict[str, str | None] = {c: None for c in schema.SOURCE_COLUMNS}
    for column in schema.SOURCE_COLUMNS:  # exact aliases first
        aliases = {schema.normalize_header(a) for a in schema.SPECS[column].aliases}
        match = next((h for h in headers if norm[h] in aliases and h not in used), None)
        if match is not None:
            out[column] = match
            used.add(match)
    for column in (
        schema.INVOICE_DATE,
        schema.CUSTOMER_ID,
        schema.QUANTITY,
        schema.PRICE,
        schema.COUNTRY,
        schema.INVOICE,
        schema.STOCK_CODE,
        schema.DESCRIPTION,
    ):
        if out[column] is not None:
            continue
        match = next(
            (h for h in headers if h not in used and any(w in norm[h] for w in hints[column])), None
        )
        if match is not None:
            out[column] = match
            used.add(match)
    return out
