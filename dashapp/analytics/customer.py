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

from dashapp.analytics.clv import calibration_summary
from dashapp.analytics.clv.summary import DAYS_PER_MONTH, TIME_UNIT_DAYS
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
    model's summary rules, :func:`calibration_summary`). Ends before the first purchase are
    left out. Columns: ``month_end, repeat_purchases, p_alive, expected_purchases``."""
    rows = []
    unit = fit.time_unit
    horizon = horizon_months * DAYS_PER_MONTH / TIME_UNIT_DAYS[unit]
    # one customer: summarised under a number, not the id (text or a category of every
    # customer, factorised again at each end); the dates are all the summary reads
    log = pd.DataFrame(
        {
            "customer_id": np.zeros(len(purchases), dtype=np.int64),
            "invoice_date": purchases["invoice_date"].to_numpy(),
        }
    )
    for end in ends:
        s = calibration_summary(
            log,
            customer_col="customer_id",
            date_col="invoice_date",
            calibration_end=end,
            time_unit=unit,
        )
        if s.empty:
            continue
        x, tx, T = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        rows.append(
            (
                pd.Timestamp(end),
                int(x[0]),
                float(np.asarray(fit.p_alive(x, tx, T))[0]),
                float(np.asarray(fit.expected_purchases(horizon, x, tx, T))[0]),
            )
        )
    return pd.DataFrame(
        rows, columns=["month_end", "repeat_purchases", "p_alive", "expected_purchases"]
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
