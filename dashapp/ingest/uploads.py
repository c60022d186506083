"""Uploaded datasets (pure, Dash-free): store an upload safely, remember its column mapping.

An upload is stored as ``<upload_dir>/<id>/<safe file name>`` where the id is derived from
the file's content hash: two uploads never overwrite each other, the same file uploaded twice
is stored once, and any worker process can resolve the id from the folder (no registry in
memory). ``meta.json`` beside the file holds the display name and the column mapping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dashapp.ingest import schema
from dashapp.ingest.loading import DataLoadError

UPLOAD_EXTENSIONS = (".csv", ".xlsx")
ID_PATTERN = re.compile(r"^upload-[0-9a-f]{12}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadError(ValueError):
    """An upload cannot be accepted; ``str(err)`` is a user-facing message."""


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
    raw: bytes, filename: str, upload_dir: Path, currency: str | None = None
) -> StoredUpload:
    """Write the bytes under ``upload_dir/<id>/`` atomically (once per distinct content)."""
    digest = hashlib.blake2b(raw, digest_size=6).hexdigest()
    upload_id = f"upload-{digest}"
    folder = Path(upload_dir) / upload_id
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_file_name(filename)
    target = folder / name
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    meta = read_meta(folder) or {"file": name, "label": name, "column_map": None}
    meta["currency"] = clean_currency(currency) or meta.get("currency")
    write_meta(folder, meta)
    return find_upload(upload_dir, upload_id)


def clean_currency(symbol: str | None) -> str | None:
    """A short currency symbol (at most 4 printable characters) or None."""
    text = "".join(ch for ch in str(symbol or "").strip() if ch.isprintable())[:4]
    return text or None


def write_meta(folder: Path, meta: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".meta-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    os.replace(tmp, folder / "meta.json")


def read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def set_column_map(
    upload_dir: Path, upload_id: str, column_map: dict | None, currency: str | None = None
) -> StoredUpload:
    """Remember the column mapping (and currency symbol) chosen for an upload."""
    found = find_upload(upload_dir, upload_id)
    clean = {k: v for k, v in (column_map or {}).items() if k in schema.SOURCE_COLUMNS and v}
    write_meta(
        found.path.parent,
        {
            "file": found.path.name,
            "label": found.label,
            "column_map": clean or None,
            "currency": clean_currency(currency) or found.currency,
        },
    )
    return find_upload(upload_dir, upload_id)


def find_upload(upload_dir: Path, upload_id: str) -> StoredUpload:
    """The stored upload with this id. The id is checked against a strict pattern before it
    touches the file system (no path traversal)."""
    if not ID_PATTERN.match(str(upload_id)):
        raise DataLoadError(f"Unknown dataset '{upload_id}'.")
    folder = Path(upload_dir) / upload_id
    meta = read_meta(folder)
    if meta is None or not (folder / meta.get("file", "")).is_file():
        raise DataLoadError(
            f"The uploaded dataset '{upload_id}' is no longer on the server; upload the file again."
        )
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
