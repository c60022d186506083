"""Numbers as the pages show them: money with the dataset's currency, counts, shares."""

from __future__ import annotations

import numpy as np


def money(value: float, currency: str = "£", decimals: int = 0) -> str:
    """``£1,234,567`` style text; negative as ``-£12``; NaN as an em dash."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}{currency}{abs(value):,.{decimals}f}"


def number(value: float, decimals: int = 0) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:,.{decimals}f}"


def percent(value: float, decimals: int = 1) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{100 * value:.{decimals}f}%"
