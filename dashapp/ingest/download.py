"""Download the UCI "Online Retail II" workbook (standard library only: urllib, zipfile).

Pure module (no dash / flask). ``download_dataset(dest_dir)`` streams the UCI zip into a temp
file inside ``dest_dir`` with a plain-text progress bar on stderr, checks it (a valid zip
holding ``online_retail_II.xlsx`` directly or inside a nested zip; the workbook opens and a
sheet has the dataset's columns), then moves the workbook into place atomically. On any
failure every partial file is removed and :class:`DownloadError` explains what went wrong.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from dashapp.ingest import schema

__all__ = [
    "DownloadError",
    "EXPECTED_SHEETS",
    "UCI_URL",
    "XLSX_NAME",
    "download_dataset",
    "check_workbook",
]

UCI_URL = "https://archive.ics.uci.edu/static/public/502/online+retail+ii.zip"
#: Name of the workbook inside the UCI zip and in ``dest_dir``.
XLSX_NAME = "online_retail_II.xlsx"
#: Sheets of the UCI workbook (informative: the check requires the columns, not these names).
EXPECTED_SHEETS = ("Year 2009-2010", "Year 2010-2011")
#: Refuse to unpack more than this many bytes (zip-bomb guard), 2 GiB.
MAX_UNPACKED_BYTES = 2 * 1024**3

_CHUNK = 1 << 16
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


class DownloadError(RuntimeError):
    """The dataset could not be downloaded or the download is not the expected workbook."""


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
class _Progress:
    """Plain-text progress line on a stream: bytes done, and percent when the total is known."""

    def __init__(self, label: str, total: int | None, enabled: bool, stream: IO[str] | None = None):
        self.label = label
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self._last = 0.0
        self._t0 = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.2:
            self._last = now
            self._draw()

    def _draw(self, end: str = "") -> None:
        mb = self.done / 1e6
        rate = mb / max(time.monotonic() - self._t0, 1e-6)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            text = (
                f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% "
                f"{mb:7.1f}/{self.total / 1e6:.1f} MB {rate:5.1f} MB/s"
            )
        else:
            text = f"\r{self.label} {mb:7.1f} MB {rate:5.1f} MB/s"
        self.stream.write(text + end)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(end="\n")


# ---------------------------------------------------------------------------------------------
# workbook check (reads only workbook.xml, the rels and the first row of each sheet)
# ---------------------------------------------------------------------------------------------
def _first_row_cells(zf: zipfile.ZipFile, member: str) -> list[tuple[str | None, str]]:
    """(type attribute, raw text) of the cells of the first row of a worksheet XML."""
    cells: list[tuple[str | None, str]] = []
    with zf.open(member) as fh:
        ctype, text, in_row = None, "", False
        for event, el in ET.iterparse(fh, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == _NS_MAIN + "row":
                    in_row = True
                elif tag == _NS_MAIN + "c":
                    ctype, text = el.get("t"), ""
                continue
            if tag in (_NS_MAIN + "v", _NS_MAIN + "t") and in_row:
                text += el.text or ""
            elif tag == _NS_MAIN + "c" and in_row:
                cells.append((ctype, text))
            elif tag == _NS_MAIN + "row":
                break
            el.clear()
    return cells


def _shared_strings(zf: zipfile.ZipFile, wanted: set[int]) -> dict[int, str]:
    """The shared strings with the given indices (stops reading after the largest)."""
    out: dict[int, str] = {}
    if not wanted or "xl/sharedStrings.xml" not in zf.namelist():
        return out
    top = max(wanted)
    with zf.open("xl/sharedStrings.xml") as fh:
        i, parts = 0, []
        for event, el in ET.iterparse(fh, events=("start", "end")):
            if event == "start":
                if el.tag == _NS_MAIN + "si":
                    parts = []
                continue
            if el.tag == _NS_MAIN + "t":
                parts.append(el.text or "")
            elif el.tag == _NS_MAIN + "si":
                if i in wanted:
                    out[i] = "".join(parts)
                i += 1
                el.clear()
                if i > top:
                    break
    return out


def check_workbook(path: str | os.PathLike) -> dict[str, list[str]]:
    """Light check of an .xlsx: returns {sheet name: header cells} of its sheets.

    Reads only the workbook index, the relationships and the first row of every sheet (well
    under a second even for the 45 MB UCI workbook). Raises DownloadError when the file is not
    an xlsx workbook or when no sheet has the required columns (schema.REQUIRED_COLUMNS).
    """
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as e:
        raise DownloadError(f"{p.name} is not a valid Excel workbook: {e}") from None
    with zf:
        names = set(zf.namelist())
        if "xl/workbook.xml" not in names:
            raise DownloadError(f"{p.name} is not an Excel workbook (no xl/workbook.xml).")
        try:
            wb = ET.fromstring(zf.read("xl/workbook.xml"))
            rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        except (KeyError, ET.ParseError) as e:
            raise DownloadError(f"{p.name} is a damaged Excel workbook: {e}") from None
        targets = {
            r.get("Id"): r.get("Target", "") for r in rels.iter(_NS_PKG_REL + "Relationship")
        }
        sheets: dict[str, list[tuple[str | None, str]]] = {}
        for sh in wb.iter(_NS_MAIN + "sheet"):
            target = targets.get(sh.get(_NS_REL + "id"), "")
            member = (
                target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            )
            if member not in names:
                continue
            try:
                sheets[sh.get("name", "?")] = _first_row_cells(zf, member)
            except ET.ParseError as e:
                raise DownloadError(f"{p.name}: sheet '{sh.get('name')}' is damaged: {e}") from None
        wanted = {int(t) for cells in sheets.values() for c, t in cells if c == "s" and t.isdigit()}
        try:
            strings = _shared_strings(zf, wanted)
        except ET.ParseError as e:
            raise DownloadError(f"{p.name}: shared strings are damaged: {e}") from None
    headers = {
        name: [strings.get(int(t), "") if c == "s" and t.isdigit() else t for c, t in cells]
        for name, cells in sheets.items()
    }
    ok = [
        n
        for n, h in headers.items()
        if all(c in schema.match_headers(h) for c in schema.REQUIRED_COLUMNS)
    ]
    if not ok:
        found = "; ".join(f"'{n}': {', '.join(h) or 'empty'}" for n, h in headers.items())
        raise DownloadError(
            f"{p.name} does not hold the Online Retail II columns "
            f"({', '.join(schema.ONLINE_RETAIL_II_HEADERS)}). Sheets found: {found or 'none'}."
        )
    return headers


# ---------------------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------------------
def _copy_capped(src: IO[bytes], dst: IO[bytes], what: str) -> int:
    written = 0
    while block := src.read(1 << 20):
        written += len(block)
        if written > MAX_UNPACKED_BYTES:
            raise DownloadError(
                f"{what} unpacks to more than {MAX_UNPACKED_BYTES / 1024**3:.0f} GiB; refusing it."
            )
        dst.write(block)
    return written


def _pick_xlsx(zf: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    files = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
    exact = [i for i in files if PurePosixPath(i.filename).name.lower() == XLSX_NAME.lower()]
    if exact:
        return exact[0]
    xlsx = [i for i in files if i.filename.lower().endswith(".xlsx")]
    return xlsx[0] if len(xlsx) == 1 else None


def _extract_workbook(zip_path: Path, out: Path, depth: int = 0) -> None:
    """Extract the workbook from the downloaded zip (directly or from one nested zip)."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise DownloadError(
            "the downloaded file is not a valid zip archive (truncated or corrupt download?)."
        ) from None
    with zf:
        if sum(i.file_size for i in zf.infolist()) > MAX_UNPACKED_BYTES:
            raise DownloadError(
                "the downloaded archive would unpack to more than 2 GiB; refusing it."
            )
        info = _pick_xlsx(zf)
        try:
            if info is not None:
                with zf.open(info) as src, open(out, "wb") as dst:
                    _copy_capped(src, dst, info.filename)
                return
            nested = [i for i in zf.infolist() if i.filename.lower().endswith(".zip")]
            if nested and depth == 0:
                inner = out.with_suffix(".inner.zip")
                try:
                    with zf.open(nested[0]) as src, open(inner, "wb") as dst:
                        _copy_capped(src, dst, nested[0].filename)
                    _extract_workbook(inner, out, depth + 1)
                finally:
                    with contextlib.suppress(OSError):
                        inner.unlink()
                return
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise DownloadError(f"the downloaded archive is damaged: {e}") from None
        except Exception as e:  # zlib.error, CRC errors
            if isinstance(e, DownloadError):
                raise
            raise DownloadError(f"the downloaded archive is damaged: {e}") from None
        listed = ", ".join(i.filename for i in zf.infolist()[:10]) or "nothing"
        raise DownloadError(f"the downloaded archive holds no {XLSX_NAME} (it holds: {listed}).")


