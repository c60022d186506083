"""The facts behind the short story at the top of the RFM, CLV, Clustering and Action list
pages: a few counts and shares read from each page's view, and the customers the next step
is about (a drill-down selection, :mod:`dashapp.service.selection`). The pages write the
sentences (``dashapp.web.components.story``); nothing is estimated here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashapp.service.selection import range_token, token, top_token

#: Segments whose customers once bought often or much and have not come back.
LAPSING = ("Can't Lose Them", "At Risk")
#: The share of customers the CLV story looks at (the Pareto curve's marked point).
TOP_SHARE = 20
#: Below this P(alive) a customer is said to be probably leaving.
LEAVING_P_ALIVE = 0.5


@dataclass(frozen=True)
class Group:
    """Some customers: how many, their share of all customers, their revenue (or value) and
    its share of the total, and the selection that lists them."""

    name: str
    customers: int
    customer_share: float
    revenue: float
    revenue_share: float
    selection: str = ""


def _group(name: str, rows: pd.DataFrame, total_customers: int, total_revenue: float,
           selection: str = "") -> Group:  # fmt: skip
    customers = int(rows["customers"].sum())
    revenue = float(rows["revenue"].sum())
    return Group(
        name,
        customers,
        customers / total_customers if total_customers else 0.0,
        revenue,
        revenue / total_revenue if total_revenue > 0 else 0.0,
        selection,
    )


@dataclass(frozen=True)
class RfmStory:
    customers: int
    revenue: float
    champions: Group
    lapsing: Group  # At Risk and Can't Lose Them together
    hibernating: Group
    target: Group  # the next step: the lapsing segment holding more revenue (or Champions)


def rfm_story(summary: pd.DataFrame) -> RfmStory:
    """From the RFM view's segment summary (customers and revenue per segment)."""
    n, revenue = int(summary["customers"].sum()), float(summary["revenue"].sum())
    by = summary.set_index("segment")

    def one(segment: str) -> Group:
        return _group(segment, by.loc[[segment]], n, revenue, token(segment=segment))

    lapsing = _group("lapsing", by.loc[list(LAPSING)], n, revenue)
    candidates = [one(s) for s in LAPSING if by.loc[s, "customers"] > 0]
    target = max(candidates, key=lambda g: g.revenue) if candidates else one("Champions")
    return RfmStory(n, revenue, one("Champions"), lapsing, one("Hibernating"), target)


@dataclass(frozen=True)
class ClvStory:
    customers: int
    total_clv: float
    median_clv: float
    top_share: float  # TOP_SHARE % of customers hold this share of predicted CLV
    top: Group  # the top TOP_SHARE % by predicted CLV (revenue = their predicted CLV)
    top_leaving: int  # of them, customers with P(alive) below LEAVING_P_ALIVE


def clv_story(customers: pd.DataFrame, total_clv: float, median_clv: float,
              top_share: float) -> ClvStory:  # fmt: skip
    """From the CLV view's customer table and headline numbers."""
    n = len(customers)
    clv = pd.to_numeric(customers["clv"], errors="coerce")
    size = int(np.ceil(clv.notna().sum() * TOP_SHARE / 100))
    top = customers.loc[clv.nlargest(size, keep="all").index] if size else customers.iloc[:0]
    value = float(top["clv"].sum())
    group = Group(
        f"top {TOP_SHARE} %",
        len(top),
        len(top) / n if n else 0.0,
        value,
        value / total_clv if total_clv > 0 else 0.0,
        top_token("clv", TOP_SHARE),
    )
    leaving = int((top["p_alive"] < LEAVING_P_ALIVE).sum())
    return ClvStory(n, float(total_clv), float(median_clv), float(top_share), group, leaving)


@dataclass(frozen=True)
class ClusterStory:
    clusters: int
    silhouette: float
    best: Group  # the most valuable cluster (first in display order)
    largest: Group  # the cluster with the most customers


def cluster_story(profiles: pd.DataFrame, names: list[str], diagnostics: dict) -> ClusterStory:
    """From the clustering view's profiles (size, share, revenue, revenue_share per
    cluster, in display order)."""
    rows = profiles.set_index("cluster")
    total_customers = int(rows["size"].sum())
    total_revenue = float(rows["revenue"].sum())

    def one(name: str) -> Group:
        row = rows.loc[[name]].rename(columns={"size": "customers"})
        return _group(name, row, total_customers, total_revenue, token(cluster=name))

    largest = str(rows["size"].idxmax())
    silhouette = diagnostics.get("silhouette")
    return ClusterStory(
        len(names),
        float(silhouette) if silhouette is not None else float("nan"),
        one(names[0]),
        one(largest),
    )


@dataclass(frozen=True)
class ActionStory:
    customers: int
    total_at_stake: float
    head: Group  # the first customers of the list holding half the value at stake
    head_action: str  # the recommended action most of them share
    head_action_customers: int


def action_story(table: pd.DataFrame) -> ActionStory:
    """From the action list (most value at stake first)."""
    n = len(table)
    stake = pd.to_numeric(table["value_at_stake"], errors="coerce").fillna(0.0).clip(lower=0)
    total = float(stake.sum())
    # the shortest head of the list holding half the value at stake
    size = int(np.searchsorted(stake.cumsum().to_numpy(), total / 2) + 1) if total > 0 else 0
    head = table.iloc[:size]
    value = float(stake.iloc[:size].sum())
    actions = head["recommended_action"].value_counts()
    group = Group(
        "head",
        size,
        size / n if n else 0.0,
        value,
        value / total if total > 0 else 0.0,
        range_token("value_at_stake", float(stake.iloc[size - 1]), None) if size else "",
    )
    return ActionStory(
        n,
        total,
        group,
        str(actions.index[0]) if len(actions) else "",
        int(actions.iloc[0]) if len(actions) else 0,
    )
