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
def browser_app(shared_sample_xlsx, tmp_path_factory):
    from dashapp import create_app
    from dashapp.config import Settings

    cache_dir = tmp_path_factory.mktemp("cache")
    settings = Settings.from_env(
        env={},
        data_path=shared_sample_xlsx,
        cache_dir=cache_dir,
        data_dir=tmp_path_factory.mktemp("data"),
    )
    settings = type(settings)(**{**settings.__dict__, "cache_type": "SimpleCache"})
    return create_app(settings)


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
