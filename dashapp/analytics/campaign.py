"""Campaigns: a reproducible control group, the expected outcome of an offer, and the
measured effect of a campaign, target against control, after the fact.

Pure: numpy, pandas, scipy.

Expected outcome (:func:`expected_outcome`). Each treated customer answers the offer with
probability ``response_rate``; a share ``incremental_share`` of those answers are purchases
the offer caused (the rest would have happened anyway). An incremental purchase is worth the
customer's own average order value. So customer *i* adds ``p x aov_i`` of revenue in
expectation, ``p = response_rate x incremental_share``, independently of the others; the
interval is the normal approximation of that sum's spread (variance ``sum p (1 - p)
aov_i^2``): the chance part given the assumptions, not the uncertainty of the assumptions
themselves. Profit is revenue x margin; cost is the offer cost x treated customers; ROI =
(profit - cost) / cost.

Measured effect (:func:`measure_effect`). Per customer of each group: net revenue and
purchase invoices from the start day on. The effect per customer is the difference of the
group means, with Welch's t interval (unequal variances); the campaign's total is that times
the treated customers. The verdict says whether the interval lies above zero, below zero, or
covers it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Confidence level of the intervals.
LEVEL = 0.95
#: Where the default response rate (1.1 %) and uplift (47 %) come from.
DEFAULTS_SOURCE = (
    "Hillstrom (2008), The MineThatData E-Mail Analytics And Data Mining Challenge: 64,000 "
    "customers who bought in the last 12 months, a third e-mailed men's merchandise, a third "
    "women's, a third (the control) nothing; within two weeks 1.25 % and 0.88 % of the "
    "e-mailed groups bought against 0.57 % of the control (figures as commonly reported for "
    "the public dataset). Hence a response rate of 1.1 % (the e-mailed groups' mean) of which "
    "47 % incremental ((1.07 - 0.57) / 1.07). The offer cost is an assumption: set yours."
)


def segment_key(segment: str) -> str:
    """``Can't Lose Them`` -> ``cant_lose_them`` (URL values of the segment choice)."""
    return segment.lower().replace("'", "").replace(" ", "_")


