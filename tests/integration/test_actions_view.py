"""The action list (service.views.actions, analytics.actions) on the real extract."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from dashapp import service
from dashapp.analytics import actions as action_rules
from dashapp.analytics import rfm
from dashapp.service.exports import to_safe_csv


@pytest.fixture(scope="module")
def filters(shared_sample_xlsx, tmp_path_factory):
    from dashapp.config import Settings

    previous = service.settings()
    service.configure(
        Settings.from_env(
            env={},
            data_path=shared_sample_xlsx,
            cache_dir=tmp_path_factory.mktemp("cache"),
            data_dir=tmp_path_factory.mktemp("data"),
        )
    )
    if getattr(service.cache, "app", None) is None:
        service.init_cache(config={"CACHE_TYPE": "SimpleCache"})
    yield service.Filters.build(dataset=shared_sample_xlsx.stem)
    service.configure(previous)


def test_action_list_joins_segment_cluster_clv_and_sorts_by_value_at_stake(filters):
    result = service.action_list(filters, "bgnbd", 12, 30.0, 10.0, "kmeans", 4)
    assert result.reason is None
    table = result.table
    assert list(table.columns) == [*action_rules.COLUMNS, "p_churn", "p_not_alive"]
    scored = service.rfm_table(filters)
    assert len(table) == len(scored) and table["customer_id"].is_unique
    np.testing.assert_allclose(
        table["value_at_stake"],
        (table["clv_if_alive"] * (1 - table["p_alive"])).round(2),
        atol=0.011,
    )
    assert table["value_at_stake"].is_monotonic_decreasing
    assert ((table["p_alive"] >= 0) & (table["p_alive"] <= 1)).all()
    # BG/NBD's P(alive) is 1 for one-time buyers; the list takes Pareto/NBD's for them
    clv = service.clv_view(filters, "bgnbd").customers.set_index("customer_id")
    pareto = service.clv_view(filters, "pareto_nbd").customers.set_index("customer_id")
    listed = table.set_index("customer_id")
    once = clv.index[clv["repeat_days"] == 0]
    assert len(once) > 0 and (clv.loc[once, "p_alive"] == 1).all()
    np.testing.assert_allclose(listed.loc[once, "p_alive"], pareto.loc[once, "p_alive"])
    assert (listed.loc[once, "value_at_stake"] > 0).all()
    repeat = clv.index[clv["repeat_days"] > 0]
    np.testing.assert_allclose(listed.loc[repeat, "p_alive"], clv.loc[repeat, "p_alive"])
    assert any("Pareto/NBD" in note for note in result.notes)
    actions = dict(zip(rfm.SEGMENT_GRID["segment"], rfm.SEGMENT_GRID["action"], strict=True))
    lapsed = table["segment"].isin(action_rules.ACTIVE_SEGMENTS) & (
        table["p_alive"] < action_rules.LAPSED_BELOW
    )
    # (none on the extract; the CDNOW test has thousands)
    assert (table["recommended_action"] == table["segment"].map(actions))[~lapsed].all()
    assert table.loc[lapsed, "recommended_action"].str.startswith("Probably lapsed").all()
    clusters = service.cluster_view(filters, "kmeans", 4).customers
    merged = table.merge(
        clusters[["customer_id", "cluster"]], on="customer_id", suffixes=("", "_cl")
    )
    assert (merged["cluster"] == merged["cluster_cl"].astype(str)).all()
    csv = pd.read_csv(io.StringIO(to_safe_csv(table)), dtype={"customer_id": str})
    assert list(csv["customer_id"]) == list(table["customer_id"])


def test_action_list_explains_a_filter_with_too_few_customers(filters):
    tiny = service.Filters.build(dataset=filters.dataset, start="2011-12-08", end="2011-12-08")
    result = service.action_list(tiny, "bgnbd", 12, 30.0, 10.0, "kmeans", 4)
    assert result.reason and result.table is None


def test_action_list_carries_the_churn_probabilities_of_the_chosen_horizon(filters):
    short = service.action_list(filters, "mbgnbd", 12, 30.0, 10.0, "kmeans", 4, churn_days=30)
    long = service.action_list(filters, "mbgnbd", 12, 30.0, 10.0, "kmeans", 4, churn_days=365)
    assert short.reason is None and long.reason is None
    a = short.table.set_index("customer_id")
    b = long.table.set_index("customer_id").reindex(a.index)
    # a longer horizon leaves less chance of no purchase at all, never below P(not alive)
    assert (b["p_churn"] <= a["p_churn"] + 1e-4).all()
    assert (b["p_churn"] >= b["p_not_alive"] - 1e-4).all()
    assert (a["p_churn"] > b["p_churn"] + 0.05).mean() > 0.3
    np.testing.assert_allclose(a["p_not_alive"], 1 - a["p_alive"], atol=2e-4)
    clv = service.clv_view(filters, "mbgnbd", 12, 30.0, 10.0, 3.0, 30).customers
    np.testing.assert_allclose(
        a.loc[clv["customer_id"], "p_churn"].to_numpy(), clv["p_churn"].to_numpy()
    )
    with pytest.raises(service.ParamError, match="Churn horizon"):
        service.action_list(filters, "mbgnbd", 12, 30.0, 10.0, "kmeans", 4, churn_days=3)


@pytest.mark.parametrize(
    "narrow", [{}, {"countries": ("France", "Germany")}, {"start": "2011-06-01"}]
)
def test_one_time_buyers_p_alive_is_the_pareto_clv_tables(filters, narrow):
    """The list reads Pareto/NBD's P(alive) alone (not its CLV table): the same values, to
    the last bit, as the CLV page's Pareto/NBD table, so the list is what it was with it."""
    from dataclasses import replace

    from dashapp.analytics.clv.predict import customer_p_alive

    chosen = replace(filters, **narrow)
    pareto = service.clv_fit(chosen, "pareto_nbd")
    assert pareto.reason is None
    alone = customer_p_alive(pareto.purchase, pareto.summary).round(4)
    table = service.clv_view(chosen, "pareto_nbd").customers.set_index("customer_id")
    pd.testing.assert_series_equal(
        alone, table["p_alive"].reindex(alone.index), check_exact=True, check_names=False
    )
    bg = service.clv_view(chosen, "bgnbd")
    clusters = service.cluster_view(chosen, "kmeans", 4).customers.set_index("customer_id")
    expected = action_rules.action_table(
        service.rfm_table(chosen), bg.customers, clusters["cluster"], table["p_alive"]
    )
    got = service.action_list(chosen, "bgnbd", 12, 30.0, 10.0, "kmeans", 4).table
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected, check_exact=True)