def download_dataset(
    dest_dir: str | os.PathLike,
    url: str = UCI_URL,
    *,
    progress: bool = True,
    timeout: float = 60,
    force: bool = False,
) -> Path:
    """Download the Online Retail II workbook into ``dest_dir``; returns the .xlsx path.

    ``url``: a zip holding ``online_retail_II.xlsx`` (directly or in a nested zip); default the
    UCI archive (about 45 MB). ``progress``: draw a progress bar on stderr. ``timeout``: seconds
    for connecting and for each network read. ``force``: download even when
    ``dest_dir/online_retail_II.xlsx`` already exists and passes the light check.

    The download goes to a temp file in ``dest_dir``; the workbook is checked and moved into
    place with os.replace, so ``dest_dir/online_retail_II.xlsx`` is either the previous file or
    the complete new one. Raises DownloadError (nothing left behind) on HTTP errors, network
    errors, truncated or corrupt downloads and archives without the workbook.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / XLSX_NAME
    if target.exists() and not force:
        with contextlib.suppress(DownloadError):
            check_workbook(target)
            return target
    fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=".online_retail_II-", suffix=".zip.part")
    tmp_zip = Path(tmp_name)
    tmp_xlsx = tmp_zip.with_suffix(".xlsx")
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out, progress=progress, timeout=timeout)
        _extract_workbook(tmp_zip, tmp_xlsx)
        check_workbook(tmp_xlsx)
        os.replace(tmp_xlsx, target)
        return target
    except DownloadError:
        raise
    except Exception as e:  # anything unexpected still leaves no partial files behind
        raise DownloadError(f"download of {url} failed: {e}") from e
    finally:
        for leftover in (tmp_zip, tmp_xlsx, tmp_zip.with_suffix(".inner.zip")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _fetch(url: str, out: IO[bytes], *, progress: bool, timeout: float) -> int:
    request = urllib.request.Request(url, headers={"User-Agent": "dashapp-downloader/1.0"})
    label = "Downloading " + (url.rsplit("/", 1)[-1] or url)
    total: int | None = None
    bar = _Progress(label, None, False)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _Progress(label, total, progress)
            try:
                while block := resp.read(_CHUNK):
                    out.write(block)
                    bar.update(len(block))
            finally:
                bar.close()
    except urllib.error.HTTPError as e:
        raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}.") from None
    except urllib.error.URLError as e:
        raise DownloadError(f"cannot reach {url}: {e.reason}.") from None
    except http.client.IncompleteRead as e:
        raise DownloadError(
            f"download of {url} was cut off after {len(e.partial) + bar.done:,} bytes"
            + (f" (expected {total:,})." if total else ".")
        ) from None
    except TimeoutError:
        raise DownloadError(f"download of {url} timed out after {timeout} s.") from None
    except (http.client.HTTPException, ConnectionError) as e:
        raise DownloadError(f"download of {url} failed: {e!r}.") from None
    if total is not None and bar.done != total:
        raise DownloadError(f"download of {url} was cut off: got {bar.done:,} of {total:,} bytes.")
    return bar.done


def _main(argv: list[str] | None = None) -> int:  # pragma: no cover - manual use
    import argparse

    ap = argparse.ArgumentParser(description="Download the UCI Online Retail II workbook.")
    ap.add_argument("dest_dir", nargs="?", default="data")
    ap.add_argument("--url", default=UCI_URL)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    try:
        path = download_dataset(a.dest_dir, a.url, force=a.force)
    except DownloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
