"""The story at the top of the RFM, CLV, Clustering and Action list pages, on the real
extract: every number is the page's own (recomputed here from the view's table), and the
next step's selection lists exactly the customers the story talks about."""

from __future__ import annotations

import numpy as np

from dashapp import service
from dashapp.service.selection import select_rows
from dashapp.service.views.stories import action_story, cluster_story, clv_story, rfm_story
from dashapp.web.components.story import action_text, cluster_text, clv_text, rfm_text


def test_the_rfm_story_counts_the_segments_of_the_grid(filters):
    view = service.rfm_view(filters)
    table = view.table
    story = rfm_story(view.summary)
    champions = table[table["segment"] == "Champions"]
    assert story.champions.customers == len(champions) > 0
    assert np.isclose(story.champions.revenue_share,
                      champions["monetary"].sum() / table["monetary"].sum())  # fmt: skip
    lapsing = table[table["segment"].isin(["At Risk", "Can't Lose Them"])]
    assert story.lapsing.customers == len(lapsing)
    assert np.isclose(story.lapsing.revenue, lapsing["monetary"].sum())
    # the next step lists the lapsing segment holding more revenue
    target = select_rows(table, story.target.selection)
    assert story.target.name in ("At Risk", "Can't Lose Them")
    assert len(target) == story.target.customers
    assert target["monetary"].sum() >= (lapsing["monetary"].sum() - target["monetary"].sum())
    sentences, step, link = rfm_text(story, "£")
    assert 3 <= len(sentences) <= 4
    assert f"{len(champions):,} Champions" in sentences[0]
    assert story.target.name in step and story.target.name in link


def test_the_clv_story_top_share_is_the_pareto_curves(filters):
    view = service.clv_view(filters)
    kpis = view.kpis
    story = clv_story(view.customers, kpis.total_clv, kpis.median_clv, kpis.top20_share)
    top = select_rows(view.customers, story.top.selection)
    assert len(top) == story.top.customers == int(np.ceil(len(view.customers) * 0.2))
    assert np.isclose(story.top.revenue_share, kpis.top20_share)
    assert story.top_leaving == int((top["p_alive"] < 0.5).sum())
    sentences, _, link = clv_text(story, "£", 12)
    assert f"{100 * kpis.top20_share:.1f}%" in sentences[1] and "top 20" in link


def test_the_cluster_story_names_the_most_valuable_and_the_largest(filters):
    view = service.cluster_view(filters)
    story = cluster_story(view.profiles, view.names, view.diagnostics)
    sizes = view.customers["cluster"].astype(str).value_counts()
    assert story.best.name == view.names[0]
    assert story.best.customers == sizes[view.names[0]]
    assert story.largest.customers == sizes.max()
    assert story.clusters == view.n_clusters
    sentences, _, link = cluster_text(story, view.method_label)
    assert f"{story.silhouette:.2f}" in sentences[-1] and view.names[0] in link


def test_the_action_story_lists_the_head_holding_half_the_value_at_stake(filters):
    table = service.action_list(filters).table
    story = action_story(table)
    head = select_rows(table, story.head.selection)
    total = table["value_at_stake"].clip(lower=0).sum()
    assert len(head) == story.head.customers
    assert head["value_at_stake"].sum() >= total / 2
    # one customer fewer would not hold half
    assert head["value_at_stake"].sum() - head["value_at_stake"].min() < total / 2
    sentences, _, _ = action_text(story, "£")
    assert f"{story.head.customers:,} customer" in sentences[1]


def test_every_cohort_cell_of_the_extract_lists_the_customers_it_counts(filters):
    from dashapp.service.selection import token

    view = service.cohorts_view(filters)
    tables, customers = view.tables, view.customers
    assert len(customers) == int(tables.sizes.sum())
    for cohort, row in tables.active.iterrows():
        for k, active in row.items():
            if np.isnan(active):
                continue
            pick = f"{token(cohort=str(cohort))};months_active:has{k}"
            assert len(select_rows(customers, pick)) == active, pick
