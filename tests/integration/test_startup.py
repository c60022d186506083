"""A newcomer's start: the README creates a virtual environment first, and
``python -m dashapp`` prints one line with the address it serves (not Dash's and werkzeug's
banners next to a red development-server warning), then serves the first page."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_readme_creates_a_virtual_environment_before_installing():
    text = (ROOT / "README.md").read_text()
    start = text.index("## Quick start")
    venv, install = text.index("python3 -m venv .venv", start), text.index("pip install", start)
    assert venv < install
    assert "http://127.0.0.1:8050/" in text[start : start + 1200]


def test_python_m_dashapp_prints_one_line_with_the_url(shared_sample_xlsx, tmp_path):
    port = _free_port()
    env = {**os.environ, "CACHE_DIR": str(tmp_path), "CACHE_TYPE": "SimpleCache"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashapp", "--port", str(port), "--data", str(shared_sample_xlsx)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # the announcement comes when the server listens
        url = f"http://127.0.0.1:{port}/"
        assert line.strip().startswith(f"Customer Segments & CLV is running on {url} "), line
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "rfm", timeout=30) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    everything = line + out + err
    assert "Dash is running" not in everything
    assert "development server" not in everything.replace("for production use gunicorn", ""), (
        everything
    )
    assert len([x for x in everything.splitlines() if re.search(r"http://", x)]) == 1, everything
