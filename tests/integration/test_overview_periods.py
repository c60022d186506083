"""The Overview compares the chosen period with the one before and the year before, on the
real extract (2009-12-01 to 2011-12-09): each comparison's KPIs are those of the window
itself, and a window the data do not cover says so."""

from __future__ import annotations

import numpy as np

from dashapp import service
from dashapp.service.filters import Filters


def test_last_90_days_against_the_90_days_before_and_a_year_before(filters):
    start, end = service.period_preset(filters.dataset, "last90")
    assert (start, end) == ("2011-09-11", "2011-12-09")
    chosen = Filters.build(dataset=filters.dataset, start=start, end=end)
    view = service.overview(chosen)
    (window, previous), year = view.comparisons["previous"], view.comparisons["year_before"]
    assert (
        previous
        == service.overview(
            Filters.build(dataset=filters.dataset, start="2011-06-13", end="2011-09-10")
        ).kpis
    )
    year_alone = service.overview(
        Filters.build(dataset=filters.dataset, start="2010-09-11", end="2010-12-09")
    ).kpis
    assert year[1] == year_alone
    assert window[0].strftime("%Y-%m-%d") == "2011-06-13"
    assert view.kpis.net_revenue > 0 and not np.isclose(view.kpis.net_revenue, year[1].net_revenue)


def test_a_window_before_the_data_is_not_covered(filters):
    everything = service.overview(Filters.build(dataset=filters.dataset))
    assert everything.comparisons["previous"][1] is None
    assert everything.comparisons["year_before"][1] is None
    # summer 2010 has its previous 92 days (from 2010-02-28) but no year before
    early = service.overview(
        Filters.build(dataset=filters.dataset, start="2010-06-01", end="2010-08-31")
    )
    assert early.comparisons["previous"][1] is not None
    assert early.comparisons["year_before"][1] is None
