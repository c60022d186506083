"""The action list: every customer with segment, cluster, P(alive), predicted CLV, the
value if still active, the value at stake and a recommended action, most at stake first.

Pure: pandas and numpy.

Value at stake is the expected value lost to churn over the horizon::

    value_at_stake = clv_if_alive x (1 - p_alive)

where ``clv_if_alive`` is the model's discounted, margin-adjusted value over the horizon for a
customer known to be active now (the conditional expectation given alive; ``clv = clv_if_alive
x p_alive``), and ``p_alive`` the probability that the customer is still active. It is
largest for a valuable customer who has probably left, and 0 for one surely active. (The
former ``clv x (1 - p_alive)`` counted P(alive) twice: it peaked at P(alive) = 0.5 and gave
about 0 to valuable customers who are surely lost.)

BG/NBD sets P(alive) = 1 for every customer without a repeat purchase, by construction (in
that model a customer can only drop out right after a repeat purchase), not from evidence. For
those customers the P(alive) used here is the Pareto/NBD one (dropout at any time), fitted on
the same data; see :func:`action_table`'s ``one_time_p_alive``.

The recommended action is the RFM segment's, unless the segment's action presumes an active
customer (upsell, loyalty, onboarding) and P(alive) is below :data:`LAPSED_BELOW`: then the
customer is more likely gone than active and is offered a win-back first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashapp.analytics.rfm import SEGMENT_GRID

COLUMNS = [
    "customer_id",
    "segment",
    "cluster",
    "p_alive",
    "clv",
    "clv_if_alive",
    "value_at_stake",
    "recommended_action",
    "recency",
    "frequency",
    "monetary",
]

#: Below this P(alive) a customer is more likely gone than active.
LAPSED_BELOW = 0.5
#: Segments whose recommended action presumes an active customer (upsell, loyalty
#: programmes, onboarding, recommendations).
ACTIVE_SEGMENTS = frozenset(
    {
        "Champions",
        "Loyal Customers",
        "Potential Loyalists",
        "New Customers",
        "Promising",
        "Need Attention",
    }
)
#: The action for an "active" segment whose P(alive) is below :data:`LAPSED_BELOW`.
#: (As short as the segments' own actions, so that a grid shows it on one line; what it may
#: cost, up to the value at stake, is the action list's own column.)
LAPSED_ACTION = (
    "Probably lapsed (P(alive) {p:.0%}): win back first with a personal reactivation offer."
)


#: The longest recommended action (characters): a grid's column fits it.
LONGEST_ACTION = max(len(LAPSED_ACTION.format(p=1.0)), *(len(a) for a in SEGMENT_GRID["action"]))


def recommended_actions(segment: pd.Series, p_alive: pd.Series) -> pd.Series:
    """The RFM segment's action, or :data:`LAPSED_ACTION` for an active segment whose
    P(alive) is below :data:`LAPSED_BELOW` (unknown P(alive) keeps the segment's action)."""
    actions = dict(zip(SEGMENT_GRID["segment"], SEGMENT_GRID["action"], strict=True))
    out = segment.astype(object).map(actions)
    lapsed = segment.astype(object).isin(ACTIVE_SEGMENTS) & (p_alive < LAPSED_BELOW)
    out[lapsed] = [LAPSED_ACTION.format(p=p) for p in p_alive[lapsed]]
    return out


def action_table(
    scored: pd.DataFrame,
    clv: pd.DataFrame,
    clusters: pd.Series | None,
    one_time_p_alive: pd.Series | None = None,
) -> pd.DataFrame:
    """The action list.

    ``scored``: the RFM table (index ``customer_id``; ``segment``, ``recency``,
    ``frequency``, ``monetary``). ``clv``: per-customer ``customer_id``, ``p_alive``,
    ``clv``, ``clv_if_alive`` and ``repeat_days`` (repeat purchase days in the model).
    ``clusters``: cluster label by customer id, or None (no clustering).
    ``one_time_p_alive``: P(alive) by customer id from a model in which a customer without a
    repeat purchase can have left (Pareto/NBD), used for customers with ``repeat_days == 0``
    when given (for BG/NBD, whose P(alive) is 1 for them by construction); a customer it
    does not cover gets no P(alive) and no value at stake.
    Returns :data:`COLUMNS`, sorted by value at stake (largest first, customers without one
    last, ties by customer id).
    """
    table = scored[["segment", "recency", "frequency", "monetary"]].copy()
    c = clv.set_index("customer_id")
    p_alive = c["p_alive"].astype(float)
    if one_time_p_alive is not None:
        once = c.index[c["repeat_days"].to_numpy() == 0]
        p_alive = p_alive.copy()
        p_alive[once] = one_time_p_alive.astype(float).reindex(once).to_numpy()
    table["p_alive"] = p_alive.reindex(table.index)
    table["clv"] = c["clv"].reindex(table.index)
    table["clv_if_alive"] = c["clv_if_alive"].reindex(table.index)
    table["recommended_action"] = recommended_actions(table["segment"], table["p_alive"])
    if clusters is None:
        table["cluster"] = ""
    else:
        table["cluster"] = clusters.astype(str).reindex(table.index).fillna("")
    stake = table["clv_if_alive"].to_numpy(dtype=float) * (
        1 - table["p_alive"].to_numpy(dtype=float)
    )
    table["value_at_stake"] = np.round(np.maximum(stake, 0.0), 2)
    table = table.reset_index().sort_values(
        ["value_at_stake", "customer_id"],
        ascending=[False, True],
        na_position="last",
        kind="stable",
    )
    return table[COLUMNS].reset_index(drop=True)
