"""One customer in detail: invoices, RFM over time, P(alive) over time, the recommended action.

Pure: pandas and numpy. Inputs are the invoice table (``docs/architecture.md``), the monthly
RFM states of :func:`dashapp.analytics.migration.monthly_states` and a fitted purchase model
of :mod:`dashapp.analytics.clv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dashapp.analytics.clv.summary import (
    DAYS_PER_MONTH,
    TIME_UNIT_DAYS,
    _day_number,
    _to_day_numbers,
)
from dashapp.analytics.rfm import SEGMENT_GRID

INVOICE_COLUMNS = ["invoice", "invoice_date", "revenue", "is_cancellation", "lines", "country"]


def normal_id(raw: Any) -> str:
    """A customer id as the data hold it: trimmed, ``13085.0`` (a spreadsheet's float) as
    ``13085``."""
    text = str(raw).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


def invoices_of(orders: pd.DataFrame, customer_id: str) -> pd.DataFrame:
    """The customer's invoices, oldest first (:data:`INVOICE_COLUMNS`; ``revenue`` is net of
    the returns matched to the invoice; cancellation invoices have negative revenue)."""
    mine = orders[orders["customer_id"].astype(object) == customer_id]
    out = mine[INVOICE_COLUMNS].copy()
    for col in ("invoice", "country"):
        out[col] = out[col].astype(str)
    return out.reset_index(drop=True)


def main_country(invoices: pd.DataFrame) -> tuple[str, list[str]]:
    """The country of most of the customer's invoices and every country they appear in."""
    if invoices.empty:
        return "", []
    counts = invoices["country"].value_counts()
    return str(counts.index[0]), sorted(str(c) for c in counts.index)


def alive_history(
    fit: Any, purchases: pd.DataFrame, ends: Sequence[pd.Timestamp], horizon_months: int
) -> pd.DataFrame:
    """P(alive) and expected purchases over the next ``horizon_months`` (30-day months) of one
    customer as of each of ``ends``, from the fitted purchase model ``fit`` and the
    customer's purchase invoices (``invoice_date``; one customer's only) up to each end (the
    model's summary rules, :func:`calibration_summary`: purchases merged per calendar day,
    ``x`` = purchase days - 1, ``t_x`` first to last, ``T`` first to the end, in the model's
    time unit). Ends before the first purchase are left out. Columns: ``month_end,
    repeat_purchases, p_alive, expected_purchases``."""
    unit = fit.time_unit
    unit_days = TIME_UNIT_DAYS[unit]
    horizon = horizon_months * DAYS_PER_MONTH / unit_days
    days, valid = _to_day_numbers(purchases["invoice_date"])
    days = np.unique(days[valid])  # the purchase days, in order
    stamps = [pd.Timestamp(end) for end in ends]
    cal = np.array([_day_number(end) for end in stamps], dtype=np.int64)
    seen = np.searchsorted(days, cal, side="right")  # purchase days up to each end
    kept = np.flatnonzero(seen > 0)
    seen, cal = seen[kept], cal[kept]
    columns = ["month_end", "repeat_purchases", "p_alive", "expected_purchases"]
    if not len(kept):
        return pd.DataFrame(columns=columns)
    x = (seen - 1).astype(float)
    tx = (days[seen - 1] - days[0]) / unit_days
    T = (cal - days[0]) / unit_days
    return pd.DataFrame(
        {
            "month_end": [stamps[i] for i in kept],
            "repeat_purchases": (seen - 1).astype(int),
            "p_alive": np.asarray(fit.p_alive(x, tx, T), dtype=float),
            "expected_purchases": np.asarray(
                fit.expected_purchases(horizon, x, tx, T), dtype=float
            ),
        },
        columns=columns,
    )


def recommendation(row: pd.Series, p_alive: float | None = None) -> tuple[str, str]:
    """The segment's recommended action and the reason, in words, from the customer's RFM
    row (``segment``, ``recency``, ``frequency``, ``monetary``, scores) and P(alive)."""
    grid = SEGMENT_GRID.set_index("segment")
    segment = str(row["segment"])
    action = str(grid.loc[segment, "action"])
    reason = (
        f"{segment} (R {int(row['r_score'])}, F {int(row['f_score'])}, M {int(row['m_score'])}): "
        f"{grid.loc[segment, 'description']} Last purchase {int(row['recency'])} days before "
        f"the as-of date, {int(row['frequency'])} purchase invoice"
        f"{'s' if int(row['frequency']) != 1 else ''}."
    )
    if p_alive is not None and np.isfinite(p_alive):
        reason += f" The purchase model gives P(alive) {p_alive:.1%}."
    return action, reason
