"""dashapp.ingest.download against a local http.server (loopback only, no internet)."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile

import pandas as pd
import pytest

from dashapp.ingest import download
from dashapp.ingest.download import XLSX_NAME, DownloadError, check_workbook, download_dataset
from dashapp.ingest.loading import load_transactions
from tests.factories import raw_frame


def _xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            frame.to_excel(xw, sheet_name=name, index=False)
    return buf.getvalue()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def fixtures() -> dict[str, bytes]:
    xlsx = _xlsx_bytes({"Year 2009-2010": raw_frame(8), "Year 2010-2011": raw_frame(5, seed=1)})
    good = _zip_bytes({XLSX_NAME: xlsx})
    return {
        "/good.zip": good,
        "/nested.zip": _zip_bytes({"online_retail_II.zip": good, "readme.txt": b"hi"}),
        "/noxlsx.zip": _zip_bytes({"readme.txt": b"nothing here"}),
        "/wrongcols.zip": _zip_bytes({XLSX_NAME: _xlsx_bytes({"S": pd.DataFrame({"a": [1]})})}),
        "/corrupt.zip": b"PK\x03\x04" + bytes(range(256)) * 20,
        "/truncated.zip": good,  # served cut in half, see handler
    }


@pytest.fixture(scope="module")
def server(fixtures):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            body = fixtures.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path == "/truncated.zip":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_ok(server, tmp_path, capsys):
    path = download_dataset(tmp_path, f"{server}/good.zip", timeout=10)
    assert path == tmp_path / XLSX_NAME
    assert sorted(p.name for p in tmp_path.iterdir()) == [XLSX_NAME]
    err = capsys.readouterr().err
    assert "100.0%" in err and "good.zip" in err
    assert set(check_workbook(path)) == {"Year 2009-2010", "Year 2010-2011"}
    assert len(load_transactions(path)) == 13


def test_download_nested_zip_quiet(server, tmp_path, capsys):
    path = download_dataset(tmp_path, f"{server}/nested.zip", progress=False, timeout=10)
    assert path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [XLSX_NAME]
    assert capsys.readouterr().err == ""


def test_existing_file_is_kept(server, tmp_path):
    first = download_dataset(tmp_path, f"{server}/good.zip", progress=False, timeout=10)
    mtime = first.stat().st_mtime_ns
    again = download_dataset(tmp_path, f"{server}/does-not-exist.zip", progress=False)
    assert again == first and first.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "name, message",
    [
        ("/truncated.zip", "cut off"),
        ("/corrupt.zip", "not a valid zip"),
        ("/noxlsx.zip", "holds no online_retail_II.xlsx"),
        ("/wrongcols.zip", "does not hold the Online Retail II columns"),
        ("/missing.zip", "HTTP 404"),
    ],
)
def test_failures_leave_nothing_behind(server, tmp_path, name, message):
    with pytest.raises(DownloadError, match=message):
        download_dataset(tmp_path, f"{server}{name}", progress=False, timeout=10)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_file(server, tmp_path):
    good = download_dataset(tmp_path, f"{server}/good.zip", progress=False, timeout=10)
    before = good.read_bytes()
    with pytest.raises(DownloadError):
        download_dataset(tmp_path, f"{server}/corrupt.zip", progress=False, force=True, timeout=10)
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [XLSX_NAME]


def test_unreachable_host(tmp_path):
    # port 9 (discard) on loopback: nothing listens there, the connection is refused
    with pytest.raises(DownloadError, match="cannot reach"):
        download_dataset(tmp_path, "http://127.0.0.1:9/x.zip", progress=False, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_check_workbook_on_real_extract(shared_sample_xlsx):
    headers = check_workbook(shared_sample_xlsx)
    assert tuple(headers) == download.EXPECTED_SHEETS
    assert headers["Year 2009-2010"][6] == "Customer ID"


def test_check_workbook_rejects_non_xlsx(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="not a valid Excel workbook"):
        check_workbook(p)
