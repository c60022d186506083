"""Fixtures of the integration tier."""

from __future__ import annotations

import pytest

from dashapp import service


@pytest.fixture(scope="module")
def filters(shared_sample_xlsx, tmp_path_factory):
    """Service configured on the real extract; the previous configuration is restored."""
    from dashapp.config import Settings

    previous = service.settings()
    settings = Settings.from_env(
        env={},
        data_path=shared_sample_xlsx,
        cache_dir=tmp_path_factory.mktemp("cache"),
        data_dir=tmp_path_factory.mktemp("data"),
    )
    service.configure(settings)
    if getattr(service.cache, "app", None) is None:
        service.init_cache(config={"CACHE_TYPE": "SimpleCache"})
    yield service.Filters.build(dataset=shared_sample_xlsx.stem)
    service.configure(previous)
