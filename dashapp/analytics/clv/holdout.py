"""The rules of the CLV validation split: the analysed range, the default and allowed
calibration end of the holdout check, and the purchase log the models are fitted on.

Pure: pandas. Times are days; the models' own time unit is set by the caller.
"""

from __future__ import annotations

import pandas as pd

#: Fewest customers with a repeat purchase (on another day) needed to fit the models.
MIN_REPEAT_CUSTOMERS = 20
#: Shortest holdout and calibration periods of the validation split (weeks).
MIN_HOLDOUT_WEEKS = 8
MIN_CALIBRATION_WEEKS = 8
#: Share of the range kept as holdout by default.
HOLDOUT_SHARE = 1 / 3


def analysed_range(
    data_start: str | None, data_end: str | None, start: str | None, end: str | None
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last day analysed: the data's invoice span (all countries) intersected with
    the date filter; None when they do not overlap or there is no data. A country filter
    does not shorten the range: a customer who did not buy in the last weeks was still
    observed then."""
    if not data_start or not data_end:
        return None
    lo, hi = pd.Timestamp(data_start), pd.Timestamp(data_end)
    if start:
        lo = max(lo, pd.Timestamp(start))
    if end:
        hi = min(hi, pd.Timestamp(end))
    return (lo, hi) if lo <= hi else None


def calibration_end(
    rng: tuple[pd.Timestamp, pd.Timestamp] | None, requested: str | None = None
) -> tuple[str, bool]:
    """Calibration end (inclusive, ``YYYY-MM-DD``) of the holdout check over the range
    ``rng`` and whether it is the default. The default keeps the last third of the range (at
    least :data:`MIN_HOLDOUT_WEEKS` weeks) as holdout. A requested date must leave at least
    :data:`MIN_CALIBRATION_WEEKS` weeks before it and :data:`MIN_HOLDOUT_WEEKS` after it;
    otherwise ValueError explains the allowed dates."""
    if rng is None:
        raise ValueError("No data in this date range, so there is nothing to validate on.")
    lo, hi = rng
    days = (hi - lo).days
    need = 7 * (MIN_HOLDOUT_WEEKS + MIN_CALIBRATION_WEEKS)
    if days < need:
        raise ValueError(
            f"The range {lo:%Y-%m-%d} to {hi:%Y-%m-%d} covers {days / 7:.1f} weeks; a holdout "
            f"check needs at least {need // 7} ({MIN_CALIBRATION_WEEKS} weeks to fit and "
            f"{MIN_HOLDOUT_WEEKS} to compare with). Widen the date range."
        )
    earliest = lo + pd.Timedelta(days=7 * MIN_CALIBRATION_WEEKS)
    latest = hi - pd.Timedelta(days=7 * MIN_HOLDOUT_WEEKS)
    if requested in (None, ""):
        holdout = max(7 * MIN_HOLDOUT_WEEKS, round(days * HOLDOUT_SHARE))
        return max(earliest, hi - pd.Timedelta(days=holdout)).strftime("%Y-%m-%d"), True
    try:
        cal = pd.Timestamp(requested).normalize()
    except (ValueError, TypeError):
        raise ValueError(f"'{requested}' is not a date (expected YYYY-MM-DD).") from None
    if not earliest <= cal <= latest:
        raise ValueError(
            f"The calibration date {cal:%Y-%m-%d} must lie between {earliest:%Y-%m-%d} and "
            f"{latest:%Y-%m-%d}: at least {MIN_CALIBRATION_WEEKS} weeks of the range "
            f"({lo:%Y-%m-%d} to {hi:%Y-%m-%d}) to fit on and {MIN_HOLDOUT_WEEKS} weeks "
            "after it to compare the forecast with. Clear the date to use the default."
        )
    return cal.strftime("%Y-%m-%d"), False


def purchase_log(orders: pd.DataFrame) -> pd.DataFrame:
    """Purchase invoices with a customer id: ``customer_id``, ``invoice_date``, ``revenue``."""
    keep = (
        ~orders["is_cancellation"].to_numpy(dtype=bool) & orders["customer_id"].notna().to_numpy()
    )
    return orders.loc[keep, ["customer_id", "invoice_date", "revenue"]]


def too_few_repeat(n_customers: int, n_repeat: int, model_label: str, before: str | None) -> str:
    """Why the models cannot be fitted: too few customers bought again on another day."""
    when = f"up to the calibration date {before}" if before else "in this range"
    return (
        f"Only {n_repeat:,} of the {n_customers:,} customers bought again on another day "
        f"{when}; fitting {model_label} and Gamma-Gamma needs at least "
        f"{MIN_REPEAT_CUSTOMERS} repeat customers. Widen the date range or the countries."
    )
