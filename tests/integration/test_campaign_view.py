"""The campaign planner's service on the real extract: the target rules, the control group,
the messages, and the list read back for tracking."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp.service import ParamError, params
from dashapp.service.views.campaign import campaign_effect, campaign_plan, read_groups
from dashapp.service.views.customer_table import customer_table


def test_the_target_rules_select_the_customers_they_say(filters):
    table = customer_table(filters).table
    plan = campaign_plan(filters, ("at_risk,hibernating", 0.2, 0.95, 50, None), ())
    chosen = table[
        table["segment"].isin(["At Risk", "Hibernating"])
        & table["p_alive"].between(0.2, 0.95)
        & (table["clv"] >= 50)
    ]
    assert sorted(plan.customers["customer_id"]) == sorted(chosen["customer_id"].astype(str))
    assert plan.n_matching == len(chosen) < plan.n_customers == len(table)
    cluster = plan.clusters[0]
    one = campaign_plan(filters, (), (), clusters=[cluster])
    assert set(one.customers["customer_id"]) == set(
        table.loc[table["cluster"] == cluster, "customer_id"].astype(str)
    )


def test_the_control_group_is_reproducible_and_excluded_from_the_outcome(filters):
    a = campaign_plan(filters, (), (1.0, 1.1, 47, 20, 7))
    b = campaign_plan(filters, (), (1.0, 1.1, 47, 20, 7))
    c = campaign_plan(filters, (), (1.0, 1.1, 47, 20, 8))
    control = set(a.customers.loc[a.customers["group"] == "control", "customer_id"])
    assert control == set(b.customers.loc[b.customers["group"] == "control", "customer_id"])
    assert control != set(c.customers.loc[c.customers["group"] == "control", "customer_id"])
    assert len(control) == round(0.2 * a.n_matching)
    assert a.outcome.treated == a.n_matching - len(control)
    assert a.outcome.cost == pytest.approx(a.outcome.treated * 1.0)
    treated_aov = a.customers.loc[a.customers["group"] == "target", "aov"].sum()
    assert a.outcome.revenue == pytest.approx(treated_aov * 0.011 * 0.47)
    assert a.outcome.profit == pytest.approx(a.outcome.revenue * 0.30)  # default margin


def test_nonsense_targets_get_messages(filters):
    with pytest.raises(ParamError, match=r"P\(alive\) from \(0.9\) must not exceed"):
        campaign_plan(filters, ((), 0.9, 0.1), ())
    with pytest.raises(ParamError, match="Response rate"):
        campaign_plan(filters, (), (1.0, 0))
    with pytest.raises(ParamError, match="Control group"):
        campaign_plan(filters, (), (1.0, 1.1, 47, 80))
    with pytest.raises(ValueError, match="'Nowhere' is not among this clustering's clusters"):
        campaign_plan(filters, (), (), clusters=["Nowhere"])
    empty = campaign_plan(filters, ("champions", 0, 1, 1e9), ())
    assert empty.reason and empty.reason.startswith("0 of ") and empty.customers is None


def test_the_list_read_back_and_measured(filters):
    plan = campaign_plan(filters, (), ())
    target, control = read_groups(plan.customers.astype(str))
    assert len(target) + len(control) == plan.n_matching
    effect = campaign_effect(filters, "2011-09-01", target, control)
    assert (effect.n_target, effect.n_control) == (len(target), len(control))
    with pytest.raises(ValueError, match="columns customer_id and group"):
        read_groups(pd.DataFrame({"id": ["1"]}))
    with pytest.raises(ValueError, match="row 3 says 'maybe'"):
        read_groups(pd.DataFrame({"customer_id": ["1", "2"], "group": ["target", "maybe"]}))
    with pytest.raises(ValueError, match="None of the listed customers is in this dataset"):
        campaign_effect(filters, "2011-09-01", ["x1", "x2"], ["x3", "x4"])
    with pytest.raises(ParamError, match="Campaign start is required"):
        campaign_effect(filters, None, target, control)
    assert params.CAMPAIGN_START.parse("2011-09-01") == "2011-09-01"


def test_a_rate_of_zero_is_named_as_refused():
    with pytest.raises(ParamError) as err:
        params.CAMPAIGN_RESPONSE.parse("0")
    assert str(err.value) == (
        "Response rate (% of targeted) must be a number above 0 up to 100; got '0'."
    )
    assert params.CAMPAIGN_RESPONSE.parse("0.5") == 0.5


def test_the_plan_leaves_the_clv_intervals_out(filters, monkeypatch):
    """The plan reads no interval column, so it never computes the intervals (seconds of
    CPU at full scale); its list is the customer table's, intervals or not."""
    from dashapp.service.views import customer_table as ct
    from dashapp.service.views.campaign import LIST_COLUMNS

    full = customer_table(filters).table.set_index("customer_id")
    assert "clv_lo" in full.columns  # the export's table has them

    def no_intervals(*args, **kwargs):
        raise AssertionError("the campaign plan computed the CLV intervals")

    monkeypatch.setattr(ct, "clv_intervals", no_intervals)
    plan = campaign_plan(filters, ("at_risk,hibernating,need_attention", 0, 1), ())
    listed = plan.customers.set_index("customer_id")
    assert plan.n_matching == len(listed) > 0
    expected = full.loc[listed.index.astype(full.index.dtype), list(LIST_COLUMNS)]
    pd.testing.assert_frame_equal(
        listed[list(LIST_COLUMNS)], expected.set_axis(listed.index), check_exact=True
    )
