"""What every view returns: a typed result that says, one way everywhere, when the page cannot
show it (``reason``), and the small helpers the views share."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, kw_only=True)
class View:
    """Base of every view. ``reason`` is the plain-language reason the page cannot show the
    view (no customers match, too few to fit a model, a bad combination of settings), or None
    when it can; when it is set, the other fields are empty."""

    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None


def empty_reason(n_customers: int, minimum: int = 1) -> str | None:
    """Plain-language reason a page cannot show results, or None."""
    if n_customers == 0:
        return "No customers match these filters. Widen the date range or clear the country filter."
    if n_customers < minimum:
        return (
            f"Only {n_customers} customer{'s' if n_customers != 1 else ''} match these "
            f"filters; at least {minimum} are needed here. Widen the date range or the "
            "countries."
        )
    return None


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (what dash-ag-grid's ``rowData`` takes); faster
    than ``DataFrame.to_dict("records")`` for wide tables."""
    columns = list(frame.columns)
    values = [frame[c].tolist() for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
