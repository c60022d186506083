"""Browser tests: headless Debian Chromium through dash[testing] (dash_duo).

One Dash app is built per test session (Dash hands the page callbacks to the first app built
in a process) over the real Online Retail II extract in ../shared/data. Screenshots of each
page are saved under test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser_app(extract_app):
    """The session's app on the real extract (tests/conftest.py)."""
    return extract_app


def console_errors(dash_duo) -> list[dict]:
    """Browser console entries of level SEVERE (JavaScript errors, failed requests)."""
    return [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]


def save_screenshot(dash_duo, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    dash_duo.driver.save_screenshot(str(path))
    return path


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
