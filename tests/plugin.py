"""Project-wide pytest fixtures and hooks (loaded with ``-p tests.plugin``, see pyproject)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_reference(path: Path) -> Path:
    """Return ``path``; skip the test when it is absent, except in CI, where that fails."""
    if path.exists():
        return path
    reason = f"reference data {path} is absent (it lives in ../shared/data beside the project)"
    if IN_CI:
        pytest.fail(reason + "; CI must have it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_sample_xlsx() -> Path:
    return require_reference(SHARED_DATA / "online_retail_II_sample.xlsx")


@pytest.fixture(scope="session")
def sample_lines(shared_sample_xlsx, tmp_path_factory):
    """The real extract loaded into the canonical schema (both sheets)."""
    from dashapp.ingest.loading import load_transactions

    return load_transactions(shared_sample_xlsx, cache_dir=tmp_path_factory.mktemp("cache"))


def pytest_setup_options():
    """Chrome options for dash_duo: Debian's headless Chromium in this closed network."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    return options
