"""Slow clients against gunicorn (the Procfile's command, 2 workers x 4 threads), alone and
behind nginx, which buffers whole requests before passing them on.

What the README's deployment section claims, tested here:
* gunicorn's gthread worker gives a connection a thread while it reads the request's headers
  and body: ten clients that send them slowly hold all 8 threads, and ``/health`` stops
  answering (the app cannot help: the headers are read before it is called);
* behind a front that buffers requests (nginx's default ``proxy_request_buffering on``),
  the same clients only tie up nginx connections: ``/health`` and the pages answer at once.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import textwrap
import threading
import time

import pytest

from tests.conftest import require
from tests.servers import AppServer, free_port, start_servers

SLOW_CLIENTS = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = AppServer(tmp_path_factory.mktemp("slow"), {"LOG_LEVEL": "WARNING"}, workers=2)
    start_servers(srv)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, server):
    """nginx on a free port in front of the server, with its default request buffering."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    require(None if binary else "nginx is not installed (Debian package nginx-light)")
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    (prefix / "nginx.conf").write_text(
        textwrap.dedent(f"""
            user root;
            worker_processes 1;
            pid {prefix}/nginx.pid;
            error_log {prefix}/error.log warn;
            events {{ worker_connections 256; }}
            http {{
                access_log off;
                client_body_temp_path {prefix}/body;
                proxy_temp_path {prefix}/proxy;
                client_max_body_size 100m;
                client_header_timeout 60s;
                client_body_timeout 60s;
                server {{
                    listen 127.0.0.1:{port};
                    location / {{
                        proxy_pass http://127.0.0.1:{server.port};
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_request_buffering on;
                    }}
                }}
            }}
        """)
    )
    proc = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


class SlowClients:
    """Connections that send a request's headers, or a callback's body, one piece a second."""

    def __init__(self, port: int, count: int):
        self.port, self.count = port, count
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(count)]

    def _run(self, i: int) -> None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)) as s:
            if i % 2:  # a body that never ends
                s.sendall(
                    b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                )
            else:  # headers that never end
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            while not self.stop.wait(1):
                s.sendall(b"a" if i % 2 else b"X-Slow: 1\r\n")

    def __enter__(self) -> SlowClients:
        for t in self.threads:
            t.start()
        time.sleep(2)  # every connection has been accepted and is being read
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(5)


def health_probes(port: int, count: int = 6, timeout: float = 3.0, path="/health") -> list[str]:
    """``count`` GET ``path``, one every 0.3 s: 'ok' or why not."""
    import http.client

    out = []
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request("GET", path)
            out.append("ok" if conn.getresponse().status == 200 else "status")
        except OSError as exc:
            out.append(type(exc).__name__)
        finally:
            conn.close()
        time.sleep(0.3)
    return out


def test_slow_clients_starve_gunicorn_alone(server):
    """The limitation the README states: without a buffering front, ten slow clients stop
    /health (probes time out after 3 s)."""
    assert health_probes(server.port, 2) == ["ok", "ok"]
    with SlowClients(server.port, SLOW_CLIENTS):
        probes = health_probes(server.port)
    assert any(p != "ok" for p in probes), probes


def test_a_buffering_front_keeps_the_app_responsive(server, nginx):
    with SlowClients(nginx, SLOW_CLIENTS):
        probes = health_probes(nginx, count=8, timeout=2.0)
        page = health_probes(nginx, 1, timeout=10, path="/rfm")  # a page through the front
    assert probes == ["ok"] * 8, probes
    assert page == ["ok"]
