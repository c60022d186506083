"""What users and the log see of hostile or internal values, under gunicorn (the Procfile's
command): a dataset id with a newline cannot forge a log line, error messages name files
without server paths and never show the database URL, and a doubled slash in the URL prefix
is redirected relative to the app (security headers on, the client's Host header ignored)."""

from __future__ import annotations

import http.client

import pytest

from tests.callback_client import state_key
from tests.servers import AppServer, ServerCallbacks, flat_text, free_port, start_servers

PREFIX = "/analytics/segments/"
DATASET = state_key("dataset")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("messages")
    env = {
        "URL_PREFIX": PREFIX,
        "DATA_PATH": str(root / "data" / "missing_shop.csv"),
        # a database that refuses connections; the URL carries a user and a password
        "DATA_SQL_URL": f"postgresql+psycopg://analyst:S3cret@127.0.0.1:{free_port()}/shop",
        "DATA_SQL_TABLE": "order_lines",
        "DATA_SQL_TIMEOUT": "3",
    }
    srv = AppServer(root, env, workers=1, prefix=PREFIX)
    start_servers(srv)
    srv.callbacks = ServerCallbacks(srv)
    yield srv
    srv.stop()


def overview_text(server, dataset: str) -> str:
    reply = server.callbacks.call("overview-kpis", {DATASET: dataset})
    assert reply.status == 200, reply.text[:300]
    return flat_text(reply.json())


def test_a_newline_in_a_dataset_id_cannot_forge_a_log_line(server):
    forged = "x\n2026-11-30 12:00:00 ERROR [1] dashapp.web.security: FORGED admin signed in"
    assert "Unknown dataset" in overview_text(server, forged)
    log = server.log()
    assert "FORGED admin signed in" in log  # the value is logged ...
    lines = [ln for ln in log.splitlines() if "FORGED" in ln]
    assert lines and all(not ln.startswith("2026-11-30 12:00:00") for ln in lines), lines
    assert all("Unknown dataset 'x\\n2026" in ln for ln in lines), lines  # ... escaped


def test_messages_name_files_not_server_paths_and_never_the_database_url(server):
    missing = overview_text(server, "missing_shop")
    assert "missing_shop.csv" in missing
    assert str(server.root) not in missing and "/data/" not in missing
    sql = overview_text(server, "sql")
    assert "Cannot connect to the configured database" in sql
    for secret in ("postgresql", "psycopg", "analyst", "S3cret", "127.0.0.1", "://"):
        assert secret not in sql, (secret, sql)
    page = flat_text(server.callbacks.page(PREFIX, "?dataset=missing_shop").json())
    assert "missing_shop.csv" in page and str(server.root) not in page


@pytest.mark.parametrize("path", ["/analytics//segments/", "/analytics/segments//rfm?x=1"])
def test_a_doubled_slash_redirects_within_the_app_with_security_headers(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "evil.example.com"})
        reply = conn.getresponse()
        reply.read()
        location = reply.getheader("Location")
        assert reply.status == 308
        assert location == path.replace("//", "/"), location  # relative: no host at all
        assert "frame-ancestors" in (reply.getheader("Content-Security-Policy") or "")
        assert reply.getheader("X-Content-Type-Options") == "nosniff"
    finally:
        conn.close()
