"""The Overview's date presets and comparison windows."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp.analytics.overview import comparison_windows, preset_range

FIRST, LAST = pd.Timestamp("2009-12-01"), pd.Timestamp("2011-12-09")


@pytest.mark.parametrize(
    ("preset", "start"),
    [
        ("last30", "2011-11-10"),
        ("last90", "2011-09-11"),
        ("qtd", "2011-10-01"),
        ("ytd", "2011-01-01"),
        ("last12m", "2010-12-10"),
    ],
)
def test_presets_end_on_the_last_day_of_data(preset, start):
    first, last = preset_range(preset, FIRST, LAST)
    assert (first, last) == (pd.Timestamp(start), LAST)


def test_all_clears_the_range_and_a_preset_never_starts_before_the_data():
    assert preset_range("all", FIRST, LAST) == (None, None)
    assert preset_range("last12m", pd.Timestamp("2011-06-01"), LAST)[0] == pd.Timestamp(
        "2011-06-01"
    )
    with pytest.raises(ValueError, match="unknown period preset"):
        preset_range("last7", FIRST, LAST)


def test_the_windows_have_the_same_length_before_and_a_year_before():
    windows = comparison_windows(pd.Timestamp("2011-09-11"), LAST)
    a, b = windows["previous"]
    assert (a, b) == (pd.Timestamp("2011-06-13"), pd.Timestamp("2011-09-10"))
    assert (b - a).days + 1 == 90
    assert windows["year_before"] == (pd.Timestamp("2010-09-11"), pd.Timestamp("2010-12-09"))
