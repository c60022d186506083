"""What every test tier shares: where the reference data is, the one rule for resources a
machine may lack, and the fixtures built on them.

The rule (:func:`require`): a test that needs the reference data in ``../shared/data``,
PostgreSQL on 127.0.0.1:5432 or Redis on 127.0.0.1:6379 is skipped with the reason when they
are absent on a developer's machine, and fails in CI (``CI=true``), where they must exist.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.factories import raw_frame

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
SAMPLE_XLSX = SHARED_DATA / "online_retail_II_sample.xlsx"
CDNOW = SHARED_DATA / "cdnow"
GENERATOR = SHARED / "tools" / "gen_online_retail.py"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Debian's headless Chromium in this closed network: the tests, bench/screenshots.py and
#: bench/bench_browser.py start it with these.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def require(problem: str | None) -> None:
    """Go on when ``problem`` is None; otherwise skip the test with it as the reason, or,
    in CI, fail it (CI must provide every resource the suite uses)."""
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{problem}; CI must provide it")
    pytest.skip(problem)


def require_file(path: Path) -> Path:
    """``path``, which must exist (see :func:`require`)."""
    require(None if path.exists() else f"{path} is absent (../shared lies beside the project)")
    return path


def postgres_problem(url: str = PG_URL) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError as err:
        first = str(getattr(err, "orig", err)).splitlines()[0]
        return f"PostgreSQL at {sa.engine.make_url(url).render_as_string()} is unreachable: {first}"
    finally:
        engine.dispose()
    return None


def redis_problem(url: str = REDIS_URL) -> str | None:
    """Why Redis at ``url`` cannot be used, or None."""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 (any failure means: no usable Redis here)
        return f"Redis is not reachable at {url}: {exc}"
    return None


@pytest.fixture(scope="session")
def shared_sample_xlsx() -> Path:
    """The real two-sheet UCI extract in ../shared/data."""
    return require_file(SAMPLE_XLSX)


@pytest.fixture(scope="session")
def cdnow() -> Path:
    """The CDNOW folder of ../shared/data (raw sample and published estimates)."""
    require_file(CDNOW / "CDNOW_sample.txt")
    return CDNOW


@pytest.fixture(scope="session")
def sample_lines(shared_sample_xlsx, tmp_path_factory) -> pd.DataFrame:
    """The real extract loaded into the canonical schema (both sheets)."""
    from dashapp.ingest.loading import load_transactions

    return load_transactions(shared_sample_xlsx, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def extract_app(shared_sample_xlsx, tmp_path_factory):
    """The app on the real extract, built once per test process (each pytest-xdist worker is
    one): Dash hands the page callbacks to the first app built in a process, so every test
    that calls page callbacks in-process (integration over HTTP, browser) shares this one."""
    from dashapp import create_app
    from dashapp.config import Settings

    settings = Settings.from_env(
        env={"CACHE_TYPE": "SimpleCache"},
        data_path=shared_sample_xlsx,
        cache_dir=tmp_path_factory.mktemp("cache"),
        data_dir=tmp_path_factory.mktemp("data"),
    )
    app = create_app(settings)
    # Dash hands the callbacks registered at import (the shell's URL state, helpers of the
    # pages) to the first app that serves a request: this one, before any app a test builds
    # in-process (tests/integration/test_production.py), whatever order the files run in
    assert app.server.test_client().get("/health").status_code == 200
    return app


@pytest.fixture
def raw_df() -> pd.DataFrame:
    """12 lines, 4 invoices, in the raw Online Retail II layout."""
    return raw_frame()


def pytest_setup_options():
    """Chrome options for dash_duo: Debian's headless Chromium in this closed network."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
    for arg in (*CHROMIUM_FLAGS, "--window-size=1400,1000"):
        options.add_argument(arg)
    return options