def split_control(customer_ids, control_pct: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(target, control) customer ids: ``control_pct`` % of the customers, rounded, drawn at
    random with ``seed``. The draw depends only on the set of ids, the share and the seed
    (ids are sorted first), so the same inputs give the same groups anywhere."""
    ids = np.array(sorted({str(c) for c in customer_ids}), dtype=object)
    n_control = int(round(len(ids) * control_pct / 100.0))
    order = np.random.default_rng(seed).permutation(len(ids))
    control = np.zeros(len(ids), dtype=bool)
    control[order[:n_control]] = True
    return ids[~control], ids[control]


@dataclass(frozen=True)
class Outcome:
    """Expected result of offering to ``treated`` customers (money in the data's currency);
    ``*_low``/``*_high`` bound the :data:`LEVEL` interval."""

    treated: int
    cost: float
    orders: float
    revenue: float
    revenue_low: float
    revenue_high: float
    profit: float
    profit_low: float
    profit_high: float
    roi: float
    roi_low: float
    roi_high: float


def expected_outcome(
    aov, cost_per_customer: float, response_rate: float, incremental_share: float, margin: float
) -> Outcome:
    """Expected incremental orders, revenue, profit and ROI (see the module docstring).
    ``aov``: the treated customers' average order values; rates and margin as fractions."""
    from scipy import stats

    values = np.asarray(aov, dtype=float)
    values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
    p = response_rate * incremental_share
    n = len(values)
    mean = float(p * values.sum())
    sd = math.sqrt(p * (1 - p) * float((values**2).sum()))
    z = float(stats.norm.ppf(0.5 + LEVEL / 2))
    low, high = max(mean - z * sd, 0.0), mean + z * sd
    cost = cost_per_customer * n

    def roi(profit: float) -> float:
        return (profit - cost) / cost if cost > 0 else float("nan")

    return Outcome(
        treated=n,
        cost=cost,
        orders=p * n,
        revenue=mean,
        revenue_low=low,
        revenue_high=high,
        profit=mean * margin,
        profit_low=low * margin,
        profit_high=high * margin,
        roi=roi(mean * margin),
        roi_low=roi(low * margin),
        roi_high=roi(high * margin),
    )


@dataclass(frozen=True)
class Measure:
    """One measure per customer (``revenue`` or ``purchases``): group means, the difference
    per customer with its interval, and the campaign's total (difference x treated)."""

    name: str
    target_mean: float
    control_mean: float
    per_customer: float
    low: float
    high: float
    total: float
    total_low: float
    total_high: float

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "raised"
        if self.high < 0:
            return "lowered"
        return "unclear"


@dataclass(frozen=True)
class Effect:
    """The measured effect of a campaign: ``revenue`` and ``purchases`` (:class:`Measure`),
    group sizes, the window measured, and ``verdict`` in plain words."""

    n_target: int
    n_control: int
    start: pd.Timestamp
    end: pd.Timestamp
    revenue: Measure
    purchases: Measure

    @property
    def verdict(self) -> str:
        r = self.revenue
        days = (self.end.normalize() - self.start.normalize()).days + 1
        window = f"in the {days} days from {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"
        if r.verdict == "raised":
            return (
                f"The campaign raised revenue {window}: target customers spent "
                f"{r.per_customer:,.2f} more each than the control group "
                f"({LEVEL:.0%} interval {r.low:,.2f} to {r.high:,.2f})."
            )
        if r.verdict == "lowered":
            return (
                f"The campaign lowered revenue {window}: target customers spent "
                f"{-r.per_customer:,.2f} less each than the control group "
                f"({LEVEL:.0%} interval {r.low:,.2f} to {r.high:,.2f})."
            )
        return (
            f"No clear effect {window}: the difference per customer, {r.per_customer:,.2f}, "
            f"could be chance ({LEVEL:.0%} interval {r.low:,.2f} to {r.high:,.2f} includes zero)."
        )


def _measure(name: str, target: np.ndarray, control: np.ndarray) -> Measure:
    from scipy import stats

    nt, nc = len(target), len(control)
    mt, mc = float(target.mean()), float(control.mean())
    vt, vc = float(target.var(ddof=1)), float(control.var(ddof=1))
    se2 = vt / nt + vc / nc
    diff = mt - mc
    if se2 == 0:
        low = high = diff
    else:
        df = se2**2 / ((vt / nt) ** 2 / (nt - 1) + (vc / nc) ** 2 / (nc - 1))
        half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * math.sqrt(se2)
        low, high = diff - half, diff + half
    return Measure(name, mt, mc, diff, low, high, diff * nt, low * nt, high * nt)


def measure_effect(orders: pd.DataFrame, start, target_ids, control_ids, end=None) -> Effect:
    """Effect of a campaign started on ``start`` (a day) from ``orders`` (the invoice table:
    ``customer_id``, ``invoice_date``, ``revenue``, ``is_cancellation``), target customers
    against control customers, up to ``end`` (default: the last invoice). ValueError when the
    groups overlap, a group has fewer than 2 customers, or no day follows the start."""
    target = pd.Index(sorted({str(c) for c in target_ids}))
    control = pd.Index(sorted({str(c) for c in control_ids}))
    both = target.intersection(control)
    if len(both):
        raise ValueError(
            f"{len(both)} customers are in both the target and the control group "
            f"(e.g. {both[0]}); each customer belongs to one group."
        )
    if len(target) < 2 or len(control) < 2:
        raise ValueError(
            f"Each group needs at least 2 customers; got {len(target)} target and "
            f"{len(control)} control."
        )
    start = pd.Timestamp(start).normalize()
    last = orders["invoice_date"].max() if len(orders) else pd.NaT
    end = pd.Timestamp(end) if end is not None else last
    if pd.isna(end) or end < start:
        raise ValueError(
            f"No transactions from the start day {start:%Y-%m-%d} on: the data ends "
            f"{'nowhere' if pd.isna(last) else f'{last:%Y-%m-%d}'}."
        )
    end_of_day = end.normalize() + pd.Timedelta(days=1)
    window = orders[(orders["invoice_date"] >= start) & (orders["invoice_date"] < end_of_day)]
    window = window[window["customer_id"].notna()]
    ids = window["customer_id"].astype(str)
    revenue = window["revenue"].groupby(ids).sum()
    purchases = (~window["is_cancellation"]).groupby(ids).sum()

    def values(per: pd.Series, group: pd.Index) -> np.ndarray:
        return per.reindex(group, fill_value=0).to_numpy(dtype=float)

    return Effect(
        n_target=len(target),
        n_control=len(control),
        start=start,
        end=end,
        revenue=_measure("revenue", values(revenue, target), values(revenue, control)),
        purchases=_measure("purchases", values(purchases, target), values(purchases, control)),
    )
