"""The action list's value at stake and recommended action (analytics.actions), on a
hand-made table whose numbers can be checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import actions
from dashapp.analytics.rfm import SEGMENT_GRID

SEGMENT_ACTION = dict(zip(SEGMENT_GRID["segment"], SEGMENT_GRID["action"], strict=True))


def _tables():
    ids = ["lapsed_loyal", "lost_big", "sure_champion", "one_time", "no_model"]
    scored = pd.DataFrame(
        {
            "segment": [
                "Loyal Customers",
                "Loyal Customers",
                "Champions",
                "New Customers",
                "Hibernating",
            ],
            "recency": [200, 446, 3, 30, 500],
            "frequency": [12, 56, 40, 1, 1],
            "monetary": [1800.0, 6552.7, 9000.0, 40.0, 10.0],
        },
        index=pd.Index(ids, name="customer_id"),
    )
    p_alive = np.array([0.18, 0.0, 1.0, 1.0])  # one_time: BG/NBD's 1 by construction
    if_alive = np.array([1000.0, 500.0, 2000.0, 10.0])
    clv = pd.DataFrame(
        {
            "customer_id": ids[:4],
            "p_alive": p_alive,
            "clv": if_alive * p_alive,
            "clv_if_alive": if_alive,
            "repeat_days": [11, 21, 39, 0],
        }
    )
    return scored, clv


def test_value_at_stake_is_value_if_alive_times_p_not_alive():
    scored, clv = _tables()
    once = pd.Series({"one_time": 0.3, "lapsed_loyal": 0.99})  # only one-time buyers use it
    table = actions.action_table(scored, clv, None, once).set_index("customer_id")
    assert list(table.reset_index().columns) == actions.COLUMNS
    stake = table["value_at_stake"]
    assert stake["lapsed_loyal"] == pytest.approx(1000 * 0.82)  # CLV x (1-p) gave 147.60
    assert stake["lost_big"] == pytest.approx(500.0)  # CLV x (1-p) gave 0
    assert stake["sure_champion"] == 0
    assert stake["one_time"] == pytest.approx(10 * 0.7)
    assert table.loc["one_time", "p_alive"] == pytest.approx(0.3)
    assert table.loc["lapsed_loyal", "p_alive"] == pytest.approx(0.18)
    assert np.isnan(stake["no_model"])
    order = ["lapsed_loyal", "lost_big", "one_time", "sure_champion", "no_model"]
    assert list(table.index) == order
    # value if alive = predicted CLV + value at stake (not for a one-time buyer whose
    # P(alive) came from the second model: their CLV is the first model's)
    known = table.dropna(subset=["value_at_stake"]).drop(index="one_time")
    np.testing.assert_allclose(
        known["clv_if_alive"], known["clv"] + known["value_at_stake"], atol=0.01
    )


def test_without_a_one_time_model_a_one_time_buyer_keeps_the_model_p_alive():
    scored, clv = _tables()
    table = actions.action_table(scored, clv, None).set_index("customer_id")
    assert table.loc["one_time", "p_alive"] == 1.0
    assert table.loc["one_time", "value_at_stake"] == 0
    # a one-time buyer the second model does not cover gets no value at stake
    table = actions.action_table(scored, clv, None, pd.Series(dtype=float))
    assert np.isnan(table.set_index("customer_id").loc["one_time", "value_at_stake"])


def test_an_active_segment_with_low_p_alive_gets_a_win_back_not_an_upsell():
    scored, clv = _tables()
    table = actions.action_table(scored, clv, None).set_index("customer_id")
    loyal = table.loc["lapsed_loyal", "recommended_action"]
    assert "Upsell" in SEGMENT_ACTION["Loyal Customers"]
    assert "upsell" not in loyal.replace("no upsell", "").lower()
    assert loyal.startswith("Probably lapsed (P(alive) 18%): win back first")
    assert table.loc["lost_big", "recommended_action"].startswith("Probably lapsed")
    assert table.loc["sure_champion", "recommended_action"] == SEGMENT_ACTION["Champions"]
    # a win-back segment keeps its own action; no P(alive) keeps the segment's action
    assert table.loc["no_model", "recommended_action"] == SEGMENT_ACTION["Hibernating"]
    # at the threshold the segment's action holds
    segment = pd.Series(["Loyal Customers", "Loyal Customers"])
    p = pd.Series([actions.LAPSED_BELOW, actions.LAPSED_BELOW - 1e-9])
    out = actions.recommended_actions(segment, p)
    assert out[0] == SEGMENT_ACTION["Loyal Customers"] and out[1].startswith("Probably lapsed")
