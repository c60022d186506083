"""The shared filter state every view takes: dataset, date range, countries, cleaning rules."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashapp.ingest import cleaning
from dashapp.ingest.loading import DataLoadError
from dashapp.service import registry


@dataclass(frozen=True)
class Filters:
    """The shared filter state: dataset, inclusive date range, countries, cleaning rules.

    ``start``/``end`` are ``YYYY-MM-DD`` strings or None (open end); ``countries`` is a sorted
    tuple (empty = all); ``rules`` is a :meth:`CleaningRules.flags` string.
    """

    dataset: str
    start: str | None = None
    end: str | None = None
    countries: tuple[str, ...] = ()
    rules: str = cleaning.CleaningRules().flags()

    @classmethod
    def build(cls, dataset=None, start=None, end=None, countries=None, rules=None) -> Filters:
        return cls(
            dataset=dataset or registry.default_dataset_id(),
            start=date_text(start),
            end=date_text(end),
            countries=tuple(sorted(str(c) for c in (countries or ()))),
            rules=rules or cleaning.CleaningRules().flags(),
        )

    @classmethod
    def of(cls, dataset, start, end, countries, rules) -> Filters:
        """From the leading arguments of a memoized function (already canonical)."""
        return cls(dataset=dataset, start=start, end=end, countries=countries, rules=rules)


def date_text(value) -> str | None:
    """``YYYY-MM-DD`` of a date given as text or timestamp; None for blank."""
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError) as exc:
        raise DataLoadError(f"'{value}' is not a date (expected YYYY-MM-DD).") from exc
