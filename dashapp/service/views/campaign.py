"""The campaign planner and tracking: which customers a campaign targets (from the customer
table the Action list and the export use), the random control group held out of them, the
expected outcome of the offer (:func:`dashapp.analytics.campaign.expected_outcome`), and,
after the fact, the effect measured from the transactions since the start
(:func:`dashapp.analytics.campaign.measure_effect`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashapp.analytics import campaign
from dashapp.service import params
from dashapp.service.filters import Filters
from dashapp.service.results import View
from dashapp.service.store import filtered_orders
from dashapp.service.views.customer_table import customer_table

#: The columns of the exported target list, after ``customer_id`` and ``group``.
LIST_COLUMNS = ("segment", "cluster", "p_alive", "clv", "aov", "value_at_stake")
GROUPS = ("target", "control")
_SEGMENT_BY_VALUE = dict(params.CAMPAIGN_SEGMENTS.choices)


@dataclass(frozen=True, kw_only=True)
class Plan(View):
    """``reason`` when there is nothing to plan; else ``customers`` (the list to export:
    ``customer_id``, ``group`` target/control, :data:`LIST_COLUMNS`), ``outcome`` (expected,
    for the treated customers), ``n_matching`` (customers the target rules select),
    ``clusters`` (the cluster names available), ``notes``."""

    customers: pd.DataFrame | None = None
    outcome: campaign.Outcome | None = None
    n_matching: int = 0
    n_customers: int = 0
    clusters: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


#: What ``settings`` holds, in order: the Action list's CLV and clustering settings.
_SETTING_NAMES = ("model", "horizon_months", "margin_pct", "annual_discount_pct", "method", "k")


def campaign_plan(
    filters: Filters,
    target: tuple = (),
    offer: tuple = (),
    clusters=(),
    settings: tuple = (),
) -> Plan:
    """Plan a campaign. ``target``: raw values of
    :data:`~dashapp.service.params.CAMPAIGN_TARGET_PARAMS` (segments, P(alive) from/to, CLV
    from/to); ``offer``: of :data:`~dashapp.service.params.CAMPAIGN_OFFER_PARAMS` (cost,
    response %, uplift %, control %, seed); ``clusters``: cluster names (none = all);
    ``settings``: the Action list's CLV and clustering settings. Missing values take their
    defaults; bad ones raise :class:`~dashapp.service.params.ParamError`."""
    t_params, o_params = params.CAMPAIGN_TARGET_PARAMS, params.CAMPAIGN_OFFER_PARAMS
    target = tuple(target) + tuple(p.default for p in t_params[len(target) :])
    offer = tuple(offer) + tuple(p.default for p in o_params[len(offer) :])
    segments, p_min, p_max, clv_min, clv_max = params.parse_all(zip(t_params, target, strict=True))
    cost, response, uplift, control_pct, seed = params.parse_all(zip(o_params, offer, strict=True))
    if p_min > p_max:
        raise params.ParamError(
            params.CAMPAIGN_P_ALIVE_MIN,
            f"P(alive) from ({p_min:g}) must not exceed P(alive) to ({p_max:g}).",
        )
    if clv_min is not None and clv_max is not None and clv_min > clv_max:
        raise params.ParamError(
            params.CAMPAIGN_CLV_MIN,
            f"Predicted CLV from ({clv_min:g}) must not exceed Predicted CLV to ({clv_max:g}).",
        )
    # the plan reads no interval column: without them (level None) it skips the intervals'
    # bootstrap and holdout fit, seconds of CPU at full scale on the page's first visit
    named = dict(zip(_SETTING_NAMES, settings, strict=False))
    result = customer_table(filters, **named, level_pct=None)
    if result.reason:
        return Plan(reason=result.reason)
    table = result.table
    assert table is not None
    names = sorted({str(c) for c in table["cluster"] if str(c)})
    picked = [str(c) for c in (clusters or ()) if str(c).strip()]
    unknown = [c for c in picked if c not in names]
    if unknown:
        raise ValueError(
            f"Cluster {unknown[0]!r} is not among this clustering's clusters "
            f"({', '.join(names) or 'none'})."
        )
    chosen = {_SEGMENT_BY_VALUE[s] for s in segments}
    keep = table["segment"].isin(chosen) & table["p_alive"].between(p_min, p_max)
    if clv_min is not None:
        keep &= table["clv"] >= clv_min
    if clv_max is not None:
        keep &= table["clv"] <= clv_max
    if picked:
        keep &= table["cluster"].astype(str).isin(picked)
    matching = table[keep]
    n_all, notes = len(table), list(result.notes)
    if len(matching) < 2:
        return Plan(
            reason=f"{len(matching)} of {len(table):,} customers match this target; a campaign "
            "with a control group needs at least 2. Widen the segments or the ranges.",
            n_customers=n_all,
            clusters=names,
        )
    _, held = campaign.split_control(matching["customer_id"], control_pct, seed)
    group = pd.Series("target", index=matching["customer_id"].astype(str))
    group[held] = "control"
    out = matching.assign(customer_id=matching["customer_id"].astype(str))
    out.insert(1, "group", group.reindex(out["customer_id"]).to_numpy())
    out = out[["customer_id", "group", *[c for c in LIST_COLUMNS if c in out.columns]]]
    aov = out.loc[out["group"] == "target", "aov"]
    margin = params.CLV_MARGIN.parse(
        settings[2] if len(settings) > 2 else params.CLV_MARGIN.default
    )
    outcome = campaign.expected_outcome(aov, cost, response / 100, uplift / 100, margin / 100)
    return Plan(
        customers=out.reset_index(drop=True),
        outcome=outcome,
        n_matching=len(out),
        n_customers=n_all,
        clusters=names,
        notes=notes,
    )


def read_groups(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(target ids, control ids) of an uploaded list: the planner's export (columns
    ``customer_id`` and ``group``, target/control). ValueError naming the problem."""
    cols = {str(c).strip().lower(): c for c in frame.columns}
    if "customer_id" not in cols or "group" not in cols:
        raise ValueError(
            "The list needs the columns customer_id and group (target or control), as the "
            f"planner exports it; it has {', '.join(map(str, frame.columns)) or 'none'}."
        )
    ids = frame[cols["customer_id"]].astype("string").str.strip()
    ids = ids.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    group = frame[cols["group"]].astype("string").str.strip().str.lower()
    bad = ~group.isin(GROUPS)
    if bad.any():
        raise ValueError(
            f"The group column must say target or control; row {int(bad.idxmax()) + 2} says "
            f"{group[bad].iloc[0]!r}."
        )
    return ids[group == "target"].tolist(), ids[group == "control"].tolist()


def campaign_effect(filters: Filters, start, target_ids, control_ids) -> campaign.Effect:
    """The measured effect from ``start`` on, over the dataset's transactions in the
    filters' countries (the date range does not apply: everything since the start counts)."""
    day = params.CAMPAIGN_START.parse(start)
    if day is None:
        raise params.ParamError(
            params.CAMPAIGN_START, "Campaign start is required: pick the day the campaign started."
        )
    orders = filtered_orders(Filters(filters.dataset, None, None, filters.countries, filters.rules))
    known = set(orders["customer_id"].dropna().astype(str))
    listed = set(map(str, target_ids)) | set(map(str, control_ids))
    if listed and not listed & known:
        raise ValueError(
            "None of the listed customers is in this dataset: was the list made from another one?"
        )
    return campaign.measure_effect(orders, day, target_ids, control_ids)
