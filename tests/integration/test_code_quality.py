"""The code checks CI runs with the tests: ruff (lint and format, configured in
pyproject.toml) on the whole tree, and mypy on the analytics and service layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_is_clean():
    done = _run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout[-3000:]


def test_ruff_format_is_applied():
    done = _run("ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout[-3000:]


def test_mypy_is_clean_on_the_analytics_and_service_layers():
    done = _run("mypy", "--no-incremental")  # files and settings: [tool.mypy] in pyproject
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Success: no issues found" in done.stdout
