"""Numbers an analyst can trust (issue 13) on the real Online Retail II extract in
../shared/data: the as-of date under a country filter, and what segment and cluster names say."""

from __future__ import annotations

import pandas as pd
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


def _with(filters, **changes) -> service.Filters:
    return service.Filters.build(**{"dataset": filters.dataset, **changes})


def test_a_country_filter_does_not_move_the_as_of_date(filters):
    """Canada's last invoice is 2011-08-25, the data's 2011-12-09: recency under the Canada
    filter is counted to 2011-12-10 like without a filter (customer 17444: 152 days; 46 days
    before the fix)."""
    everyone = service.rfm_view(filters)
    canada = service.rfm_view(_with(filters, countries=["Canada"]))
    assert everyone.as_of == canada.as_of == pd.Timestamp("2011-12-10")
    row = canada.scored.loc["17444"]
    assert row["recency"] == everyone.scored.loc["17444", "recency"] == 152
    # Clustering and the action list read the same table, so the same as-of date.
    clusters = service.cluster_view(_with(filters, countries=["Canada"]))
    assert clusters.as_of == pd.Timestamp("2011-12-10")
    # The end of a chosen date range sets it, and the user's choice wins.
    ranged = service.rfm_view(_with(filters, end="2011-06-30"))
    assert ranged.as_of == pd.Timestamp("2011-07-01")
    chosen = service.rfm_view(_with(filters, countries=["Canada"]), as_of="2012-01-01")
    assert chosen.scored.loc["17444", "recency"] == 152 + 22
