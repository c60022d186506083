"""The action list: every customer with segment, cluster, P(alive), predicted CLV, the
segment's recommended action and the value at stake, most at stake first.

Pure: pandas and numpy. ``value_at_stake = clv x (1 - p_alive)``: the predicted value
(currency, margin applied, discounted over the horizon) weighted by the probability that the
customer is already lost. A loyal customer who is surely alive has little at stake; a big
spender whose purchases stopped has much.
"""

from __future__ import annotations

import pandas as pd

from dashapp.analytics.rfm import SEGMENT_GRID

COLUMNS = [
    "customer_id",
    "segment",
    "cluster",
    "p_alive",
    "clv",
    "value_at_stake",
    "recommended_action",
    "recency",
    "frequency",
    "monetary",
]


def action_table(
    scored: pd.DataFrame, clv: pd.DataFrame, clusters: pd.Series | None
) -> pd.DataFrame:
    """The action list.

    ``scored``: the RFM table (index ``customer_id``; ``segment``, ``recency``,
    ``frequency``, ``monetary``). ``clv``: per-customer ``customer_id``, ``p_alive`` and
    ``clv``. ``clusters``: cluster label by customer id, or None (no clustering). Returns
    :data:`COLUMNS`, sorted by value at stake (largest first, customers without a prediction
    last, ties by customer id).
    """
    table = scored[["segment", "recency", "frequency", "monetary"]].copy()
    actions = dict(zip(SEGMENT_GRID["segment"], SEGMENT_GRID["action"], strict=True))
    table["recommended_action"] = table["segment"].map(actions)
    c = clv.set_index("customer_id")
    table["p_alive"] = c["p_alive"].reindex(table.index)
    table["clv"] = c["clv"].reindex(table.index)
    if clusters is None:
        table["cluster"] = ""
    else:
        table["cluster"] = clusters.astype(str).reindex(table.index).fillna("")
    table["value_at_stake"] = (table["clv"] * (1 - table["p_alive"])).round(2)
    table = table.reset_index().sort_values(
        ["value_at_stake", "customer_id"],
        ascending=[False, True],
        na_position="last",
        kind="stable",
    )
    return table[COLUMNS].reset_index(drop=True)
