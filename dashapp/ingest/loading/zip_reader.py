"""Zip archives: the archive limits (zip bombs; also applied to .xlsx workbooks) and the
reader of a zip holding exactly one table, which is extracted and loaded like a file."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading.formats import SUPPORTED_EXTENSIONS, ZIP_EXTENSIONS

#: Refuse archives (zip, xlsx) whose members add up to more than this many bytes uncompressed.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
#: Refuse an archive member that inflates more than this many times (checked above 16 MiB).
MAX_COMPRESSION_RATIO = 200
_RATIO_MIN_BYTES = 16 * 1024**2


def _check_archive(zf: zipfile.ZipFile, name: str) -> None:
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.file_size > _RATIO_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1
        ):
            raise DataLoadError(
                f"{name} was refused: member '{info.filename}' would inflate "
                f"{info.file_size / max(info.compress_size, 1):,.0f} times "
                f"({info.compress_size:,} -> {info.file_size:,} bytes), which looks like a "
                f"zip bomb (limit {MAX_COMPRESSION_RATIO}x).",
                path=name,
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DataLoadError(
            f"{name} was refused: it would uncompress to {total / 1024**3:.1f} GiB, more than "
            f"the {MAX_UNCOMPRESSED_BYTES / 1024**3:.1f} GiB limit.",
            path=name,
        )


def _load_zip(
    p: Path,
    name: str,
    column_map: dict[str, str] | None,
    depth: int,
    load_file: Callable[[Path, str, dict[str, str] | None, int], pd.DataFrame],
) -> pd.DataFrame:
    """Load the one table of a zip archive with ``load_file`` (``load._load_file``, passed in so
    that this module needs no import of the dispatcher). At ``depth`` >= 1 (a zip in a zip),
    members that are zips themselves are not tables."""
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        raise DataLoadError(f"{name} is not a valid zip archive.", path=name) from None
    with zf:
        _check_archive(zf, name)
        members = [
            i
            for i in zf.infolist()
            if not i.is_dir()
            and not i.filename.startswith("__MACOSX/")
            and not Path(i.filename).name.startswith((".", "~$"))
        ]
        tables = [
            i
            for i in members
            if Path(i.filename).suffix.lower() in SUPPORTED_EXTENSIONS
            and not (depth >= 1 and Path(i.filename).suffix.lower() in ZIP_EXTENSIONS)
        ]
        if not tables:
            listed = ", ".join(i.filename for i in members[:10]) or "nothing"
            raise DataLoadError(
                f"{name} holds no table (one of "
                f"{', '.join(e for e in SUPPORTED_EXTENSIONS if e != '.zip')}); it holds: {listed}.",
                path=name,
            )
        if len(tables) > 1:
            raise DataLoadError(
                f"{name} holds several tables ({', '.join(i.filename for i in tables[:10])}); "
                f"put exactly one table in the zip.",
                path=name,
            )
        info = tables[0]
        inner_name = f"{name}/{info.filename}"
        with tempfile.TemporaryDirectory(prefix="dashapp-zip-") as tmp:
            target = Path(tmp) / ("member" + Path(info.filename).suffix.lower())
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    written = 0
                    while block := src.read(1 << 20):
                        written += len(block)
                        if written > MAX_UNCOMPRESSED_BYTES:
                            raise DataLoadError(
                                f"{name} was refused: '{info.filename}' uncompresses to more "
                                f"than {MAX_UNCOMPRESSED_BYTES / 1024**3:.1f} GiB.",
                                path=name,
                            )
                        dst.write(block)
            except RuntimeError as e:  # encrypted member
                raise DataLoadError(f"{name} could not be opened: {e}", path=name) from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
                if isinstance(e, DataLoadError):
                    raise
                raise DataLoadError(f"{name} is damaged: {e}", path=name) from None
            except Exception as e:  # zlib.error and friends
                if isinstance(e, DataLoadError):
                    raise
                raise DataLoadError(f"{name} is damaged: {e}", path=name) from None
            if target.stat().st_size == 0:
                raise DataLoadError(f"{inner_name} is empty (0 bytes).", path=inner_name)
            return load_file(target, inner_name, column_map, depth + 1)
