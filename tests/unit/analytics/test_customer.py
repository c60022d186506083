"""One customer's P(alive) history: the purchase days summarised at every month end at once
give exactly what the model's own summary (:func:`calibration_summary`) gives at each end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import customer as one
from dashapp.analytics.clv import calibration_summary
from dashapp.analytics.clv.bgnbd import fit_bgnbd
from dashapp.analytics.clv.summary import DAYS_PER_MONTH, TIME_UNIT_DAYS


def _per_end(fit, purchases, ends, horizon_months):
    """The history as it was computed before: one summary per end (the reference)."""
    log = pd.DataFrame({"customer_id": 0, "invoice_date": purchases["invoice_date"].to_numpy()})
    horizon = horizon_months * DAYS_PER_MONTH / TIME_UNIT_DAYS[fit.time_unit]
    rows = []
    for end in ends:
        s = calibration_summary(log, customer_col="customer_id", date_col="invoice_date",
                                calibration_end=end, time_unit=fit.time_unit)  # fmt: skip
        if s.empty:
            continue
        x, tx, T = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        rows.append((pd.Timestamp(end), int(x[0]), float(np.asarray(fit.p_alive(x, tx, T))[0]),
                     float(np.asarray(fit.expected_purchases(horizon, x, tx, T))[0])))  # fmt: skip
    return pd.DataFrame(
        rows, columns=["month_end", "repeat_purchases", "p_alive", "expected_purchases"]
    )


@pytest.fixture(scope="module")
def fits():
    rng = np.random.default_rng(7)
    T = rng.uniform(10, 60, 400)
    x = rng.poisson(3, 400).astype(float)
    tx = np.where(x > 0, rng.uniform(0, 1, 400) * T, 0.0)
    return [fit_bgnbd(x, tx, T, time_unit=u) for u in ("W", "D", "M")]


PURCHASES = {
    "several a day, one at 23:59 on a month end": [
        "2010-01-05 09:00", "2010-01-05 15:00", "2010-01-31 23:59", "2010-03-02 10:00",
        "2010-03-02 10:00", "2010-07-19 08:00", "2011-02-28 23:59",
    ],
    "one purchase": ["2010-06-15 12:00"],
    "first purchase after the last end": ["2012-01-03 09:00"],
    "shuffled": ["2011-05-01 10:00", "2010-02-01 10:00", "2010-11-30 18:00", "2010-02-01 09:00"],
    "none": [],
}  # fmt: skip


@pytest.mark.parametrize("case", list(PURCHASES))
@pytest.mark.parametrize("horizon", [1, 12])
def test_alive_history_is_the_summary_at_each_end(fits, case, horizon):
    purchases = pd.DataFrame({"invoice_date": pd.to_datetime(pd.Series(PURCHASES[case]))})
    ends = list(pd.date_range("2009-12-31", "2011-12-31", freq="ME"))
    for fit in fits:
        got = one.alive_history(fit, purchases, ends, horizon)
        want = _per_end(fit, purchases, ends, horizon)
        if want.empty:
            assert got.empty and list(got.columns) == list(want.columns)
            continue
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got["repeat_purchases"].is_monotonic_increasing
